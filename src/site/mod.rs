//! The blog as the server serves it: an immutable [`Snapshot`] of the parsed and rendered
//! posts at one branch tip, swapped atomically whenever the branch moves.
//!
//! Readers take the current snapshot (an `Arc` clone) and never touch git. The next snapshot
//! reuses every post whose blob did not change; it is built by a refresh (polling for
//! external pushes) or, for the writer's own commits, prepared before their branch move is
//! durable and shown once it is.

mod as_of;
mod assets;
mod build;
mod change_stats;
mod log;
mod order;
mod past_list;
mod past_posts;
mod questions;
mod saving;
mod snapshot;
mod versions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::history::{self, HistoryIndex};
use crate::post::Addresses;
use crate::store::{self, HistoryReader, Oid, Store, StoreError};
pub use assets::Assets;
pub use change_stats::VersionTexts;
pub use log::{Log, TouchedPost};
pub use order::{PostOrder, StatusSelection};
pub use past_list::{PastList, PastListQuery};
pub use past_posts::{BodyKey, PastPostError, PastPosts};
pub use questions::LedgerError;
use saving::IndexSaver;
pub use snapshot::{Audience, PostRecord, Snapshot};
pub use versions::{DiffEnds, PastFile, Revision};

/// A snapshot built ahead of its branch move (see [`Site::prepare`]), and the snapshot it
/// was built from.
pub struct Prepared {
    base: Arc<Snapshot>,
    next: Arc<Snapshot>,
}

/// The live blog: the store plus the snapshot of its current tip.
pub struct Site {
    store: Store,
    current: ArcSwap<Snapshot>,
    /// The repository handle refreshes and preparations read through, kept open between
    /// them (opening one reads the configuration and every pack index: more than a small
    /// refresh costs). The mutex also serialises them, so two never parse the same posts
    /// twice.
    refreshing: Mutex<Option<HistoryReader>>,
    /// Snapshots built so far, the first included (for `/metrics`).
    builds: AtomicU64,
    /// Writes the history index to disk off the refresh path.
    saver: Arc<IndexSaver>,
    /// Called with every snapshot shown, however the branch moved (see [`Site::on_move`]):
    /// every branch move, by a write or from outside, passes through [`Site::show_now`].
    observers: Mutex<Vec<MoveObserver>>,
    /// Where links in the posts' HTML point.
    addresses: Addresses,
    /// The open-questions ledger, kept by a thread of its own (see [`Site::keep_ledger`]).
    ledger: questions::LedgerCache,
    /// Snapshots of the blog as of earlier times, built lately.
    past: as_of::PastSnapshots,
    /// Posts of lists as of earlier times, parsed lately.
    past_parses: past_list::PastParses,
    /// A repository handle kept for lists as of earlier times (opening one per request
    /// costs more than reading the tree it is opened for).
    past_reader: Mutex<Option<HistoryReader>>,
}

/// Told of each snapshot the site shows; must return at once (it runs on the refresh path).
pub type MoveObserver = Box<dyn Fn(&Arc<Snapshot>) + Send + Sync>;

impl Site {
    /// Reads the branch and builds the first snapshot, with the history index saved by the
    /// last run extended to the tip (or built, on a first start), and saved again.
    ///
    /// # Errors
    /// Git errors reading the branch.
    pub fn load(store: Store) -> Result<Site, StoreError> {
        Site::load_with(store, Addresses::default())
    }

