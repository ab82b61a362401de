//! Saving the history index in the background after the branch moves, so a restart
//! extends it instead of walking the whole history, without slowing down a write.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::history::{self, HistoryIndex};

/// The least time between two saves. A save rewrites the whole file (O(history) CPU and
/// I/O, which the next write's flush would carry too), while a restart extends whatever
/// index it finds by the commits since: saving after every write of a burst buys nothing.
const SAVE_PAUSE: Duration = Duration::from_secs(10);

/// Writes the newest index handed to it, one write at a time and at most one per
/// [`SAVE_PAUSE`]; indexes superseded meanwhile are skipped.
pub struct IndexSaver {
    file: PathBuf,
    /// The index waiting to be written, and whether a writer thread is running.
    pending: Mutex<(Option<Arc<HistoryIndex>>, bool)>,
}

impl IndexSaver {
    pub fn new(file: PathBuf) -> IndexSaver {
        IndexSaver {
            file,
            pending: Mutex::new((None, false)),
        }
    }

    /// Writes `index` now, on the saver's thread.
    fn save_now(&self, index: &HistoryIndex) {
        if let Err(error) = history::save(index, &self.file) {
            tracing::warn!(%error, file = %self.file.display(), "could not save the history index");
        }
    }

    /// Writes `index` on a thread of its own.
    pub fn save_later(self: &Arc<Self>, index: Arc<HistoryIndex>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.0 = Some(index);
        if pending.1 {
            return;
        }
        pending.1 = true;
        let saver = self.clone();
        let spawned = std::thread::Builder::new()
            .name("history-saver".into())
            .spawn(move || {
                loop {
                    let next = {
                        let mut pending = saver.pending.lock().unwrap_or_else(|e| e.into_inner());
                        let next = pending.0.take();
                        pending.1 = next.is_some();
                        next
                    };
                    match next {
                        Some(index) => {
                            saver.save_now(&index);
                            drop(index);
                            std::thread::sleep(SAVE_PAUSE);
                        }
                        None => return,
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the history saver");
            pending.1 = false;
        }
    }
}
