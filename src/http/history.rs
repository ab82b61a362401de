//! A post's past over HTTP: its revisions, the post as of one, what changed between two,
//! and the site-wide log. Reads come from the history index of the current snapshot; git
//! is read (off the async workers) only for the file versions a response shows.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::history_views::{
    DiffQuery, HistoryLog, LogEntry, PageQuery, RevisionEntry, RevisionList,
};
use super::views::{self, PageMeta, PostView};
use super::{AppState, Viewer, caching};
use crate::error::{ApiError, Problem};
use crate::history::{
    Author, ChangeRef, HistoryIndex, PostDiff, StatsCache, Version, change_stats, diff_versions,
    rfc3339,
};
use crate::post::Slug;
use crate::site::{BodyKey, PastPostError, Snapshot};
use crate::store::{HistoryReader, Oid, Store, StoreError};

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
    let store = state.site.store().clone();
    let audience = viewer.audience();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let fresh = caching::is_fresh(&request, &etag);
    let (body, meta) = web::block(move || -> Result<_, ApiError> {
        if !snapshot.history_visible(&slug, audience, &store)? {
            return Err(no_post(&slug));
        }
        let history = &snapshot.history;
        let revisions = history.revisions(&slug, None);
        let (range, meta) = query.select(revisions.len())?;
        if fresh {
            return Ok((bytes::Bytes::new(), meta));
        }
        let mut files = Files::new(store.clone());
        let revisions = revisions[range]
            .iter()
            .map(|&at| revision_entry(history, at, &snapshot.change_stats, &mut files))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok((views::to_bytes(&RevisionList { revisions, meta }), meta))
    })
    .await??;
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
    let store = state.site.store().clone();
    let addresses = state.site.addresses().clone();
    let audience = viewer.audience();
    let tip = snapshot.tip;
    let (blob, key, fresh) = web::block({
        let snapshot = snapshot.clone();
        let past_posts = state.past_posts.clone();
        move || -> Result<_, ApiError> {
            if !snapshot.history_visible(&slug, audience, &store)? {
                return Err(no_post(&slug));
            }
            let history = &snapshot.history;
            let reader = store.history_reader()?;
            let (commit, position) = snapshot.resolve_revision(&reader, &store, &rev)?;
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
                return Ok((blob, key, Err(body)));
            }
            Ok((blob, key, Ok((slug, text_of(&reader.blob(blob)?), past))))
        }
    })
    .await??;
    let body = match fresh {
        Err(cached) => cached,
        Ok((slug, text, past)) => {
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
            let body = views::to_bytes(&PostView::of(&post, &links_to).with_history(past.as_ref()));
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
    let store = state.site.store().clone();
    let audience = viewer.audience();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let (key, old, new) = web::block(move || -> Result<_, ApiError> {
        if !snapshot.history_visible(&slug, audience, &store)? {
            return Err(no_post(&slug));
        }
        let history = &snapshot.history;
        let reader = store.history_reader()?;
        let latest = *history
            .revisions(&slug, None)
            .first()
            .ok_or_else(|| no_post(&slug))?;
        let (to, to_position) = match &query.to {
            Some(rev) => snapshot.resolve_revision(&reader, &store, rev)?,
            None => {
                let (commit, _) = history.change(latest);
                (commit.facts.id, Some(latest.position))
            }
        };
        let from = match &query.from {
            Some(rev) => Some(snapshot.resolve_revision(&reader, &store, rev)?),
            None => to_position
                .and_then(|p| history.revisions(&slug, Some(p)).get(1).copied())
                .map(|before| {
                    (
                        history.commit(before.position).facts.id,
                        Some(before.position),
                    )
                }),
        };
        let new = version_at(&snapshot, &reader, &slug, to, to_position)?;
        let old = match from {
            Some((commit, position)) => version_at(&snapshot, &reader, &slug, commit, position)?,
            None => None,
        };
        let key = (slug, from.map(|(commit, _)| commit), to);
        Ok((key, old, new))
    })
    .await??;
    let (from, to) = (key.1, key.2);
    let key = BodyKey::Diff(key.0, from, to);
    let body = state
        .past_posts
        .diff(key, move || -> Result<_, ApiError> {
            let (unified, front_matter, sections, open_questions) =
                diff_versions(as_version(&old), as_version(&new));
            Ok(views::to_bytes(&PostDiff {
                from: from.map(|commit| commit.to_string()),
                to: to.to_string(),
                unified,
                front_matter,
                sections,
                open_questions,
            }))
        })
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
                    commit: facts.id.to_string(),
                    parents: facts.parents.iter().map(Oid::to_string).collect(),
                    author: Author::of(facts),
                    committed_at: rfc3339(facts.committed_at),
                    message: facts.message.clone(),
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

/// The post's file (path, text and blob) as of `commit`; `None` when it did not exist then.
fn version_at(
    snapshot: &Snapshot,
    reader: &HistoryReader,
    slug: &Slug,
    commit: Oid,
    position: Option<u32>,
) -> Result<Option<(String, String, Oid)>, ApiError> {
    Ok(match snapshot.version_at(reader, slug, commit, position)? {
        Some((path, blob)) => Some((path.path(), text_of(&reader.blob(blob)?), blob)),
        None => None,
    })
}

fn as_version(file: &Option<(String, String, Oid)>) -> Option<Version<'_>> {
    file.as_ref().map(|(path, text, blob)| Version {
        path,
        text,
        blob: *blob,
    })
}

/// One entry of a revision list, reading the two versions of the file it changed.
pub(super) fn revision_entry(
    history: &HistoryIndex,
    at: ChangeRef,
    cache: &StatsCache,
    files: &mut Files,
) -> Result<RevisionEntry, ApiError> {
    let (commit, change) = history.change(at);
    let (old_blob, new_blob) = (change.old_blob, change.new_blob);
    let stats = match cache.get(old_blob, new_blob) {
        Some(stats) => stats,
        None => {
            let old = old_blob.map(|b| files.text(b)).transpose()?;
            let new = new_blob.map(|b| files.text(b)).transpose()?;
            let stats = change_stats(
                old.as_deref().map(String::as_str),
                new.as_deref().map(String::as_str),
            );
            cache.insert(old_blob, new_blob, stats.clone());
            stats
        }
    };
    let facts = &commit.facts;
    Ok(RevisionEntry {
        commit: facts.id.to_string(),
        parents: facts.parents.iter().map(Oid::to_string).collect(),
        author: Author::of(facts),
        committed_at: rfc3339(facts.committed_at),
        message: facts.message.clone(),
        change: change.kind,
        path: history.slug(change.path).path(),
        previous_path: change.previous.map(|p| history.slug(p).path()),
        additions: stats.additions,
        deletions: stats.deletions,
        sections_changed: stats.sections_changed,
    })
}

/// File versions read for one response: consecutive revisions share a version (one's
/// new file is the next one's old), so each blob is read at most once. The repository is opened on the first read, so a page whose stats are all cached opens
/// none.
pub(super) struct Files {
    store: Store,
    reader: Option<HistoryReader>,
    texts: HashMap<Oid, Arc<String>>,
}

impl Files {
    pub(super) fn new(store: Store) -> Files {
        Files {
            store,
            reader: None,
            texts: HashMap::new(),
        }
    }

    pub(super) fn text(&mut self, blob: Oid) -> Result<Arc<String>, StoreError> {
        if let Some(text) = self.texts.get(&blob) {
            return Ok(text.clone());
        }
        let reader = match &mut self.reader {
            Some(reader) => reader,
            empty => empty.insert(self.store.history_reader()?),
        };
        let text = Arc::new(text_of(&reader.blob(blob)?));
        self.texts.insert(blob, text.clone());
        Ok(text)
    }
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn add_link_header(response: &mut HttpResponse, request: &HttpRequest, meta: &PageMeta) {
    if let Some(link) = super::listing::link_header(request.path(), request.query_string(), meta)
        && let Ok(value) = header::HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
}

fn no_post(slug: &Slug) -> ApiError {
    ApiError::not_found(format!("no post `{slug}`"))
}
