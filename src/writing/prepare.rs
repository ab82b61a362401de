//! The snapshot of a group's last commit, built on a thread of its own while the writer
//! waits for the disk to make the group durable, so that showing it after the branch move
//! is a swap rather than a refresh on the acknowledgement's path.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::mpsc;

use crate::site::{Prepared, Site};
use crate::store::{Oid, StoreError};

/// The preparing thread and the writer's end of it; at most one snapshot is in the works.
pub(super) struct Preparer {
    requests: Option<mpsc::Sender<Oid>>,
    results: mpsc::Receiver<Result<Prepared, StoreError>>,
    /// Whether a snapshot was asked for and not yet taken.
    outstanding: Cell<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Preparer {
    /// Starts the preparing thread for `site`; it stops when the preparer is dropped.
    pub(super) fn start(site: Arc<Site>) -> Preparer {
        let (requests, incoming) = mpsc::channel::<Oid>();
        let (done, results) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("preparer".into())
            .spawn(move || {
                for tip in incoming {
                    if done.send(site.prepare(tip)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|error| tracing::warn!(%error, "no preparing thread; writes refresh"))
            .ok();
        Preparer {
            requests: thread.as_ref().map(|_| requests),
            results,
            outstanding: Cell::new(false),
            thread,
        }
    }

    /// Starts building the snapshot of `tip` (whose objects are written), dropping one
    /// asked for earlier and not taken (a group rebuilt on a tip that moved).
    pub(super) fn prepare(&self, tip: Oid) {
        let _ = self.take();
        let sent = self.requests.as_ref().is_some_and(|r| r.send(tip).is_ok());
        self.outstanding.set(sent);
    }

    /// The snapshot asked for last, once built; `None` when none was asked for (or the
    /// thread is gone: the caller then refreshes).
    pub(super) fn take(&self) -> Option<Result<Prepared, StoreError>> {
        if !self.outstanding.replace(false) {
            return None;
        }
        self.results.recv().ok()
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
