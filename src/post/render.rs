//! Markdown to sanitized HTML: heading ids, the table of contents, footnotes and math.
//!
//! A body is parsed once into a [`Document`] (events with their source offsets); the
//! whole-post HTML and each section's HTML are rendered from slices of that one event
//! list, so heading ids, footnote numbers and reference links agree everywhere.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use utoipa::ToSchema;

use super::text::plain_text;

/// A post body rendered to HTML, with its table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub toc: Vec<TocEntry>,
}

/// One heading of the body, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TocEntry {
    /// 1 to 6, as in `<h1>`..`<h6>`.
    #[schema(example = 2)]
    pub level: u8,
    /// The heading's `id` attribute in `html`, unique within the post.
    #[schema(example = "open-questions")]
    pub id: String,
    /// The heading as plain text.
    #[schema(example = "Open Questions")]
    pub text: String,
}

/// Renders a Markdown body to sanitized HTML and collects its table of contents.
pub fn render(markdown: &str) -> Rendered {
    let document = Document::parse(markdown);
    Rendered {
        html: document.html(&document.events),
        toc: document.toc,
    }
}

/// The Markdown dialect of posts: CommonMark plus the GFM extensions and math.
pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_MATH
}

/// A parser event with the byte range of the source it came from.
pub(crate) type Spanned<'a> = (Event<'a>, Range<usize>);

/// A parsed body: events with heading ids filled in, ready to render in whole or in part.
pub(crate) struct Document<'a> {
    pub(crate) events: Vec<Spanned<'a>>,
    pub(crate) toc: Vec<TocEntry>,
    /// Footnote label -> its number, in order of first appearance.
    footnotes: HashMap<CowStr<'a>, usize>,
}

impl<'a> Document<'a> {
    pub(crate) fn parse(markdown: &'a str) -> Self {
        let mut events: Vec<Spanned<'a>> = Parser::new_ext(markdown, options())
            .into_offset_iter()
            .collect();
        let footnotes = number_footnotes(&events);
        // Footnote ids are fixed first so that no heading id can take one of them.
        let reserved = (1..=footnotes.len()).map(footnote_id).collect();
        let toc = assign_heading_ids(&mut events, reserved);
        Document {
            events,
            toc,
            footnotes,
        }
    }

    /// Renders a balanced slice of this document's events to sanitized HTML.
    pub(crate) fn html(&self, events: &[Spanned<'a>]) -> String {
        let mut html = String::new();
        let events = events
            .iter()
            .map(|(event, _)| self.footnote_html(event).unwrap_or_else(|| event.clone()));
        pulldown_cmark::html::push_html(&mut html, events);
        sanitizer().clean(&html).to_string()
    }

    /// Footnotes are written by hand because pulldown-cmark uses the raw label as the
    /// element id (`[^note]` -> `id="note"`), which can collide with heading ids.
    fn footnote_html(&self, event: &Event<'a>) -> Option<Event<'a>> {
        let html = match event {
            Event::FootnoteReference(label) => {
                let n = self.footnotes.get(label)?;
                format!(
                    r##"<sup class="footnote-reference"><a href="#{id}">{n}</a></sup>"##,
                    id = footnote_id(*n)
                )
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let n = self.footnotes.get(label)?;
                format!(
                    r#"<div class="footnote-definition" id="{id}"><sup class="footnote-definition-label">{n}</sup>"#,
                    id = footnote_id(*n)
                )
            }
            Event::End(TagEnd::FootnoteDefinition) => "</div>\n".to_owned(),
            _ => return None,
        };
        Some(Event::Html(html.into()))
    }
}

fn footnote_id(number: usize) -> String {
    format!("fn-{number}")
}

/// Numbers footnotes the way pulldown-cmark does: by first reference or definition.
fn number_footnotes<'a>(events: &[Spanned<'a>]) -> HashMap<CowStr<'a>, usize> {
    let mut numbers = HashMap::new();
    for (event, _) in events {
        if let Event::FootnoteReference(label) | Event::Start(Tag::FootnoteDefinition(label)) =
            event
        {
            let next = numbers.len() + 1;
            numbers.entry(label.clone()).or_insert(next);
        }
    }
    numbers
}

/// Gives every heading an id (its explicit `{#id}`, else a unique slug of its text)
/// and returns the table of contents.
fn assign_heading_ids(events: &mut [Spanned<'_>], mut used: HashSet<String>) -> Vec<TocEntry> {
    // Explicit ids are claimed up front so a generated id never takes one of them.
    used.extend(events.iter().filter_map(|(event, _)| match event {
        Event::Start(Tag::Heading { id: Some(id), .. }) => Some(id.to_string()),
        _ => None,
    }));
    let mut toc = Vec::new();
    for i in 0..events.len() {
        let Event::Start(Tag::Heading { level, id, .. }) = &events[i].0 else {
            continue;
        };
        let level = *level;
        let explicit = id.as_ref().map(|id| id.to_string());
        let text = plain_text(heading_content(&events[i + 1..]));
        let id = explicit.unwrap_or_else(|| unique_id(heading_slug(&text), &mut used));
        if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[i].0 {
            *slot = Some(id.clone().into());
        }
        toc.push(TocEntry {
            level: heading_level(level),
            id,
            text,
        });
    }
    toc
}

/// The events between a heading's start (excluded) and its end.
pub(crate) fn heading_content<'e, 'a>(after_start: &'e [Spanned<'a>]) -> &'e [Spanned<'a>] {
    let end = after_start
        .iter()
        .position(|(event, _)| matches!(event, Event::End(TagEnd::Heading(_))))
        .unwrap_or(after_start.len());
    &after_start[..end]
}

