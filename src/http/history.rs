//! A post's past over HTTP: its revisions, the post as of one, what changed between two,
//! and the site-wide log. Reads come from the history index of the current snapshot; git
//! is read (off the async workers) only for the file versions a response shows.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::history_views::{
    DiffQuery, HistoryLog, LogEntry, PageQuery, RevisionEntry, RevisionList,
};
use super::views::{self, PageMeta, PostView};
use super::{AppState, Viewer, caching};
use crate::error::{ApiError, Problem};
use crate::history::{ChangeRef, CommitSummary, PostDiff, PostHistory, diff_versions};
use crate::post::Slug;
use crate::site::{BodyKey, PastFile, PastPostError, Snapshot, VersionTexts};
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_revisions)
        .service(get_revision)
        .service(get_diff)
        .service(site_history);
}

/// A post's revisions, newest first, following it across renames.
///
/// Each entry is a commit that changed the post's file relative to its first parent (the
/// commits `git log --first-parent --follow -- posts/<slug>.md` lists), with the lines and
/// sections it changed. Drafts are 404 to anonymous clients.
#[utoipa::path(
    tag = "history",
    params(("slug" = String, Path, description = "The post's slug"), PageQuery),
    responses(
        (status = 200, description = "A page of revisions, with a `Link` header to the others", body = RevisionList),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug or page", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post (drafts are 404 to anonymous clients)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/posts/{slug}/revisions")]
pub async fn list_revisions(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let query = query.into_inner();
    query.select(0)?;
    let snapshot = state.site.snapshot();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let fresh = caching::is_fresh(&request, &etag);
    let (body, meta) = read_history_of(
        &state,
        &viewer,
        snapshot,
        slug,
        move |snapshot, store, slug| {
            let revisions = snapshot.history.revisions(&slug, None);
            let (range, meta) = query.select(revisions.len())?;
            if fresh {
                return Ok((bytes::Bytes::new(), meta));
            }
            let mut texts = VersionTexts::new(store.clone());
            let revisions = revisions[range]
                .iter()
                .map(|&at| revision_entry(snapshot, at, &mut texts))
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok((views::to_bytes(&RevisionList { revisions, meta }), meta))
        },
    )
    .await?;
    let mut response = caching::json_read(&request, &viewer, &etag, || body);
    add_link_header(&mut response, &request, &meta);
    Ok(response)
}

/// The post as it was at one revision: the same shape as `GET /api/v1/posts/{slug}`, its
/// `revision` the commit that last changed it at or before `rev`.
///
/// `rev` is a commit id (or an unambiguous prefix of at least 4 hexadecimal digits)
/// reachable from the branch; a commit where the post did not exist is a 404.
#[utoipa::path(
    tag = "history",
    params(
        ("slug" = String, Path, description = "The post's slug"),
        ("rev" = String, Path, description = "A commit id or unambiguous prefix (4 to 40 hexadecimal digits)", pattern = "^[0-9a-fA-F]{4,40}$"),
    ),
    responses(
        (status = 200, description = "The post as of that revision; `ETag` is the file's blob id then, a dash and a hash of the body", body = PostView),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug or revision, or a version that does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post or revision, or the post did not exist then", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/posts/{slug}/revisions/{rev}")]
pub async fn get_revision(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, rev) = path.into_inner();
    post_as_of(&request, &state, &viewer, Slug::parse(&slug)?, rev).await
}

