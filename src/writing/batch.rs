//! The writer thread: group commit over a channel of edits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::Job;
use super::edit::{self, Edit, Tree, WriteError, Written};
use super::prepare::Preparer;
use crate::post::{AssetPath, Slug};
use crate::site::Site;
use crate::store::{
    Batch, CommitRequest, Identity, Oid, Pushed, Store, StoreError, WriteFailure, WriteSession,
};
use crate::upstream::Upstream;

/// The most edits committed in one group; bounds how long the first waits for the last.
const MAX_GROUP: usize = 64;

/// How often a group is rebuilt on a branch that keeps moving under it before giving up.
const MAX_ATTEMPTS: usize = 20;

/// How often an idle writer checks whether the packing under way is done.
const PACKING_POLL: Duration = Duration::from_millis(100);

/// Serves edits until every [`super::Writer`] handle is dropped.
pub(super) fn run(
    site: &Arc<Site>,
    committer: &Identity,
    queue: &Receiver<Job>,
    upstream: Option<&Upstream>,
) {
    let session = site.store().write_session();
    let preparer = Preparer::start(site.clone());
    loop {
        // While a pack is being written, wake up now and then to finish it even if no write
        // comes.
        let first = if session.packing() {
            match queue.recv_timeout(PACKING_POLL) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    housekeeping(site, &session);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match queue.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A bug in one group must not take the writer, and with it every later write, down.
        let outcomes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit_group(&session, committer, &group, &preparer, upstream)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                edits = group.len(),
                "the writer panicked; the group is refused"
            );
            vec![Err(WriteError::Unavailable("the writer failed".into())); group.len()]
        });
        if outcomes
            .iter()
            .any(|outcome| matches!(outcome, Err(error) if error.is_failure()))
        {
            // The repository failed us: the next group starts from a fresh handle.
            session.reopen();
        }
        let prepared = preparer.take();
        // The snapshot being replaced is freed after the acknowledgements, not before.
        let replaced = site.snapshot();
        if outcomes
            .iter()
            .any(|outcome| outcome.as_ref().is_ok_and(|written| written.committed))
        {
            let shown = match prepared {
                Some(Ok(prepared)) => site.show(prepared),
                _ => site.refresh(),
            };
            if let Err(error) = shown {
                // The commits are on the branch; the watcher will catch up.
                tracing::warn!(%error, "could not refresh the site after a write");
            }
        }
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
        // After the acknowledgements, so no write waits for the housekeeping.
        drop(replaced);
        housekeeping(site, &session);
    }
}

/// Closes what the last group replaced, and starts or finishes the packing of the
/// writer's loose objects.
fn housekeeping(site: &Site, session: &WriteSession) {
    session.close_replaced_branch();
    match session.pack_if_due() {
        Ok(true) => site.reopen_reader(),
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "could not pack the writer's objects"),
    }
}

/// A store error as the answer to the edits it failed; says why when the client can act
/// on it (a full disk, a read-only repository, a locked branch).
fn unavailable(error: StoreError) -> WriteError {
    tracing::error!(%error, "write failed");
    match error.write_failure() {
        WriteFailure::Other => WriteError::Unavailable(error.to_string()),
        failure => WriteError::NotCommitted {
            failure,
            detail: error.to_string(),
        },
    }
}

/// What became of one edit of a group: written (or a no-op), or refused alone while the
/// rest of the group goes on.
type EditOutcome = Result<Written, WriteError>;

type Outcomes = Vec<EditOutcome>;

/// How one attempt at a group ended.
enum Attempt {
    /// Every edit has its outcome and the branch is where they put it.
    Done(Outcomes),
    /// The branch moved meanwhile (a push): the group is to be built again on the new tip.
    BranchMoved,
    /// The repository failed: every edit of the group fails with this.
    Failed(WriteError),
}

/// Chains the group's commits on the tip and moves the branch once. If the branch moved
/// meanwhile (a `git push`), the whole group is rebuilt on the new tip, so every edit is
/// checked again against what is now there.
fn commit_group(
    session: &WriteSession,
    committer: &Identity,
    group: &[Job],
    preparer: &Preparer,
    upstream: Option<&Upstream>,
) -> Outcomes {
    let all = |error: WriteError| vec![Err(error); group.len()];
    if let Some(why) = upstream.and_then(Upstream::unreachable) {
        return all(WriteError::Unavailable(format!(
            "the upstream is unreachable: {why}"
        )));
    }
    for _ in 0..MAX_ATTEMPTS {
        let attempt = session.batch(|batch| {
            build_group(batch, session.store(), committer, group, preparer, upstream)
        });
        match attempt.unwrap_or_else(|error| Attempt::Failed(unavailable(error))) {
            Attempt::Failed(failure) => return all(failure),
            Attempt::Done(outcomes) => {
                let committed = outcomes.iter().filter(|o| o.is_ok()).count();
                if committed > 0 {
                    tracing::info!(edits = group.len(), committed, "group committed");
                }
                return outcomes;
            }
            Attempt::BranchMoved => {
                tracing::info!("the branch moved during a write; rebuilding on the new tip");
            }
        }
    }
    all(WriteError::Unavailable(
        "the branch kept moving; try again".into(),
    ))
}

