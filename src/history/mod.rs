//! Revision history: the per-path index of the branch's first-parent history, each post's
//! place in it (revisions, created and updated times), and diffs between revisions.
//!
//! Merge commits count by their first parent, as `git log --first-parent` shows history: a
//! merge is one revision of each post it changes relative to its first parent, and the
//! commits of a merged branch are not revisions of their own (they stay readable by id).

mod as_of;
mod blame;
mod build;
mod diff;
mod index;
mod ledger;
mod ledger_file;
mod lines;
mod list_keys;
mod moved;
mod outline;
mod persist;
mod renames;

use serde::Serialize;
use utoipa::ToSchema;

pub use as_of::parse_as_of;
pub use blame::{Blame, BlameLine, BlameRevision, BlameSection, FilePart, blame};
pub use build::update;
pub use diff::{
    ChangeStats, FrontMatterDiff, OpenQuestionsDiff, PostDiff, SectionDiff, SectionStatus,
    StatsCache, ValueChange, Version, VersionDiff, change_stats, diff_versions,
    open_questions_change,
};
pub use index::{ChangeKind, ChangeRef, HistoryIndex, IndexedCommit, PathId, PostChange};
pub use ledger::{Ledger, LedgerPost, LedgerQuestion, Mark};
pub use ledger_file::{encode_ledger, ledger_file, load_ledger, save_ledger};
pub use lines::{LineHunk, line_counts, line_hunks, merge, unified_hunks};
pub use list_keys::{ListKeys, VersionKeys};
pub use persist::{index_file, load, save};
pub use renames::{MIN_SIMILARITY, pair_renames, similarity};

use crate::post::Slug;
use crate::store::CommitFacts;

/// Who wrote a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Author {
    #[schema(example = "Mira Okafor")]
    pub name: String,
    #[schema(example = "mira@example.org")]
    pub email: String,
}

/// A commit as history lists show it: a revision of a post, an entry of the site's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CommitSummary {
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: String,
    #[schema(example = json!(["4b825dc642cb6eb9a060e54bf8d69288fbee4904"]))]
    pub parents: Vec<String>,
    pub author: Author,
    /// Committer time, RFC 3339 in UTC.
    #[schema(example = "2026-11-02T09:30:00Z")]
    pub committed_at: String,
    #[schema(example = "Settle the QK-norm question")]
    pub message: String,
}

impl CommitSummary {
    pub fn of(facts: &CommitFacts) -> CommitSummary {
        CommitSummary {
            commit: facts.id.to_string(),
            parents: facts.parents.iter().map(ToString::to_string).collect(),
            author: Author::of(facts),
            committed_at: rfc3339(facts.committed_at),
            message: facts.message.clone(),
        }
    }
}

/// The commit that last changed a post (as of a revision): `revision` in post responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevisionStamp {
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: String,
    /// The post file's blob id at that commit (its ETag).
    #[schema(example = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")]
    pub blob: String,
    pub author: Author,
    /// Committer time, RFC 3339 in UTC.
    #[schema(example = "2026-11-02T09:30:00Z")]
    pub committed_at: String,
    #[schema(example = "Settle the QK-norm question")]
    pub message: String,
}

/// A post's place in history as of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostHistory {
    pub revision: RevisionStamp,
    /// The post file's blob at that revision (`revision.blob`, as an id).
    pub blob: crate::store::Oid,
    /// When the post's first revision was committed (RFC 3339, UTC).
    pub created_at: String,
    /// When its latest revision was committed (RFC 3339, UTC); sorts as text.
    pub updated_at: String,
    pub revision_count: usize,
}

impl Author {
    pub fn of(facts: &CommitFacts) -> Author {
        Author {
            name: facts.author_name.clone(),
            email: facts.author_email.clone(),
        }
    }
}

impl HistoryIndex {
    /// The history of `slug` as of position `upto` (`None`: the tip), or `None` when the
    /// post has no revision there or did not exist (its latest change deleted it).
    pub fn post_history(&self, slug: &Slug, upto: Option<u32>) -> Option<PostHistory> {
        self.history_of(&self.revisions(slug, upto))
    }

    /// The history of the post `slug` as the branch had it at `position`: what
    /// [`HistoryIndex::post_history`] answers on this index cut there
    /// ([`HistoryIndex::until`]).
    pub fn post_history_as_of(&self, slug: &Slug, position: u32) -> Option<PostHistory> {
        self.history_of(&self.revisions_as_of(slug, position))
    }

    /// The history whose revisions, newest first, are `revisions`.
    fn history_of(&self, revisions: &[ChangeRef]) -> Option<PostHistory> {
        let (newest, oldest) = (*revisions.first()?, *revisions.last()?);
        let created = rfc3339(self.commit(oldest.position).facts.committed_at);
        self.history_at(newest, created, revisions.len())
    }

    /// The history of `slug` at the tip, given `earlier`, its history as of the commit at
    /// `since`: O(the changes since), where [`HistoryIndex::post_history`] walks all its
    /// revisions (thousands, for a post edited all day). When every change to its file
    /// since then edited it in place, each is one more revision; anything else (an added,
    /// deleted or renamed file) is worked out anew.
    pub fn post_history_since(
        &self,
        slug: &Slug,
        earlier: &PostHistory,
        since: u32,
    ) -> Option<PostHistory> {
        let newer = self.changes_to(slug, since + 1);
        let edits_in_place = newer.iter().all(|&at| {
            let (_, change) = self.change(at);
            change.kind == index::ChangeKind::Modified && self.slug(change.path) == slug
        });
        match newer.last() {
            None => Some(earlier.clone()),
            Some(&newest) if edits_in_place => self.history_at(
                newest,
                earlier.created_at.clone(),
                earlier.revision_count + newer.len(),
            ),
            Some(_) => self.post_history(slug, None),
        }
    }

    fn history_at(
        &self,
        newest: ChangeRef,
        created_at: String,
        count: usize,
    ) -> Option<PostHistory> {
        let (commit, change) = self.change(newest);
        let blob = change.new_blob?;
        Some(PostHistory {
            revision: RevisionStamp {
                commit: commit.facts.id.to_string(),
                blob: blob.to_string(),
                author: Author::of(&commit.facts),
                committed_at: rfc3339(commit.facts.committed_at),
                message: commit.facts.message.clone(),
            },
            blob,
            created_at,
            updated_at: rfc3339(commit.facts.committed_at),
            revision_count: count,
        })
    }
}

/// Seconds since the epoch as RFC 3339 in UTC (`2026-11-02T09:30:00Z`), which sorts as text.
pub fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
