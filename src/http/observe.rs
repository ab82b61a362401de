//! Every request observed: an id (the client's `X-Request-Id` or a new one, echoed back), a
//! tracing span around its handling, one structured log line when it is answered, and its
//! count and latency in [`Metrics`](crate::metrics::Metrics) under its route pattern. Being
//! the outermost layer, it also applies [`Narrowing`](super::cors::Narrowing) to what
//! actix-cors answered, rather than a layer of its own.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use super::AppState;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Requests no route matched are counted under this pattern, never under their raw path.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The id of the request being handled. Handlers' own events carry it through the `debug`
/// span around them.
/// Kept as the header value it is echoed back as: the client's is shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when it is a reasonable token (so it can be correlated with the
    /// client's own logs), else a fresh random one.
    fn of(request: &ServiceRequest) -> RequestId {
        let incoming = request
            .headers()
            .get(&REQUEST_ID_HEADER)
            .filter(|id| id.to_str().is_ok_and(is_reasonable_id));
        if let Some(id) = incoming {
            return RequestId(id.clone());
        }
        let mut id = [0u8; 24];
        hex::encode_to_slice(rand::random::<[u8; 12]>(), &mut id)
            .expect("24 hex digits hold 12 bytes");
        RequestId(HeaderValue::from_bytes(&id).expect("hex digits are a header value"))
    }

    pub fn as_str(&self) -> &str {
        // Only reasonable ids and hex digits are kept, all visible ASCII.
        self.0.to_str().unwrap_or_default()
    }
}

/// At most 128 characters of letters, digits and `-_.:`: enough for UUIDs and trace ids,
/// and nothing that could forge a log line or a header.
fn is_reasonable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Probes are polled every few seconds by orchestrators; logging each at `info` would bury
/// the requests that matter.
fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// The middleware (`from_fn`): wraps the whole application, outermost.
///
/// # Errors
/// Passes on the inner service's errors after logging and counting them.
pub async fn observe_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = RequestId::of(&request);
    let method = request.method().clone();
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    // A span costs every request its formatted fields, and the default (`info`) line below
    // names the request itself: the span is for `debug`, where handlers' own events need it.
    let span =
        tracing::debug_span!("request", request_id = %id.as_str(), %method, path = %request.path());
    let path = request.path().to_owned();
    let narrowing = super::cors::Narrowing::of(&request);

    let mut outcome = next.call(request).instrument(span.clone()).await;
    if let (Some(narrowing), Ok(response)) = (&narrowing, &mut outcome) {
        narrowing.apply(response);
    }

    let took = started.elapsed();
    let (status, route) = match &outcome {
        Ok(response) => (
            response.status().as_u16(),
            response.request().match_pattern(),
        ),
        Err(error) => (error.as_response_error().status_code().as_u16(), None),
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_string());
    // Plain strings and integers: each is written as it is, with no formatting pass.
    let latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let (request_id, method, path) = (id.as_str(), method.as_str(), path.as_str());
    if is_probe(&route) {
        tracing::debug!(
            request_id, method, path, route, status, latency_us, "answered"
        );
    } else {
        tracing::info!(
            request_id, method, path, route, status, latency_us, "answered"
        );
    }
    if let Some(metrics) = metrics {
        metrics.request_answered(route, method, status, took);
    }

    let mut response = outcome?;
    response.headers_mut().insert(REQUEST_ID_HEADER, id.0);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_trace_ids_are_kept_as_request_ids() {
        assert!(is_reasonable_id("0b6f3c52-95a1-4c1e-9d7e-3f1f5f0a2b7c"));
        assert!(is_reasonable_id("trace:1234.abcd_ef"));
    }

    #[test]
    fn ids_that_could_forge_log_lines_are_replaced() {
        assert!(!is_reasonable_id(""));
        assert!(!is_reasonable_id("a b"));
        assert!(!is_reasonable_id("line\nbreak"));
        assert!(!is_reasonable_id("quote\""));
        assert!(!is_reasonable_id(&"x".repeat(129)));
    }
}
