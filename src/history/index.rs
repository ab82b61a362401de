//! The per-path history index: every first-parent commit of the branch, the posts each one
//! changed, and for each post path the changes that touched it, so that a post's history is
//! O(its own revisions) instead of O(all commits).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use crate::post::Slug;
use crate::store::{CommitFacts, Oid};

/// How a commit changed a post file, relative to its first parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Renamed,
    Deleted,
}

/// A post path, interned: an index into [`HistoryIndex::slug`].
pub type PathId = u32;

/// One post file changed by one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostChange {
    /// The file's path after the commit (before it, for a deletion).
    pub path: PathId,
    /// For a rename, the path the post had before.
    pub previous: Option<PathId>,
    pub kind: ChangeKind,
    /// The file before the commit: `None` when added.
    pub old_blob: Option<Oid>,
    /// The file after the commit: `None` when deleted.
    pub new_blob: Option<Oid>,
}

/// A commit of the first-parent chain and the post changes it made.
#[derive(Debug, PartialEq, Eq)]
pub struct IndexedCommit {
    pub facts: CommitFacts,
    pub changes: Vec<PostChange>,
}

/// A change as the builder classifies it, before its paths are interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifiedChange {
    pub slug: Slug,
    pub previous: Option<Slug>,
    pub kind: ChangeKind,
    pub old_blob: Option<Oid>,
    pub new_blob: Option<Oid>,
}

/// Where one change sits in the index: a commit's position (0 = the root commit) and the
/// change's place in that commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeRef {
    pub position: u32,
    pub change: u32,
}

/// The history of the branch as of one tip.
///
/// Every branch move makes a new index from the last one, and both stay alive while
/// readers hold the old snapshot: so the index is made of persistent collections (`imbl`),
/// whose clone is O(1) and whose push copies a path of small nodes, where cloning plain
/// vectors and maps cost O(history) per write (milliseconds at 100,000 commits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryIndex {
    pub(super) tip: Option<Oid>,
    /// The first-parent chain, oldest first.
    pub(super) commits: imbl::Vector<Arc<IndexedCommit>>,
    /// Each commit's committer time, by position: a time is looked up by scanning these
    /// (see `last_at_or_before`), next to each other rather than one per commit record.
    pub(super) committed_at: imbl::Vector<i64>,
    positions: imbl::HashMap<Oid, u32>,
    paths: imbl::Vector<Slug>,
    path_ids: imbl::HashMap<Slug, PathId>,
    /// Per path, the changes naming it (as path or previous path), oldest first.
    by_path: imbl::Vector<imbl::Vector<ChangeRef>>,
}

impl HistoryIndex {
    /// The branch tip this index describes; `None` for a branch with no commits.
    pub fn tip(&self) -> Option<Oid> {
        self.tip
    }

    /// How many commits the first-parent chain has.
    pub fn len(&self) -> usize {
        self.commits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commits.is_empty()
    }

    /// The commit at `position` of the first-parent chain (0 = the root commit).
    pub fn commit(&self, position: u32) -> &IndexedCommit {
        &self.commits[position as usize]
    }

    /// Where `commit` is on the first-parent chain, if it is there.
    pub fn position(&self, commit: Oid) -> Option<u32> {
        self.positions.get(&commit).copied()
    }

    pub fn slug(&self, path: PathId) -> &Slug {
        &self.paths[path as usize]
    }

    /// The posts that the commits after `commit` changed (as path or as a rename's previous
    /// path), or `None` when `commit` is not in this index: then any post may have changed.
    pub fn slugs_changed_after(&self, commit: Oid) -> Option<HashSet<&Slug>> {
        let after = self.position(commit)? as usize + 1;
        // By position: skipping through an imbl iterator would walk every commit before.
        let changes = (after..self.commits.len()).flat_map(|at| &self.commits[at].changes);
        Some(
            changes
                .flat_map(|change| std::iter::once(change.path).chain(change.previous))
                .map(|path| self.slug(path))
                .collect(),
        )
    }

    /// The commit and change a reference points at.
    pub fn change(&self, at: ChangeRef) -> (&IndexedCommit, &PostChange) {
        let commit = self.commit(at.position);
        (commit, &commit.changes[at.change as usize])
    }

    /// The revisions of the post `slug` (named as at the tip), newest first, as of `upto` (a
    /// position; `None`: the tip): every change to its file, following it back across
    /// renames, exactly the commits `git log --first-parent --follow -- posts/<slug>.md`
    /// lists, except that a post's history begins where its file was added: a post created
    /// at the slug of one deleted (or renamed away) earlier does not inherit that one's past.
    /// As of an earlier commit, the post is followed from the tip, so a revision before a
    /// rename is found under the old name.
    pub fn revisions(&self, slug: &Slug, upto: Option<u32>) -> Vec<ChangeRef> {
        let mut found = self.lineage(slug, u32::MAX);
        if let Some(upto) = upto {
            let newer = found.partition_point(|at| at.position > upto);
            found.drain(..newer);
        }
        found
    }

