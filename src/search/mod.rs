//! Full-text search over the posts at the tip and every past version of them: BM25 with
//! English stemming (tantivy), one document per section so a result names the section
//! that matched best.
//!
//! Two indexes live in `<gitdir>/palimpsest/search/`, beside the history index: `current`
//! (the posts at the tip, small, updated on every branch move before anything else) and
//! `history` (every version the branch ever had, built in the background on a first start
//! and then extended on every move). Both are caches of the repository: an index that does
//! not open, or of another format, is deleted and built again. Each follows the site by
//! [`Site::on_move`] on a thread of its own, so neither delays a write nor readiness.
//! Who may see a result is decided at query time from the snapshot the index was updated
//! to: drafts, and every version of a post that is a draft at the tip, are for authors only.

mod catalog;
mod collector;
mod current;
mod history;
mod query;
mod schema;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use tantivy::{Index, Searcher};

use catalog::Catalog;
use current::CurrentIndex;
use history::HistoryBuilder;
pub use query::{SearchHit, SearchRequest, SearchResults};
use schema::Fields;
pub use schema::{FORMAT, search_dir};

use crate::site::{Site, Snapshot};
use crate::store::Store;

/// The least time between two updates of the history index.
const HISTORY_UPDATE_INTERVAL: Duration = Duration::from_millis(250);

/// The live search: what the last update of each index published.
pub struct Search {
    current: ArcSwap<Part>,
    /// `None` until the history index reached the branch tip once.
    history: ArcSwapOption<Part>,
}

/// One index as of one snapshot: what a query reads, consistent with itself.
struct Part {
    snapshot: Arc<Snapshot>,
    index: Index,
    fields: Fields,
    searcher: Searcher,
    catalog: Arc<Catalog>,
}

impl Search {
    /// Opens the indexes of `site`'s repository, brings the current one up to the site's
    /// snapshot (so search answers as soon as the server does), and starts the threads that
    /// follow the branch: one for the current index, one that builds and extends the
    /// history index.
    ///
    /// # Errors
    /// I/O errors preparing the index folder, tantivy errors building the current index.
    pub fn start(site: &Arc<Site>) -> anyhow::Result<Arc<Search>> {
        let dir = search_dir(&site.store().git_dir()?);
        // Without a usable folder (a read-only repository), search still works, in memory.
        let dir = match schema::check_format(&dir) {
            Ok(()) => Some(dir),
            Err(error) => {
                tracing::warn!(%error, dir = %dir.display(), "search indexes kept in memory");
                None
            }
        };
        let snapshot = site.snapshot();
        let started = std::time::Instant::now();
        let (current_dir, history_dir) = match &dir {
            Some(dir) => (Some(dir.join("current")), Some(dir.join("history"))),
            None => (None, None),
        };
        let mut current = open_current(current_dir.as_deref(), &snapshot)?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            posts = snapshot.len(),
            "search index of the current posts ready"
        );
        let search = Arc::new(Search {
            current: ArcSwap::from_pointee(current_part(&current, snapshot.clone())),
            history: ArcSwapOption::empty(),
        });
        let (for_current, for_history) = (Arc::new(Latest::default()), Arc::new(Latest::default()));
        for_history.offer(snapshot);
        {
            let (for_current, for_history) = (for_current.clone(), for_history.clone());
            site.on_move(Box::new(move |snapshot| {
                for_current.offer(snapshot.clone());
                for_history.offer(snapshot.clone());
            }));
        }
        let weak = Arc::downgrade(&search);
        spawn(
            "search-current",
            for_current,
            weak.clone(),
            move |search, snapshot| {
                update_current(search, &mut current, current_dir.as_deref(), snapshot);
            },
        );
        let store = site.store().clone();
        let mut builder: Option<HistoryBuilder> = None;
        spawn(
            "search-history",
            for_history,
            weak,
            move |search, snapshot| {
                update_history(
                    search,
                    &mut builder,
                    history_dir.as_deref(),
                    &store,
                    &snapshot,
                );
            },
        );
        Ok(search)
    }
}

