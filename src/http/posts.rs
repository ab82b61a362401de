//! Reading posts: the list, one post (now or as of a revision), and its backlinks.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::list_pages::ListPage;
use super::listing::{ListQuery, Page};
use super::views::{self, Backlinks, PostSummary, PostView};
use super::{API_PREFIX, AppState, Viewer, caching, history, methods, renamed};
use crate::error::{ApiError, Problem};
use crate::post::Slug;
use crate::site::{PastList, PostRecord, Snapshot};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The two most read routes skip `#[get]`'s method guard (see `methods::get_resource`).
    cfg.service(
        methods::get_resource("/posts")
            .name("list_posts")
            .to(list_posts),
    )
    .service(
        methods::get_resource("/posts/{slug}")
            .name("get_post")
            .to(get_post),
    )
    .service(get_backlinks);
}

/// List posts, newest first, with filters and pagination.
///
/// Anonymous clients see published posts only; `status=draft|all` needs a token.
#[utoipa::path(
    get,
    path = "/posts",
    tag = "posts",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of posts, with a `Link` header to the others", body = views::PostList),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "A bad value of a known parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`as_of` before the branch's first commit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Drafts asked for without a valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn list_posts(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(request.query_string())?;
    query.validate(&viewer)?;
    if query.as_of.is_none() {
        let snapshot = state.site.snapshot();
        let page = state.list_pages.get_or_build(
            &snapshot,
            viewer.audience(),
            request.query_string(),
            || list_page(&request, &viewer, &snapshot, &query, &snapshot),
        );
        return Ok(list_response(&request, &viewer, &page));
    }
    // As of a time, the answer depends on the tip now too (posts that are drafts now are
    // hidden): the ETag names the tip now, and the query names the time.
    let now = state.site.snapshot();
    let as_of = query.as_of.as_deref().unwrap_or_default();
    if let Some(past) = query.past_query() {
        let time = super::as_of::time_of(as_of)?;
        let (site, audience) = (state.site.clone(), viewer.audience());
        match web::block(move || site.past_list(time, audience, &past)).await?? {
            PastList::BeforeFirstCommit => return Err(super::as_of::no_commit_at(as_of)),
            PastList::Page { posts, total } => {
                let page = list_body(&request, &viewer, &now, query.page_of(posts, total));
                return Ok(list_response(&request, &viewer, &page));
            }
            PastList::Unknown => {}
        }
    }
    let snapshot = super::as_of::snapshot_for(&state, &viewer, Some(as_of)).await?;
    let page = list_page(&request, &viewer, &now, &query, &snapshot);
    Ok(list_response(&request, &viewer, &page))
}

/// The page `query` selects from `snapshot`, with the ETag of the tip `now`.
fn list_page(
    request: &HttpRequest,
    viewer: &Viewer,
    now: &Snapshot,
    query: &ListQuery,
    snapshot: &Snapshot,
) -> ListPage {
    list_body(request, viewer, now, query.select(snapshot))
}

/// The response to a list request whose answer is `page`, with the ETag of the tip `now`.
fn list_body(request: &HttpRequest, viewer: &Viewer, now: &Snapshot, page: Page) -> ListPage {
    let audience = viewer.audience();
    let entries: Vec<bytes::Bytes> = page
        .posts
        .iter()
        .map(|r| views::summary_body(r, audience))
        .collect();
    let meta = serde_json::to_string(&page.meta).expect("page meta serialises");
    ListPage {
        etag: caching::tip_etag(now, request, viewer),
        body: join_list(&entries, &meta),
        link: super::listing::link_header(request.path(), request.query_string(), &page.meta)
            .and_then(|link| header::HeaderValue::from_str(&link).ok()),
    }
}

fn list_response(request: &HttpRequest, viewer: &Viewer, page: &ListPage) -> HttpResponse {
    let mut response = caching::json_read(request, viewer, &page.etag, || page.body.clone());
    if let Some(link) = &page.link {
        response.headers_mut().insert(header::LINK, link.clone());
    }
    response
}

/// Splices pre-serialised list entries into `{"posts":[...],"meta":{...}}`.
fn join_list(entries: &[bytes::Bytes], meta: &str) -> bytes::Bytes {
    let size = entries.iter().map(|e| e.len() + 1).sum::<usize>() + meta.len() + 32;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"posts\":[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(entry);
    }
    body.extend_from_slice(b"],\"meta\":");
    body.extend_from_slice(meta.as_bytes());
    body.push(b'}');
    body.into()
}

/// The query of `GET /api/v1/posts/{slug}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// Read the post as of this commit (a full id or an unambiguous prefix of at least 4
    /// hexadecimal digits) on the served branch; `GET .../revisions` lists them.
    #[param(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub rev: Option<String>,
    /// The post as the blog had it at this time (RFC 3339, or `YYYY-MM-DD`: the end of that
    /// day, UTC); not with `rev`.
    #[param(
        example = "2026-11-02",
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-](0[0-9]|1[0-2]):00))?$"
    )]
    pub as_of: Option<String>,
}

