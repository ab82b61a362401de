//! Markdown to sanitized HTML: heading ids, the table of contents, footnotes and math.
//!
//! A body is parsed once into a `Document` (events with their source offsets); the
//! whole-post HTML and each section's HTML are rendered from slices of that one event
//! list, so heading ids, footnote numbers and reference links agree everywhere.

use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use utoipa::ToSchema;

use super::addresses::Addresses;
use super::headings::assign_heading_ids;
use super::sanitize::{References, may_nest_deeper_than, sanitize};

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

/// Markdown nested deeper than this (lists, quotes) is flattened. Real posts nest a
/// few levels; the sanitizer's cost grows with depth times size, so untrusted depth
/// must be bounded.
const MAX_NESTING: usize = 64;

/// Rendered HTML that might nest deeper than this has its raw HTML shown as text.
const MAX_HTML_DEPTH: usize = 256;

/// A parsed body: events with heading ids filled in, ready to render in whole or in part.
pub(crate) struct Document<'a> {
    pub(crate) events: Vec<Spanned<'a>>,
    pub(crate) toc: Vec<TocEntry>,
    /// Why the rendering differs from what the author wrote, if it does.
    pub(crate) warnings: Vec<String>,
    /// Normalised footnote label -> its number, in order of first appearance.
    footnotes: HashMap<String, usize>,
    /// Set when raw HTML nests too deeply to sanitize in reasonable time.
    escape_raw_html: bool,
    /// Where links to posts and assets point in the HTML.
    addresses: Addresses,
}

impl<'a> Document<'a> {
    pub(crate) fn parse(markdown: &'a str) -> Self {
        Document::parse_with(markdown, &Addresses::default())
    }

    /// Parses `markdown`, to be rendered with links pointing where `addresses` say.
    pub(crate) fn parse_with(markdown: &'a str, addresses: &Addresses) -> Self {
        let mut events: Vec<Spanned<'a>> = Parser::new_ext(markdown, options())
            .into_offset_iter()
            .collect();
        let mut warnings = Vec::new();
        if flatten_deep_nesting(&mut events) {
            warnings.push(format!(
                "the body nests lists or quotes more than {MAX_NESTING} levels deep; \
                 deeper levels are rendered flat"
            ));
        }
        let footnotes = number_footnotes(&events);
        // Footnote ids are fixed first so that no heading id can take one of them.
        let reserved = (1..=footnotes.len()).map(footnote_id).collect();
        let toc = assign_heading_ids(&mut events, reserved);
        let mut document = Document {
            events,
            toc,
            warnings,
            footnotes,
            escape_raw_html: false,
            addresses: addresses.clone(),
        };
        if document.raw_html_nests_too_deep() {
            document.escape_raw_html = true;
            document.warnings.push(
                "raw HTML in the body is nested too deeply or left unclosed to be sanitized; \
                 it is shown as text"
                    .to_owned(),
            );
        }
        document
    }

