//! The site's open-questions ledger, kept up to date with the snapshots readers see.

use std::sync::{Mutex, MutexGuard};

use super::Site;
use crate::history::Ledger;
use crate::store::StoreError;

/// The ledger, extended lazily: the first reader after a branch move pays for the posts
/// that move touched.
#[derive(Debug, Default)]
pub struct LedgerCache(Mutex<Ledger>);

impl Site {
    /// The open-questions ledger as of the current snapshot (or a newer one). Blocking:
    /// reads the versions of the posts changed since the last call.
    ///
    /// # Errors
    /// Git errors reading those versions.
    pub fn ledger(&self) -> Result<MutexGuard<'_, Ledger>, StoreError> {
        let snapshot = self.snapshot();
        let mut ledger = self.ledger.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut reader = None;
        let extended = ledger.extend(&snapshot.history, |blob| {
            if reader.is_none() {
                reader = Some(self.store.history_reader()?);
            }
            reader.as_ref().expect("just opened").blob(blob)
        });
        if let Err(error) = extended {
            // Half a commit applied: start over on the next call rather than keep it.
            *ledger = Ledger::default();
            return Err(error);
        }
        Ok(ledger)
    }
}
