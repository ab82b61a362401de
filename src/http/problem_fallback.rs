//! The safety net under [`ApiError`](crate::error::ApiError): any error response that is not
//! already problem+json (the framework's own answers, an extractor configured without an
//! error handler) is rewritten as one, so clients and the OpenAPI document can rely on a
//! single error shape.
//!
//! A `Transform` of its own rather than `from_fn`: every request crosses it, and the
//! rewriting needs nothing but the response, so the inner service's future is passed on
//! as it is (no box, no shared handle to the inner service) and mapped when it is ready.

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use futures_util::TryFutureExt;
use futures_util::future::MapOk;

use crate::error::framework_problem;

/// Headers of the original answer a client still needs once the body is replaced.
const KEPT_HEADERS: [header::HeaderName; 3] =
    [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER];

/// The middleware: wrap the application in it. A `HEAD` is turned into its `GET` here as
/// the request enters (see [`head::as_get`](super::head::as_get)).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemFallback;

impl<S, B> Transform<S, ServiceRequest> for ProblemFallback
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ProblemFallbackService<S>;
    type InitError = ();
    type Future = Ready<Result<ProblemFallbackService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProblemFallbackService { service }))
    }
}

/// [`ProblemFallback`] around one worker's application.
pub struct ProblemFallbackService<S> {
    service: S,
}

type Rewrite<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for ProblemFallbackService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    /// The inner service's errors are passed on unchanged.
    type Future = MapOk<S::Future, Rewrite<B>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        super::head::as_get(&mut request);
        self.service.call(request).map_ok(as_problem as Rewrite<B>)
    }
}

/// The response as it is, or as problem+json when it is an error of another shape.
fn as_problem<B>(response: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&response) {
        return response.map_into_left_body();
    }
    let detail = response
        .response()
        .error()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut problem = framework_problem(status, &detail);
    for name in KEPT_HEADERS {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    response.into_response(problem).map_into_right_body()
}

fn is_problem<B>(response: &ServiceResponse<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"))
}
