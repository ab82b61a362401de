//! Saving the index under the repository's git directory and loading it at startup, so
//! a restart extends the saved index instead of walking the whole history again.
//!
//! The file is `<gitdir>/palimpsest/history-v1.bin`, a small binary format of our own
//! holding its tip; it is written to a temporary file and renamed into place, so a crash
//! leaves the old file or the new one. A file that does not decode is ignored (and the
//! index rebuilt): it is a cache, never the truth.

use std::path::{Path, PathBuf};

use super::index::{ChangeKind, HistoryIndex, IndexedCommit, PostChange};
use crate::post::Slug;
use crate::store::{CommitFacts, Oid};

const MAGIC: &[u8; 8] = b"PLMHIST1";
const NONE: u32 = u32::MAX;

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

fn encode(index: &HistoryIndex) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(64 * index.len() + 1024));
    out.0.extend_from_slice(MAGIC);
    out.oid(index.tip.unwrap_or(Oid::ZERO_SHA1));
    out.u32(index.paths().len() as u32);
    for slug in index.paths() {
        out.str(slug.as_str());
    }
    out.u32(index.commits.len() as u32);
    for commit in &index.commits {
        let facts = &commit.facts;
        out.oid(facts.id);
        out.u32(facts.parents.len() as u32);
        for parent in &facts.parents {
            out.oid(*parent);
        }
        out.str(&facts.author_name);
        out.str(&facts.author_email);
        out.0.extend_from_slice(&facts.committed_at.to_le_bytes());
        out.str(&facts.message);
        out.u32(commit.changes.len() as u32);
        for change in &commit.changes {
            out.u32(change.path);
            out.u32(change.previous.unwrap_or(NONE));
            out.0.push(kind_code(change.kind));
            out.oid(change.old_blob.unwrap_or(Oid::ZERO_SHA1));
            out.oid(change.new_blob.unwrap_or(Oid::ZERO_SHA1));
        }
    }
    out.0
}

fn decode(bytes: &[u8]) -> Option<HistoryIndex> {
    let mut input = Reader(bytes);
    if input.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let mut index = HistoryIndex::default();
    index.tip = input.optional_oid()?;
    let paths = input.u32()?;
    for _ in 0..paths {
        index.intern(Slug::parse(input.str()?).ok()?);
    }
    let path = |id: u32| (id < paths).then_some(id);
    let commits = input.u32()?;
    for _ in 0..commits {
        let id = input.oid()?;
        let parents = (0..input.u32()?)
            .map(|_| input.oid())
            .collect::<Option<Vec<_>>>()?;
        let author_name = input.str()?.to_string();
        let author_email = input.str()?.to_string();
        let committed_at = i64::from_le_bytes(input.take(8)?.try_into().ok()?);
        let message = input.str()?.to_string();
        let changes = (0..input.u32()?)
            .map(|_| {
                Some(PostChange {
                    path: path(input.u32()?)?,
                    previous: match input.u32()? {
                        NONE => None,
                        id => Some(path(id)?),
                    },
                    kind: kind_of(input.take(1)?[0])?,
                    old_blob: input.optional_oid()?,
                    new_blob: input.optional_oid()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let facts = CommitFacts {
            id,
            parents,
            author_name,
            author_email,
            committed_at,
            message,
        };
        index.push_indexed(IndexedCommit { facts, changes });
    }
    let consistent = input.0.is_empty()
        && index.tip == index.commits.last().map(|c| c.facts.id)
        && index
            .commits
            .iter()
            .zip(index.commits.iter().skip(1))
            .all(|(older, newer)| newer.facts.parents.first() == Some(&older.facts.id));
    consistent.then_some(index)
}

fn kind_code(kind: ChangeKind) -> u8 {
    match kind {
        ChangeKind::Added => 0,
        ChangeKind::Modified => 1,
        ChangeKind::Renamed => 2,
        ChangeKind::Deleted => 3,
    }
}

fn kind_of(code: u8) -> Option<ChangeKind> {
    Some(match code {
        0 => ChangeKind::Added,
        1 => ChangeKind::Modified,
        2 => ChangeKind::Renamed,
        3 => ChangeKind::Deleted,
        _ => return None,
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn str(&mut self, value: &str) {
        self.u32(value.len() as u32);
        self.0.extend_from_slice(value.as_bytes());
    }

    fn oid(&mut self, value: Oid) {
        self.0.extend_from_slice(value.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn oid(&mut self) -> Option<Oid> {
        Oid::from_bytes(self.take(20)?).ok()
    }

    fn optional_oid(&mut self) -> Option<Option<Oid>> {
        let oid = self.oid()?;
        Some((!oid.is_zero()).then_some(oid))
    }
}
