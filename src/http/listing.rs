//! `GET /api/v1/posts` query semantics: which posts a viewer sees, filtering, ordering and
//! pagination, with the `Link` header that walks the pages.

use std::sync::Arc;

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::Viewer;
use super::views::PageMeta;
use crate::error::ApiError;
use crate::site::{PastListQuery, PostOrder, PostRecord, Snapshot, StatusSelection};

pub const DEFAULT_PER_PAGE: usize = 20;
pub const MAX_PER_PAGE: usize = 100;
/// A bound on `page` so that every documented value parses (a page past the end is empty).
pub const MAX_PAGE: usize = 1_000_000;

/// Which posts to list by status; anything but `published` needs a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    Published,
    Draft,
    All,
}

/// List order: newest first by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum SortOrder {
    #[default]
    #[serde(rename = "-date")]
    NewestFirst,
    #[serde(rename = "date")]
    OldestFirst,
    #[serde(rename = "-updated")]
    RecentlyUpdated,
    #[serde(rename = "title")]
    Title,
}

/// The query of `GET /api/v1/posts`. Parameters it does not name are ignored (cache
/// busters, `utm_*`); a bad value of one it names is a 400.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `published` (default), `draft` or `all`; the last two need a token.
    pub status: Option<StatusFilter>,
    /// Only posts with this tag; repeated (`tag=a&tag=b`), posts with every tag named.
    #[serde(default)]
    #[param(explode = true, style = Form)]
    pub tag: Vec<String>,
    /// Only posts containing every word of this text (title, summary, tags, body), as
    /// case-insensitive substrings, in the list's order: a filter, not a ranking. For
    /// relevance, stemming, phrases, snippets and past versions use `GET /api/v1/search`.
    pub q: Option<String>,
    /// `-date` (default), `date`, `-updated` or `title`.
    pub sort: Option<SortOrder>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<usize>,
    /// Posts per page, at most 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
    /// The blog as of this time (RFC 3339, or `YYYY-MM-DD`: the end of that day, UTC): at
    /// the last first-parent commit committed then or before.
    #[param(
        example = "2026-11-02",
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-](0[0-9]|1[0-2]):00))?$"
    )]
    pub as_of: Option<String>,
}

/// The list's parameters whose values are not free text: an empty one is a bad value.
const NOT_TEXT: [&str; 5] = ["status", "sort", "page", "per_page", "as_of"];

/// A page of posts, chosen and ordered.
pub struct Page {
    pub posts: Vec<Arc<PostRecord>>,
    pub meta: PageMeta,
}

impl ListQuery {
    /// Reads a query string; `tag` may repeat, which actix's `Query` cannot read.
    ///
    /// # Errors
    /// 400 for a bad value of a known parameter.
    pub fn parse(query_string: &str) -> Result<ListQuery, ApiError> {
        // serde_html_form reads `page=` as no page at all; the document says a page is a
        // number, so an empty value of a parameter that is not text is refused like any
        // other bad value.
        for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
            if value.is_empty() && NOT_TEXT.contains(&key.as_ref()) {
                return Err(ApiError::invalid_field(
                    key.as_ref(),
                    format!("{key} must not be empty"),
                ));
            }
        }
        serde_html_form::from_str(query_string)
            .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))
    }

    /// Checks values that serde cannot: the page bounds and who may ask for drafts.
    ///
    /// # Errors
    /// 400 for out-of-range pages, 401 for an anonymous request for drafts.
    pub fn validate(&self, viewer: &Viewer) -> Result<(), ApiError> {
        page_bounds(self.page, self.per_page)?;
        if self.status.unwrap_or_default() != StatusFilter::Published && !viewer.is_author() {
            return Err(ApiError::Unauthorized(
                "listing drafts needs an author's bearer token".into(),
            ));
        }
        Ok(())
    }

    /// The page of `snapshot`'s posts this query asks for.
    ///
    /// The ordering comes sorted from the snapshot; only the filters run per request.
    pub fn select(&self, snapshot: &Snapshot) -> Page {
        let words: Vec<String> = self
            .q
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let listing = snapshot.listing(
            self.status.unwrap_or_default().into(),
            self.sort.unwrap_or_default().into(),
        );
        let matching = listing
            .iter()
            .filter(|record| {
                let tags = &record.post().tags;
                self.tag.iter().all(|wanted| tags.contains(wanted))
            })
            .filter(|record| record.matches(&words));

        let (page, per_page) = self.page_and_size();
        // Unfiltered, every post of the listing matches: no need to visit them all to count.
        let total = if self.tag.is_empty() && words.is_empty() {
            listing.len()
        } else {
            matching.clone().count()
        };
        let posts = matching
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .cloned()
            .collect();
        self.page_of(posts, total)
    }

    /// The query as a list of the blog as of a past time answers it from the posts' front
    /// matter alone ([`Site::past_list`](crate::site::Site::past_list)); `None` when it
    /// searches the posts' text or orders them by their latest revision.
    pub fn past_query(&self) -> Option<PastListQuery> {
        let searches = self
            .q
            .as_deref()
            .is_some_and(|q| q.split_whitespace().next().is_some());
        let order = PostOrder::from(self.sort.unwrap_or_default());
        if searches || order == PostOrder::RecentlyUpdated {
            return None;
        }
        let (page, per_page) = self.page_and_size();
        Some(PastListQuery {
            selection: self.status.unwrap_or_default().into(),
            order,
            tags: self.tag.clone(),
            page,
            per_page,
        })
    }

    /// `posts`, the page this query asks for of a list of `total` posts.
    pub fn page_of(&self, posts: Vec<Arc<PostRecord>>, total: usize) -> Page {
        let (page, per_page) = self.page_and_size();
        Page {
            posts,
            meta: PageMeta {
                page,
                per_page,
                total,
                pages: total.div_ceil(per_page),
            },
        }
    }

    /// The page asked for and its size, defaults filled in.
    fn page_and_size(&self) -> (usize, usize) {
        (
            self.page.unwrap_or(1),
            self.per_page.unwrap_or(DEFAULT_PER_PAGE),
        )
    }
}

