//! `HEAD` is answered as `GET` without the body (RFC 9110 §9.3.2), for every readable
//! route: `curl -I` shows a post's `ETag` and caches can revalidate cheaply. Actix routes
//! `#[get]` handlers for `GET` only, so the request runs as a `GET`; the HTTP codec
//! remembers it was a `HEAD` and sends the headers (with the `GET`'s length) and no body.

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;

/// Turns a `HEAD` into the `GET` it is answered as. Called by
/// [`ProblemFallback`](super::problem_fallback::ProblemFallback) as the request enters
/// it, rather than from a layer of its own: it needs the only reference to the request,
/// which no layer outside holds.
pub fn as_get(request: &mut ServiceRequest) {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
}
