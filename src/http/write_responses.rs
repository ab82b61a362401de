//! What writes answer: the post as written (as `GET` shows it, plus `commit` and
//! `merged`) with its new `ETag`, or a problem; a stale edit's carries the post as it is now.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::views::{self, PostView};
use crate::error::ApiError;
use crate::post::{Post, Slug};
use crate::site::{Audience, PostRecord, Snapshot};
use crate::writing::{Subject, WriteError, Written};

/// A post as `GET /api/v1/posts/{slug}` returns it, plus what the write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WrittenPost<'a> {
    #[serde(flatten)]
    pub post: PostView<'a>,
    /// The commit this write made. A write that changes nothing (the same content, an
    /// empty patch, a restore to the current version) makes no commit: it answers 200 with
    /// the post as it is, and `commit` is the branch tip it was compared with.
    #[schema(example = "9b3c1f0e2d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c")]
    pub commit: String,
    /// Whether the edit was based on an older version and merged with the changes since.
    pub merged: bool,
}

pub fn respond(state: &AppState, written: &Written, status: StatusCode) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    let (Some((blob, text)), Subject::Post(slug)) = (&written.file, &written.subject) else {
        return response.finish();
    };
    let commit = written.commit.to_string();
    let snapshot = state.site.snapshot();
    // The ETag an author's GET gives when the site shows this version, else the bare blob
    // id (still a valid If-Match).
    let mut etag = format!("\"{blob}\"");
    let body = match snapshot.get(slug).filter(|r| r.blob() == *blob) {
        // Usually the site already shows this very version: reuse its serialised post.
        Some(record) => {
            let (post, cached_etag) = author_body(&snapshot, record);
            etag = cached_etag;
            with_write_fields(&post, &commit, written.merged)
        }
        // A later write (or a push) already replaced it; render the version written.
        None => match Post::parse_with(slug.clone(), text, state.site.addresses()) {
            Ok(post) => {
                let links_to: Vec<Slug> = post
                    .links_to
                    .iter()
                    .filter(|target| snapshot.get(target).is_some())
                    .cloned()
                    .collect();
                views::to_bytes(&WrittenPost {
                    post: PostView::of(&post, &links_to),
                    commit,
                    merged: written.merged,
                })
            }
            Err(_) => {
                views::to_bytes(&serde_json::json!({"commit": commit, "merged": written.merged}))
            }
        },
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::LOCATION, format!("/api/v1/posts/{slug}")))
        .content_type("application/json")
        .body(body)
}

/// Splices `commit` and `merged` into a serialised post object.
fn with_write_fields(post: &[u8], commit: &str, merged: bool) -> bytes::Bytes {
    let open = post.strip_suffix(b"}").unwrap_or(post);
    let mut body = Vec::with_capacity(post.len() + 80);
    body.extend_from_slice(open);
    body.extend_from_slice(format!(",\"commit\":\"{commit}\",\"merged\":{merged}}}").as_bytes());
    body.into()
}

/// The HTTP answer to a refused edit; a stale one carries the post as it is now.
pub async fn refusal(state: &AppState, refused: WriteError) -> ApiError {
    match refused {
        WriteError::NotFound(slug) => ApiError::not_found(format!("no post `{slug}`")),
        WriteError::Exists(slug) => ApiError::Conflict(format!("a post `{slug}` already exists")),
        WriteError::Invalid(rejection) => rejection.into(),
        WriteError::AssetNotFound(path) => ApiError::not_found(format!("no asset `{path}`")),
        WriteError::AssetStale(path) => ApiError::PreconditionFailed {
            detail: WriteError::AssetStale(path).to_string(),
            current: None,
        },
        WriteError::Stale(slug) => {
            let site = state.site.clone();
            let snapshot = web::block(move || site.refresh())
                .await
                .ok()
                .and_then(Result::ok);
            let current = snapshot.as_ref().and_then(|snapshot| {
                let record = snapshot.get(&slug)?;
                let (body, _) = author_body(snapshot, record);
                serde_json::from_slice(&body).ok()
            });
            ApiError::PreconditionFailed {
                detail: WriteError::Stale(slug).to_string(),
                current: Some(current.unwrap_or(Value::Null)),
            }
        }
        WriteError::Unavailable(reason) => ApiError::Unavailable(reason),
        WriteError::NotCommitted { failure, detail } => ApiError::not_committed(failure, detail),
    }
}

/// The post as an author's `GET` shows it in `snapshot`, with its ETag. The assets are
/// checked only if this snapshot has listed them already: a write's answer reads no tree.
fn author_body(snapshot: &Snapshot, record: &PostRecord) -> (bytes::Bytes, String) {
    let assets = snapshot.listed_assets().map(|assets| &**assets);
    views::post_body(snapshot, record, Audience::Authors, assets).into_owned()
}
