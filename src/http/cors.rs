//! Browsers on other origins (CORS): any page may read the blog, only the origins named by
//! `--cors-origins` may write to it.
//!
//! actix-cors answers preflights and adds the headers; it has one origin policy for every
//! method, so [`Narrowing`] narrows what it says to a page on an origin that may only
//! read: no `Access-Control-Allow-Origin` on a write or its preflight, and only the read
//! methods in a preflight (so a browser's preflight cache cannot stretch a read's answer
//! to a write).

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};

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
pub fn middleware() -> Cors {
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