pub(crate) fn heading_level(level: HeadingLevel) -> u8 {
    level as u8
}

/// GitHub-style anchor: lowercase letters and digits, with spaces, `-` and `_` as
/// single hyphens and other punctuation dropped.
fn heading_slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '_') && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "section".to_owned()
    } else {
        slug.to_owned()
    }
}

/// `base`, or `base-1`, `base-2`, ... whichever is free first; records the choice.
fn unique_id(base: String, used: &mut HashSet<String>) -> String {
    let id = if used.contains(&base) {
        (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|candidate| !used.contains(candidate))
            .unwrap_or(base)
    } else {
        base
    };
    used.insert(id.clone());
    id
}

/// The three alignments pulldown-cmark writes on table cells, the only styles kept.
const TABLE_ALIGNMENTS: [&str; 3] = [
    "text-align: left",
    "text-align: center",
    "text-align: right",
];

/// An allow-list sanitizer that keeps exactly what the renderer emits and drops
/// scripts, frames, styles, event handlers and `javascript:` URLs from raw HTML.
fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["input"])
            .add_clean_content_tags(["iframe"])
            .add_tag_attributes("span", ["class"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("div", ["class", "id"])
            .add_tag_attributes("sup", ["class"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            .add_tag_attributes("input", ["checked"])
            // Any <input> that survives is a read-only task-list checkbox.
            .set_tag_attribute_value("input", "type", "checkbox")
            .set_tag_attribute_value("input", "disabled", "")
            .attribute_filter(filter_attribute);
        for heading in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            builder.add_tag_attributes(heading, ["id"]);
        }
        builder
    });
    &SANITIZER
}

/// Narrows the allowed `class` and `style` attributes to the values the renderer uses.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match attribute {
        "class" => {
            let kept: Vec<&str> = value
                .split_ascii_whitespace()
                .filter(|class| class_allowed(element, class))
                .collect();
            (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")))
        }
        "style" => TABLE_ALIGNMENTS
            .contains(&value)
            .then_some(Cow::Borrowed(value)),
        _ => Some(Cow::Borrowed(value)),
    }
}

