//! Plain text out of rendered Markdown: heading text, summaries and the word count.

use pulldown_cmark::{Event, Tag, TagEnd};

use super::render::Spanned;

/// Reading speed used for `reading_minutes`.
pub(crate) const WORDS_PER_MINUTE: usize = 220;

/// The visible text of inline events, whitespace collapsed. Math keeps its TeX source;
/// footnote markers and raw HTML are left out.
pub(crate) fn plain_text(events: &[Spanned<'_>]) -> String {
    let mut text = String::new();
    for (event, _) in events {
        match event {
            Event::Text(s) | Event::Code(s) | Event::InlineMath(s) | Event::DisplayMath(s) => {
                text.push_str(s);
            }
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    collapse_whitespace(&text)
}

/// Counts prose words: text outside code blocks (inline code counts, being part of a
/// sentence), excluding math, raw HTML and image alt text. A word is a run of
/// non-whitespace holding at least one letter or digit, so a lone `—` is not a word.
pub(crate) fn word_count(events: &[Spanned<'_>]) -> usize {
    let mut text = String::new();
    // Depth inside code blocks and images (whose text is alt text), where nothing is prose.
    let mut hidden = 0usize;
    for (event, _) in events {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::Image { .. }) => hidden += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::Image) => hidden = hidden.saturating_sub(1),
            Event::Text(s) | Event::Code(s) if hidden == 0 => text.push_str(s),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            // Inline markup can split a word ("un*believ*able"); block ends cannot.
            Event::End(end) if !is_inline(end) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .count()
}

/// `ceil(words / 220)`: zero only for a body without words.
pub(crate) fn reading_minutes(words: usize) -> u32 {
    u32::try_from(words.div_ceil(WORDS_PER_MINUTE)).unwrap_or(u32::MAX)
}

/// The text of the first paragraph among `events`, if any.
pub(crate) fn first_paragraph(events: &[Spanned<'_>]) -> Option<String> {
    let start = events
        .iter()
        .position(|(event, _)| matches!(event, Event::Start(Tag::Paragraph)))?;
    let rest = &events[start + 1..];
    let len = rest
        .iter()
        .position(|(event, _)| matches!(event, Event::End(TagEnd::Paragraph)))
        .unwrap_or(rest.len());
    Some(plain_text(&rest[..len])).filter(|text| !text.is_empty())
}

/// Shortens `text` to at most `max_chars` characters (plus an ellipsis), cutting at
/// the last word boundary so no word is split unless a single word is too long.
pub(crate) fn truncate_at_word(text: &str, max_chars: usize) -> String {
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.to_owned();
    };
    let head = &text[..cut];
    let head = if text[cut..].starts_with(char::is_whitespace) {
        head
    } else {
        head.rfind(char::is_whitespace).map_or(head, |i| &head[..i])
    };
    let head = head.trim_end_matches(|c: char| c.is_whitespace() || ",;:-".contains(c));
    format!("{head}…")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_inline(end: &TagEnd) -> bool {
    matches!(
        end,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::render::Document;

    fn words(markdown: &str) -> usize {
        word_count(&Document::parse(markdown).events)
    }

    #[test]
    fn word_count_counts_prose_and_inline_code() {
        assert_eq!(words("One two *three* un*believ*able `code`."), 5);
        assert_eq!(words("# Head line\n\n- item one\n- item two\n"), 6);
        assert_eq!(words("end.\nnext\n\nPara"), 3);
    }

    #[test]
    fn word_count_skips_code_blocks_math_html_images_and_dashes() {
        let markdown = "Prose here — really.\n\n```\nlet x = 1;\n```\n\n\
                        $$a + b$$ and $c$\n\n<div>raw html</div>\n\n![alt words](x.png)\n";
        assert_eq!(words(markdown), 4);
    }

    #[test]
    fn reading_minutes_round_up_and_are_zero_only_without_words() {
        assert_eq!(reading_minutes(0), 0);
        assert_eq!(reading_minutes(1), 1);
        assert_eq!(reading_minutes(220), 1);
        assert_eq!(reading_minutes(221), 2);
    }

    #[test]
    fn first_paragraph_is_plain_text() {
        let doc =
            Document::parse("Why *does* `x` scale by $\\sqrt{d}$?[^1]\n\nSecond.\n\n[^1]: n\n");
        assert_eq!(
            first_paragraph(&doc.events).as_deref(),
            Some("Why does x scale by \\sqrt{d}?")
        );
        assert_eq!(
            first_paragraph(&Document::parse("```\ncode\n```").events),
            None
        );
    }

    #[test]
    fn truncation_cuts_at_a_word_boundary() {
        assert_eq!(truncate_at_word("short text", 280), "short text");
        assert_eq!(truncate_at_word("alpha beta gamma", 8), "alpha…");
        assert_eq!(truncate_at_word("alpha beta gamma", 10), "alpha beta…");
        assert_eq!(truncate_at_word("alpha, beta", 9), "alpha…");
        assert_eq!(truncate_at_word("ééééé", 3), "ééé…");
    }
}