impl From<StatusFilter> for StatusSelection {
    fn from(filter: StatusFilter) -> StatusSelection {
        match filter {
            StatusFilter::Published => StatusSelection::Published,
            StatusFilter::Draft => StatusSelection::Drafts,
            StatusFilter::All => StatusSelection::All,
        }
    }
}

impl From<SortOrder> for PostOrder {
    fn from(order: SortOrder) -> PostOrder {
        match order {
            SortOrder::NewestFirst => PostOrder::NewestFirst,
            SortOrder::OldestFirst => PostOrder::OldestFirst,
            SortOrder::RecentlyUpdated => PostOrder::RecentlyUpdated,
            SortOrder::Title => PostOrder::Title,
        }
    }
}

/// The page and page size a list request asks for, defaults filled in (page 1, 20 per
/// page): every paged list takes pages from 1 to 1,000,000 and 1 to 100 entries a page.
///
/// # Errors
/// 400 naming `page` or `per_page` when out of range.
pub fn page_bounds(
    page: Option<usize>,
    per_page: Option<usize>,
) -> Result<(usize, usize), ApiError> {
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE));
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::invalid_field(
            "page",
            format!("page must be between 1 and {MAX_PAGE}"),
        ));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid_field(
            "per_page",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    Ok((page, per_page))
}

/// The RFC 8288 `Link` header for a page: first, prev, next and last, keeping the other
/// query parameters as the client sent them.
pub fn link_header(path: &str, query_string: &str, meta: &PageMeta) -> Option<String> {
    if meta.pages == 0 {
        return None;
    }
    let kept: Vec<&str> = query_string
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .collect();
    let link = |page: usize, rel: &str| {
        let mut query = kept.clone();
        let page = format!("page={page}");
        query.push(&page);
        format!("<{path}?{}>; rel=\"{rel}\"", query.join("&"))
    };
    let mut links = vec![link(1, "first")];
    if meta.page > 1 && meta.page <= meta.pages {
        links.push(link(meta.page - 1, "prev"));
    }
    if meta.page < meta.pages {
        links.push(link(meta.page + 1, "next"));
    }
    links.push(link(meta.pages, "last"));
    Some(links.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_header_keeps_filters_and_names_neighbours() {
        let meta = PageMeta {
            page: 2,
            per_page: 1,
            total: 3,
            pages: 3,
        };
        let header = link_header("/api/v1/posts", "tag=x&page=2&per_page=1", &meta).unwrap();
        assert!(header.contains("</api/v1/posts?tag=x&per_page=1&page=1>; rel=\"first\""));
        assert!(header.contains("page=1>; rel=\"prev\""));
        assert!(header.contains("page=3>; rel=\"next\""));
        assert!(header.contains("page=3>; rel=\"last\""));
    }

    #[test]
    fn pages_outside_one_to_the_bound_are_rejected() {
        let query = |page| ListQuery {
            page: Some(page),
            ..ListQuery::default()
        };
        assert!(query(0).validate(&Viewer::Anonymous).is_err());
        assert!(query(1).validate(&Viewer::Anonymous).is_ok());
        assert!(query(MAX_PAGE).validate(&Viewer::Anonymous).is_ok());
        assert!(query(MAX_PAGE + 1).validate(&Viewer::Anonymous).is_err());
    }

    #[test]
    fn an_empty_list_has_no_link_header() {
        let meta = PageMeta {
            page: 1,
            per_page: 20,
            total: 0,
            pages: 0,
        };
        assert_eq!(link_header("/api/v1/posts", "", &meta), None);
    }
}