fn class_allowed(element: &str, class: &str) -> bool {
    match element {
        "span" => matches!(class, "math" | "math-inline" | "math-display"),
        "code" => class
            .strip_prefix("language-")
            .is_some_and(|language| !language.is_empty()),
        "div" => class == "footnote-definition",
        "sup" => matches!(class, "footnote-reference" | "footnote-definition-label"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(markdown: &str) -> String {
        render(markdown).html
    }

    #[test]
    fn tables_render_with_alignment_kept() {
        let out = html("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n");
        assert!(out.contains("<table>"), "{out}");
        assert!(
            out.contains(r#"<th style="text-align: left">a</th>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<td style="text-align: center">2</td>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<td style="text-align: right">3</td>"#),
            "{out}"
        );
    }

    #[test]
    fn footnotes_link_reference_and_definition() {
        let out = html("Claim.[^src]\n\n[^src]: Xiong et al., 2020.\n");
        assert!(
            out.contains(r##"<sup class="footnote-reference"><a href="#fn-1" rel="noopener noreferrer">1</a></sup>"##),
            "{out}"
        );
        assert!(
            out.contains(r#"<div class="footnote-definition" id="fn-1"><sup class="footnote-definition-label">1</sup>"#),
            "{out}"
        );
        assert!(out.contains("Xiong et al."), "{out}");
    }

    #[test]
    fn footnote_ids_do_not_collide_with_heading_ids() {
        let rendered = render("## Fn 1\n\nText.[^a]\n\n[^a]: Note.\n");
        assert_eq!(rendered.toc[0].id, "fn-1-1");
        assert!(rendered.html.contains(r#"id="fn-1""#), "{}", rendered.html);
    }

    #[test]
    fn strikethrough_becomes_del() {
        assert!(html("~~wrong~~ right").contains("<del>wrong</del>"));
    }

    /// The `<input ...>` tags of `html`, each as its sorted attributes.
    fn inputs(html: &str) -> Vec<Vec<&str>> {
        html.split("<input ")
            .skip(1)
            .map(|rest| {
                let tag = rest.split('>').next().unwrap_or_default();
                let mut attributes: Vec<&str> = tag.split_whitespace().collect();
                attributes.sort_unstable();
                attributes
            })
            .collect()
    }

    #[test]
    fn task_lists_keep_disabled_checkboxes() {
        let out = html("- [x] done\n- [ ] todo\n");
        assert_eq!(
            inputs(&out),
            [
                vec![r#"checked="""#, r#"disabled="""#, r#"type="checkbox""#],
                vec![r#"disabled="""#, r#"type="checkbox""#],
            ],
            "{out}"
        );
    }

    #[test]
    fn inline_math_is_a_span_with_escaped_tex() {
        let out = html(r"Scale by $\sqrt{d_k}$ and $a<b$.");
        assert!(
            out.contains(r#"<span class="math math-inline">\sqrt{d_k}</span>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<span class="math math-inline">a&lt;b</span>"#),
            "{out}"
        );
    }

    #[test]
    fn display_math_is_a_span_with_escaped_tex() {
        let out = html("$$a<b \\text{ & } c>d$$\n");
        assert!(
            out.contains(r#"<span class="math math-display">a&lt;b \text{ &amp; } c&gt;d</span>"#),
            "{out}"
        );
    }

    #[test]
    fn headings_get_slug_ids_and_toc_entries() {
        let rendered = render("# Title\n\n## Why $\\sqrt{d}$?\n\n### Pre-LN vs. Post_LN\n");
        assert!(rendered.html.contains(r#"<h1 id="title">Title</h1>"#));
        assert!(rendered.html.contains(r#"<h3 id="pre-ln-vs-post-ln">"#));
        let toc: Vec<_> = rendered
            .toc
            .iter()
            .map(|e| (e.level, e.id.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            toc,
            [
                (1, "title", "Title"),
                (2, "why-sqrtd", "Why \\sqrt{d}?"),
                (3, "pre-ln-vs-post-ln", "Pre-LN vs. Post_LN"),
            ]
        );
    }

    #[test]
    fn duplicate_heading_ids_are_numbered() {
        let rendered = render("## Example\n\n## Example\n\n## Example\n\n## ???\n");
        let ids: Vec<_> = rendered.toc.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["example", "example-1", "example-2", "section"]);
        assert!(rendered.html.contains(r#"<h2 id="example-2">"#));
    }

    #[test]
    fn explicit_heading_ids_are_kept_and_reserved() {
        let rendered = render("## Intro\n\n## Setup {#intro}\n");
        let ids: Vec<_> = rendered.toc.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["intro-1", "intro"]);
        assert!(
            rendered.html.contains(r#"<h2 id="intro">Setup</h2>"#),
            "{}",
            rendered.html
        );
    }

    #[test]
    fn code_blocks_keep_their_language_class() {
        let out = html("```rust\nfn main() {}\n```\n");
        assert!(
            out.contains(r#"<pre><code class="language-rust">"#),
            "{out}"
        );
    }

    #[test]
    fn images_keep_src_alt_and_title() {
        let out = html("![a plot](/assets/plot.svg \"Loss\")");
        assert!(
            out.contains(r#"<img src="/assets/plot.svg" alt="a plot" title="Loss">"#),
            "{out}"
        );
    }

    #[test]
    fn dangerous_raw_html_is_removed() {
        let out = html(concat!(
            "<script>alert(1)</script>\n\n",
            "<iframe src=\"https://evil.example\">inside</iframe>\n\n",
            "<style>body { display: none }</style>\n\n",
            "<p onclick=\"steal()\" style=\"color: red\" class=\"x\">para</p>\n\n",
            "[click](javascript:alert(1))\n\n",
            "<a href=\"javascript:alert(2)\">raw</a>\n",
        ));
        for banned in [
            "<script",
            "alert(1)",
            "<iframe",
            "evil",
            "inside",
            "<style",
            "display",
            "onclick",
            "steal",
            "color",
            "class=\"x\"",
            "javascript",
        ] {
            assert!(!out.contains(banned), "{banned} survived in {out}");
        }
        assert!(out.contains("para") && out.contains("click") && out.contains("raw"));
    }

    #[test]
    fn raw_html_cannot_forge_renderer_attributes() {
        let out = html(concat!(
            "<span class=\"math evil\" style=\"text-align: left\">x</span>\n",
            "<input type=\"text\" value=\"v\" onfocus=\"f()\">\n",
            "<td style=\"text-align: left; background: url(x)\">c</td>\n",
        ));
        assert!(out.contains(r#"<span class="math">x</span>"#), "{out}");
        assert!(
            !out.contains("evil") && !out.contains("background"),
            "{out}"
        );
        assert_eq!(
            inputs(&out),
            [vec![r#"disabled="""#, r#"type="checkbox""#]],
            "{out}"
        );
    }

    #[test]
    fn relative_post_links_are_kept_as_written() {
        let out = html("[next](other-slug) and [top](#question)");
        assert!(out.contains(r#"href="other-slug""#), "{out}");
        assert!(out.contains(r##"href="#question""##), "{out}");
    }
}
