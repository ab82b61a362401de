//! Blame by section over HTTP: which revision last changed each line of a post.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse, get, web};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::IntoParams;

use super::history::read_history_of;
use super::{AppState, Viewer, caching, views};
use crate::error::{ApiError, Problem};
use crate::history::{Blame, blame};
use crate::post::Slug;
use crate::store::Oid;

/// Blames already answered, by post and revision: a post's blame at one revision never
/// changes, and working it out reads every version of the post, so a reader coming back
/// to a post (or a page asking again) is answered without reading git.
#[derive(Debug, Default)]
pub struct BlameCache {
    bodies: Mutex<HashMap<(Slug, Oid), Bytes>>,
}

impl BlameCache {
    /// How many blames are kept; past that the cache starts afresh (a blame is a few
    /// kilobytes per hundred lines).
    const CAPACITY: usize = 512;

    fn get(&self, key: &(Slug, Oid)) -> Option<Bytes> {
        self.bodies.lock().ok()?.get(key).cloned()
    }

    fn insert(&self, key: (Slug, Oid), body: Bytes) {
        if let Ok(mut bodies) = self.bodies.lock() {
            if bodies.len() >= Self::CAPACITY {
                bodies.clear();
            }
            bodies.insert(key, body);
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_blame);
}

/// The query of `GET /api/v1/posts/{slug}/blame`; unknown parameters are ignored.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BlameQuery {
    /// Blame the post as of this commit (an id or unambiguous prefix on the branch's
    /// first-parent history); default: the tip.
    #[param(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub rev: Option<String>,
}

/// Which revision last changed each line of a post, the part of the file each line is in,
/// and the revisions that changed each part.
///
/// The post is followed across renames, as its revisions list follows it; a merge counts
/// by its first parent. On a linear history each line's commit is the one `git blame`
/// names. Drafts are 404 to anonymous clients.
#[utoipa::path(
    tag = "history",
    params(("slug" = String, Path, description = "The post's slug"), BlameQuery),
    responses(
        (status = 200, description = "The blame", body = Blame, example = json!({
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "lines": [
                {"number": 1, "text": "---", "section": "front_matter", "commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
                {"number": 9, "text": "## Open Questions", "section": "open_questions", "commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
                {"number": 10, "text": "- Does QK-norm remove the need for warmup?", "section": "open_questions", "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8"}
            ],
            "sections": [
                {"kind": "front_matter", "title": "", "commits": ["4b825dc642cb6eb9a060e54bf8d69288fbee4904"], "last_changed": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
                {"kind": "open_questions", "title": "Open Questions", "commits": ["4b825dc642cb6eb9a060e54bf8d69288fbee4904", "9fceb02d0ae598e95dc970b74767f19372d61af8"], "last_changed": "9fceb02d0ae598e95dc970b74767f19372d61af8"}
            ],
            "revisions": {
                "4b825dc642cb6eb9a060e54bf8d69288fbee4904": {"author": {"name": "Mira Okafor", "email": "mira@example.org"}, "committed_at": "2026-10-01T08:00:00Z", "message": "Write up QK-norm"},
                "9fceb02d0ae598e95dc970b74767f19372d61af8": {"author": {"name": "Mira Okafor", "email": "mira@example.org"}, "committed_at": "2026-11-02T09:30:00Z", "message": "Ask about warmup"}
            }
        })),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug or revision (unknown parameters are ignored)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post, a revision off the first-parent history, or the post did not exist then (drafts are 404 to anonymous clients)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/posts/{slug}/blame")]
pub async fn get_blame(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    slug: web::Path<String>,
    query: web::Query<BlameQuery>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let query = query.into_inner();
    let snapshot = state.site.snapshot();
    let cache = state.blame_cache.clone();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let body = read_history_of(&state, &viewer, snapshot, slug, move |snapshot, store, slug| {
        let reader = store.history_reader()?;
        let upto = match &query.rev {
            Some(rev) => match snapshot.resolve_revision(&reader, store, rev)? {
                (_, Some(position)) => Some(position),
                (commit, None) => {
                    return Err(ApiError::not_found(format!(
                        "{commit} is not on the branch's first-parent history, which blame follows"
                    )));
                }
            },
            None => None,
        };
        let history = &snapshot.history;
        let revisions = history.revisions(&slug, upto);
        let did_not_exist = || ApiError::not_found(format!("the post `{slug}` did not exist then"));
        let newest = revisions.first().ok_or_else(did_not_exist)?;
        let key = (slug.clone(), history.commit(newest.position).facts.id);
        if let Some(body) = cache.get(&key) {
            return Ok(body);
        }
        let blame =
            blame(history, &revisions, |blob| reader.blob(blob))?.ok_or_else(did_not_exist)?;
        let body = views::to_bytes(&blame);
        cache.insert(key, body.clone());
        Ok(body)
    })
    .await?;
    Ok(caching::json_read(&request, &viewer, &etag, || body))
}
