//! The safety net under [`ApiError`](crate::error::ApiError): any error response that is not
//! already problem+json (the framework's own answers, an extractor configured without an
//! error handler) is rewritten as one, so clients and the OpenAPI document can rely on a
//! single error shape.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

use crate::error::framework_problem;

/// Headers of the original answer a client still needs once the body is replaced.
const KEPT_HEADERS: [header::HeaderName; 3] =
    [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER];

/// The middleware (`from_fn`). A `HEAD` is turned into its `GET` here as the request enters
/// (see [`head::as_get`](super::head::as_get)).
///
/// # Errors
/// Passes on the inner service's errors unchanged.
pub async fn problem_fallback(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    super::head::as_get(&mut request);
    let response = next.call(request).await?;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&response) {
        return Ok(response.map_into_left_body());
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
    Ok(response.into_response(problem).map_into_right_body())
}

fn is_problem<B>(response: &ServiceResponse<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"))
}
