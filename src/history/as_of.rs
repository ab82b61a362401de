//! The branch as of a time: the last first-parent commit committed at or before it, and the
//! history index cut there.

use super::index::HistoryIndex;

/// When a reader asks for the blog as of: an RFC 3339 time, or a `YYYY-MM-DD` date that
/// means the end of that day in UTC. `None` when `value` is neither.
pub fn parse_as_of(value: &str) -> Option<i64> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(time.timestamp());
    }
    let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let end = date.and_hms_opt(23, 59, 59)?;
    Some(end.and_utc().timestamp())
}

impl HistoryIndex {
    /// The position of the newest first-parent commit committed at or before `time`
    /// (seconds since the epoch), as `git log --first-parent --before` lists first; `None`
    /// when every commit is later.
    pub fn last_at_or_before(&self, time: i64) -> Option<u32> {
        // Committer times need not grow along the chain (clocks, rebases): a scan from the
        // tip, not a binary search; by iterator, which walks the persistent vector's leaves
        // rather than descending its tree for each position.
        let from_tip = self
            .committed_at
            .iter()
            .rev()
            .position(|&committed_at| committed_at <= time)?;
        Some((self.len() - 1 - from_tip) as u32)
    }

    /// This index cut after `position`: the history as the branch had it then.
    pub fn until(&self, position: u32) -> HistoryIndex {
        let mut index = self.clone();
        index.truncate(position as usize + 1);
        index.tip = Some(index.commit(position).facts.id);
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_means_the_end_of_that_day_in_utc() {
        assert_eq!(parse_as_of("1970-01-01"), Some(86_399));
        assert_eq!(parse_as_of("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_as_of("yesterday"), None);
        assert_eq!(parse_as_of("2026-02-30"), None);
    }
}
