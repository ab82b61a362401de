//! Conditional requests: ETags, `If-None-Match` → 304, and the caching headers of reads.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, Header, HeaderValue, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::Viewer;
use crate::site::Snapshot;

/// Whether the client's `If-None-Match` already names `etag` (quoted, as sent in `ETag`) or
/// `*`. The comparison is weak (RFC 9110, 13.1.2): `W/"x"` matches `"x"`. A header that does
/// not parse is ignored, as if absent: the client gets the full answer.
pub fn is_fresh(request: &HttpRequest, etag: &str) -> bool {
    if !request.headers().contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    let ours = etag.trim_matches('"');
    match IfNoneMatch::parse(request) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.tag() == ours),
        Err(_) => false,
    }
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
    // Headers set on the response itself rather than through a builder, and static values:
    // every warm read comes here.
    let mut response = if fresh {
        HttpResponse::new(StatusCode::NOT_MODIFIED)
    } else {
        HttpResponse::with_body(StatusCode::OK, body()).map_into_boxed_body()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    let cache_control = if viewer.is_author() {
        HeaderValue::from_static("private, no-cache")
    } else {
        HeaderValue::from_static("public, max-age=0, must-revalidate")
    };
    headers.insert(header::CACHE_CONTROL, cache_control);
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    if !fresh {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// The strong ETag of one post's representation: the file's blob id, which `If-Match`
/// compares (see `write_requests::if_match`), then a hash of the body, because the body
/// also shows what can change while the file does not (its last revision, the links that
/// resolve, which differ between anonymous readers and authors).
pub fn post_etag(blob: impl std::fmt::Display, body: &[u8]) -> String {
    format!("\"{blob}-{}\"", stable_hash(&[body]))
}

/// The ETag of a response computed from the whole snapshot (lists, logs, backlinks): the
/// branch tip, plus what shapes the answer (path, query and kind of viewer).
pub fn tip_etag(snapshot: &Snapshot, request: &HttpRequest, viewer: &Viewer) -> String {
    let viewer: &[u8] = if viewer.is_author() {
        b"author"
    } else {
        b"anonymous"
    };
    let hash = stable_hash(&[
        request.path().as_bytes(),
        request.query_string().as_bytes(),
        viewer,
    ]);
    let tip = snapshot.tip.map(|t| t.to_string()).unwrap_or_default();
    format!("\"{tip}-{hash}\"")
}

/// Sixteen hex digits (64 bits) of SHA-256 over `parts`, for the representation half of an
/// ETag. SHA-256 rather than `std`'s hasher, whose algorithm may change with any Rust
/// release and would silently invalidate every cached response after an upgrade; 64 bits
/// because a tag only has to tell apart the representations of one resource. Each part is
/// prefixed with its length, so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn stable_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// The ETag of an Atom feed, named by `kind`: the branch tip, plus what else shapes the
/// document (`keys`: its base URL, since its links are absolute, and its path when one
/// handler serves several feeds).
pub fn feed_etag(kind: &str, snapshot: &Snapshot, keys: &[&str]) -> String {
    let parts: Vec<&[u8]> = keys.iter().map(|key| key.as_bytes()).collect();
    let tip = snapshot.tip.map(|t| t.to_string()).unwrap_or_default();
    format!("\"{kind}-{tip}-{}\"", stable_hash(&parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(if_none_match: &str, etag: &str) -> bool {
        let request = actix_web::test::TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, if_none_match))
            .to_http_request();
        is_fresh(&request, etag)
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_any() {
        assert!(fresh(r#""abc""#, r#""abc""#));
        assert!(fresh(r#"W/"abc""#, r#""abc""#));
        assert!(fresh(r#""x", "abc""#, r#""abc""#));
        assert!(fresh("*", r#""abc""#));
        assert!(!fresh(r#""abcd""#, r#""abc""#));
        assert!(!fresh("abc", r#""abc""#));
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert!(!is_fresh(&none, r#""abc""#));
    }

    #[test]
    fn the_stable_hash_is_fixed_and_separates_its_parts() {
        // The first eight bytes of SHA-256 of nothing, as `sha256sum </dev/null` prints.
        assert_eq!(stable_hash(&[]), "e3b0c44298fc1c14");
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[b"x"]).len(), 16);
    }
}
