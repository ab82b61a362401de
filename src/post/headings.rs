//! Heading ids and the table of contents: every heading gets a stable, unique `id`
//! that the HTML, the toc and the sections' ids all share.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{Event, HeadingLevel, Tag, TagEnd};

use super::render::{Spanned, TocEntry};
use super::text::plain_text;

/// Gives every heading an id (its explicit `{#id}`, else a unique slug of its text)
/// and returns the table of contents.
pub(crate) fn assign_heading_ids(
    events: &mut [Spanned<'_>],
    mut reserved: HashSet<String>,
) -> Vec<TocEntry> {
    // Explicit ids are claimed up front so a generated id never takes one of them.
    reserved.extend(events.iter().filter_map(|(event, _)| match event {
        Event::Start(Tag::Heading { id: Some(id), .. }) => Some(id.to_string()),
        _ => None,
    }));
    let mut ids = HeadingIds::new(reserved);
    let mut toc = Vec::new();
    for i in 0..events.len() {
        let Event::Start(Tag::Heading { level, id, .. }) = &events[i].0 else {
            continue;
        };
        let level = *level;
        let explicit = id.as_ref().map(|id| id.to_string());
        let text = plain_text(heading_content(&events[i + 1..]));
        let id = explicit.unwrap_or_else(|| ids.claim(heading_slug(&text)));
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

fn heading_level(level: HeadingLevel) -> u8 {
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

/// Hands out heading ids, each unique within the document.
struct HeadingIds {
    used: HashSet<String>,
    /// The next suffix to try per base, so a heading repeated n times costs O(n)
    /// rather than O(n²): bodies are untrusted and can hold thousands of `## a`.
    next_suffix: HashMap<String, usize>,
}

impl HeadingIds {
    /// `reserved` ids (explicit `{#id}`s, footnote ids) are never handed out.
    fn new(reserved: HashSet<String>) -> Self {
        HeadingIds {
            used: reserved,
            next_suffix: HashMap::new(),
        }
    }

    /// `base`, or `base-1`, `base-2`, ... whichever is free first.
    fn claim(&mut self, base: String) -> String {
        if self.used.insert(base.clone()) {
            return base;
        }
        let next = self.next_suffix.entry(base.clone()).or_insert(1);
        loop {
            let candidate = format!("{base}-{next}");
            *next += 1;
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::post::render::render;

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
}