/// Get one post, rendered, with its sections and open questions.
#[utoipa::path(
    get,
    path = "/posts/{slug}",
    tag = "posts",
    params(("slug" = String, Path, description = "The post's slug"), PostQuery),
    responses(
        (status = 200, description = "The post; `ETag` is its blob id, a dash and a hash of the body (authors and anonymous readers can get different bodies)", body = PostView),
        (status = 301, description = "The post was renamed: `Location` is its URL under the new slug"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug or revision", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post (drafts are 404 to anonymous clients), revision, or post at `as_of`", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_post(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<PostQuery>,
) -> Result<HttpResponse, ApiError> {
    // Read where routing left it, rather than copied out by a `Path` extractor: only a
    // valid slug goes further, and routing has decoded every character a slug may hold.
    let slug = Slug::parse(request.match_info().query("slug"))?;
    let query = query.into_inner();
    if let Some(rev) = query.rev {
        if query.as_of.is_some() {
            return Err(ApiError::bad_request("give `rev` or `as_of`, not both"));
        }
        return history::post_as_of(&request, &state, &viewer, slug, rev).await;
    }
    let snapshot = super::as_of::snapshot_for(&state, &viewer, query.as_of.as_deref()).await?;
    if let Some(answer) = post_in(&request, &snapshot, &viewer, &slug) {
        return answer;
    }
    // The post shows assets, and this snapshot has not listed them yet.
    let (listing, store) = (snapshot.clone(), state.site.store().clone());
    let assets = web::block(move || listing.assets(&store)).await??;
    let record = snapshot
        .visible(&slug, viewer.audience())
        .ok_or_else(|| no_post(&slug))?;
    let answer = views::post_body(&snapshot, record, viewer.audience(), Some(&assets));
    let (body, etag) = &*answer;
    Ok(caching::json_read(&request, &viewer, etag, || body.clone()))
}

/// The answer to a read of `slug` in `snapshot` (the post, a redirect to its new slug, or
/// a 404), when it needs no more than the snapshot holds: `None` when the post shows
/// assets and the snapshot has not listed them yet, which means reading a git tree.
pub(super) fn post_in(
    request: &HttpRequest,
    snapshot: &Snapshot,
    viewer: &Viewer,
    slug: &Slug,
) -> Option<Result<HttpResponse, ApiError>> {
    let Some(record) = snapshot.visible(slug, viewer.audience()) else {
        return Some(moved_or_missing(request, snapshot, viewer, slug));
    };
    let assets = match snapshot.listed_assets() {
        _ if record.post().assets.is_empty() => None,
        Some(assets) => Some(&**assets),
        None => return None,
    };
    let answer = views::post_body(snapshot, record, viewer.audience(), assets);
    let (body, etag) = &*answer;
    Some(Ok(caching::json_read(request, viewer, etag, || {
        body.clone()
    })))
}

/// Posts that link to this one.
#[utoipa::path(
    tag = "posts",
    params(("slug" = String, Path, description = "The post's slug")),
    responses(
        (status = 200, description = "The posts linking here, in slug order", body = views::Backlinks),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 400, description = "Invalid slug", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/posts/{slug}/backlinks")]
pub async fn get_backlinks(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let snapshot = state.site.snapshot();
    let audience = viewer.audience();
    snapshot
        .visible(&slug, audience)
        .ok_or_else(|| no_post(&slug))?;
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let sources: Vec<&PostRecord> = snapshot
        .backlinks(&slug)
        .filter(|record| audience.sees(record))
        .map(|record| record.as_ref())
        .collect();
    Ok(caching::json_read(&request, &viewer, &etag, || {
        views::to_bytes(&Backlinks {
            posts: sources
                .iter()
                .map(|r| PostSummary::of(r.post(), r.links_to(audience)).with_history(r.history()))
                .collect(),
        })
    }))
}

/// A 301 to the post's new slug when `slug` is the old one of a renamed post (that the
/// viewer may see), else a 404.
fn moved_or_missing(
    request: &HttpRequest,
    snapshot: &Snapshot,
    viewer: &Viewer,
    slug: &Slug,
) -> Result<HttpResponse, ApiError> {
    let moved =
        renamed::new_slug(snapshot, viewer.audience(), slug)?.ok_or_else(|| no_post(slug))?;
    Ok(renamed::moved_permanently(
        request,
        &format!("{API_PREFIX}/posts/{moved}"),
    ))
}

fn no_post(slug: &Slug) -> ApiError {
    ApiError::not_found(format!("no post `{slug}`"))
}
