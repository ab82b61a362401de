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
        unified: mark_absent_sides(&unified, old.is_none(), new.is_none()),
        additions,
        deletions,
    })
}

/// Rewrites the headers of a diff whose old or new side is absent as `git diff` prints an
/// added or deleted file (`new file mode`, a zero id, `/dev/null`): git2 hands libgit2 no null
/// buffer, so libgit2 took the missing side for an empty file, and a patch tool reading
/// those headers would look for that file.
fn mark_absent_sides(unified: &str, old_absent: bool, new_absent: bool) -> String {
    if !old_absent && !new_absent {
        return unified.to_string();
    }
    let mut out = String::with_capacity(unified.len() + 32);
    let mut in_header = true;
    for line in unified.split_inclusive('\n') {
        in_header &= !line.starts_with("@@");
        let rewritten = match line.strip_suffix('\n').unwrap_or(line) {
            header if in_header && header.starts_with("index ") => absent_index(header, old_absent),
            header if in_header && old_absent && header.starts_with("--- ") => {
                Some("--- /dev/null".to_string())
            }
            header if in_header && new_absent && header.starts_with("+++ ") => {
                Some("+++ /dev/null".to_string())
            }
            _ => None,
        };
        match rewritten {
            Some(text) => {
                out.push_str(&text);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `index <old>..<new> <mode>` as git prints it when the old side (else the new) does not exist: the mode on a
/// line of its own before, and zeros for the missing id.
fn absent_index(header: &str, old_absent: bool) -> Option<String> {
    let mut words = header.split(' ');
    let (_, ids, mode) = (
        words.next()?,
        words.next()?,
        words.next().unwrap_or("100644"),
    );
    let (old_id, new_id) = ids.split_once("..")?;
    let zeros = "0".repeat(old_id.len());
    Some(if old_absent {
        format!("new file mode {mode}\nindex {zeros}..{new_id}")
    } else {
        format!("deleted file mode {mode}\nindex {old_id}..{zeros}")
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
    fn an_added_or_deleted_file_has_the_headers_git_diff_prints() {
        let added = diff_text(None, Some(("posts/a.md", b"one\n"))).unwrap();
        assert_eq!(
            added.unified,
            "diff --git a/posts/a.md b/posts/a.md\nnew file mode 100644\nindex 0000000..5626abf\n\
             --- /dev/null\n+++ b/posts/a.md\n@@ -0,0 +1 @@\n+one\n"
        );
        let deleted = diff_text(Some(("posts/a.md", b"one\n")), None).unwrap();
        assert_eq!(
            deleted.unified,
            "diff --git a/posts/a.md b/posts/a.md\ndeleted file mode 100644\nindex 5626abf..0000000\n\
             --- a/posts/a.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-one\n"
        );
    }

    #[test]
    fn identical_texts_have_an_empty_diff() {
        let diff = diff_text(Some(("a", b"same\n")), Some(("a", b"same\n"))).unwrap();
        assert_eq!((diff.additions, diff.deletions), (0, 0));
        assert!(!diff.unified.contains("@@"));
    }
}
