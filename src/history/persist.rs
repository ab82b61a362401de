//! Saving the index under the repository's git directory and loading it at startup, so
//! a restart extends the saved index instead of walking the whole history again.
//!
//! The file is `<gitdir>/palimpsest/history-v1.bin`: a header (the magic `PLMHIST` and a
//! format version byte), then the index as [`postcard`] encodes the private `Saved*` types
//! below, which mirror the index without tying its in-memory types to a file format. It is
//! written to a temporary file and renamed into place, so a crash leaves the old file or the
//! new one. A file of another version, or one that does not decode, is ignored (and the
//! index rebuilt): it is a cache, never the truth.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::index::{ChangeKind, HistoryIndex, IndexedCommit, PostChange};
use crate::post::Slug;
use crate::store::{CommitFacts, Oid};

const MAGIC: &[u8; 7] = b"PLMHIST";
/// Bumped whenever the `Saved*` types change: an older file is then rebuilt, not misread.
/// Version 1 was a hand-written layout before postcard.
const VERSION: u8 = 2;

/// Where the index of the repository at `git_dir` is kept.
pub fn index_file(git_dir: &Path) -> PathBuf {
    crate::own_files::path(git_dir, "history-v1.bin")
}

/// Writes `index` to `file` atomically (temporary file, fsync, rename).
///
/// # Errors
/// I/O errors creating, writing or renaming the file.
pub fn save(index: &HistoryIndex, file: &Path) -> std::io::Result<()> {
    crate::own_files::replace(file, &encode(index))
}

/// The index saved in `file`, or `None` when there is none or it does not decode.
pub fn load(file: &Path) -> Option<HistoryIndex> {
    let bytes = std::fs::read(file).ok()?;
    let index = decode(&bytes);
    if index.is_none() {
        tracing::warn!(file = %file.display(), "ignoring an unreadable history index");
    }
    index
}

#[derive(Serialize, Deserialize)]
struct Saved<'a> {
    tip: Option<[u8; 20]>,
    #[serde(borrow)]
    paths: Vec<&'a str>,
    #[serde(borrow)]
    commits: Vec<SavedCommit<'a>>,
}

#[derive(Serialize, Deserialize)]
struct SavedCommit<'a> {
    id: [u8; 20],
    parents: Vec<[u8; 20]>,
    author_name: &'a str,
    author_email: &'a str,
    committed_at: i64,
    message: &'a str,
    changes: Vec<SavedChange>,
}

#[derive(Serialize, Deserialize)]
struct SavedChange {
    path: u32,
    previous: Option<u32>,
    kind: SavedKind,
    old_blob: Option<[u8; 20]>,
    new_blob: Option<[u8; 20]>,
}

#[derive(Serialize, Deserialize)]
enum SavedKind {
    Added,
    Modified,
    Renamed,
    Deleted,
}

fn encode(index: &HistoryIndex) -> Vec<u8> {
    let saved = Saved {
        tip: index.tip.map(raw),
        paths: index.paths().iter().map(Slug::as_str).collect(),
        commits: index
            .commits
            .iter()
            .map(|commit| SavedCommit {
                id: raw(commit.facts.id),
                parents: commit.facts.parents.iter().copied().map(raw).collect(),
                author_name: &commit.facts.author_name,
                author_email: &commit.facts.author_email,
                committed_at: commit.facts.committed_at,
                message: &commit.facts.message,
                changes: commit.changes.iter().map(saved_change).collect(),
            })
            .collect(),
    };
    let mut out = Vec::with_capacity(64 * index.len() + 1024);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    // Writing into a Vec fails only when serde itself refuses a value, which these plain
    // types never make it do.
    postcard::to_io(&saved, &mut out).expect("the history index always encodes");
    out
}

fn decode(bytes: &[u8]) -> Option<HistoryIndex> {
    let body = bytes.strip_prefix(MAGIC)?.strip_prefix(&[VERSION])?;
    let (saved, rest): (Saved, _) = postcard::take_from_bytes(body).ok()?;
    let mut index = HistoryIndex::default();
    for path in &saved.paths {
        index.intern(Slug::parse(path).ok()?);
    }
    let paths = saved.paths.len() as u32;
    let path = |id: u32| (id < paths).then_some(id);
    for commit in saved.commits {
        let changes = commit
            .changes
            .into_iter()
            .map(|change| {
                Some(PostChange {
                    path: path(change.path)?,
                    previous: match change.previous {
                        None => None,
                        Some(id) => Some(path(id)?),
                    },
                    kind: match change.kind {
                        SavedKind::Added => ChangeKind::Added,
                        SavedKind::Modified => ChangeKind::Modified,
                        SavedKind::Renamed => ChangeKind::Renamed,
                        SavedKind::Deleted => ChangeKind::Deleted,
                    },
                    old_blob: optional_oid(change.old_blob)?,
                    new_blob: optional_oid(change.new_blob)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let facts = CommitFacts {
            id: oid(commit.id)?,
            parents: commit
                .parents
                .into_iter()
                .map(oid)
                .collect::<Option<Vec<_>>>()?,
            author_name: commit.author_name.to_string(),
            author_email: commit.author_email.to_string(),
            committed_at: commit.committed_at,
            message: commit.message.to_string(),
        };
        index.push_indexed(IndexedCommit { facts, changes });
    }
    index.tip = optional_oid(saved.tip)?;
    let consistent = rest.is_empty()
        && index.tip == index.commits.last().map(|c| c.facts.id)
        && index
            .commits
            .iter()
            .zip(index.commits.iter().skip(1))
            .all(|(older, newer)| newer.facts.parents.first() == Some(&older.facts.id));
    consistent.then_some(index)
}

fn saved_change(change: &PostChange) -> SavedChange {
    SavedChange {
        path: change.path,
        previous: change.previous,
        kind: match change.kind {
            ChangeKind::Added => SavedKind::Added,
            ChangeKind::Modified => SavedKind::Modified,
            ChangeKind::Renamed => SavedKind::Renamed,
            ChangeKind::Deleted => SavedKind::Deleted,
        },
        old_blob: change.old_blob.map(raw),
        new_blob: change.new_blob.map(raw),
    }
}

fn raw(oid: Oid) -> [u8; 20] {
    let mut bytes = [0; 20];
    bytes.copy_from_slice(oid.as_bytes());
    bytes
}

fn oid(bytes: [u8; 20]) -> Option<Oid> {
    Oid::from_bytes(&bytes).ok()
}

/// `Some(None)` for an absent id, `None` when a present one does not decode.
fn optional_oid(bytes: Option<[u8; 20]>) -> Option<Option<Oid>> {
    match bytes {
        None => Some(None),
        Some(bytes) => oid(bytes).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_another_format_version_is_ignored() {
        let mut bytes = encode(&HistoryIndex::default());
        assert_eq!(decode(&bytes), Some(HistoryIndex::default()));
        bytes[MAGIC.len()] = VERSION - 1;
        assert_eq!(decode(&bytes), None);
        assert_eq!(
            decode(b"PLMHIST1"),
            None,
            "the hand-written version 1 header"
        );
    }
}
