//! The blog's five-part structure: splitting a body at its `##` headings, naming the
//! parts, listing the open questions and warning about deviations.
//!
//! Structure problems are warnings, never errors: a post that skips a section is
//! still a valid post.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::Serialize;
use utoipa::ToSchema;

use super::file::skip_blank_lines;
use super::headings::heading_content;
use super::render::{Document, Spanned, options};
use super::text::{first_paragraph, plain_text};

/// Which part of the blog's structure a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Question,
    Background,
    Exploration,
    Takeaways,
    OpenQuestions,
    /// Any other heading, or the text before the first `##` heading.
    Other,
}

impl SectionKind {
    /// The five expected sections, in the order a post should have them.
    pub const EXPECTED: [SectionKind; 5] = [
        SectionKind::Question,
        SectionKind::Background,
        SectionKind::Exploration,
        SectionKind::Takeaways,
        SectionKind::OpenQuestions,
    ];

    /// Recognises a heading regardless of case, spacing and punctuation, so
    /// "Open questions", "OPEN  QUESTIONS" and "Open-Questions:" all match.
    pub fn from_title(title: &str) -> SectionKind {
        let key: String = title
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        match key.as_str() {
            "question" => SectionKind::Question,
            "background" => SectionKind::Background,
            "exploration" => SectionKind::Exploration,
            "takeaways" => SectionKind::Takeaways,
            "openquestions" => SectionKind::OpenQuestions,
            _ => SectionKind::Other,
        }
    }

    /// The heading as the blog writes it.
    pub fn title(self) -> &'static str {
        match self {
            SectionKind::Question => "Question",
            SectionKind::Background => "Background",
            SectionKind::Exploration => "Exploration",
            SectionKind::Takeaways => "Takeaways",
            SectionKind::OpenQuestions => "Open Questions",
            SectionKind::Other => "Other",
        }
    }
}

/// One `##` section of a post body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Section {
    pub kind: SectionKind,
    /// The heading as written, as plain text; empty for text before the first heading.
    #[schema(example = "Open Questions")]
    pub title: String,
    /// The heading's id in the post's `html` and `toc`; empty for text before the first heading.
    #[schema(example = "open-questions")]
    pub id: String,
    /// The Markdown under the heading (the heading line itself excluded).
    pub markdown: String,
    /// That Markdown rendered and sanitized like the whole post.
    pub html: String,
}

/// Splits a Markdown body into its sections; none for a body over
/// [`MAX_BODY_BYTES`](super::limits::MAX_BODY_BYTES), which is not rendered.
pub fn split(markdown: &str) -> Vec<Section> {
    if super::limits::body_over_limit(markdown).is_some() {
        return Vec::new();
    }
    let document = Document::parse(markdown);
    spans(&document, markdown)
        .iter()
        .map(|span| span.to_section(&document, markdown))
        .collect()
}

/// Where one section lies in a [`Document`].
pub(crate) struct Span {
    pub(crate) kind: SectionKind,
    title: String,
    id: String,
    /// Event indices of the content under the heading.
    pub(crate) events: Range<usize>,
    /// Byte range of that content in the body.
    source: Range<usize>,
}

impl Span {
    pub(crate) fn to_section(&self, document: &Document<'_>, markdown: &str) -> Section {
        Section {
            kind: self.kind,
            title: self.title.clone(),
            id: self.id.clone(),
            markdown: skip_blank_lines(markdown.get(self.source.clone()).unwrap_or_default())
                .trim_end()
                .to_owned(),
            html: document.html(document.events.get(self.events.clone()).unwrap_or_default()),
        }
    }
}

/// Locates the sections: each top-level `##` heading (ATX or setext) starts one, and
/// non-blank text before the first becomes an untitled `other` section. Headings
/// nested in lists or quotes, and `##` lines in code, do not split.
pub(crate) fn spans(document: &Document<'_>, markdown: &str) -> Vec<Span> {
    let events = &document.events;
    let starts = top_level_h2_starts(events);
    let first = starts.first().copied().unwrap_or(events.len());
    let preamble_end = events.get(first).map_or(markdown.len(), |(_, r)| r.start);

    let mut spans = Vec::new();
    if !markdown
        .get(..preamble_end)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        spans.push(Span {
            kind: SectionKind::Other,
            title: String::new(),
            id: String::new(),
            events: 0..first,
            source: 0..preamble_end,
        });
    }
    for (n, &start) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(events.len());
        let content = heading_content(&events[start + 1..next]);
        let body_start = start + 1 + content.len() + 1;
        let title = plain_text(content);
        let id = match &events[start].0 {
            Event::Start(Tag::Heading { id: Some(id), .. }) => id.to_string(),
            _ => String::new(),
        };
        spans.push(Span {
            kind: SectionKind::from_title(&title),
            title,
            id,
            events: body_start.min(next)..next,
            source: events[start].1.end..events.get(next).map_or(markdown.len(), |(_, r)| r.start),
        });
    }
    spans
}