/// The post `slug` as of the revision `rev`, followed across renames: the answer of both
/// `/posts/{slug}/revisions/{rev}` and `/posts/{slug}?rev=`.
///
/// # Errors
/// 400 for a `rev` that is not a commit id, 404 when the post is not visible to the viewer,
/// the commit is not on the branch or the post did not exist then.
pub async fn post_as_of(
    request: &HttpRequest,
    state: &AppState,
    viewer: &Viewer,
    slug: Slug,
    rev: String,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.site.snapshot();
    let addresses = state.site.addresses().clone();
    let audience = viewer.audience();
    let tip = snapshot.tip;
    let (blob, key, body) = read_history_of(state, viewer, snapshot.clone(), slug, {
        let past_posts = state.past_posts.clone();
        move |snapshot, store, slug| {
            let history = &snapshot.history;
            let reader = store.history_reader()?;
            let (commit, position) = snapshot.resolve_revision(&reader, store, &rev)?;
            let past = position.and_then(|p| history.post_history(&slug, Some(p)));
            let blob = match (&past, position) {
                (Some(past), _) => Some(past.blob),
                (None, Some(_)) => None,
                (None, None) => reader.post_blob_at(commit, &slug)?,
            };
            let blob = blob.ok_or_else(|| {
                ApiError::not_found(format!("the post `{slug}` did not exist at {commit}"))
            })?;
            let key = BodyKey::Version {
                slug: slug.clone(),
                commit,
                tip,
                audience,
            };
            if let Some(body) = past_posts.cached(&key) {
                return Ok((blob, key, PastBody::Cached(body)));
            }
            let text = String::from_utf8_lossy(&reader.blob(blob)?).into_owned();
            Ok((
                blob,
                key,
                PastBody::ToRender {
                    slug,
                    text,
                    past: past.map(Box::new),
                },
            ))
        }
    })
    .await?;
    let body = match body {
        PastBody::Cached(body) => body,
        PastBody::ToRender { slug, text, past } => {
            let post = state
                .past_posts
                .get(blob, slug, text, addresses)
                .await
                .map_err(|error| match error {
                    PastPostError::Invalid(invalid) => ApiError::from(invalid),
                    busy @ PastPostError::Busy => ApiError::Unavailable(busy.to_string()),
                })?;
            let links_to: Vec<Slug> = post
                .links_to
                .iter()
                .filter(|target| snapshot.visible(target, audience).is_some())
                .cloned()
                .collect();
            let body =
                views::to_bytes(&PostView::of(&post, &links_to).with_history(past.as_deref()));
            state.past_posts.remember(key, body.clone());
            body
        }
    };
    let etag = caching::post_etag(blob, &body);
    Ok(caching::json_read(request, viewer, &etag, || body))
}

