//! Warnings about deviations from the blog's five-part structure: missing, repeated
//! or misordered sections, an empty Open Questions list, a `#` heading in the body.
//!
//! These are advice for the author, never errors: such a post is still valid.

use std::collections::HashSet;

use super::render::TocEntry;
use super::sections::{Section, SectionKind, open_questions};

/// Deviations from the blog's structure, as human-readable warnings.
pub fn warnings(sections: &[Section], toc: &[TocEntry]) -> Vec<String> {
    let mut warnings = Vec::new();
    warnings.extend(toc.iter().filter(|entry| entry.level == 1).map(|entry| {
        format!(
            "level-1 heading in the body: {:?} (the title comes from the front matter; \
             sections use ##)",
            entry.text
        )
    }));
    warnings.extend(missing_sections(sections));
    warnings.extend(repeated_sections(sections));
    warnings.extend(out_of_order_sections(sections));
    if sections
        .iter()
        .any(|s| s.kind == SectionKind::OpenQuestions)
        && open_questions(sections).is_empty()
    {
        warnings.push("empty section: Open Questions has no list items".to_owned());
    }
    warnings
}

fn missing_sections(sections: &[Section]) -> impl Iterator<Item = String> {
    SectionKind::EXPECTED
        .into_iter()
        .filter(|kind| !sections.iter().any(|s| s.kind == *kind))
        .map(|kind| format!("missing section: {}", kind.title()))
}

fn repeated_sections(sections: &[Section]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    sections
        .iter()
        .filter(|s| s.kind != SectionKind::Other)
        .filter(|s| !seen.insert(s.kind) && reported.insert(s.kind))
        .map(|s| format!("section repeated: {}", s.kind.title()))
        .collect()
}

/// Reports each expected section that appears after one meant to follow it.
fn out_of_order_sections(sections: &[Section]) -> Vec<String> {
    let rank = |kind: SectionKind| SectionKind::EXPECTED.iter().position(|k| *k == kind);
    let mut latest: Option<(usize, SectionKind)> = None;
    let mut warnings = Vec::new();
    for section in sections {
        let Some(r) = rank(section.kind) else {
            continue;
        };
        match latest {
            Some((latest_rank, latest_kind)) if r < latest_rank => warnings.push(format!(
                "section out of order: {} comes after {}",
                section.kind.title(),
                latest_kind.title()
            )),
            _ => latest = Some((r, section.kind)),
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::render::render;
    use crate::post::sections::split;

    const WELL_FORMED: &str = "## Question\n\nWhy?\n\n## Background\n\nContext.\n\n\
        ## Exploration\n\nWork.\n\n## Takeaways\n\nLessons.\n\n## Open Questions\n\n- One?\n";

    fn warnings_for(markdown: &str) -> Vec<String> {
        warnings(&split(markdown), &render(markdown).toc)
    }

    #[test]
    fn a_well_formed_body_has_no_warnings_for() {
        assert!(
            warnings_for(WELL_FORMED).is_empty(),
            "{:?}",
            warnings_for(WELL_FORMED)
        );
    }

    #[test]
    fn a_missing_section_is_a_warning() {
        let markdown = WELL_FORMED.replace("## Takeaways\n\nLessons.\n\n", "");
        assert_eq!(warnings_for(&markdown), ["missing section: Takeaways"]);
    }

    #[test]
    fn sections_out_of_order_are_a_warning() {
        let markdown = "## Question\n\n## Exploration\n\n## Background\n\n\
                        ## Takeaways\n\n## Open Questions\n\n- q\n";
        assert_eq!(
            warnings_for(markdown),
            ["section out of order: Background comes after Exploration"]
        );
    }

    #[test]
    fn a_repeated_section_is_a_warning() {
        let markdown = format!("{WELL_FORMED}\n## Takeaways\n\nMore.\n");
        assert_eq!(
            warnings_for(&markdown),
            [
                "section repeated: Takeaways",
                "section out of order: Takeaways comes after Open Questions"
            ]
        );
    }

    #[test]
    fn an_empty_open_questions_section_is_a_warning() {
        let markdown = WELL_FORMED.replace("- One?\n", "None for now.\n");
        assert_eq!(
            warnings_for(&markdown),
            ["empty section: Open Questions has no list items"]
        );
    }

    #[test]
    fn a_level_1_heading_in_the_body_is_a_warning() {
        let markdown = format!("# My Title\n\n{WELL_FORMED}");
        let found = warnings_for(&markdown);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("level-1 heading in the body: \"My Title\""));
    }

    #[test]
    fn an_empty_body_misses_all_five_sections() {
        assert_eq!(
            warnings_for(""),
            [
                "missing section: Question",
                "missing section: Background",
                "missing section: Exploration",
                "missing section: Takeaways",
                "missing section: Open Questions",
            ]
        );
    }
}
