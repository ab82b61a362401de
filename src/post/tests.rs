//! Whole-file behaviour of `Post::parse` and `compose`.

use super::*;

const POST: &str = r#"---
title: "Why does LayerNorm come before attention?"
date: 2026-11-02
tags: [transformers, normalization]
status: published
custom: {kept: true}
---

## Question

Why do modern transformers put LayerNorm *before* attention, scaling by $\sqrt{d_k}$?

Second paragraph.

## Background

See [the residual post](residual-streams) and [itself](why-pre-ln#takeaways).

## Exploration

```python
# code words are not counted
x = layer_norm(x)
```

## Takeaways

Pre-LN keeps gradients bounded.[^xiong]

[^xiong]: Xiong et al., 2020.

## Open Questions

- Does it matter at [scale](/posts/scaling-laws.md)?
- [ ] What about RMSNorm?
"#;

fn slug(name: &str) -> Slug {
    Slug::parse(name).expect("test slugs are valid")
}

fn post() -> Post {
    Post::parse(slug("why-pre-ln"), POST).expect("the sample post parses")
}

#[test]
fn a_well_formed_post_is_fully_described() {
    let post = post();
    assert_eq!(post.title, "Why does LayerNorm come before attention?");
    assert_eq!(post.date.as_deref(), Some("2026-11-02"));
    assert_eq!(post.tags, ["transformers", "normalization"]);
    assert_eq!(post.status, Status::Published);
    assert!(post.markdown.starts_with("## Question\n"));
    assert_eq!(post.sections.len(), 5);
    assert_eq!(
        post.open_questions,
        [
            "Does it matter at [scale](/posts/scaling-laws.md)?",
            "What about RMSNorm?"
        ]
    );
    assert!(post.warnings.is_empty(), "{:?}", post.warnings);
    assert_eq!(
        post.links_to,
        [slug("residual-streams"), slug("scaling-laws")]
    );
    assert_eq!(post.toc.len(), 5);
    assert!(post.html.contains(r#"<h2 id="open-questions">"#));
}

#[test]
fn unknown_front_matter_keys_are_kept() {
    let keys: Vec<_> = post().front_matter.keys().cloned().collect();
    assert_eq!(keys, ["title", "date", "tags", "status", "custom"]);
    assert_eq!(
        post().front_matter["custom"],
        serde_json::json!({"kept": true})
    );
}

#[test]
fn the_summary_defaults_to_the_question_lead() {
    assert_eq!(
        post().summary.as_deref(),
        Some("Why do modern transformers put LayerNorm before attention, scaling by \\sqrt{d_k}?")
    );
    let explicit = POST.replace("status: published", "summary: Mine.");
    let post = Post::parse(slug("x"), &explicit).unwrap();
    assert_eq!(post.summary.as_deref(), Some("Mine."));
}

#[test]
fn a_long_question_lead_is_truncated_at_a_word() {
    let source = format!(
        "---\ntitle: T\n---\n## Question\n\n{}\n",
        "word ".repeat(100)
    );
    let summary = Post::parse(slug("x"), &source).unwrap().summary.unwrap();
    assert!(summary.ends_with("word…"), "{summary}");
    assert!(summary.chars().count() <= 281);
}

#[test]
fn words_and_reading_time_count_prose_only() {
    let post = post();
    // Code blocks, math and the link-free markup do not add words.
    assert!(
        post.word_count > 30 && post.word_count < 60,
        "{}",
        post.word_count
    );
    assert_eq!(post.reading_minutes, 1);
    let empty = Post::parse(slug("x"), "---\ntitle: T\n---\n").unwrap();
    assert_eq!((empty.word_count, empty.reading_minutes), (0, 0));
}

#[test]
fn structure_problems_are_warnings() {
    let source = "---\ntitle: T\nreferences: nope\n---\n# Big\n\n## Question\n";
    let post = Post::parse(slug("x"), source).unwrap();
    assert_eq!(post.warnings.len(), 1 + 1 + 4, "{:?}", post.warnings);
}

#[test]
fn section_html_matches_the_full_document() {
    let post = post();
    let takeaways = &post.sections[3];
    assert_eq!(takeaways.kind, SectionKind::Takeaways);
    assert_eq!(takeaways.id, "takeaways");
    assert!(
        takeaways.html.contains(r#"id="fn-1""#),
        "{}",
        takeaways.html
    );
}

#[test]
fn a_file_without_front_matter_is_rejected() {
    for source in ["", "---", "## Question\n", "---\ntitle: T\n"] {
        assert_eq!(
            Post::parse(slug("x"), source).unwrap_err(),
            PostError::NoFrontMatter,
            "{source:?}"
        );
    }
}

#[test]
fn errors_name_the_field_at_fault() {
    let error = |source: &str| Post::parse(slug("x"), source).unwrap_err();
    assert_eq!(error("---\ntags: [a]\n---\n").field(), "title");
    assert_eq!(error("---\ntitle: T\ntags: 1\n---\n").field(), "tags");
    assert_eq!(error("---\ntitle: [\n---\n").field(), "front_matter");
    assert_eq!(error("---\n- a\n---\n").field(), "front_matter");
    assert_eq!(error("body").field(), "front_matter");
    assert_eq!(
        error("---\ntitle: T\nstatus: gone\n---\n").to_string(),
        "`status` must be \"published\" or \"draft\", not \"gone\""
    );
}

#[test]
fn rendering_fallbacks_are_reported_as_warnings() {
    let source = format!("---\ntitle: T\n---\n{}x\n", "> ".repeat(100));
    let post = Post::parse(slug("x"), &source).unwrap();
    assert!(
        post.warnings[0].contains("levels deep"),
        "{:?}",
        post.warnings
    );
}

#[test]
fn compose_then_parse_round_trips() {
    let original = post();
    let file = compose(&original.front_matter, &original.markdown).unwrap();
    let again = Post::parse(original.slug.clone(), &file).unwrap();
    assert_eq!(again.front_matter, original.front_matter);
    assert_eq!(again.markdown, original.markdown);
    assert_eq!(again.html, original.html);
}

#[test]
fn a_post_serializes_with_the_documented_field_names() {
    let json = serde_json::to_value(post()).unwrap();
    for key in [
        "slug",
        "title",
        "date",
        "tags",
        "status",
        "summary",
        "front_matter",
        "markdown",
        "html",
        "toc",
        "sections",
        "open_questions",
        "warnings",
        "links_to",
        "word_count",
        "reading_minutes",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["slug"], "why-pre-ln");
    assert_eq!(json["status"], "published");
    assert_eq!(json["sections"][4]["kind"], "open_questions");
    assert_eq!(json["links_to"][0], "residual-streams");
}

#[test]
fn odd_inputs_never_panic() {
    let deep_list: String = (0..400)
        .map(|depth| format!("{}- x\n", "  ".repeat(depth)))
        .collect();
    let deep_quote = format!("{} deep\n", ">".repeat(2000));
    let binary: String = (0u8..=255).map(char::from).cycle().take(4096).collect();
    let odd_bodies = [
        String::new(),
        deep_list,
        deep_quote,
        binary.clone(),
        "[^a]: [^a]\n[^a]\n".repeat(50),
        "## \n##\n## #\n### {#}\n## {#x}\n## {#x}\n".to_owned(),
        "| a |\n|---|\n| $x | `|` |\n".to_owned(),
        "$$\n$$ $ $$$ \\$ ``` ~~~".to_owned(),
        "<div>\n## raw\n</div>\n<!-- ## comment -->\n".to_owned(),
        "\r\n## Question\r\n\r\n- a\r\n\r\n## Open Questions\r\n\r\n-\r\n- [ ]\r\n".to_owned(),
        "\u{feff}\u{0}\u{202e}é\u{1f600}".repeat(100),
    ];
    for body in &odd_bodies {
        let source = format!("---\ntitle: T\n---\n{body}");
        let post = Post::parse(slug("x"), &source).expect("any body parses");
        let _ = compose(&post.front_matter, &post.markdown).expect("and composes");
    }
    let odd_files = [
        "".to_owned(),
        "---".to_owned(),
        "---\n---".to_owned(),
        "---\n\n---\n".to_owned(),
        "---\r\n---\r\n".to_owned(),
        "---\ntitle: T".to_owned(),
        "\u{feff}".to_owned(),
        binary,
        format!("---\ntitle: T\n{}---\n", "[".repeat(10_000)),
        format!(
            "---\ntitle: T\nx: {}1{}\n---\n",
            "[".repeat(1000),
            "]".repeat(1000)
        ),
        "---\ntitle: !!binary aGVsbG8=\n---\n".to_owned(),
        "---\ntitle: !custom T\n? [complex, key]\n: v\n1: one\n---\n".to_owned(),
        "---\ntitle: T\nn: .nan\ninf: .inf\nbig: 123456789012345678901234567890\n---\n".to_owned(),
    ];
    for file in &odd_files {
        let _ = Post::parse(slug("x"), file);
    }
}
