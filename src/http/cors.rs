//! Browsers on other origins (CORS): any page may read the blog, only the origins named by
//! `--cors-origins` may write to it.
//!
//! actix-cors answers preflights and adds the headers; it has one origin policy for every
//! method, so [`Narrowing`] narrows what it says to a page on an origin that may only
//! read: no `Access-Control-Allow-Origin` on a write or its preflight, and only the read
//! methods in a preflight (so a browser's preflight cache cannot stretch a read's answer
//! to a write).
//!
//! Most requests are not a browser's cross-origin ones: they carry no `Origin`. For those
//! actix-cors only adds to `Vary`, yet costs every request a boxed future and a new header
//! value; [`BrowserCors`] sends them past it and adds the same `Vary` itself.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapErr, MapOk};

/// The request headers a page may send.
const ALLOWED_HEADERS: [&str; 6] = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-Commit-Message",
    "X-Request-Id",
];

/// The response headers a page may read besides the CORS-safelisted ones. Set here rather
/// than by actix-cors, which lists them in a different order in each worker.
const EXPOSED_HEADERS: &str = "ETag, Link, Location, X-Request-Id";

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 600;

/// The origins allowed to write, as configured (`https://editor.example.org`).
#[derive(Debug, Clone, Default)]
pub struct WriteOrigins(Arc<Vec<String>>);

impl WriteOrigins {
    pub fn new(origins: &[String]) -> WriteOrigins {
        let origins = origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_string())
            .filter(|origin| !origin.is_empty())
            .collect();
        WriteOrigins(Arc::new(origins))
    }

    fn admits(&self, origin: &HeaderValue) -> bool {
        origin
            .to_str()
            .is_ok_and(|origin| self.0.iter().any(|allowed| allowed == origin))
    }
}

/// The CORS middleware: every origin, `*` in the answer, the methods and headers of the API.
pub fn middleware() -> BrowserCors {
    BrowserCors(policy())
}

/// actix-cors as configured for the API.
fn policy() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers(ALLOWED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

/// What actix-cors adds to `Vary` (its `add_vary_header`): the answer to a request depends
/// on these request headers whether or not this request sent them.
const VARY_CORS: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The CORS layer: actix-cors ([`policy`]) for requests with an `Origin` and for every
/// `OPTIONS` (actix-cors answers a preflight even without one); any other request goes
/// straight to the application, and its answer gets the `Vary` actix-cors would have given
/// it. Both paths share the one inner service.
pub struct BrowserCors(Cors);

/// actix-cors over the shared inner service.
type CorsOver<S> = actix_cors::CorsMiddleware<Rc<S>>;

impl<S, B> Transform<S, ServiceRequest> for BrowserCors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BrowserCorsService<S>;
    type InitError = ();
    type Future = Pin<Box<dyn Future<Output = Result<BrowserCorsService<S>, ()>>>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let direct = Rc::new(service);
        let cors = self.0.new_transform(direct.clone());
        Box::pin(async move {
            Ok(BrowserCorsService {
                direct,
                cors: cors.await?,
            })
        })
    }
}

/// [`BrowserCors`] around one worker's application.
pub struct BrowserCorsService<S> {
    direct: Rc<S>,
    cors: CorsOver<S>,
}

type WithVary<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;
type ErrorWithVary = fn(Error) -> Error;
type Direct<S, B> =
    MapErr<MapOk<<S as Service<ServiceRequest>>::Future, WithVary<B>>, ErrorWithVary>;

impl<S, B> Service<ServiceRequest> for BrowserCorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Either<Direct<S, B>, <CorsOver<S> as Service<ServiceRequest>>::Future>;

    forward_ready!(direct);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        if request.method() == Method::OPTIONS || request.headers().contains_key(header::ORIGIN) {
            return Either::Right(self.cors.call(request));
        }
        Either::Left(
            self.direct
                .call(request)
                .map_ok(with_vary as WithVary<B>)
                .map_err(error_with_vary as ErrorWithVary),
        )
    }
}

fn with_vary<B>(mut response: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    add_vary(response.headers_mut());
    response.map_into_left_body()
}

/// An error's answer gets the `Vary` too, once it is rendered, as actix-cors does.
fn error_with_vary(mut error: Error) -> Error {
    error.add_response_mapper(|mut response| {
        add_vary(response.headers_mut());
        response
    });
    error
}