/// Brings the current index to `snapshot` and publishes it; on an error, builds the index
/// afresh.
fn update_current(
    search: &Search,
    current: &mut CurrentIndex,
    dir: Option<&Path>,
    snapshot: Arc<Snapshot>,
) {
    if let Err(error) = current.update(&snapshot) {
        tracing::warn!(%error, "search index update failed; rebuilding it");
        match open_current(rebuilt(dir), &snapshot) {
            Ok(fresh) => *current = fresh,
            Err(error) => {
                tracing::error!(%error, "search index rebuild failed");
                return;
            }
        }
    }
    search
        .current
        .store(Arc::new(current_part(current, snapshot)));
}

fn open_current(dir: Option<&Path>, snapshot: &Snapshot) -> anyhow::Result<CurrentIndex> {
    let mut current = CurrentIndex::open(dir)?;
    current.update(snapshot)?;
    Ok(current)
}

fn current_part(current: &CurrentIndex, snapshot: Arc<Snapshot>) -> Part {
    let open = current.open_index();
    Part {
        catalog: Arc::new(Catalog::current(&snapshot)),
        snapshot,
        index: open.index.clone(),
        fields: open.fields,
        searcher: current.searcher(),
    }
}

/// Extends the history index to `snapshot` and publishes it; on an error, deletes the index
/// so that the next update builds it afresh.
fn update_history(
    search: &Search,
    builder: &mut Option<HistoryBuilder>,
    dir: Option<&Path>,
    store: &Store,
    snapshot: &Arc<Snapshot>,
) {
    let started = std::time::Instant::now();
    match extend_history(builder, dir, store, snapshot) {
        Ok(part) => {
            if search.history.load().is_none() {
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(seconds, "history search index ready");
            }
            search.history.store(Some(Arc::new(part)));
        }
        Err(error) => {
            tracing::warn!(%error, "history search index update failed; rebuilding it");
            *builder = None;
            rebuilt(dir);
        }
    }
    // Each update re-reads every post's revisions (for the catalog): under a stream of
    // writes, a few updates a second, so that it cannot take a core from them.
    std::thread::sleep(HISTORY_UPDATE_INTERVAL.saturating_sub(started.elapsed()));
}

/// Opens the history index if needed, extends it to `snapshot`'s tip and describes it.
fn extend_history(
    builder: &mut Option<HistoryBuilder>,
    dir: Option<&Path>,
    store: &Store,
    snapshot: &Arc<Snapshot>,
) -> anyhow::Result<Part> {
    let builder = match builder {
        Some(builder) => builder,
        None => builder.insert(HistoryBuilder::open(dir)?),
    };
    let reader = store.history_reader()?;
    builder.extend(&snapshot.history, &reader)?;
    let open = builder.open_index();
    Ok(Part {
        catalog: Arc::new(Catalog::history(snapshot)),
        snapshot: snapshot.clone(),
        index: open.index.clone(),
        fields: open.fields,
        searcher: builder.searcher(),
    })
}

/// Deletes a damaged index folder, so that the next open creates it afresh.
fn rebuilt(dir: Option<&Path>) -> Option<&Path> {
    if let Some(dir) = dir
        && let Err(error) = std::fs::remove_dir_all(dir)
    {
        tracing::warn!(%error, dir = %dir.display(), "could not delete a damaged search index");
    }
    dir
}

/// The newest snapshot not yet indexed: a thread that falls behind skips to the latest.
#[derive(Default)]
struct Latest {
    next: Mutex<Option<Arc<Snapshot>>>,
    ready: Condvar,
}

impl Latest {
    fn offer(&self, snapshot: Arc<Snapshot>) {
        *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        self.ready.notify_one();
    }

    /// The next snapshot, or `None` after `timeout` without one.
    fn wait(&self, timeout: Duration) -> Option<Arc<Snapshot>> {
        let next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let (mut next, _) = self
            .ready
            .wait_timeout_while(next, timeout, |next| next.is_none())
            .unwrap_or_else(|e| e.into_inner());
        next.take()
    }
}

/// Runs `work` on a thread of its own for every snapshot offered to `latest`, until the
/// search it publishes to is gone.
fn spawn(
    name: &str,
    latest: Arc<Latest>,
    search: Weak<Search>,
    mut work: impl FnMut(&Search, Arc<Snapshot>) + Send + 'static,
) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            loop {
                let next = latest.wait(Duration::from_secs(1));
                let Some(search) = search.upgrade() else {
                    return;
                };
                if let Some(snapshot) = next {
                    work(&search, snapshot);
                }
            }
        })
        .expect("spawning a search indexing thread");
}
