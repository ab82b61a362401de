//! How much each revision changed (lines added and removed, sections touched), worked out
//! from the two versions of the post file it compares and kept in the snapshot's cache by
//! that pair of versions, for the revision list and the revision feeds.

use std::collections::HashMap;
use std::sync::Arc;

use super::Snapshot;
use crate::history::{ChangeRef, ChangeStats, change_stats};
use crate::store::{HistoryReader, Oid, Store, StoreError};

/// The texts of the file versions one response reads: consecutive revisions share a
/// version (one's new file is the next one's old), so each blob is read at most once. The
/// repository is opened on the first read, so a page whose stats are all cached opens none.
pub struct VersionTexts {
    store: Store,
    reader: Option<HistoryReader>,
    texts: HashMap<Oid, Arc<String>>,
}

impl VersionTexts {
    pub fn new(store: Store) -> VersionTexts {
        VersionTexts {
            store,
            reader: None,
            texts: HashMap::new(),
        }
    }

    /// The text of the file version `blob` (invalid UTF-8 replaced).
    ///
    /// # Errors
    /// Git errors opening the repository or reading the blob.
    pub fn text(&mut self, blob: Oid) -> Result<Arc<String>, StoreError> {
        if let Some(text) = self.texts.get(&blob) {
            return Ok(text.clone());
        }
        let reader = match &mut self.reader {
            Some(reader) => reader,
            empty => empty.insert(self.store.history_reader()?),
        };
        let text = Arc::new(String::from_utf8_lossy(&reader.blob(blob)?).into_owned());
        self.texts.insert(blob, text.clone());
        Ok(text)
    }
}

impl Snapshot {
    /// What the revision `at` changed in its post's file, from the cache or from the two
    /// versions it compares, read through `texts`.
    ///
    /// # Errors
    /// Git errors reading a version.
    pub fn revision_stats(
        &self,
        at: ChangeRef,
        texts: &mut VersionTexts,
    ) -> Result<ChangeStats, StoreError> {
        let (_, change) = self.history.change(at);
        let (old_blob, new_blob) = (change.old_blob, change.new_blob);
        if let Some(stats) = self.change_stats.get(old_blob, new_blob) {
            return Ok(stats);
        }
        let old = old_blob.map(|b| texts.text(b)).transpose()?;
        let new = new_blob.map(|b| texts.text(b)).transpose()?;
        let stats = change_stats(
            old.as_deref().map(String::as_str),
            new.as_deref().map(String::as_str),
        );
        self.change_stats.insert(old_blob, new_blob, stats.clone());
        Ok(stats)
    }
}
