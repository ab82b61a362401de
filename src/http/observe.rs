//! Every request observed: an id (the client's `X-Request-Id` or a new one, echoed back), a
//! tracing span around its handling, one structured log line when it is answered, and its
//! count and latency in [`Metrics`](crate::metrics::Metrics) under its route pattern. Being
//! the outermost layer, it also applies [`Narrowing`](super::cors::Narrowing) to what
//! actix-cors answered, rather than a layer of its own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use pin_project_lite::pin_project;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::metrics::{Metrics, WorkerCounts};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Requests no route matched are counted under this pattern, never under their raw path.
const UNMATCHED_ROUTE: &str = "unmatched";

/// How many paths a worker remembers the route pattern of; past that it forgets them all
/// and starts again, so that a client walking endless paths cannot grow it.
const ROUTES_KEPT: usize = 4096;

/// Paths longer than this are matched again on every request rather than remembered.
const LONGEST_KEPT_PATH: usize = 256;

/// Each worker's memory of which route pattern a path matched. actix-web finds the pattern
/// of an answered request by matching its path against every route again, regular
/// expressions included, and returns it as a new `String`; a path matches the same
/// pattern for the server's whole life (routes are fixed at start), so a worker asks once
/// per path and then shares the label.
struct RouteLabels {
    by_path: RefCell<HashMap<Box<str>, Rc<str>, foldhash::fast::RandomState>>,
    unmatched: Rc<str>,
}

impl RouteLabels {
    fn new() -> RouteLabels {
        RouteLabels {
            by_path: RefCell::default(),
            unmatched: Rc::from(UNMATCHED_ROUTE),
        }
    }

    /// The pattern `request`'s path matched, or [`UNMATCHED_ROUTE`].
    fn of(&self, request: &actix_web::HttpRequest) -> Rc<str> {
        let path = request.path();
        if let Some(label) = self.by_path.borrow().get(path) {
            return label.clone();
        }
        let label = match request.match_pattern() {
            Some(pattern) => Rc::from(pattern),
            None => self.unmatched.clone(),
        };
        if path.len() <= LONGEST_KEPT_PATH {
            let mut by_path = self.by_path.borrow_mut();
            if by_path.len() >= ROUTES_KEPT {
                by_path.clear();
            }
            by_path.insert(Box::from(path), label.clone());
        }
        label
    }
}

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
        let random = ID_BYTES.with_borrow_mut(|ids| ids.random::<[u8; 12]>());
        hex::encode_to_slice(random, &mut id).expect("24 hex digits hold 12 bytes");
        RequestId(HeaderValue::from_bytes(&id).expect("hex digits are a header value"))
    }

    pub fn as_str(&self) -> &str {
        // Only reasonable ids and hex digits are kept, all visible ASCII.
        self.0.to_str().unwrap_or_default()
    }
}

thread_local! {
    /// Where each worker draws fresh ids from: a fast generator seeded from the system's
    /// randomness. An id has to be unique, not secret, and every request draws one.
    static ID_BYTES: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
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

/// The middleware: wraps the whole application, outermost. It holds the application's
/// [`Metrics`] rather than looking them up in each request's data.
#[derive(Clone)]
pub struct Observe {
    metrics: Arc<Metrics>,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>) -> Observe {
        Observe { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Observe
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ObserveService<S>;
    type InitError = ();
    type Future = Ready<Result<ObserveService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ObserveService {
            service,
            counts: Rc::new(WorkerCounts::new(self.metrics.clone())),
            routes: Rc::new(RouteLabels::new()),
        }))
    }
}

/// [`Observe`] around one worker's application, counting into the worker's own handles.
pub struct ObserveService<S> {
    service: S,
    counts: Rc<WorkerCounts>,
    routes: Rc<RouteLabels>,
}

impl<S, B> Service<ServiceRequest> for ObserveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    /// Passes on the inner service's errors after logging and counting them.
    type Future = Observed<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::of(&request);
        // A span costs every request its formatted fields, and the default (`info`) line
        // names the request itself: the span is for `debug`, where handlers' own events
        // need it.
        let span = tracing::debug_span!("request", request_id = %id.as_str(),
            method = %request.method(), path = %request.path());
        let observation = Observation {
            started,
            id,
            method: request.method().clone(),
            uri: request.uri().clone(),
            narrowing: super::cors::Narrowing::of(&request),
            counts: self.counts.clone(),
            routes: self.routes.clone(),
        };
        let answer = span.in_scope(|| self.service.call(request));
        Observed {
            answer,
            span,
            observation: Some(observation),
        }
    }
}

pin_project! {
    /// A request being answered, observed when the answer is ready.
    pub struct Observed<F> {
        #[pin]
        answer: F,
        span: tracing::Span,
        observation: Option<Observation>,
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = {
            let _entered = this.span.enter();
            ready!(this.answer.poll(cx))
        };
        let observation = this
            .observation
            .take()
            .expect("an answered request is not polled again");
        Poll::Ready(observation.answered(outcome))
    }
}

/// What is known of a request before it is answered.
struct Observation {
    started: Instant,
    id: RequestId,
    method: Method,
    /// The request's URI for its path: a shared reference to the received bytes, not a copy.
    uri: Uri,
    narrowing: Option<super::cors::Narrowing>,
    counts: Rc<WorkerCounts>,
    routes: Rc<RouteLabels>,
}

impl Observation {
    /// Logs and counts the answer, and gives it the request's id.
    fn answered<B>(
        self,
        mut outcome: Result<ServiceResponse<B>, Error>,
    ) -> Result<ServiceResponse<B>, Error> {
        if let (Some(narrowing), Ok(response)) = (&self.narrowing, &mut outcome) {
            narrowing.apply(response);
        }
        let took = self.started.elapsed();
        let (status, label) = match &outcome {
            Ok(response) => (
                response.status().as_u16(),
                self.routes.of(response.request()),
            ),
            Err(error) => (
                error.as_response_error().status_code().as_u16(),
                self.routes.unmatched.clone(),
            ),
        };
        // Plain strings and integers: each is written as it is, with no formatting pass.
        let latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let (request_id, method, path) = (self.id.as_str(), self.method.as_str(), self.uri.path());
        let route = &*label;
        if is_probe(route) {
            tracing::debug!(
                request_id, method, path, route, status, latency_us, "answered"
            );
        } else {
            tracing::info!(
                request_id, method, path, route, status, latency_us, "answered"
            );
        }
        self.counts
            .request_answered(label.clone(), method, status, took);

        let mut response = outcome?;
        response.headers_mut().insert(REQUEST_ID_HEADER, self.id.0);
        Ok(response)
    }
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
