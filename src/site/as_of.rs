//! The blog as of a time: the snapshot of the last first-parent commit at or before it.

use std::sync::{Arc, Mutex};

use super::{Audience, Site, Snapshot};
use crate::store::{Oid, StoreError};

/// How many past snapshots are kept: a reader citing a date tends to ask for its list, its
/// posts and its tags in turn.
const KEPT: usize = 4;

/// What a past snapshot was built for: the tip then current, the past commit, the audience.
type PastKey = (Option<Oid>, Oid, Audience);

/// Past snapshots built lately.
#[derive(Debug, Default)]
pub struct PastSnapshots(Mutex<Vec<(PastKey, Arc<Snapshot>)>>);

impl Site {
    /// The blog as `audience` sees it as of `time` (seconds since the epoch): the branch at
    /// its last first-parent commit committed then or before, where a post's status then
    /// decides for anonymous readers and a post that is a draft now stays hidden from them.
    /// `None` before the first commit. Blocking: may read and parse every post of that
    /// commit.
    ///
    /// # Errors
    /// Git errors reading that commit's posts.
    pub fn as_of(
        &self,
        time: i64,
        audience: Audience,
    ) -> Result<Option<Arc<Snapshot>>, StoreError> {
        let now = self.snapshot();
        let Some(position) = now.history.last_at_or_before(time) else {
            return Ok(None);
        };
        let commit = now.history.commit(position).facts.id;
        let key = (now.tip, commit, audience);
        let kept = self.past.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, past)) = kept.iter().find(|(k, _)| *k == key) {
            return Ok(Some(past.clone()));
        }
        drop(kept);
        let reader = self.store.history_reader()?;
        let history = Arc::new(now.history.until(position));
        let mut past =
            Snapshot::build_at(&reader, Some(commit), Some(&now), history, &self.addresses)?;
        if audience == Audience::Public {
            past = past.without(|slug| now.get(slug).is_some_and(|record| !record.is_published()));
        }
        let past = Arc::new(past);
        let mut kept = self.past.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push((key, past.clone()));
        Ok(Some(past))
    }
}