fn top_level_h2_starts(events: &[Spanned<'_>]) -> Vec<usize> {
    let mut depth = 0usize;
    let mut starts = Vec::new();
    for (i, (event, _)) in events.iter().enumerate() {
        if depth == 0 && is_h2_start(event) {
            starts.push(i);
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    starts
}

fn is_h2_start(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Start(Tag::Heading {
            level: HeadingLevel::H2,
            ..
        })
    )
}

/// Plain text of the first paragraph of the Question section, for a default summary.
pub(crate) fn question_lead(document: &Document<'_>, spans: &[Span]) -> Option<String> {
    let question = spans.iter().find(|s| s.kind == SectionKind::Question)?;
    first_paragraph(document.events.get(question.events.clone())?)
}

/// The open questions: each top-level list item of the Open Questions section(s), as
/// its Markdown source on one line, without the bullet or task-list box. Nested
/// items are details of their parent question and are left out.
pub fn open_questions(sections: &[Section]) -> Vec<String> {
    sections
        .iter()
        .filter(|section| section.kind == SectionKind::OpenQuestions)
        .flat_map(|section| top_level_items(&section.markdown))
        .collect()
}

/// The open questions listed in one Open Questions section's Markdown, as
/// [`open_questions`] finds them (for readers that outline a post without rendering it).
pub fn top_level_items(markdown: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut in_top_list = false;
    let mut item: Option<Range<usize>> = None;
    for (event, range) in Parser::new_ext(markdown, options()).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                match tag {
                    Tag::List(_) if depth == 0 => in_top_list = true,
                    Tag::Item if depth == 1 && in_top_list => item = Some(range),
                    // A nested list ends the text of the question it belongs to.
                    Tag::List(_) => {
                        if let Some(open) = item.as_mut() {
                            open.end = open.end.min(range.start);
                        }
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                match end {
                    TagEnd::Item if depth == 1 => {
                        if let Some(text) = item.take().and_then(|r| markdown.get(r)) {
                            items.extend(question_text(text));
                        }
                    }
                    TagEnd::List(_) if depth == 0 => in_top_list = false,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    items
}

/// A list item's source without its marker, joined onto one line.
fn question_text(item: &str) -> Option<String> {
    let text = strip_task_box(strip_list_marker(item.trim_start()));
    let line = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!line.is_empty()).then_some(line)
}

fn strip_list_marker(item: &str) -> &str {
    let after_marker = if let Some(rest) = item.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = item.bytes().take_while(u8::is_ascii_digit).count();
        item[digits..].strip_prefix(['.', ')']).unwrap_or(item)
    };
    after_marker.trim_start()
}

fn strip_task_box(text: &str) -> &str {
    ["[ ]", "[x]", "[X]"]
        .iter()
        .find_map(|marker| text.strip_prefix(marker))
        .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
        .map_or(text, str::trim_start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::render::render;

    fn kinds(markdown: &str) -> Vec<SectionKind> {
        split(markdown).iter().map(|s| s.kind).collect()
    }

    #[test]
    fn the_five_sections_are_recognised_in_order() {
        let markdown =
            "## Question\n\n## Background\n\n## Exploration\n\n## Takeaways\n\n## Open Questions\n";
        assert_eq!(kinds(markdown), SectionKind::EXPECTED);
    }

    #[test]
    fn titles_match_regardless_of_case_and_spacing() {
        for title in [
            "Open Questions",
            "open  questions",
            "OPEN QUESTIONS",
            " Open\tquestions ",
        ] {
            assert_eq!(
                SectionKind::from_title(title),
                SectionKind::OpenQuestions,
                "{title}"
            );
        }
        assert_eq!(SectionKind::from_title("Takeaways"), SectionKind::Takeaways);
        assert_eq!(SectionKind::from_title("Results"), SectionKind::Other);
    }

    #[test]
    fn kinds_serialize_in_snake_case() {
        let json = serde_json::to_string(&SectionKind::OpenQuestions).unwrap();
        assert_eq!(json, "\"open_questions\"");
    }

    #[test]
    fn a_section_holds_the_markdown_under_its_heading() {
        let sections =
            split("## Question\n\nWhy *this*?\n\n### Detail\n\nMore.\n\n## Takeaways\nDone.");
        assert_eq!(sections[0].title, "Question");
        assert_eq!(sections[0].id, "question");
        assert_eq!(sections[0].markdown, "Why *this*?\n\n### Detail\n\nMore.");
        assert_eq!(
            sections[0].html,
            "<p>Why <em>this</em>?</p>\n<h3 id=\"detail\">Detail</h3>\n<p>More.</p>\n"
        );
        assert_eq!(sections[1].markdown, "Done.");
    }

    #[test]
    fn section_ids_match_the_whole_document_toc() {
        let markdown = "## Example\n\n### Example\n\n## Example\n";
        let sections = split(markdown);
        let toc = render(markdown).toc;
        assert_eq!(sections[0].id, toc[0].id);
        assert_eq!(sections[1].id, toc[2].id);
        assert_eq!(sections[1].id, "example-2");
        assert!(
            sections[0].html.contains(r#"id="example-1""#),
            "{}",
            sections[0].html
        );
    }

    #[test]
    fn section_html_resolves_footnotes_defined_elsewhere() {
        let sections = split("## Exploration\n\nClaim.[^1]\n\n## Notes\n\n[^1]: Source.\n");
        assert!(
            sections[0].html.contains(r##"href="#fn-1""##),
            "{}",
            sections[0].html
        );
    }

    #[test]
    fn setext_headings_split_and_hashes_in_code_do_not() {
        let markdown = "Question\n--------\n\nWhy?\n\n```\n## not a heading\n```\n\n## Takeaways\n";
        assert_eq!(
            kinds(markdown),
            [SectionKind::Question, SectionKind::Takeaways]
        );
        assert!(split(markdown)[0].markdown.contains("## not a heading"));
    }

    #[test]
    fn nested_h2_headings_do_not_split() {
        assert_eq!(
            kinds("## Question\n\n> ## Quoted\n\n- ## In a list\n"),
            [SectionKind::Question]
        );
    }

    #[test]
    fn text_before_the_first_heading_is_an_untitled_other_section() {
        let sections = split("Intro text.\n\n## Question\n\nWhy?\n");
        assert_eq!(sections[0].kind, SectionKind::Other);
        assert_eq!(sections[0].title, "");
        assert_eq!(sections[0].markdown, "Intro text.");
        assert_eq!(kinds("\n  \n## Question\n"), [SectionKind::Question]);
    }

    #[test]
    fn unknown_headings_are_other_sections() {
        let sections = split("## Question\n\n## Appendix: derivation\n\nMath.\n");
        assert_eq!(sections[1].kind, SectionKind::Other);
        assert_eq!(sections[1].title, "Appendix: derivation");
    }

    #[test]
    fn open_questions_are_top_level_items_as_written() {
        let markdown = "## Open Questions\n\n\
            - Does *pre-LN* still matter at [scale](scale-post)?\n\
            - [ ] Is $\\sqrt{d}$ optimal?\n  - nested detail\n  - another\n\
            - [x] Settled: no.\n\
            * multi-line\n  question\n\n\
            1. numbered\n\n\
            Closing prose.\n";
        let questions = open_questions(&split(markdown));
        assert_eq!(
            questions,
            [
                "Does *pre-LN* still matter at [scale](scale-post)?",
                "Is $\\sqrt{d}$ optimal?",
                "Settled: no.",
                "multi-line question",
                "numbered",
            ]
        );
    }

    #[test]
    fn open_questions_ignore_other_sections() {
        let markdown = "## Takeaways\n\n- not a question\n\n## Open questions\n\n- a question\n";
        assert_eq!(open_questions(&split(markdown)), ["a question"]);
    }

    #[test]
    fn an_empty_body_has_no_sections() {
        assert!(split("").is_empty());
        assert!(split("\n \n").is_empty());
    }
}