    /// Renders a balanced slice of this document's events to sanitized HTML.
    pub(crate) fn html(&self, events: &[Spanned<'a>]) -> String {
        self.html_and_references(events).0
    }

    /// [`Document::html`], with the posts and assets its links and images refer to,
    /// whether written in Markdown or as raw HTML.
    pub(crate) fn html_and_references(&self, events: &[Spanned<'a>]) -> (String, References) {
        sanitize(&self.unsanitized_html(events), &self.addresses)
    }

    fn unsanitized_html(&self, events: &[Spanned<'a>]) -> String {
        let mut html = String::new();
        let events = events.iter().map(|(event, _)| self.output_event(event));
        pulldown_cmark::html::push_html(&mut html, events);
        html
    }

    fn output_event(&self, event: &Event<'a>) -> Event<'a> {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) if self.escape_raw_html => {
                Event::Text(raw.clone())
            }
            _ => self.footnote_html(event).unwrap_or_else(|| event.clone()),
        }
    }

    /// Markdown alone nests at most `MAX_NESTING` deep; only raw HTML can go deeper.
    fn raw_html_nests_too_deep(&self) -> bool {
        let has_raw_html = self
            .events
            .iter()
            .any(|(event, _)| matches!(event, Event::Html(_) | Event::InlineHtml(_)));
        has_raw_html && may_nest_deeper_than(&self.unsanitized_html(&self.events), MAX_HTML_DEPTH)
    }

    /// Footnotes are written by hand because pulldown-cmark uses the raw label as the
    /// element id (`[^note]` -> `id="note"`), which can collide with heading ids.
    fn footnote_html(&self, event: &Event<'a>) -> Option<Event<'a>> {
        let html = match event {
            Event::FootnoteReference(label) => {
                let n = self.footnotes.get(&footnote_key(label))?;
                format!(
                    r##"<sup class="footnote-reference"><a href="#{id}">{n}</a></sup>"##,
                    id = footnote_id(*n)
                )
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let n = self.footnotes.get(&footnote_key(label))?;
                let id = footnote_id(*n);
                format!(
                    "<div class=\"footnote-definition\" id=\"{id}\">\
                     <sup class=\"footnote-definition-label\">{n}</sup>"
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
fn number_footnotes(events: &[Spanned<'_>]) -> HashMap<String, usize> {
    let mut numbers = HashMap::new();
    for (event, _) in events {
        if let Event::FootnoteReference(label) | Event::Start(Tag::FootnoteDefinition(label)) =
            event
        {
            let next = numbers.len() + 1;
            numbers.entry(footnote_key(label)).or_insert(next);
        }
    }
    numbers
}

/// Labels match like link labels, ignoring case and runs of spaces (`[^A]` finds
/// `[^a]:`), but the parser reports each as written.
fn footnote_key(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Drops the start and end of every element nested `MAX_NESTING` or more levels deep,
/// keeping its content; returns whether anything was dropped. Since events are
/// balanced, an element's start and end sit at the same depth and go together.
fn flatten_deep_nesting(events: &mut Vec<Spanned<'_>>) -> bool {
    let mut depth = 0usize;
    let mut flattened = false;
    events.retain(|(event, _)| {
        let level = match event {
            Event::Start(_) => {
                depth += 1;
                depth - 1
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                depth
            }
            _ => return true,
        };
        let keep = level < MAX_NESTING;
        flattened |= !keep;
        keep
    });
    flattened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{AssetPath, Slug};

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
        let reference = r##"<a href="#fn-1" rel="noopener noreferrer">1</a>"##;
        assert!(
            out.contains(&format!(
                r#"<sup class="footnote-reference">{reference}</sup>"#
            )),
            "{out}"
        );
        let label = r#"<sup class="footnote-definition-label">1</sup>"#;
        assert!(
            out.contains(&format!(
                r#"<div class="footnote-definition" id="fn-1">{label}"#
            )),
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

    /// The `<input ...>` tags of `html`, each as its attributes in order.
    fn inputs(html: &str) -> Vec<Vec<&str>> {
        html.split("<input ")
            .skip(1)
            .map(|rest| {
                let tag = rest.split('>').next().unwrap_or_default();
                tag.split_whitespace().collect()
            })
            .collect()
    }

    #[test]
    fn task_lists_keep_disabled_checkboxes() {
        let out = html("- [x] done\n- [ ] todo\n");
        assert_eq!(
            inputs(&out),
            [
                // As pulldown-cmark writes them, in every process (they are in the ETag).
                vec![r#"disabled="""#, r#"type="checkbox""#, r#"checked="""#],
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
    fn post_links_point_to_the_posts_url_and_anchors_stay() {
        let out = html("[next](other-slug) and [top](#question) and ![f](assets/f.svg)");
        assert!(out.contains(r#"href="/posts/other-slug""#), "{out}");
        assert!(out.contains(r##"href="#question""##), "{out}");
        assert!(out.contains(r#"src="/assets/f.svg""#), "{out}");
    }

    fn addressed(markdown: &str) -> (String, References) {
        let addresses = Addresses::new(
            "https://blog.example.org/p/{slug}/",
            Some("https://api.example.org/"),
        );
        let document = Document::parse_with(markdown, &addresses);
        document.html_and_references(&document.events)
    }

    #[test]
    fn raw_html_links_and_images_point_where_markdown_ones_do() {
        let markdown = concat!(
            "[md](why-this-blog) ![md](assets/softmax.svg)\n\n",
            "<p><a href=\"why-this-blog\">raw</a> <a href=\"/posts/pre-ln.md#takeaways\">raw</a> ",
            "<img src=\"../assets/softmax.svg\" alt=\"raw\"> ",
            "<a href=\"assets/data.csv?v=2\">data</a></p>\n\n",
            "Inline <a href=\"./why-this-blog\">raw</a> and <img src=\"/assets/p/loss.png\" ",
            "srcset=\"assets/p/loss-2x.png 2x\">.\n",
        );
        let (out, references) = addressed(markdown);
        assert_eq!(
            out.matches(r#"href="https://blog.example.org/p/why-this-blog/""#)
                .count(),
            3,
            "{out}"
        );
        assert!(
            out.contains(r#"href="https://blog.example.org/p/pre-ln/#takeaways""#),
            "{out}"
        );
        assert_eq!(
            out.matches(r#"src="https://api.example.org/assets/softmax.svg""#)
                .count(),
            2,
            "{out}"
        );
        assert!(
            out.contains(r#"href="https://api.example.org/assets/data.csv?v=2""#),
            "{out}"
        );
        assert!(
            out.contains(r#"src="https://api.example.org/assets/p/loss.png""#),
            "{out}"
        );
        let slugs: Vec<&str> = references.posts.iter().map(Slug::as_str).collect();
        assert_eq!(slugs, ["pre-ln", "why-this-blog"]);
        let assets: Vec<&str> = references.assets.iter().map(AssetPath::as_str).collect();
        assert!(
            out.contains(r#"srcset="https://api.example.org/assets/p/loss-2x.png 2x""#),
            "{out}"
        );
        assert_eq!(
            assets,
            ["data.csv", "p/loss-2x.png", "p/loss.png", "softmax.svg"]
        );
    }

    #[test]
    fn raw_html_anchors_external_urls_and_other_paths_stay_as_written() {
        let (out, references) = addressed(concat!(
            "<a href=\"#takeaways\">a</a> <a href=\"https://example.org/posts/x\">b</a> ",
            "<a href=\"/about\">c</a> <img src=\"softmax.svg\"> <img src=\"other-post\"> ",
            "<a href=\"mailto:a@b.c\">d</a> <img src=\"https://example.org/assets/x.png\">\n",
        ));
        for kept in [
            r##"href="#takeaways""##,
            r#"href="https://example.org/posts/x""#,
            r#"href="/about""#,
            r#"src="softmax.svg""#,
            r#"src="other-post""#,
            r#"href="mailto:a@b.c""#,
            r#"src="https://example.org/assets/x.png""#,
        ] {
            assert!(out.contains(kept), "{kept} changed in {out}");
        }
        assert_eq!(references, References::default());
    }

    #[test]
    fn raw_html_shown_as_text_refers_to_nothing() {
        let deep = "<div>".repeat(MAX_HTML_DEPTH + 1);
        let (out, references) = addressed(&format!("{deep}<a href=\"other\">x</a>\n"));
        assert!(!out.contains("<a "), "{out}");
        assert_eq!(references, References::default());
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
    fn absurdly_deep_markdown_is_flattened_with_a_warning() {
        let markdown = format!("{}deepest words\n", "> ".repeat(5_000));
        let document = Document::parse(&markdown);
        assert_eq!(document.warnings.len(), 1, "{:?}", document.warnings);
        let html = document.html(&document.events);
        assert_eq!(html.matches("<blockquote>").count(), MAX_NESTING);
        assert!(html.contains("deepest words"));
    }

    #[test]
    fn deeply_nested_raw_html_is_shown_as_text() {
        let markdown = format!("Intro *kept*.\n\n{}\n", "<div>".repeat(5_000));
        let document = Document::parse(&markdown);
        assert_eq!(document.warnings.len(), 1, "{:?}", document.warnings);
        let html = document.html(&document.events);
        assert!(html.contains("<em>kept</em>"), "{html}");
        assert!(html.contains("&lt;div&gt;") && !html.contains("<div>"));
    }

    #[test]
    fn ordinary_raw_html_is_kept() {
        let document =
            Document::parse("<details><summary>More</summary>\n\nHidden.\n\n</details>\n");
        assert!(document.warnings.is_empty());
        assert!(
            document
                .html(&document.events)
                .contains("<details><summary>More</summary>")
        );
    }

    #[test]
    fn footnote_labels_match_regardless_of_case() {
        let out = html("x[^Note] y[^note]\n\n[^NOTE]: def\n");
        assert_eq!(out.matches(r##"href="#fn-1""##).count(), 2, "{out}");
        assert!(
            out.contains(r#"id="fn-1""#) && !out.contains("fn-2"),
            "{out}"
        );
    }
}