/// One attempt: every edit applied in turn on the tip, then the branch moved once.
fn build_group(
    batch: &Batch<'_>,
    store: &Store,
    committer: &Identity,
    group: &[Job],
    preparer: &Preparer,
    upstream: Option<&Upstream>,
) -> Attempt {
    let tip = match batch.tip() {
        Ok(tip) => tip,
        Err(error) => return Attempt::Failed(unavailable(error)),
    };
    let assets = Assets {
        store,
        tip,
        changed: RefCell::default(),
    };
    let mut parent = tip;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let outcome = match commit_one(batch, &assets, committer, &job.request, parent) {
            Ok(outcome) => outcome,
            Err(failure) => return Attempt::Failed(failure),
        };
        if let Ok(written) = &outcome
            && written.committed
        {
            parent = Some(written.commit);
        }
        outcomes.push(outcome);
    }
    let moved = match parent {
        // The next snapshot is built while the branch move waits for the disk. The group's
        // objects are already on disk (loose), so they can be pushed before the branch moves.
        Some(new) if parent != tip => {
            preparer.prepare(new);
            let message = format!("palimpsest: {} write(s)", group.len());
            let move_served = || batch.move_branch(new, tip, &message);
            match upstream {
                None => move_served(),
                // One push per group; a refused lease is a branch that moved: the group is
                // rebuilt on the tip just fetched.
                Some(upstream) => match upstream.publish(new, tip, move_served) {
                    Ok(Pushed::Accepted) => Ok(()),
                    Ok(Pushed::Refused(_)) => Err(StoreError::BranchMoved { expected: tip }),
                    Err(error) => Err(error),
                },
            }
        }
        _ => Ok(()),
    };
    match moved {
        Ok(()) => Attempt::Done(outcomes),
        Err(StoreError::BranchMoved { .. }) => Attempt::BranchMoved,
        Err(error) => Attempt::Failed(unavailable(error)),
    }
}

/// One edit as one commit on `parent`. The inner error refuses this edit alone; the outer
/// one (the repository failing) fails the whole group.
fn commit_one(
    batch: &Batch<'_>,
    assets: &Assets<'_>,
    committer: &Identity,
    request: &super::WriteRequest,
    parent: Option<Oid>,
) -> Result<EditOutcome, WriteError> {
    let tree = AtCommit {
        batch,
        assets,
        parent,
    };
    let prepared = match edit::apply(&request.edit, &tree) {
        Ok(prepared) => prepared,
        Err(failure) if failure.is_failure() => return Err(failure),
        Err(refused) => return Ok(Err(refused)),
    };
    let file = prepared
        .text
        .map(|text| Ok((WriteSession::blob_id(text.as_bytes())?, text)))
        .transpose()
        .map_err(unavailable)?;
    if let (true, Some(tip)) = (prepared.changes.is_empty(), parent) {
        return Ok(Ok(Written {
            commit: tip,
            subject: request.edit.subject(),
            file,
            merged: prepared.merged,
            existed: prepared.existed,
            committed: false,
        }));
    }
    let commit = batch
        .write_commit(
            parent,
            &CommitRequest {
                author: request.author.clone(),
                committer: committer.clone(),
                message: request.message(),
                time: None,
                changes: prepared.changes,
            },
        )
        .map_err(unavailable)?;
    assets.record(&request.edit)?;
    Ok(Ok(Written {
        commit,
        subject: request.edit.subject(),
        file,
        merged: prepared.merged,
        existed: prepared.existed,
        committed: true,
    }))
}

/// The assets as of the commit an edit is applied to: those at the tip, read from the
/// repository, as changed by the group's earlier edits, whose commits are still in memory.
struct Assets<'s> {
    store: &'s Store,
    tip: Option<Oid>,
    changed: RefCell<HashMap<AssetPath, Option<Oid>>>,
}

impl Assets<'_> {
    fn blob(&self, path: &AssetPath) -> Result<Option<Oid>, WriteError> {
        if let Some(blob) = self.changed.borrow().get(path) {
            return Ok(*blob);
        }
        match self.tip {
            Some(tip) => self.store.asset_blob_at(tip, path).map_err(unavailable),
            None => Ok(None),
        }
    }

    /// Remembers what a committed edit did to an asset.
    fn record(&self, edit: &Edit) -> Result<(), WriteError> {
        let (path, blob) = match edit {
            Edit::PutAsset { path, bytes, .. } => (
                path,
                Some(WriteSession::blob_id(bytes).map_err(unavailable)?),
            ),
            Edit::DeleteAsset { path, .. } => (path, None),
            _ => return Ok(()),
        };
        self.changed.borrow_mut().insert(path.clone(), blob);
        Ok(())
    }
}

/// The posts as of the commit an edit is applied to.
struct AtCommit<'s> {
    batch: &'s Batch<'s>,
    assets: &'s Assets<'s>,
    parent: Option<Oid>,
}

impl Tree for AtCommit<'_> {
    fn post(&self, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, WriteError> {
        match self.parent {
            Some(commit) => self.post_at(commit, slug),
            None => Ok(None),
        }
    }

    fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, WriteError> {
        self.batch.post_at(commit, slug).map_err(unavailable)
    }

    fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, WriteError> {
        self.batch.blob(blob).map_err(unavailable)
    }

    fn asset(&self, path: &AssetPath) -> Result<Option<Oid>, WriteError> {
        self.assets.blob(path)
    }
}