/// [`VARY_CORS`] after the answer's own `Vary`, in one value, as actix-cors writes it
/// (joined onto the first value, in place of all of them).
fn add_vary(headers: &mut HeaderMap) {
    // The usual answer has one value: it is changed where it is, with one lookup.
    if headers.get_all(header::VARY).nth(1).is_none()
        && let Some(vary) = headers.get_mut(header::VARY)
    {
        *vary = joined_vary(vary);
        return;
    }
    let value = match headers.get(header::VARY) {
        None => HeaderValue::from_static(VARY_CORS),
        Some(vary) => joined_vary(vary),
    };
    headers.insert(header::VARY, value);
}

fn joined_vary(vary: &HeaderValue) -> HeaderValue {
    const AFTER_AUTHORIZATION: &str =
        "Authorization, Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    if vary == "Authorization" {
        return HeaderValue::from_static(AFTER_AUTHORIZATION);
    }
    let mut value = Vec::with_capacity(vary.len() + 2 + VARY_CORS.len());
    value.extend_from_slice(vary.as_bytes());
    value.extend_from_slice(b", ");
    value.extend_from_slice(VARY_CORS.as_bytes());
    HeaderValue::from_bytes(&value).expect("two header values joined by a comma")
}

/// Whether a request (or the request a preflight announces) only reads.
fn reads(request: &ServiceRequest) -> bool {
    let method = if is_preflight(request) {
        request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|value| Method::from_bytes(value.as_bytes()).ok())
    } else {
        Some(request.method().clone())
    };
    matches!(method, Some(Method::GET | Method::HEAD))
}

fn is_preflight(request: &ServiceRequest) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// What is said to a browser's cross-origin request beyond actix-cors' answer, decided
/// before the request runs: [`Narrowing::of`] it, then [`Narrowing::apply`] it to the
/// response. It runs around [`middleware`] (in `observe::Observe`, the outermost layer, so
/// that no layer of its own is spent on the most requests, which send no `Origin`):
/// withholds write permission from origins not in `--cors-origins`, answers a successful
/// preflight with 204, and exposes the headers a page needs.
pub struct Narrowing {
    preflight: bool,
    reads_only: bool,
    writes: bool,
}

impl Narrowing {
    /// `None` for a request that is not a browser's cross-origin one: nothing to say.
    pub fn of(request: &ServiceRequest) -> Option<Narrowing> {
        let origin = request.headers().get(header::ORIGIN)?;
        let origin_writes = request
            .app_data::<actix_web::web::Data<super::AppState>>()
            .is_some_and(|state| state.cors_origins.admits(origin));
        Some(Narrowing {
            preflight: is_preflight(request),
            reads_only: !origin_writes,
            writes: !reads(request),
        })
    }

    pub fn apply<B>(&self, response: &mut ServiceResponse<B>) {
        let headers = response.headers_mut();
        if self.reads_only && self.writes {
            for name in [
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::ACCESS_CONTROL_MAX_AGE,
            ] {
                headers.remove(name);
            }
        } else if self.reads_only && self.preflight {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD"),
            );
        }
        if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) && !self.preflight {
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
        if self.preflight && response.status() == StatusCode::OK {
            *response.response_mut().status_mut() = StatusCode::NO_CONTENT;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_is_extended_as_actix_cors_extends_it() {
        let joined = |vary: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(vary) = vary {
                headers.insert(header::VARY, HeaderValue::from_static(vary));
            }
            add_vary(&mut headers);
            headers
                .get(header::VARY)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(joined(None), VARY_CORS);
        assert_eq!(
            joined(Some("Authorization")),
            format!("Authorization, {VARY_CORS}")
        );
        assert_eq!(
            joined(Some("Accept-Encoding")),
            format!("Accept-Encoding, {VARY_CORS}")
        );
        let mut headers = HeaderMap::new();
        headers.append(header::VARY, HeaderValue::from_static("Authorization"));
        headers.append(header::VARY, HeaderValue::from_static("Accept"));
        add_vary(&mut headers);
        let values: Vec<_> = headers.get_all(header::VARY).collect();
        let expected = HeaderValue::from_str(&format!("Authorization, {VARY_CORS}")).unwrap();
        assert_eq!(values, [&expected]);
    }

    #[test]
    fn configured_origins_are_compared_without_a_trailing_slash() {
        let origins = WriteOrigins::new(&[
            "https://editor.example.org/".into(),
            " http://127.0.0.1:5173".into(),
            String::new(),
        ]);
        assert!(origins.admits(&HeaderValue::from_static("https://editor.example.org")));
        assert!(origins.admits(&HeaderValue::from_static("http://127.0.0.1:5173")));
        assert!(!origins.admits(&HeaderValue::from_static("https://example.org")));
        assert!(!origins.admits(&HeaderValue::from_static("null")));
    }
}
