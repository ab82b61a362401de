//! Pairing the posts a commit deleted with those it added, so that history follows a post
//! across a rename: through the API (same blob) or by `git mv` with small edits.
//!
//! Similarity follows git's default rename detection: the bytes of lines the two files
//! share, over the size of the larger one, must be at least 50%.

use std::collections::HashMap;

/// Git's default `-M` threshold.
pub const MIN_SIMILARITY: f64 = 0.5;

/// How much of two files is the same, from 0 (nothing) to 1 (identical), counting the
/// bytes of shared lines (each line as often as it occurs in both).
pub fn similarity(old: &[u8], new: &[u8]) -> f64 {
    let larger = old.len().max(new.len());
    if larger == 0 {
        return 1.0;
    }
    // Like git, give up early when the sizes alone rule out the threshold.
    let smaller = old.len().min(new.len());
    if (smaller as f64) < larger as f64 * MIN_SIMILARITY {
        return 0.0;
    }
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for line in old.split_inclusive(|&b| b == b'\n') {
        *counts.entry(line).or_default() += 1;
    }
    let mut shared = 0;
    for line in new.split_inclusive(|&b| b == b'\n') {
        if let Some(count) = counts.get_mut(line)
            && *count > 0
        {
            *count -= 1;
            shared += line.len();
        }
    }
    shared as f64 / larger as f64
}

/// Pairs deleted files with added ones: identical contents first, then the most similar
/// pairs at or above [`MIN_SIMILARITY`], each file in at most one pair. Returns
/// `(deleted index, added index)` pairs. `content` reads a file's bytes (by its id) and is
/// only called when no exact match exists.
///
/// # Errors
/// Whatever `content` fails with.
pub fn pair_renames<Id: PartialEq + Copy, E>(
    deleted: &[Id],
    added: &[Id],
    mut content: impl FnMut(Id) -> Result<Vec<u8>, E>,
) -> Result<Vec<(usize, usize)>, E> {
    let mut pairs = Vec::new();
    let mut deleted_free = vec![true; deleted.len()];
    let mut added_free = vec![true; added.len()];
    for (d, old) in deleted.iter().enumerate() {
        if let Some(a) = (0..added.len()).find(|&a| added_free[a] && added[a] == *old) {
            deleted_free[d] = false;
            added_free[a] = false;
            pairs.push((d, a));
        }
    }
    let left_deleted: Vec<usize> = (0..deleted.len()).filter(|&d| deleted_free[d]).collect();
    let left_added: Vec<usize> = (0..added.len()).filter(|&a| added_free[a]).collect();
    if left_deleted.is_empty() || left_added.is_empty() {
        return Ok(pairs);
    }
    let olds = left_deleted
        .iter()
        .map(|&d| content(deleted[d]))
        .collect::<Result<Vec<_>, E>>()?;
    let news = left_added
        .iter()
        .map(|&a| content(added[a]))
        .collect::<Result<Vec<_>, E>>()?;
    let mut candidates = Vec::new();
    for (i, old) in olds.iter().enumerate() {
        for (j, new) in news.iter().enumerate() {
            let score = similarity(old, new);
            if score >= MIN_SIMILARITY {
                candidates.push((score, left_deleted[i], left_added[j]));
            }
        }
    }
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    for (_, d, a) in candidates {
        if deleted_free[d] && added_free[a] {
            deleted_free[d] = false;
            added_free[a] = false;
            pairs.push((d, a));
        }
    }
    pairs.sort_unstable();
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(id: u8) -> Result<Vec<u8>, ()> {
        let body = "---\ntitle: A\n---\n\n## Question\n\nWhy?\n\n## Background\n\nBecause.\n";
        Ok(match id {
            1 => body.as_bytes().to_vec(),
            2 => body.replace("Because.", "Because, mostly.").into_bytes(),
            3 => b"something else entirely\nwith other lines\n".to_vec(),
            _ => Vec::new(),
        })
    }

    #[test]
    fn identical_files_are_fully_similar_and_unrelated_ones_are_not() {
        assert_eq!(similarity(b"a\nb\n", b"a\nb\n"), 1.0);
        assert_eq!(similarity(b"a\nb\n", b"c\nd\n"), 0.0);
        let one_line_changed = similarity(b"a\nb\nc\nd\n", b"a\nb\nc\nX\n");
        assert!((one_line_changed - 0.75).abs() < 1e-9);
    }

    #[test]
    fn a_move_with_the_same_content_is_a_rename_without_reading_files() {
        let pairs = pair_renames(&[7u8], &[9, 7], |_| -> Result<Vec<u8>, ()> {
            panic!("exact matches need no content")
        });
        assert_eq!(pairs, Ok(vec![(0, 1)]));
    }

    #[test]
    fn a_move_with_a_small_edit_is_a_rename() {
        assert_eq!(pair_renames(&[1u8], &[2], texts), Ok(vec![(0, 0)]));
    }

    #[test]
    fn deleting_one_post_and_adding_an_unrelated_one_is_not_a_rename() {
        assert_eq!(pair_renames(&[1u8], &[3], texts), Ok(vec![]));
    }

    #[test]
    fn each_file_joins_at_most_one_pair_and_the_best_match_wins() {
        // Deleted 2 is closer to added 1 than deleted 1 is only after the exact match.
        assert_eq!(
            pair_renames(&[1u8, 2], &[2, 1], texts),
            Ok(vec![(0, 1), (1, 0)])
        );
        assert_eq!(pair_renames(&[1u8], &[2, 1], texts), Ok(vec![(0, 1)]));
    }
}
