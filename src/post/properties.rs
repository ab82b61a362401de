//! Property tests of the parsers a client reaches through the post format: slugs, front
//! matter, sections and open questions, and Markdown rendering. Each runs a bounded number
//! of cases so `cargo test` stays fast; `PROPTEST_CASES=5000 cargo test --lib properties`
//! runs a longer search.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::limits::MAX_HTML_BYTES;
use super::render::render;
use super::{FrontMatter, Post, Slug, compose, sections, split_front_matter};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like Markdown: the characters its syntax turns on, words and lines.
fn markdownish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("## ".to_owned()),
        Just("- ".to_owned()),
        Just("> ".to_owned()),
        Just("```\n".to_owned()),
        Just("$".to_owned()),
        Just("*".to_owned()),
        Just("&#".to_owned()),
        Just("[^1]".to_owned()),
        Just("[^1]: ".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("<img src=x onerror=alert(1)>".to_owned()),
        Just("[x](javascript:alert(1))".to_owned()),
        Just("<a href=\"javascript:x\">".to_owned()),
        Just("| a | b |\n|---|---|\n".to_owned()),
        "[a-zA-Z0-9 ]{1,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..80).prop_map(|parts| parts.concat())
}

/// What no sanitized HTML may hold, whatever the input: no script, frame or style element,
/// no event handler, no `javascript:` URL. Text is escaped (`&lt;`), so every `<` opens a tag.
fn assert_sanitized(html: &str) {
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default().to_lowercase();
        let name = tag
            .trim_start_matches('/')
            .split([' ', '\n', '/'])
            .next()
            .unwrap_or_default();
        assert!(
            !["script", "iframe", "style", "object", "embed"].contains(&name),
            "<{tag}> in {html}"
        );
        assert!(!tag.contains("javascript:"), "<{tag}> in {html}");
        let handler = tag
            .split_whitespace()
            .skip(1)
            .any(|attribute| attribute.starts_with("on"));
        assert!(!handler, "<{tag}> in {html}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_slug_parses_exactly_when_it_matches_the_grammar(text in "[a-z0-9-]{0,90}|\\PC{0,20}") {
        let grammar = !text.is_empty()
            && text.len() <= 80
            && text.split('-').all(|run| {
                !run.is_empty() && run.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        let parsed = Slug::parse(&text);
        prop_assert_eq!(parsed.is_ok(), grammar);
        if let Ok(slug) = parsed {
            prop_assert_eq!(slug.path(), format!("posts/{text}.md"));
        }
    }

    #[test]
    fn any_front_matter_text_parses_or_is_refused_without_panicking(yaml in "\\PC{0,300}") {
        let _ = FrontMatter::parse(&yaml);
        let _ = Post::parse(Slug::parse("p").unwrap(), &format!("---\n{yaml}\n---\nbody"));
    }

    #[test]
    fn composed_front_matter_reads_back_as_it_was_written(
        title in "[^\\p{C}]{1,40}",
        tags in prop::collection::vec("[a-z][a-z0-9-]{0,10}", 0..4),
        extra in "[a-z]{1,8}",
        value in any::<i32>(),
        body in markdownish(),
    ) {
        prop_assume!(!title.trim().is_empty());
        let mut fields = Map::new();
        fields.insert("title".into(), json!(title));
        fields.insert("tags".into(), json!(tags));
        if !["title", "tags", "slug", "date", "status", "summary", "draft"].contains(&extra.as_str()) {
            fields.insert(extra.clone(), json!(value));
        }
        let text = compose(&fields, &body).unwrap();
        let front_matter = FrontMatter::parse(split_front_matter(&text).0.unwrap()).unwrap();
        prop_assert_eq!(front_matter.fields.get("title"), Some(&Value::String(title.clone())));
        prop_assert_eq!(&front_matter.tags, &tags);
        prop_assert_eq!(front_matter.fields.len(), fields.len());
    }

    #[test]
    fn rendering_never_panics_and_is_sanitized_and_bounded(markdown in markdownish()) {
        let rendered = render(&markdown);
        assert_sanitized(&rendered.html);
        let post = Post::parse(Slug::parse("p").unwrap(), &format!("---\ntitle: T\n---\n{markdown}")).unwrap();
        assert_sanitized(&post.html);
        let total = post.html.len() + post.sections.iter().map(|s| s.html.len()).sum::<usize>();
        prop_assert!(total <= MAX_HTML_BYTES);
    }

    #[test]
    fn open_questions_are_the_items_of_their_section(
        questions in prop::collection::vec("[A-Za-z][a-z ]{0,30}[a-z]\\?", 0..6),
        before in markdownish(),
    ) {
        let list: String = questions.iter().map(|q| format!("- {q}\n")).collect();
        // What comes before is fenced off so it cannot swallow the sections after it.
        let markdown = format!(
            "## Question\n\nWhy?\n\n## Exploration\n\n~~~~~~~~\n{}\n~~~~~~~~\n\n## Open Questions\n\n{list}",
            before.replace('~', "")
        );
        let split = sections::split(&markdown);
        prop_assert_eq!(sections::open_questions(&split), questions);
    }
}
