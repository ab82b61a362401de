//! Line diffs of two texts, the one engine behind unified diffs, change counts, blame and
//! the merge of concurrent edits: `imara-diff`'s Myers diff with git's indent heuristic, so
//! that the lines a diff adds and removes are the ones `git diff` (and `git blame`) picks.
//!
//! `imara-diff` finds the changed lines; what is written here is how git prints them
//! (its hunk headers, function context and "No newline" marker, which the crate's own
//! printer does not follow) and a three-way merge over its hunks, which no maintained
//! crate does on the same diff (`diffy` merges, but its diff places ambiguous changes
//! elsewhere than git does).

use std::ops::Range;

use imara_diff::{Algorithm, Diff, InternedInput};

/// Lines of context around each change, as `git diff` prints.
const CONTEXT: u32 = 3;

/// How much of a line git shows after a hunk header as its "function" context.
const FUNCTION_CONTEXT: usize = 80;

/// One run of replaced lines: `old_lines` lines from `old_start` of the old text became
/// `new_lines` lines from `new_start` of the new one (0-based line indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineHunk {
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
}

impl LineHunk {
    fn old_range(&self) -> Range<usize> {
        self.old_start..self.old_start + self.old_lines
    }

    fn new_range(&self) -> Range<usize> {
        self.new_start..self.new_start + self.new_lines
    }
}

/// The hunks, without context, that turn `old` into `new`, in order.
pub fn line_hunks(old: &[u8], new: &[u8]) -> Vec<LineHunk> {
    let (_, diff) = diff(old, new);
    diff.hunks()
        .map(|hunk| LineHunk {
            old_start: hunk.before.start as usize,
            old_lines: hunk.before.len(),
            new_start: hunk.after.start as usize,
            new_lines: hunk.after.len(),
        })
        .collect()
}

/// Lines added and removed from `old` to `new`, as `git diff --numstat` counts them.
pub fn line_counts(old: &str, new: &str) -> (usize, usize) {
    let (_, diff) = diff(old.as_bytes(), new.as_bytes());
    (
        diff.count_additions() as usize,
        diff.count_removals() as usize,
    )
}

/// The hunks of the unified diff from `old` to `new` as `git diff` prints them (three lines
/// of context, headers with the function context), without file headers; empty when the
/// texts are the same.
pub fn unified_hunks(old: &str, new: &str) -> String {
    let (input, diff) = diff(old.as_bytes(), new.as_bytes());
    let before: Vec<&[u8]> = input.before.iter().map(|&t| input.interner[t]).collect();
    let after: Vec<&[u8]> = input.after.iter().map(|&t| input.interner[t]).collect();
    let hunks: Vec<_> = diff.hunks().collect();
    let mut out = Vec::new();
    let mut first = 0;
    while first < hunks.len() {
        // Changes at most two contexts apart share a hunk, as in git.
        let mut last = first;
        while last + 1 < hunks.len()
            && hunks[last + 1].before.start - hunks[last].before.end <= 2 * CONTEXT
        {
            last += 1;
        }
        let (start, end) = (&hunks[first], &hunks[last]);
        let old_start = start.before.start.saturating_sub(CONTEXT);
        let new_start = start.after.start - (start.before.start - old_start);
        let old_end = (end.before.end + CONTEXT).min(before.len() as u32);
        let new_end = end.after.end + (old_end - end.before.end);
        out.extend_from_slice(
            format!(
                "@@ -{} +{} @@",
                hunk_range(old_start, old_end - old_start),
                hunk_range(new_start, new_end - new_start)
            )
            .as_bytes(),
        );
        if let Some(function) = function_context(&before[..old_start as usize]) {
            out.push(b' ');
            out.extend_from_slice(function);
        }
        out.push(b'\n');
        let mut at = old_start as usize;
        for hunk in &hunks[first..=last] {
            let (removed, added) = (range(&hunk.before), range(&hunk.after));
            push_lines(&mut out, b' ', &before[at..removed.start]);
            push_lines(&mut out, b'-', &before[removed.clone()]);
            push_lines(&mut out, b'+', &after[added]);
            at = removed.end;
        }
        push_lines(&mut out, b' ', &before[at..old_end as usize]);
        first = last + 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `base` with the changes of both `ours` and `theirs`, which both started from it (what
/// `git merge-file` does); `None` when they change the same or adjacent lines differently.
pub fn merge(base: &str, ours: &str, theirs: &str) -> Option<String> {
    let (base_lines, our_lines, their_lines) = (lines_of(base), lines_of(ours), lines_of(theirs));
    let ours_hunks = line_hunks(base.as_bytes(), ours.as_bytes());
    let theirs_hunks = line_hunks(base.as_bytes(), theirs.as_bytes());
    let (mut ours_hunks, mut theirs_hunks) =
        (ours_hunks.iter().peekable(), theirs_hunks.iter().peekable());
    let mut merged = String::with_capacity(base.len().max(ours.len()).max(theirs.len()));
    let mut at = 0;
    loop {
        let (hunk, side) = match (ours_hunks.peek(), theirs_hunks.peek()) {
            (None, None) => break,
            (Some(&&a), Some(&&b))
                if a.old_start <= b.old_range().end && b.old_start <= a.old_range().end =>
            {
                if a.old_range() != b.old_range()
                    || our_lines[a.new_range()] != their_lines[b.new_range()]
                {
                    return None;
                }
                theirs_hunks.next();
                (*ours_hunks.next()?, &our_lines)
            }
            (Some(&&a), Some(&&b)) if a.old_start < b.old_start => {
                (*ours_hunks.next()?, &our_lines)
            }
            (Some(_), None) => (*ours_hunks.next()?, &our_lines),
            _ => (*theirs_hunks.next()?, &their_lines),
        };
        merged.extend(base_lines[at..hunk.old_start].iter().copied());
        merged.extend(side[hunk.new_range()].iter().copied());
        at = hunk.old_range().end;
    }
    merged.extend(base_lines[at..].iter().copied());
    Some(merged)
}

fn diff<'a>(old: &'a [u8], new: &'a [u8]) -> (InternedInput<&'a [u8]>, Diff) {
    let input = InternedInput::new(old, new);
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    (input, diff)
}

fn lines_of(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn range(lines: &Range<u32>) -> Range<usize> {
    lines.start as usize..lines.end as usize
}

/// One side of a hunk header: the 1-based first line and the count, the count left out
/// when it is one and the line before given for an empty side (git's `-0,0`, `+12`).
fn hunk_range(start: u32, lines: u32) -> String {
    match lines {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{lines}", start + 1),
    }
}

/// The last line before a hunk that starts with a letter, `_` or `$` (git's default
/// function line), cut to 80 bytes without trailing white space.
fn function_context<'a>(before: &[&'a [u8]]) -> Option<&'a [u8]> {
    let line = before.iter().rev().find(|line| {
        line.first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_' || c == b'$')
    })?;
    let line = &line[..line.len().min(FUNCTION_CONTEXT)];
    let end = line
        .iter()
        .rposition(|c| !c.is_ascii_whitespace() && *c != 0x0b)?
        + 1;
    Some(&line[..end])
}

