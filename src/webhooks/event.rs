//! The `branch.moved` event: what a webhook is told when the branch moved from one tip to
//! another, as an anonymous reader would see it (the site-wide log's rules: no draft named,
//! no commit whose post changes were all to drafts).

use serde::Serialize;
use utoipa::ToSchema;

use crate::history::{Author, rfc3339};
use crate::site::{Audience, Snapshot, TouchedPost};
use crate::store::{Oid, Store, StoreError};

/// The event name, in the body and in `X-Palimpsest-Event`.
pub const BRANCH_MOVED: &str = "branch.moved";

/// The most commits one event lists (the newest); a receiver that finds `truncated` reads
/// the rest from `GET /api/v1/history`.
pub const MAX_COMMITS: usize = 100;

/// The body of a `branch.moved` delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BranchMoved {
    #[schema(example = "branch.moved")]
    pub event: &'static str,
    #[schema(example = "main")]
    pub branch: String,
    /// The tip the webhook last acknowledged; `null` when the branch had no commit.
    pub before: Option<String>,
    /// The tip now.
    pub after: Option<String>,
    /// The commits since `before` an anonymous reader may see, oldest first, along the
    /// first-parent chain (after a history rewrite: since the common ancestor).
    pub commits: Vec<MovedCommit>,
    /// Whether older commits were left out (more than 100).
    pub truncated: bool,
}

/// One commit of a `branch.moved` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovedCommit {
    pub commit: String,
    pub message: String,
    pub author: Author,
    /// Committer time, RFC 3339 in UTC.
    pub committed_at: String,
    /// The published posts the commit changed.
    pub posts: Vec<TouchedPost>,
}

impl BranchMoved {
    /// The event for a move from `before` to the tip of `snapshot`.
    ///
    /// # Errors
    /// Git errors reading the statuses of deleted posts, or the ancestry of a `before` no
    /// longer on the branch.
    pub fn between(
        before: Option<Oid>,
        snapshot: &Snapshot,
        store: &Store,
    ) -> Result<BranchMoved, StoreError> {
        let history = &snapshot.history;
        // Commits at positions after `since` are new to the receiver; `None`: all of them.
        let since = match (before, snapshot.tip) {
            (Some(before), Some(tip)) => match history.position(before) {
                Some(position) => Some(position),
                None => store
                    .merge_base(before, tip)?
                    .and_then(|base| history.position(base)),
            },
            _ => None,
        };
        let log = snapshot.log(Audience::Public, store)?;
        // The log lists positions newest first.
        let mut positions: Vec<u32> = log
            .commits
            .iter()
            .copied()
            .take_while(|&position| since.is_none_or(|since| position > since))
            .collect();
        let truncated = positions.len() > MAX_COMMITS;
        positions.truncate(MAX_COMMITS);
        let commits = positions
            .iter()
            .rev()
            .map(|&position| {
                let indexed = history.commit(position);
                MovedCommit {
                    commit: indexed.facts.id.to_string(),
                    message: indexed.facts.message.clone(),
                    author: Author::of(&indexed.facts),
                    committed_at: rfc3339(indexed.facts.committed_at),
                    posts: log.touched_posts(history, position),
                }
            })
            .collect();
        Ok(BranchMoved {
            event: BRANCH_MOVED,
            branch: store.branch().to_string(),
            before: before.map(|oid| oid.to_string()),
            after: snapshot.tip.map(|oid| oid.to_string()),
            commits,
            truncated,
        })
    }
}

/// How many first-parent commits of `snapshot` come after `acknowledged`: `None` when it is
/// not on the chain (the branch was rewritten since).
pub fn backlog(acknowledged: Option<Oid>, snapshot: &Snapshot) -> Option<usize> {
    let total = snapshot.history.len();
    match acknowledged {
        None => Some(total),
        Some(commit) if Some(commit) == snapshot.tip => Some(0),
        Some(commit) => snapshot
            .history
            .position(commit)
            .map(|position| total - 1 - position as usize),
    }
}
