//! Conditional requests: ETags, `If-None-Match` → 304, and the caching headers of reads.

use std::hash::{DefaultHasher, Hash, Hasher};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use super::Viewer;
use crate::site::Snapshot;

/// Whether the client's `If-None-Match` already names `etag` (or `*`).
pub fn is_fresh(request: &HttpRequest, etag: &str) -> bool {
    request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// A JSON read response with its ETag, or a bodiless 304 when the client has it already.
///
/// Anonymous responses may sit in shared caches but must be revalidated (a post can change
/// at any push); an author's responses can include drafts, so they stay private.
pub fn json_read(
    request: &HttpRequest,
    viewer: &Viewer,
    etag: &str,
    body: impl FnOnce() -> bytes::Bytes,
) -> HttpResponse {
    let fresh = is_fresh(request, etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    let cache_control = if viewer.is_author() {
        "private, no-cache"
    } else {
        "public, max-age=0, must-revalidate"
    };
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.insert_header((header::ETAG, value));
    }
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Authorization"));
    if fresh {
        response.finish()
    } else {
        response.content_type("application/json").body(body())
    }
}

/// The strong ETag of one post's representation: the file's blob id, which `If-Match`
/// compares (see `write_requests::if_match`), then a hash of the body, because the body
/// also shows what can change while the file does not (its last revision, the links that
/// resolve, which differ between anonymous readers and authors).
pub fn post_etag(blob: impl std::fmt::Display, body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{blob}-{:016x}\"", hasher.finish())
}

/// The ETag of a response computed from the whole snapshot (lists, logs, backlinks): the
/// branch tip, plus what shapes the answer (path, query and kind of viewer).
pub fn tip_etag(snapshot: &Snapshot, request: &HttpRequest, viewer: &Viewer) -> String {
    let mut hasher = DefaultHasher::new();
    request.path().hash(&mut hasher);
    request.query_string().hash(&mut hasher);
    viewer.is_author().hash(&mut hasher);
    let tip = snapshot.tip.map(|t| t.to_string()).unwrap_or_default();
    format!("\"{tip}-{:016x}\"", hasher.finish())
}

/// The ETag of an Atom feed, named by `kind`: the branch tip, plus what else shapes the
/// document (`keys`: its base URL, since its links are absolute, and its path when one
/// handler serves several feeds).
pub fn feed_etag(kind: &str, snapshot: &Snapshot, keys: &[&str]) -> String {
    let mut hasher = DefaultHasher::new();
    for key in keys {
        key.hash(&mut hasher);
    }
    let tip = snapshot.tip.map(|t| t.to_string()).unwrap_or_default();
    format!("\"{kind}-{tip}-{:016x}\"", hasher.finish())
}
