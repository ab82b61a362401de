//! Which lines of a text one edit replaced, with libgit2's xdiff (the Myers diff `git blame`
//! runs between a file and its parent's version), so that a blame built from these hunks
//! names the same commit for each line as `git blame` on a linear history.

use git2::{DiffOptions, Patch};

use super::StoreError;

/// One run of replaced lines: `old_lines` lines from `old_start` of the old text became
/// `new_lines` lines from `new_start` of the new one (0-based line indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineHunk {
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
}

/// The hunks, without context, that turn `old` into `new`, in order.
///
/// # Errors
/// Git errors from libgit2's diff.
pub fn line_hunks(old: &[u8], new: &[u8]) -> Result<Vec<LineHunk>, StoreError> {
    let mut options = DiffOptions::new();
    options.context_lines(0).interhunk_lines(0);
    let patch = Patch::from_buffers(old, None, new, None, Some(&mut options))?;
    (0..patch.num_hunks())
        .map(|number| {
            let (hunk, _) = patch.hunk(number)?;
            // An empty side's start is the line before it (git's `-0,0`), one-based otherwise.
            let start = |start: u32, lines: u32| {
                if lines == 0 {
                    start as usize
                } else {
                    start as usize - 1
                }
            };
            Ok(LineHunk {
                old_start: start(hunk.old_start(), hunk.old_lines()),
                old_lines: hunk.old_lines() as usize,
                new_start: start(hunk.new_start(), hunk.new_lines()),
                new_lines: hunk.new_lines() as usize,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inserted_line_replaces_nothing_after_the_line_before_it() {
        let hunks = line_hunks(b"a\nb\nc\n", b"a\nx\nb\nc\n").unwrap();
        assert_eq!(
            hunks,
            vec![LineHunk {
                old_start: 1,
                old_lines: 0,
                new_start: 1,
                new_lines: 1
            }]
        );
    }

    #[test]
    fn a_changed_and_a_removed_line_are_two_hunks() {
        let hunks = line_hunks(b"a\nb\nc\nd\ne\n", b"a\nB\nc\ne\n").unwrap();
        assert_eq!(
            hunks,
            vec![
                LineHunk {
                    old_start: 1,
                    old_lines: 1,
                    new_start: 1,
                    new_lines: 1
                },
                LineHunk {
                    old_start: 3,
                    old_lines: 1,
                    new_start: 3,
                    new_lines: 0
                },
            ]
        );
    }
}