fn push_lines(out: &mut Vec<u8>, prefix: u8, lines: &[&[u8]]) {
    for line in lines {
        out.push(prefix);
        out.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            out.extend_from_slice(b"\n\\ No newline at end of file\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git diff --no-index` of two texts, from its first hunk on.
    fn git_diff(old: &str, new: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, old).unwrap();
        std::fs::write(&b, new).unwrap();
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "core.quotePath=false",
                "diff",
                "--no-index",
                "--no-color",
            ])
            .arg(&a)
            .arg(&b)
            .output()
            .unwrap();
        let printed = String::from_utf8(output.stdout).unwrap();
        printed
            .find("\n@@")
            .map(|at| printed[at + 1..].to_string())
            .unwrap_or_default()
    }

    #[test]
    fn hunks_are_printed_as_git_diff_prints_them() {
        let post = "---\ntitle: A\n---\n\n## Question\n\nWhy?\n\n## Exploration\n\nfn main() {\n    one();\n}\n\nfn other() {\n    two();\n}\n\n## Takeaways\n\nOld.\nend";
        let edits = [
            // A change far from the top: function context in the header.
            post.replace("Old.", "New."),
            // An inserted block between two alike ones: git's indent heuristic places it.
            post.replace(
                "fn other() {",
                "fn added() {\n    three();\n}\n\nfn other() {",
            ),
            // Lines removed from both ends, and the last line given its newline.
            post.replace("---\ntitle: A\n", "---\n")
                .replace("end", "end\n"),
            // Two changes close enough to share a hunk, and one far from them.
            post.replace("Why?", "How?")
                .replace("one();", "uno();")
                .replace("end", "fin"),
        ];
        for new in &edits {
            assert_eq!(unified_hunks(post, new), git_diff(post, new), "{new}");
        }
        assert_eq!(unified_hunks(post, post), "");
    }

    #[test]
    fn counts_are_lines_added_and_removed() {
        assert_eq!(
            line_counts("one\ntwo\nthree\n", "one\n2\nthree\nfour\n"),
            (2, 1)
        );
        assert_eq!(line_counts("", "one\n"), (1, 0));
    }

    /// A hunk from its four numbers, in `LineHunk`'s field order.
    fn hunk(old_start: usize, old_lines: usize, new_start: usize, new_lines: usize) -> LineHunk {
        LineHunk {
            old_start,
            old_lines,
            new_start,
            new_lines,
        }
    }

    #[test]
    fn an_inserted_line_replaces_nothing_after_the_line_before_it() {
        assert_eq!(
            line_hunks(b"a\nb\nc\n", b"a\nx\nb\nc\n"),
            [hunk(1, 0, 1, 1)]
        );
    }

    #[test]
    fn a_changed_and_a_removed_line_are_two_hunks() {
        let hunks = line_hunks(b"a\nb\nc\nd\ne\n", b"a\nB\nc\ne\n");
        assert_eq!(hunks, [hunk(1, 1, 1, 1), hunk(3, 1, 3, 0)]);
    }

    #[test]
    fn a_merge_takes_both_sides_changes_unless_they_meet() {
        let base = "a\nb\nc\nd\ne\n";
        let ours = "A\nb\nc\nd\ne\n";
        let theirs = "a\nb\nc\nd\nE\n";
        assert_eq!(
            merge(base, ours, theirs).as_deref(),
            Some("A\nb\nc\nd\nE\n")
        );
        assert_eq!(
            merge(base, ours, ours).as_deref(),
            Some(ours),
            "the same change twice"
        );
        assert_eq!(merge(base, ours, "a\nB\nc\nd\ne\n"), None, "adjacent lines");
        assert_eq!(merge(base, ours, "x\nb\nc\nd\ne\n"), None, "the same line");
    }
}
