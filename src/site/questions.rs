//! The site's open-questions ledger: loaded from its file at start, built in the background
//! when there is none that fits the branch (a first start, a damaged file, a rewritten
//! branch), extended on its own thread as the branch moves, and saved again.
//!
//! Building reads every version of every post, seconds on a long history: it never delays
//! readiness or a write, and until it is done readers are told to come back (see
//! [`LedgerError::Building`]). Extending costs the posts the new commits changed.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Site;
use crate::history::{self, HistoryIndex, Ledger};
use crate::store::{Oid, Store, StoreError};

/// The least time between two saves: a save rewrites the whole file, while a restart
/// extends whatever ledger it finds by the commits since.
const SAVE_PAUSE: Duration = Duration::from_secs(10);

/// How often the ledger's thread looks for work without being woken (a save put off).
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// The ledger, and what keeps it: its file and the thread's wake-up call.
pub struct LedgerCache {
    /// `None` while it is being built.
    ledger: Mutex<Option<Ledger>>,
    file: PathBuf,
    /// The tip of the ledger in the file, as loaded or last saved (`None`: no usable file).
    saved: Mutex<Option<Option<Oid>>>,
    wake: SyncSender<()>,
    /// Taken by the ledger's thread when it starts.
    woken: Mutex<Option<Receiver<()>>>,
}

/// Why the ledger cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// It is being built (a first start, or the branch was rewritten): come back shortly.
    #[error("the open-questions ledger is being built; try again shortly")]
    Building,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LedgerCache {
    /// The ledger saved in `file` if `history` follows it, else one to be built.
    pub fn open(file: PathBuf, history: &HistoryIndex) -> LedgerCache {
        let loaded = history::load_ledger(&file, history);
        if let Some(ledger) = &loaded {
            tracing::info!(tip = ?ledger.tip(), "open-questions ledger loaded");
        }
        let (wake, woken) = sync_channel(1);
        LedgerCache {
            saved: Mutex::new(loaded.as_ref().map(Ledger::tip)),
            ledger: Mutex::new(loaded),
            file,
            wake,
            woken: Mutex::new(Some(woken)),
        }
    }

    fn wake(&self) {
        // A full channel already holds a wake-up the thread has not seen.
        let _ = self.wake.try_send(());
    }

    /// The file's bytes for `ledger` when it changed since the last save and the last save
    /// is at least [`SAVE_PAUSE`] old (`None`: no save yet in this process), or `now`.
    fn due(&self, ledger: &Ledger, last: &mut Option<Instant>, now: bool) -> Option<Save> {
        let saved = *self.saved.lock().unwrap_or_else(|e| e.into_inner());
        let due = now || last.is_none_or(|at| at.elapsed() >= SAVE_PAUSE);
        if saved == Some(ledger.tip()) || !due {
            return None;
        }
        *last = Some(Instant::now());
        Some(Save {
            bytes: history::encode_ledger(ledger),
            tip: ledger.tip(),
        })
    }

    /// Writes what [`LedgerCache::due`] encoded (outside the ledger's lock: an fsync).
    fn write(&self, save: Save) {
        match history::save_ledger(&save.bytes, &self.file) {
            Ok(()) => *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(save.tip),
            Err(error) => {
                tracing::warn!(%error, file = %self.file.display(), "could not save the open-questions ledger");
            }
        }
    }
}

/// A ledger encoded for its file.
struct Save {
    bytes: Vec<u8>,
    tip: Option<Oid>,
}

impl Site {
    /// Runs `read` on the open-questions ledger as of the current snapshot, first extended
    /// by the commits since it was last (the posts they changed are read). Blocking.
    ///
    /// # Errors
    /// [`LedgerError::Building`] while it is built (the branch's first-parent chain no
    /// longer holds its tip: it is rebuilt), git errors reading posts.
    pub fn with_ledger<T>(&self, read: impl FnOnce(&Ledger) -> T) -> Result<T, LedgerError> {
        let mut slot = self.ledger.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let Some(ledger) = slot.as_mut() else {
            return Err(LedgerError::Building);
        };
        // Taken under the lock: no snapshot older than the ledger can be met, so one it
        // does not follow means the branch was rewritten.
        let snapshot = self.snapshot();
        if !ledger.follows(&snapshot.history) {
            *slot = None;
            self.ledger.wake();
            return Err(LedgerError::Building);
        }
        if let Err(error) = extend(&self.store, ledger, &snapshot.history) {
            *slot = None;
            self.ledger.wake();
            return Err(error.into());
        }
        Ok(read(ledger))
    }

    /// Starts the thread that builds the ledger if it was not loaded, then extends it as the
    /// branch moves and saves it. Once per site; later calls do nothing.
    pub fn keep_ledger(self: &Arc<Self>) {
        let Some(woken) = self
            .ledger
            .woken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let wake = self.ledger.wake.clone();
        self.on_move(Box::new(move |_| {
            let _ = wake.try_send(());
        }));
        let site = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("questions-ledger".into())
            .spawn(move || {
                let mut last_save = None;
                loop {
                    let Some(site) = site.upgrade() else {
                        return;
                    };
                    site.tend_ledger(&mut last_save);
                    drop(site);
                    if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(IDLE_WAKE) {
                        return;
                    }
                }
            })
            .expect("spawning the open-questions ledger thread");
    }

    /// One round of the ledger's thread: builds it if needed (without holding its lock, so
    /// readers are answered meanwhile), extends it to the current snapshot, saves it when
    /// due.
    pub(super) fn tend_ledger(&self, last_save: &mut Option<Instant>) {
        let cache = &self.ledger;
        let missing = cache
            .ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none();
        if missing {
            let snapshot = self.snapshot();
            let started = Instant::now();
            let mut built = Ledger::default();
            if let Err(error) = extend(&self.store, &mut built, &snapshot.history) {
                tracing::warn!(%error, "could not build the open-questions ledger");
                return;
            }
            tracing::info!(
                commits = snapshot.history.len(),
                seconds = started.elapsed().as_secs_f64(),
                "open-questions ledger built"
            );
            // Saved before it is served: a server that answers from a built ledger has
            // it on disk for the next start.
            if let Some(save) = cache.due(&built, last_save, true) {
                cache.write(save);
            }
            *cache.ledger.lock().unwrap_or_else(|e| e.into_inner()) = Some(built);
        }
        let mut slot = cache.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let Some(ledger) = slot.as_mut() else {
            return;
        };
        let snapshot = self.snapshot();
        if !ledger.follows(&snapshot.history) {
            tracing::info!("the branch was rewritten; rebuilding the open-questions ledger");
            *slot = None;
            cache.wake();
            return;
        }
        if let Err(error) = extend(&self.store, ledger, &snapshot.history) {
            tracing::warn!(%error, "could not extend the open-questions ledger; rebuilding it");
            *slot = None;
            cache.wake();
            return;
        }
        let save = cache.due(ledger, last_save, false);
        drop(slot);
        if let Some(save) = save {
            cache.write(save);
        }
    }
}

/// Extends `ledger` to `history`'s tip, opening a repository only when there is a post
/// version to read.
fn extend(store: &Store, ledger: &mut Ledger, history: &HistoryIndex) -> Result<(), StoreError> {
    if ledger.tip() == history.tip() {
        return Ok(());
    }
    let mut reader = None;
    ledger.extend(history, |blob| {
        if reader.is_none() {
            reader = Some(store.history_reader()?);
        }
        reader.as_ref().expect("just opened").blob(blob)
    })
}
