//! The most frequent request of all, a plain `GET /api/v1/posts/{slug}`, answered before
//! actix-web's router. Routing it costs more than answering it: the path is matched
//! against the API scope's patterns (`{slug}` is a regular expression), the match is
//! recorded segment by segment, and the handler's future and its extractors are boxed
//! and run. Here a path that is exactly the API's prefix, `/posts/` and a valid slug (so
//! nothing in it is percent-encoded), with no query, is answered from the current
//! snapshot by the same function as the route's handler ([`posts::post_in`]).
//!
//! Everything else goes to the router unchanged: a query (`rev`, `as_of`), a request the
//! handler would refuse (a bad token), a post whose assets must first be listed. It runs
//! innermost, inside every other layer, so the request is observed, counted, throttled
//! and given its CORS headers as any other.

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use futures_util::future::Either;

use super::{API_PREFIX, AppState, auth, posts};
use crate::post::Slug;

/// The middleware: wrap the application in it first, so that it is the innermost layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct WarmPostReads;

impl<S> Transform<S, ServiceRequest> for WarmPostReads
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error>,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = WarmPostReadsService<S>;
    type InitError = ();
    type Future = Ready<Result<WarmPostReadsService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(WarmPostReadsService { service }))
    }
}

/// [`WarmPostReads`] around one worker's router.
pub struct WarmPostReadsService<S> {
    service: S,
}

type Answered = Ready<Result<ServiceResponse<BoxBody>, Error>>;

impl<S> Service<ServiceRequest> for WarmPostReadsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error>,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    /// The router's errors are passed on unchanged.
    type Future = Either<S::Future, Answered>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        match answer(&request) {
            Some(response) => Either::Right(ready(Ok(request.into_response(response)))),
            None => Either::Left(self.service.call(request)),
        }
    }
}

/// The answer the route `GET /api/v1/posts/{slug}` would give, when the request is a plain
/// read of a post that the current snapshot can answer; `None` sends it to the router.
fn answer(request: &ServiceRequest) -> Option<HttpResponse> {
    if request.method() != Method::GET || !request.query_string().is_empty() {
        return None;
    }
    let slug = request
        .path()
        .strip_prefix(API_PREFIX)?
        .strip_prefix("/posts/")?;
    let slug = Slug::parse(slug).ok()?;
    let state = request.app_data::<web::Data<AppState>>()?;
    let viewer = auth::viewer_of(request.request()).ok()?;
    let snapshot = state.site.snapshot();
    let answer = posts::post_in(request.request(), &snapshot, &viewer, &slug)?;
    // As actix-web answers a handler's error: the response carries the error.
    Some(answer.unwrap_or_else(HttpResponse::from_error))
}
