//! The write path: authors' edits become commits on the served branch, one writer thread
//! per repository, so writes are serialised among themselves and never block readers.
//!
//! The writer commits in groups: it takes every edit queued while it was busy, chains their
//! commits (each its own author, message and parent), moves the branch once, shows the new
//! snapshot of the site (built while the branch move waited for the disk), and only then
//! acknowledges them all. An edit is acknowledged only once the branch durably points at
//! its commit, and in upstream mode once the upstream accepted the group's push.

mod batch;
mod edit;
mod merge;
mod prepare;
mod submission;

use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::site::Site;
use crate::store::Identity;
use crate::upstream::Upstream;
pub use edit::{Edit, Expected, Subject, WriteError, WriteRequest, Written, patch};
pub use submission::{PostBody, PostFile, Rejection, prepare, slug_from_title};

/// One queued edit and where to send its outcome.
struct Job {
    request: WriteRequest,
    reply: oneshot::Sender<Result<Written, WriteError>>,
}

/// The handle handlers write through; the thread behind it stops when the handle is dropped.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `site`'s repository, committing as `committer`; with an
    /// `upstream`, every group is pushed there before it is acknowledged.
    pub fn start(site: Arc<Site>, committer: Identity, upstream: Option<Arc<Upstream>>) -> Writer {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || batch::run(&site, &committer, &queue, upstream.as_deref()))
            .expect("spawning the writer thread");
        Writer { jobs }
    }

    /// Commits one edit; resolves once the branch holds it and the site shows it.
    ///
    /// # Errors
    /// What [`WriteError`] lists; nothing is committed then.
    pub async fn write(&self, request: WriteRequest) -> Result<Written, WriteError> {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Job { request, reply })
            .map_err(|_| WriteError::Unavailable("the writer thread stopped".into()))?;
        outcome
            .await
            .map_err(|_| WriteError::Unavailable("the writer thread stopped".into()))?
    }
}
