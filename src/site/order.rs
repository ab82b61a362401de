//! The orders a list of posts can be read in, each sorted once per snapshot, so that listing
//! a page costs that page rather than a sort of the whole blog.
//!
//! # Performance
//! Sorting every post per request (pointer-chasing to each post's date and comparing
//! strings) would dominate a list's cost; a snapshot never changes, so its orders are
//! computed once. The list as of a past time sorts the same ranks (see `past_list`).

use std::cmp::Reverse;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

use super::{PostRecord, Snapshot};
use crate::post::{Slug, Status};

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

/// Where one post falls in an order, worked out once per post and sort: dates are parsed and
/// titles lower-cased once, not once per comparison. Within one sort every rank is of the
/// same kind.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    Date(Option<DateTime<FixedOffset>>),
    NewestDate(Reverse<Option<DateTime<FixedOffset>>>),
    Updated(Reverse<Option<String>>),
    Title(String),
}

impl PostOrder {
    /// The rank of a post with this title, `date` (as written) and `updated_at`.
    pub(super) fn rank(self, title: &str, date: Option<&str>, updated_at: Option<&str>) -> Rank {
        match self {
            PostOrder::NewestFirst => Rank::NewestDate(Reverse(first_published(date))),
            PostOrder::OldestFirst => Rank::Date(first_published(date)),
            PostOrder::RecentlyUpdated => Rank::Updated(Reverse(updated_at.map(str::to_owned))),
            PostOrder::Title => Rank::Title(title.to_lowercase()),
        }
    }

    fn rank_of(self, record: &PostRecord) -> Rank {
        let post = record.post();
        self.rank(&post.title, post.date.as_deref(), record.updated_at())
    }
}

/// Sorts `posts` by their rank, then (ties) by their slug, so pages are stable.
pub(super) fn sort_ranked<T>(posts: &mut [(Rank, T)], slug: impl Fn(&T) -> &Slug) {
    posts.sort_by(|(a_rank, a), (b_rank, b)| a_rank.cmp(b_rank).then_with(|| slug(a).cmp(slug(b))));
}

/// When a post was first published, as an instant: its `date` is text as written, and text
/// orders neither times with different offsets nor a date that does not parse (a warning on
/// the post), which sorts as an undated post does.
fn first_published(date: Option<&str>) -> Option<DateTime<FixedOffset>> {
    let date = date?;
    DateTime::parse_from_rfc3339(date).ok().or_else(|| {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .map(|day| day.and_time(NaiveTime::MIN).and_utc().fixed_offset())
    })
}

impl StatusSelection {
    /// Whether the list holds a post of this status.
    pub(super) fn holds(self, status: Status) -> bool {
        match self {
            StatusSelection::Published => status == Status::Published,
            StatusSelection::Drafts => status != Status::Published,
            StatusSelection::All => true,
        }
    }
}

/// Lists of a snapshot's posts.
impl Snapshot {
    /// The posts `selection` holds, in `order`: sorted on first use, then shared.
    pub fn listing(&self, selection: StatusSelection, order: PostOrder) -> &[Arc<PostRecord>] {
        self.listings.0[selection as usize][order as usize].get_or_init(|| {
            let mut ranked: Vec<(Rank, &Arc<PostRecord>)> = self
                .posts()
                .filter(|record| selection.holds(record.post().status))
                .map(|record| (order.rank_of(record), record))
                .collect();
            sort_ranked(&mut ranked, |record| &record.post().slug);
            ranked
                .into_iter()
                .map(|(_, record)| record.clone())
                .collect()
        })
    }
}
