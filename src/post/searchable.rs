//! A post version as search indexes it: its title and, per section, the text a reader
//! sees (Markdown syntax left out), so that matches and snippets read as prose.

use pulldown_cmark::{Event, TagEnd};

use super::render::Document;
use super::sections::{SectionKind, spans};
use super::{Post, PostError, split_front_matter};

/// The searchable text of one version of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchableText {
    pub title: String,
    /// Each section's kind and plain text, in file order; text before the first heading
    /// is an `other` section.
    pub sections: Vec<(SectionKind, String)>,
}

impl SearchableText {
    /// The searchable text of a whole post file (front matter and body), without rendering
    /// it: what the history index reads for every past version.
    ///
    /// # Errors
    /// As [`Post::front_matter`]: a version whose front matter does not parse has no title.
    pub fn of_file(source: &str) -> Result<SearchableText, PostError> {
        let front_matter = Post::front_matter(source)?;
        let (_, body) = split_front_matter(source);
        Ok(SearchableText::of_body(front_matter.title, body))
    }

    /// The searchable text of a post whose front matter is already parsed.
    pub fn of_body(title: String, markdown: &str) -> SearchableText {
        let document = Document::parse(markdown);
        let sections = spans(&document, markdown)
            .iter()
            .map(|span| {
                let events = document.events.get(span.events.clone()).unwrap_or_default();
                (
                    span.kind,
                    visible_text(events.iter().map(|(event, _)| event)),
                )
            })
            .collect();
        SearchableText { title, sections }
    }
}

/// The text of `events` as a reader sees it, one line per block: prose, code and the TeX of
/// math; raw HTML, link targets and image sources left out.
fn visible_text<'e>(events: impl Iterator<Item = &'e Event<'e>>) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            Event::Text(s) | Event::Code(s) | Event::InlineMath(s) | Event::DisplayMath(s) => {
                text.push_str(s);
            }
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::BlockQuote(_),
            ) => text.push('\n'),
            _ => {}
        }
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keep_their_kind_and_lose_their_markdown_syntax() {
        let source = "---\ntitle: Norms\n---\nIntro.\n\n## Question\n\nWhy **pre**-LN?\n\n## Open questions\n\n- Does [QK-norm](qk-norm) help?\n- `eps`?\n";
        let text = SearchableText::of_file(source).unwrap();
        assert_eq!(text.title, "Norms");
        assert_eq!(
            text.sections,
            vec![
                (SectionKind::Other, "Intro.".to_string()),
                (SectionKind::Question, "Why pre-LN?".to_string()),
                (
                    SectionKind::OpenQuestions,
                    "Does QK-norm help?\neps?".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_version_without_front_matter_is_an_error() {
        assert!(SearchableText::of_file("## Question\n\nWhy?\n").is_err());
    }
}
