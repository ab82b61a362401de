//! `405 Method Not Allowed` for a path that exists with a method it does not take, with the
//! `Allow` header. Actix routes each `#[get]`/`#[post]` handler as its own guarded resource,
//! so a wrong method falls through to the default service like an unknown path; this tells
//! the two apart, taking the methods from the OpenAPI document (generated from the same
//! handlers, and checked against the routes by the API tests).

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use utoipa::OpenApi;

use super::openapi::ApiDoc;
use crate::error::framework_problem;

/// A resource at `path` that takes `GET` (and so `HEAD`, see [`head`](super::head)), for
/// the hottest reads. actix-web's own method guard (`#[get]`) notes every method it is
/// tried with in the request's extensions, for a 405 of its own that this API answers
/// in [`not_allowed`] instead: an allocation and two hash-table updates per request that
/// nothing reads.
pub fn get_resource(path: &str) -> actix_web::Resource {
    actix_web::web::resource(path).guard(actix_web::guard::fn_guard(|context| {
        context.head().method == actix_web::http::Method::GET
    }))
}

/// Routes outside the document (the docs UI, the document itself) are read-only.
const UNDOCUMENTED_ALLOW: &str = "GET, HEAD";

/// The 405 answer when the request's path is routed but not for its method.
pub fn not_allowed(request: &HttpRequest) -> Option<HttpResponse> {
    let pattern = request.resource_map().match_pattern(request.path())?;
    let allow = allowed_methods()
        .get(&without_regexes(&pattern))
        .map(String::as_str)
        .unwrap_or(UNDOCUMENTED_ALLOW);
    let detail = format!(
        "{} does not take {}; it takes {allow}",
        request.path(),
        request.method()
    );
    let mut response = framework_problem(StatusCode::METHOD_NOT_ALLOWED, &detail);
    if let Ok(value) = header::HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Some(response)
}

/// Whether the route `pattern` (as actix has it) takes `method`.
pub fn allows(pattern: &str, method: &str) -> bool {
    allowed_methods()
        .get(&without_regexes(pattern))
        .map_or(UNDOCUMENTED_ALLOW, String::as_str)
        .split(", ")
        .any(|allowed| allowed == method)
}

/// A route pattern as the OpenAPI document writes it: `{path:.*}` is `{path}`.
fn without_regexes(pattern: &str) -> String {
    let mut plain = String::with_capacity(pattern.len());
    let mut depth = 0;
    let mut in_regex = false;
    for c in pattern.chars() {
        match c {
            '{' if depth == 0 => {
                depth = 1;
                plain.push(c);
            }
            '{' => depth += 1,
            '}' if depth == 1 => {
                depth = 0;
                in_regex = false;
                plain.push(c);
            }
            '}' => depth -= 1,
            ':' if depth == 1 => in_regex = true,
            _ if !in_regex => plain.push(c),
            _ => {}
        }
    }
    plain
}

/// Documented path → its methods, `GET, PUT` style; built once.
fn allowed_methods() -> &'static HashMap<String, String> {
    static ALLOWED: OnceLock<HashMap<String, String>> = OnceLock::new();
    ALLOWED.get_or_init(|| {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut allowed = HashMap::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            let mut methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_uppercase())
                .filter(|method| {
                    [
                        "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
                    ]
                    .contains(&method.as_str())
                })
                .collect();
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                // Every GET route answers HEAD too (see `head.rs`).
                methods.insert(1, "HEAD".into());
            }
            allowed.insert(path.clone(), methods.join(", "));
        }
        allowed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_know_their_methods() {
        assert_eq!(
            allowed_methods()["/api/v1/posts/{slug}"].split(", ").next(),
            Some("GET")
        );
        assert_eq!(allowed_methods()["/metrics"], "GET, HEAD");
    }

    #[test]
    fn route_regexes_are_left_out_of_patterns() {
        assert_eq!(without_regexes("/assets/{path:.*}"), "/assets/{path}");
        assert_eq!(without_regexes("/a/{x:[0-9]{4}}/b/{y}"), "/a/{x}/b/{y}");
        assert_eq!(without_regexes("/api/v1/posts"), "/api/v1/posts");
    }
}
