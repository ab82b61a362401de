//! `HEAD` is answered as `GET` without the body (RFC 9110 §9.3.2), for every readable
//! route: `curl -I` shows a post's `ETag` and caches can revalidate cheaply. Actix routes
//! `#[get]` handlers for `GET` only, so the request runs as a `GET`; the HTTP codec
//! remembers it was a `HEAD` and sends the headers (with the `GET`'s length) and no body.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// The middleware (`from_fn`). It must wrap the application directly inside
/// [`observe_request`](super::observe::observe_request), before anything holds a second
/// reference to the request, since rewriting the method needs the only one.
///
/// # Errors
/// Passes on the inner service's errors unchanged.
pub async fn head_as_get(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}
