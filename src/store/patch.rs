//! Line diffs of two texts, with libgit2's xdiff (the same Myers diff `git diff` runs), so
//! that the lines an API diff adds and removes are exactly git's.

use std::path::Path;

use git2::Patch;

use super::StoreError;

/// A unified diff and its line counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDiff {
    /// `diff --git` style text: headers, then hunks with three lines of context.
    pub unified: String,
    pub additions: usize,
    pub deletions: usize,
}

/// The unified diff from `old` to `new`; a missing side is an absent file (`/dev/null`).
///
/// # Errors
/// Git errors from libgit2's diff.
pub fn diff_text(
    old: Option<(&str, &[u8])>,
    new: Option<(&str, &[u8])>,
) -> Result<TextDiff, StoreError> {
    let (old_path, old_bytes) = old.map_or((None, &[][..]), |(p, b)| (Some(p), b));
    let (new_path, new_bytes) = new.map_or((None, &[][..]), |(p, b)| (Some(p), b));
    let (old_path, new_path) = (old_path.map(Path::new), new_path.map(Path::new));
    let mut patch = Patch::from_buffers(old_bytes, old_path, new_bytes, new_path, None)?;
    let (_, additions, deletions) = patch.line_stats()?;
    let unified = String::from_utf8_lossy(&patch.to_buf()?).into_owned();
    Ok(TextDiff {
        unified,
        additions,
        deletions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_counts_added_and_removed_lines() {
        let diff = diff_text(
            Some(("posts/a.md", b"one\ntwo\nthree\n")),
            Some(("posts/a.md", b"one\n2\nthree\nfour\n")),
        )
        .unwrap();
        assert_eq!((diff.additions, diff.deletions), (2, 1));
        assert!(diff.unified.contains("-two\n+2\n"), "{}", diff.unified);
        assert!(diff.unified.contains("+four\n"), "{}", diff.unified);
    }

    #[test]
    fn identical_texts_have_an_empty_diff() {
        let diff = diff_text(Some(("a", b"same\n")), Some(("a", b"same\n"))).unwrap();
        assert_eq!((diff.additions, diff.deletions), (0, 0));
        assert!(!diff.unified.contains("@@"));
    }
}
