//! `GET /api/v1/search`: ranked full-text search over the posts, and with `history=true`
//! over every past version of them.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::listing::{DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE};
use super::{AppState, Viewer};
use crate::error::{ApiError, Problem};
use crate::post::{SectionKind, Slug};
use crate::search::{SearchHit, SearchRequest};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(search);
}

/// The query of `GET /api/v1/search`. Parameters the API does not know are ignored.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for (required, at most 500 characters): words (stemmed, so
    /// `normalizing` finds `normalization`), `"a phrase"`, `-excluded`, `+required`.
    #[param(min_length = 1, max_length = 500, example = "\"pre-LN\" gradient")]
    pub q: String,
    /// Also search every past version of each post (default `false`).
    pub history: Option<bool>,
    /// Only posts with this tag; repeat it for posts with every tag named.
    #[param(explode = true)]
    pub tag: Option<Vec<String>>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<usize>,
    /// Results per page, at most 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
}

impl SearchQuery {
    /// Reads the query string: repeated `tag`s are collected, unknown parameters ignored.
    ///
    /// # Errors
    /// 400 for a missing, empty or too long `q` and for a bad value of a known parameter.
    pub fn parse(query_string: &str) -> Result<SearchQuery, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
            .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))?;
        let mut query = SearchQuery::default();
        let mut q = None;
        for (name, value) in pairs {
            match name.as_str() {
                "q" => q = Some(value),
                "history" => {
                    query.history = Some(match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ApiError::invalid_field(
                                "history",
                                "history must be `true` or `false`",
                            ));
                        }
                    })
                }
                "tag" => query.tag.get_or_insert_with(Vec::new).push(value),
                "page" => query.page = Some(bounded("page", &value, MAX_PAGE)?),
                "per_page" => query.per_page = Some(bounded("per_page", &value, MAX_PER_PAGE)?),
                _ => {}
            }
        }
        let q = q
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| ApiError::invalid_field("q", "q is required: the text to search for"))?;
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid_field(
                "q",
                format!("q must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        query.q = q;
        Ok(query)
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_field(field, format!("{field} must be a number from 1 to {max}"))
        })
}

/// One post that matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub slug: Slug,
    /// The post's title now.
    #[schema(example = "Why does LayerNorm come before attention?")]
    pub title: String,
    /// The kind of the section that matched best.
    pub section: SectionKind,
    /// HTML-escaped text of that section around the matches, each in `<mark>`.
    #[schema(example = "the <mark>gradient</mark> of a Pre-LN block reaches the residual stream")]
    pub snippet: String,
    /// BM25 relevance with the title and section boosts; higher is better.
    #[schema(example = 7.31)]
    pub score: f32,
    /// When the post matches as it is now, its latest revision; when only a past version
    /// matches (`history=true`), the earliest revision where the matching text appears.
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: Option<String>,
    /// Whether the post as it is now matches (`false`: only a past version does).
    pub current: bool,
}

/// Where a page of results sits, and what the search covered.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchMeta {
    pub page: usize,
    pub per_page: usize,
    /// How many posts matched.
    pub total: usize,
    pub pages: usize,
    /// Whether past versions were searched: `false` without `history=true`, and while the
    /// history index is still being built after a first start (then only the posts as they
    /// are now were searched).
    pub history_searched: bool,
}

/// `GET /api/v1/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub results: Vec<SearchResult>,
    pub meta: SearchMeta,
}

/// Search posts by relevance.
///
/// BM25 over titles and sections with English stemming and phrases; a match in the title
/// counts twice, and one in the Question, Takeaways or Open Questions more than elsewhere.
/// Each post appears once, with its best-matching section. With `history=true` every past
/// version of each visible post is searched too, and a post that matches only in the past
/// names the earliest revision where the matching text appears. Drafts (and every version of
/// them) are found only with a token. New commits are searchable within a second.
#[utoipa::path(
    tag = "posts",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of results, best first", body = SearchResults),
        (status = 400, description = "No `q`, a `q` over 500 characters, or a bad value", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An invalid token", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/search")]
pub async fn search(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(request.query_string())?;
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    let page = query.page.unwrap_or(1);
    let search = SearchRequest {
        q: query.q,
        history: query.history.unwrap_or(false),
        tags: query.tag.unwrap_or_default(),
        page,
        per_page,
        audience: viewer.audience(),
    };
    let engine = state.search.clone();
    let history = search.history;
    let found = web::block(move || engine.search(&search))
        .await
        .map_err(|error| ApiError::Internal(error.into()))?
        .map_err(|error| ApiError::Internal(error.into()))?;
    let body = SearchResults {
        results: found.hits.into_iter().map(SearchResult::from).collect(),
        meta: SearchMeta {
            page,
            per_page,
            total: found.total,
            pages: found.total.div_ceil(per_page),
            history_searched: history && found.history_indexed,
        },
    };
    Ok(HttpResponse::Ok().json(body))
}

impl From<SearchHit> for SearchResult {
    fn from(hit: SearchHit) -> SearchResult {
        SearchResult {
            slug: hit.slug,
            title: hit.title,
            section: hit.section,
            snippet: hit.snippet,
            score: hit.score,
            commit: hit.commit,
            current: hit.current,
        }
    }
}