    /// [`Site::load`], with links in the posts' HTML pointing where `addresses` say.
    ///
    /// # Errors
    /// Git errors reading the branch.
    pub fn load_with(store: Store, addresses: Addresses) -> Result<Site, StoreError> {
        let file = history::index_file(&store.git_dir()?);
        let saved = Arc::new(history::load(&file).unwrap_or_default());
        let reader = store.history_reader()?;
        let tip = reader.tip(&store)?;
        let index = history::update(&saved, &reader, tip)?;
        let saver = Arc::new(IndexSaver::new(file));
        if index.tip() != saved.tip() {
            // Off the path to readiness: a restart before it is written indexes again.
            saver.save_later(index.clone());
        }
        let ledger = questions::LedgerCache::open(history::ledger_file(&store.git_dir()?), &index);
        let first = Snapshot::build_at(&reader, tip, None, index, &addresses)?;
        Ok(Site {
            store,
            current: ArcSwap::from_pointee(first),
            // Not the reader that indexed the history: after a first start it maps the
            // whole pack (hundreds of MiB on a long history); refreshes read little.
            refreshing: Mutex::new(None),
            builds: AtomicU64::new(1),
            saver,
            observers: Mutex::new(Vec::new()),
            addresses,
            ledger,
            past: as_of::PastSnapshots::default(),
            past_parses: past_list::PastParses::default(),
            past_reader: Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where links in the posts' HTML point.
    pub fn addresses(&self) -> &Addresses {
        &self.addresses
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
        self.with_reader(&mut kept, |reader| {
            let current = self.current.load_full();
            let tip = reader.tip(&self.store)?;
            if tip == current.tip {
                return Ok(current);
            }
            let next = self.build_next(&current, reader, tip)?;
            Ok(self.show_now(next))
        })
    }

    /// Builds, without showing it, the snapshot of `tip`: a commit the writer has written
    /// but whose branch move is not yet durable, so that the snapshot is ready (built while
    /// the writer waits for the disk) when it is. Blocking, like [`Site::refresh`].
    ///
    /// # Errors
    /// Git errors reading the commit.
    pub fn prepare(&self, tip: Oid) -> Result<Prepared, StoreError> {
        let mut kept = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        self.with_reader(&mut kept, |reader| {
            let base = self.current.load_full();
            let next = self.build_next(&base, reader, Some(tip))?;
            Ok(Prepared { base, next })
        })
    }

    /// Shows a prepared snapshot once its tip is on the branch: as it is when the site still
    /// shows the snapshot it was built from, else (a push or the watcher got there first)
    /// by a refresh.
    ///
    /// # Errors
    /// Git errors refreshing.
    pub fn show(&self, prepared: Prepared) -> Result<Arc<Snapshot>, StoreError> {
        let kept = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&self.current.load_full(), &prepared.base) {
            return Ok(self.show_now(prepared.next));
        }
        drop(kept);
        self.refresh()
    }

    /// Runs `work` with the kept reader; when there is none or it fails (perhaps it no
    /// longer matches the disk: a `git gc` removed a pack it had open), a fresh one decides.
    fn with_reader<T>(
        &self,
        kept: &mut Option<HistoryReader>,
        work: impl Fn(&HistoryReader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(reader) = kept.as_ref()
            && let Ok(done) = work(reader)
        {
            return Ok(done);
        }
        work(kept.insert(self.store.history_reader()?))
    }

    /// Drops the kept readers, so the next refresh (and list of the past) opens a fresh
    /// one: to be called after packs were removed, which an open repository keeps mapped
    /// and keeps searching. The old ones close in the background (see
    /// [`store::close_in_background`]).
    pub fn reopen_reader(&self) {
        for kept in [&self.refreshing, &self.past_reader] {
            let old = kept.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(old) = old {
                store::close_in_background(old);
            }
        }
    }

    /// The snapshot of `tip`, built from `current`: its history index extended, its posts
    /// reused where unchanged.
    fn build_next(
        &self,
        current: &Snapshot,
        reader: &HistoryReader,
        tip: Option<Oid>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let index: Arc<HistoryIndex> = history::update(&current.history, reader, tip)?;
        let next = Snapshot::build_at(reader, tip, Some(current), index, &self.addresses)?;
        self.builds.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(next))
    }

    /// Shows `next` to readers from now on; the caller holds the refresh lock.
    fn show_now(&self, next: Arc<Snapshot>) -> Arc<Snapshot> {
        self.saver.save_later(next.history.clone());
        tracing::info!(tip = ?next.tip, posts = next.len(), "branch moved; snapshot rebuilt");
        self.current.store(next.clone());
        for observer in self
            .observers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            observer(&next);
        }
        next
    }

    /// Calls `observer` with every snapshot shown from now on, whether an API write, a
    /// `git push` or any other move of the branch brought it: how derived indexes (search)
    /// and webhooks follow the branch. The observer runs under the refresh lock, so it should only hand
    /// the snapshot over to a thread of its own.
    pub fn on_move(&self, observer: MoveObserver) {
        self.observers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(observer);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CommitRequest, WriteSession};

    fn post(title: &str) -> Vec<u8> {
        format!("---\ntitle: {title}\n---\n\n## Question\n\nWhy?\n").into_bytes()
    }

    /// A commit of `posts/a.md` on `parent`, written but not on the branch, as the writer's
    /// are before their branch move.
    fn written(session: &WriteSession, parent: Option<Oid>, title: &str) -> Oid {
        let request = CommitRequest::upserts(
            &format!("retitle as {title}"),
            &[("posts/a.md".into(), post(title))],
        );
        session
            .batch(|batch| batch.write_commit(parent, &request).unwrap())
            .unwrap()
    }

    fn title(site: &Site) -> String {
        let snapshot = site.snapshot();
        let a = snapshot
            .get(&crate::post::Slug::parse("a").unwrap())
            .unwrap();
        a.post().title.clone()
    }

    #[test]
    fn a_prepared_snapshot_is_shown_once_its_commit_is_on_the_branch() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        store.commit_files("first", &[("posts/a.md".into(), post("One"))]);
        let site = Site::load(store.clone()).unwrap();
        let first = site.snapshot().tip;
        let repo = store.repository().unwrap();
        let session = store.write_session();

        let second = written(&session, first, "Two");
        let builds = site.snapshot_builds();
        let prepared = site.prepare(second).unwrap();
        assert_eq!(
            site.snapshot().tip,
            first,
            "not shown before the branch moves"
        );
        store.move_branch(&repo, second, first, "two").unwrap();
        assert_eq!(site.show(prepared).unwrap().tip, Some(second));
        assert_eq!(title(&site), "Two");
        assert_eq!(
            site.snapshot_builds(),
            builds + 1,
            "shown as built, not built again"
        );
        let history = site
            .snapshot()
            .get(&crate::post::Slug::parse("a").unwrap())
            .unwrap()
            .history()
            .unwrap()
            .revision_count;
        assert_eq!(history, 2);

        // Prepared from a snapshot the site no longer shows (a push came first): the site
        // refreshes from the branch instead.
        let third = written(&session, Some(second), "Three");
        let prepared = site.prepare(third).unwrap();
        store
            .move_branch(&repo, third, Some(second), "three")
            .unwrap();
        store.commit_files("pushed", &[("posts/a.md".into(), post("Pushed"))]);
        site.refresh().unwrap();
        let pushed = site.snapshot().tip;
        assert_eq!(site.show(prepared).unwrap().tip, pushed);
        assert_eq!(title(&site), "Pushed");
    }
}