/// What changed in a post between two revisions: the whole file's unified diff (the lines
/// `git diff` adds and removes), front matter keys, each section, and open questions.
///
/// `to` defaults to the post's latest revision and `from` to the revision before `to`; a
/// side where the post did not exist diffs as an empty file.
#[utoipa::path(
    tag = "history",
    params(("slug" = String, Path, description = "The post's slug"), DiffQuery),
    responses(
        (status = 200, description = "The diff", body = PostDiff),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug or revision (unknown parameters are ignored)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post or revision (drafts are 404 to anonymous clients)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/posts/{slug}/diff")]
pub async fn get_diff(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    slug: web::Path<String>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let query = query.into_inner();
    let snapshot = state.site.snapshot();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let (ends, slug, old, new) = read_history_of(
        &state,
        &viewer,
        snapshot,
        slug,
        move |snapshot, store, slug| {
            let reader = store.history_reader()?;
            let (from, to) = (query.from.as_deref(), query.to.as_deref());
            let ends = snapshot
                .diff_ends(&reader, store, &slug, from, to)?
                .ok_or_else(|| no_post(&slug))?;
            let new = snapshot.past_file(&reader, &slug, ends.to)?;
            let old = match ends.from {
                Some(from) => snapshot.past_file(&reader, &slug, from)?,
                None => None,
            };
            Ok((ends, slug, old, new))
        },
    )
    .await?;
    let (from, to) = (ends.from.map(|(commit, _)| commit), ends.to.0);
    let body = state
        .past_posts
        .diff(
            BodyKey::Diff(slug, from, to),
            move || -> Result<_, ApiError> {
                let diff = diff_versions(
                    old.as_ref().map(PastFile::version),
                    new.as_ref().map(PastFile::version),
                );
                Ok(views::to_bytes(&PostDiff {
                    from: from.map(|commit| commit.to_string()),
                    to: to.to_string(),
                    unified: diff.unified,
                    front_matter: diff.front_matter,
                    sections: diff.sections,
                    open_questions: diff.open_questions,
                }))
            },
        )
        .await
        .map_err(|busy| ApiError::Unavailable(busy.to_string()))??;
    Ok(caching::json_read(&request, &viewer, &etag, || body))
}

/// The site-wide log: the branch's first-parent commits, newest first, each with the posts
/// it touched.
///
/// Anonymous clients never see a draft named, nor a commit whose post changes were all to
/// drafts; commits that touched no post are listed.
#[utoipa::path(
    tag = "history",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of commits, with a `Link` header to the others", body = HistoryLog),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid page", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/history")]
pub async fn site_history(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    query.select(0)?;
    let snapshot = state.site.snapshot();
    let store = state.site.store().clone();
    let audience = viewer.audience();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let (body, meta) = web::block(move || -> Result<_, ApiError> {
        let log = snapshot.log(audience, &store)?;
        let history = &snapshot.history;
        let (range, meta) = query.select(log.commits.len())?;
        let commits = log.commits[range]
            .iter()
            .map(|&position| {
                let commit = history.commit(position);
                let posts = log.touched_posts(history, position);
                let facts = &commit.facts;
                LogEntry {
                    summary: CommitSummary::of(facts),
                    posts,
                }
            })
            .collect();
        Ok((views::to_bytes(&HistoryLog { commits, meta }), meta))
    })
    .await??;
    let mut response = caching::json_read(&request, &viewer, &etag, || body);
    add_link_header(&mut response, &request, &meta);
    Ok(response)
}

/// The body of a post as of a revision: already serialised, or its file's text to parse
/// and render with its history then.
enum PastBody {
    Cached(bytes::Bytes),
    ToRender {
        slug: Slug,
        text: String,
        past: Option<Box<PostHistory>>,
    },
}

/// One entry of a revision list: the commit and what it changed in the post's file.
pub(super) fn revision_entry(
    snapshot: &Snapshot,
    at: ChangeRef,
    texts: &mut VersionTexts,
) -> Result<RevisionEntry, ApiError> {
    let stats = snapshot.revision_stats(at, texts)?;
    let history = &snapshot.history;
    let (commit, change) = history.change(at);
    Ok(RevisionEntry {
        summary: CommitSummary::of(&commit.facts),
        change: change.kind,
        path: history.slug(change.path).path(),
        previous_path: change.previous.map(|p| history.slug(p).path()),
        additions: stats.additions,
        deletions: stats.deletions,
        sections_changed: stats.sections_changed,
    })
}

fn add_link_header(response: &mut HttpResponse, request: &HttpRequest, meta: &PageMeta) {
    if let Some(link) = super::listing::link_header(request.path(), request.query_string(), meta)
        && let Ok(value) = header::HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
}

/// Runs `read` off the async workers on `snapshot`, once the viewer may see the history of
/// `slug`: a draft's past is 404 to anonymous readers, as the draft is.
///
/// # Errors
/// 404 for a post the viewer may not see, and whatever `read` fails with.
pub(super) async fn read_history_of<T: Send + 'static>(
    state: &AppState,
    viewer: &Viewer,
    snapshot: Arc<Snapshot>,
    slug: Slug,
    read: impl FnOnce(&Snapshot, &Store, Slug) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.site.store().clone();
    let audience = viewer.audience();
    web::block(move || {
        if !snapshot.history_visible(&slug, audience, &store)? {
            return Err(no_post(&slug));
        }
        read(&snapshot, &store, slug)
    })
    .await?
}

fn no_post(slug: &Slug) -> ApiError {
    ApiError::not_found(format!("no post `{slug}`"))
}