    /// Every revision of the file at `slug` from the tip back, following renames.
    ///
    /// Only changes before position `before` count: from `u32::MAX`, the post at the tip.
    fn lineage(&self, slug: &Slug, mut before: u32) -> Vec<ChangeRef> {
        let mut found = Vec::new();
        let Some(&start) = self.path_ids.get(slug) else {
            return found;
        };
        let mut path = start;
        'follow: loop {
            let touching = &self.by_path[path as usize];
            let end = changes_before(touching, before);
            for at in (0..end).rev().map(|i| touching[i]) {
                // A commit can name a path twice (renamed away and re-added): one revision.
                if found
                    .last()
                    .is_some_and(|last: &ChangeRef| last.position == at.position)
                {
                    continue;
                }
                found.push(at);
                let (_, change) = self.change(at);
                // The file did not exist before: whatever had this path earlier (deleted or
                // renamed away) is another post, with its own past and status.
                if change.kind == ChangeKind::Added && change.path == path {
                    return found;
                }
                if change.kind == ChangeKind::Renamed
                    && change.path == path
                    && let Some(previous) = change.previous
                {
                    path = previous;
                    before = at.position;
                    continue 'follow;
                }
            }
            return found;
        }
    }

    /// The revisions of the post `slug` as the branch had it at `position` (named as then),
    /// newest first: the revisions of this index cut after `position`
    /// ([`HistoryIndex::until`]), without the cost of cutting it.
    pub fn revisions_as_of(&self, slug: &Slug, position: u32) -> Vec<ChangeRef> {
        self.lineage(slug, position.saturating_add(1))
    }

    /// The changes naming the file at `slug` (as path or previous path) from position
    /// `from` on, oldest first.
    pub fn changes_to(&self, slug: &Slug, from: u32) -> Vec<ChangeRef> {
        let Some(&path) = self.path_ids.get(slug) else {
            return Vec::new();
        };
        let touching = &self.by_path[path as usize];
        let start = changes_before(touching, from);
        (start..touching.len()).map(|i| touching[i]).collect()
    }

    /// Appends the next commit of the chain with its (already classified) changes.
    pub(super) fn push(&mut self, facts: CommitFacts, changes: Vec<ClassifiedChange>) {
        let position = self.commits.len() as u32;
        let mut indexed = Vec::with_capacity(changes.len());
        for (number, change) in changes.into_iter().enumerate() {
            let ClassifiedChange {
                slug,
                previous,
                kind,
                old_blob,
                new_blob,
            } = change;
            let at = ChangeRef {
                position,
                change: number as u32,
            };
            let path = self.intern(slug);
            self.by_path[path as usize].push_back(at);
            let previous = previous.map(|slug| {
                let id = self.intern(slug);
                self.by_path[id as usize].push_back(at);
                id
            });
            indexed.push(PostChange {
                path,
                previous,
                kind,
                old_blob,
                new_blob,
            });
        }
        self.positions.insert(facts.id, position);
        self.committed_at.push_back(facts.committed_at);
        self.commits.push_back(Arc::new(IndexedCommit {
            facts,
            changes: indexed,
        }));
    }

    /// Drops every commit from position `len` on: the branch was rewritten there.
    pub(super) fn truncate(&mut self, len: usize) {
        self.committed_at.truncate(len.min(self.committed_at.len()));
        for dropped in self.commits.split_off(len) {
            self.positions.remove(&dropped.facts.id);
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        for touching in self.by_path.iter_mut() {
            let keep = changes_before(touching, len);
            touching.truncate(keep);
        }
    }

    /// Appends an already indexed commit (when loading a saved index).
    pub(super) fn push_indexed(&mut self, commit: IndexedCommit) {
        let position = self.commits.len() as u32;
        for (number, change) in commit.changes.iter().enumerate() {
            let at = ChangeRef {
                position,
                change: number as u32,
            };
            self.by_path[change.path as usize].push_back(at);
            if let Some(previous) = change.previous {
                self.by_path[previous as usize].push_back(at);
            }
        }
        self.positions.insert(commit.facts.id, position);
        self.committed_at.push_back(commit.facts.committed_at);
        self.commits.push_back(Arc::new(commit));
    }

    /// Every interned path, in id order (for saving).
    pub(super) fn paths(&self) -> &imbl::Vector<Slug> {
        &self.paths
    }

    pub(super) fn intern(&mut self, slug: Slug) -> PathId {
        if let Some(&id) = self.path_ids.get(&slug) {
            return id;
        }
        let id = self.paths.len() as PathId;
        self.paths.push_back(slug.clone());
        self.path_ids.insert(slug, id);
        self.by_path.push_back(imbl::Vector::new());
        id
    }
}

/// How many of a path's changes (sorted by position) come before `position`.
fn changes_before(touching: &imbl::Vector<ChangeRef>, position: u32) -> usize {
    touching
        .binary_search_by(|at| {
            if at.position < position {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        })
        .unwrap_or_else(|end| end)
}
