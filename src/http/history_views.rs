//! The JSON shapes of the history endpoints: revision entries, the site-wide log, pages.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::listing::page_bounds;
use super::views::PageMeta;
use crate::error::ApiError;
use crate::history::{ChangeKind, CommitSummary};
use crate::post::SectionKind;

/// One revision of a post: the commit that changed its file, and what it changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionEntry {
    #[serde(flatten)]
    pub summary: CommitSummary,
    pub change: ChangeKind,
    /// The file's path after the commit (before it, for a deletion).
    #[schema(example = "posts/attention-scaling.md")]
    pub path: String,
    /// For a rename, the path before it.
    #[schema(example = json!(null))]
    pub previous_path: Option<String>,
    /// Lines added to the file, as `git diff --numstat` counts them.
    #[schema(example = 3)]
    pub additions: usize,
    /// Lines removed from the file.
    #[schema(example = 1)]
    pub deletions: usize,
    /// The sections this revision added, removed or edited.
    pub sections_changed: Vec<SectionKind>,
}

/// `GET /api/v1/posts/{slug}/revisions`: a page of revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    pub revisions: Vec<RevisionEntry>,
    pub meta: PageMeta,
}

pub use crate::site::TouchedPost;

/// One commit of the site-wide log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    #[serde(flatten)]
    pub summary: CommitSummary,
    /// The posts the commit changed relative to its first parent (drafts left out for
    /// anonymous readers).
    pub posts: Vec<TouchedPost>,
}

/// `GET /api/v1/history`: a page of the branch's first-parent log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryLog {
    pub commits: Vec<LogEntry>,
    pub meta: PageMeta,
}

/// Pagination of the history lists (other parameters are ignored).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<usize>,
    /// Entries per page, at most 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
}

impl PageQuery {
    /// The page of `total` entries this query asks for: the range to show and its meta.
    ///
    /// # Errors
    /// 400 for a page of 0 or a `per_page` outside 1..=100.
    pub fn select(&self, total: usize) -> Result<(std::ops::Range<usize>, PageMeta), ApiError> {
        let (page, per_page) = page_bounds(self.page, self.per_page)?;
        let start = (page - 1).saturating_mul(per_page).min(total);
        let end = start.saturating_add(per_page).min(total);
        let meta = PageMeta {
            page,
            per_page,
            total,
            pages: total.div_ceil(per_page),
        };
        Ok((start..end, meta))
    }
}

/// The query of `GET /api/v1/posts/{slug}/diff`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older revision (a commit id or unambiguous prefix); default: the revision
    /// before `to`.
    #[param(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub from: Option<String>,
    /// The newer revision; default: the post's latest revision.
    #[param(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub to: Option<String>,
}
