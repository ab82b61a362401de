//! A post body's sections as plain source text, found without rendering: what a revision
//! list needs to say which sections a commit changed, at a fraction of a full parse.
//!
//! It splits where `post::sections` does (each top-level `##` heading, ATX or setext, and
//! any text before the first), so both name the same sections.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::post::SectionKind;

/// One section's kind, heading text and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSource<'a> {
    pub kind: SectionKind,
    pub title: String,
    pub markdown: &'a str,
}

/// The sections of `body` (the Markdown after the front matter), in order.
pub fn outline(body: &str) -> Vec<SectionSource<'_>> {
    let headings = headings(body);
    let mut sections = Vec::with_capacity(headings.len() + 1);
    let preamble = &body[..headings.first().map_or(body.len(), |h| h.0)];
    if !preamble.trim().is_empty() {
        sections.push(SectionSource {
            kind: SectionKind::Other,
            title: String::new(),
            markdown: preamble.trim(),
        });
    }
    for (n, (_, end, title)) in headings.iter().enumerate() {
        let next = headings.get(n + 1).map_or(body.len(), |h| h.0);
        sections.push(SectionSource {
            kind: SectionKind::from_title(title),
            title: title.clone(),
            markdown: body[*end..next].trim(),
        });
    }
    sections
}

/// `(start, end, title)` of each top-level `##` heading of `body`: byte offsets of the
/// heading's source and its text.
pub fn headings(body: &str) -> Vec<(usize, usize, String)> {
    let mut headings: Vec<(usize, usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut title: Option<(usize, String)> = None;
    let parser = Parser::new_ext(body, crate::post::render::options()).into_offset_iter();
    for (event, range) in parser {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H2,
                ..
            }) if depth == 0 => {
                title = Some((range.start, String::new()));
                depth += 1;
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) if depth == 1 && title.is_some() => {
                let (start, text) = title.take().unwrap_or_default();
                headings.push((start, range.end, text.trim().to_string()));
                depth = 0;
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) | Event::Code(text) | Event::InlineMath(text) => {
                if let Some((_, title)) = title.as_mut() {
                    title.push_str(&text);
                }
            }
            _ => {}
        }
    }
    headings
}

/// The kinds of the sections that differ between two outlines (added, removed or
/// changed), in the order of the newer one, each kind once.
pub fn sections_changed(old: &[SectionSource<'_>], new: &[SectionSource<'_>]) -> Vec<SectionKind> {
    let mut changed: Vec<SectionKind> = Vec::new();
    let mut note = |kind: SectionKind| {
        if !changed.contains(&kind) {
            changed.push(kind);
        }
    };
    for (status, old, new) in matched(old, new) {
        if status {
            continue;
        }
        note(new.or(old).map_or(SectionKind::Other, |s| s.kind));
    }
    changed
}

/// Pairs the sections of two versions: the same kind (and, for `other`, the same title)
/// in order of occurrence. Yields `(unchanged, old, new)`: first each new section with its
/// counterpart if any, then the old sections that have none.
pub fn matched<'o, 'n, 'a, 'b>(
    old: &'o [SectionSource<'a>],
    new: &'n [SectionSource<'b>],
) -> Vec<(
    bool,
    Option<&'o SectionSource<'a>>,
    Option<&'n SectionSource<'b>>,
)> {
    let same_place = |a: &SectionSource<'_>, b: &SectionSource<'_>| {
        a.kind == b.kind && (a.kind != SectionKind::Other || a.title.eq_ignore_ascii_case(&b.title))
    };
    let mut used = vec![false; old.len()];
    let mut pairs = Vec::with_capacity(new.len() + old.len());
    for section in new {
        let counterpart = (0..old.len()).find(|&i| !used[i] && same_place(&old[i], section));
        if let Some(i) = counterpart {
            used[i] = true;
        }
        let old_section = counterpart.map(|i| &old[i]);
        let unchanged = old_section.is_some_and(|o| o.markdown == section.markdown);
        pairs.push((unchanged, old_section, Some(section)));
    }
    for (i, section) in old.iter().enumerate() {
        if !used[i] {
            pairs.push((false, Some(section), None));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_splits_at_top_level_second_level_headings() {
        let body = "Intro.\n\n## Question\n\nWhy?\n\n```\n## not a heading\n```\n\n> ## quoted\n\n## Open questions\n\n- One?\n";
        let kinds: Vec<(SectionKind, &str)> =
            outline(body).iter().map(|s| (s.kind, s.markdown)).collect();
        assert_eq!(
            kinds,
            [
                (SectionKind::Other, "Intro."),
                (
                    SectionKind::Question,
                    "Why?\n\n```\n## not a heading\n```\n\n> ## quoted"
                ),
                (SectionKind::OpenQuestions, "- One?"),
            ]
        );
    }

    #[test]
    fn sections_changed_names_edited_added_and_removed_sections() {
        let old = outline("## Question\n\nWhy?\n\n## Background\n\nOld.\n\n## Takeaways\n\nT.\n");
        let new =
            outline("## Question\n\nWhy?\n\n## Background\n\nNew.\n\n## Open Questions\n\n- Q?\n");
        assert_eq!(
            sections_changed(&old, &new),
            [
                SectionKind::Background,
                SectionKind::OpenQuestions,
                SectionKind::Takeaways
            ]
        );
    }
}
