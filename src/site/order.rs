//! The orders a list of posts can be read in, each sorted once per snapshot, so that listing
//! a page costs that page rather than a sort of the whole blog.
//!
//! # Performance
//! Sorting every post per request (pointer-chasing to each post's date and comparing
//! strings) would dominate a list's cost; a snapshot never changes, so its orders are
//! computed once. Date orders parse both dates of each comparison, once per snapshot and
//! order.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

use super::{PostRecord, Snapshot};

/// How a list of posts is ordered. Ties fall back to the slug, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOrder {
    NewestFirst = 0,
    OldestFirst = 1,
    RecentlyUpdated = 2,
    Title = 3,
}

/// Which posts a list holds, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSelection {
    Published = 0,
    Drafts = 1,
    All = 2,
}

const ORDERS: usize = 4;
const SELECTIONS: usize = 3;

/// A snapshot's lists, one per selection and order, each sorted by the first request that
/// asks for it and then shared by every later one.
#[derive(Debug, Default)]
pub struct Listings([[OnceLock<Vec<Arc<PostRecord>>>; ORDERS]; SELECTIONS]);

impl PostOrder {
    fn compare(self, a: &PostRecord, b: &PostRecord) -> Ordering {
        let by_date = || first_published(a).cmp(&first_published(b));
        let primary = match self {
            PostOrder::NewestFirst => by_date().reverse(),
            PostOrder::OldestFirst => by_date(),
            PostOrder::RecentlyUpdated => a.updated_at().cmp(&b.updated_at()).reverse(),
            PostOrder::Title => a
                .post()
                .title
                .to_lowercase()
                .cmp(&b.post().title.to_lowercase()),
        };
        primary.then_with(|| a.post().slug.cmp(&b.post().slug))
    }
}

/// When a post was first published, as an instant: its `date` is text as written, and text
/// orders neither times with different offsets nor a date that does not parse (a warning on
/// the post), which sorts as an undated post does.
fn first_published(record: &PostRecord) -> Option<DateTime<FixedOffset>> {
    let date = record.post().date.as_deref()?;
    DateTime::parse_from_rfc3339(date).ok().or_else(|| {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .map(|day| day.and_time(NaiveTime::MIN).and_utc().fixed_offset())
    })
}

impl StatusSelection {
    fn holds(self, record: &PostRecord) -> bool {
        match self {
            StatusSelection::Published => record.is_published(),
            StatusSelection::Drafts => !record.is_published(),
            StatusSelection::All => true,
        }
    }
}

/// Lists of a snapshot's posts.
impl Snapshot {
    /// The posts `selection` holds, in `order`: sorted on first use, then shared.
    pub fn listing(&self, selection: StatusSelection, order: PostOrder) -> &[Arc<PostRecord>] {
        self.listings.0[selection as usize][order as usize].get_or_init(|| {
            let mut posts: Vec<Arc<PostRecord>> = self
                .posts()
                .filter(|record| selection.holds(record))
                .cloned()
                .collect();
            posts.sort_by(|a, b| order.compare(a, b));
            posts
        })
    }
}
