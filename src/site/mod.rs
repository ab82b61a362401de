//! The blog as the server serves it: an immutable [`Snapshot`] of the parsed and rendered
//! posts at one branch tip, swapped atomically whenever the branch moves.
//!
//! Readers take the current snapshot (an `Arc` clone) and never touch git; the refresher,
//! woken by API writes or by polling for external pushes, builds the next snapshot and reuses
//! every post whose blob did not change.

mod log;
mod order;
mod saving;
mod snapshot;
mod versions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::history::{self, HistoryIndex};
use crate::post::Post;
use crate::store::{HistoryReader, Store, StoreError};
pub use log::Log;
pub use order::{PostOrder, StatusSelection};
use saving::IndexSaver;
use snapshot::ParsedAhead;
pub use snapshot::{Audience, PostRecord, Snapshot};

/// The live blog: the store plus the snapshot of its current tip.
pub struct Site {
    store: Store,
    current: ArcSwap<Snapshot>,
    /// The repository handle refreshes read through, kept open between them (opening one
    /// reads the configuration and every pack index: more than a small refresh costs). The
    /// mutex also serialises refreshes, so two never parse the same posts twice.
    refreshing: Mutex<Option<HistoryReader>>,
    /// Snapshots built so far, the first included (for `/metrics`).
    builds: AtomicU64,
    /// Writes the history index to disk off the refresh path.
    saver: Arc<IndexSaver>,
    /// Submitted posts already parsed, for the refresh after their commit.
    parsed_ahead: ParsedAhead,
}

impl Site {
    /// Reads the branch and builds the first snapshot, with the history index saved by the
    /// last run extended to the tip (or built, on a first start), and saved again.
    ///
    /// # Errors
    /// Git errors reading the branch.
    pub fn load(store: Store) -> Result<Site, StoreError> {
        let file = history::index_file(&store.git_dir()?);
        let saved = Arc::new(history::load(&file).unwrap_or_default());
        let reader = store.history_reader()?;
        let tip = reader.tip(&store)?;
        let index = history::update(&saved, &reader, tip)?;
        let saver = Arc::new(IndexSaver::new(file));
        if index.tip() != saved.tip() {
            saver.save_now(&index);
        }
        let first = Snapshot::build_at(&reader, tip, None, index, &ParsedAhead::default())?;
        Ok(Site {
            store,
            current: ArcSwap::from_pointee(first),
            // Not the reader that indexed the history: after a first start it maps the
            // whole pack (hundreds of MiB on a long history); refreshes read little.
            refreshing: Mutex::new(None),
            builds: AtomicU64::new(1),
            saver,
            parsed_ahead: ParsedAhead::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The snapshot readers should use now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Brings the snapshot up to the branch tip, if it moved. Blocking: runs git and rendering.
    ///
    /// # Errors
    /// Git errors reading the branch; the old snapshot stays in place.
    pub fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let mut kept = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reader) = kept.as_ref()
            && let Ok(snapshot) = self.refresh_with(reader)
        {
            return Ok(snapshot);
        }
        // No reader yet, or it failed: perhaps it no longer matches the disk (a `git gc`
        // removed a pack it had open). A fresh one decides.
        let reader = kept.insert(self.store.history_reader()?);
        self.refresh_with(reader)
    }

    /// Keeps a submitted post, parsed by the handler that checked it, for the snapshot
    /// that will show it once committed.
    pub fn parsed_ahead(&self, text: &str, post: Post) {
        // Only a shortcut: without the blob id, the refresh parses the post itself.
        if let Ok(blob) = crate::store::WriteSession::blob_id(text.as_bytes()) {
            self.parsed_ahead.remember(blob, post);
        }
    }

    /// Drops the kept reader, so the next refresh opens a fresh one: to be called after
    /// packs were removed, which an open repository keeps mapped and keeps searching.
    pub fn reopen_reader(&self) {
        *self.refreshing.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn refresh_with(&self, reader: &HistoryReader) -> Result<Arc<Snapshot>, StoreError> {
        let current = self.current.load_full();
        let tip = reader.tip(&self.store)?;
        if tip == current.tip {
            return Ok(current);
        }
        let index: Arc<HistoryIndex> = history::update(&current.history, reader, tip)?;
        self.saver.save_later(index.clone());
        let next = Snapshot::build_at(reader, tip, Some(&current), index, &self.parsed_ahead)?;
        let next = Arc::new(next);
        tracing::info!(tip = ?next.tip, posts = next.len(), "branch moved; snapshot rebuilt");
        self.current.store(next.clone());
        self.builds.fetch_add(1, Ordering::Relaxed);
        Ok(next)
    }

    /// How many snapshots have been built since start, the first included.
    pub fn snapshot_builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Polls the branch on a thread of its own so that commits made outside the server
    /// (`git push`, `git commit` in a working tree) are served without a restart.
    pub fn watch(self: &Arc<Self>, every: Duration) -> std::thread::JoinHandle<()> {
        let site = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("branch-watcher".into())
            .spawn(move || {
                while let Some(site) = site.upgrade() {
                    if let Err(error) = site.refresh() {
                        tracing::warn!(%error, "could not refresh from the branch");
                    }
                    drop(site);
                    std::thread::sleep(every);
                }
            })
            .expect("spawning the branch watcher thread")
    }
}
