//! Three-way merges of a stale edit with the change made since its base: whole files line by
//! line (like `git merge-file`), front matter patches key by key.

use serde_json::{Map, Value};

use crate::post::{FrontMatter, split_front_matter};

/// `ours` and `theirs` both started from `base`; their changes merged, or `None` when they
/// touch the same lines.
pub fn lines(base: &str, theirs: &str, ours: &str) -> Option<String> {
    crate::history::merge(base, ours, theirs)
}

/// Whether every key a patch sets has the same value in `base` and `current`: then the
/// patch means the same on the current post, and applying it there loses nothing.
pub fn keys_unchanged(base: &str, current: &str, patch: &Map<String, Value>) -> bool {
    let (Some(base), Some(current)) = (front_matter(base), front_matter(current)) else {
        return false;
    };
    patch.keys().all(|key| base.get(key) == current.get(key))
}

fn front_matter(text: &str) -> Option<Map<String, Value>> {
    let (yaml, _) = split_front_matter(text);
    FrontMatter::parse(yaml?).ok().map(|fm| fm.fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "---\ntitle: T\n---\n\n## Question\n\nOne.\n\n## Takeaways\n\nTwo.\n";

    #[test]
    fn changes_to_different_lines_merge() {
        let theirs = BASE.replace("One.", "One, revised.");
        let ours = BASE.replace("Two.", "Two, revised.");
        let merged = lines(BASE, &theirs, &ours).unwrap();
        assert!(merged.contains("One, revised.") && merged.contains("Two, revised."));
    }

    #[test]
    fn changes_to_the_same_line_do_not_merge() {
        let theirs = BASE.replace("One.", "One, theirs.");
        let ours = BASE.replace("One.", "One, ours.");
        assert_eq!(lines(BASE, &theirs, &ours), None);
    }

    #[test]
    fn a_patch_merges_unless_its_keys_changed_meanwhile() {
        let current = BASE.replace("title: T", "title: T\ntags: [x]");
        let publish = json!({"status": "published"});
        assert!(keys_unchanged(BASE, &current, publish.as_object().unwrap()));
        let retag = json!({"tags": ["y"]});
        assert!(!keys_unchanged(BASE, &current, retag.as_object().unwrap()));
    }
}
