//! The conventions every operation follows, applied to the generated document in one place
//! so that each handler's `#[utoipa::path]` only says what is particular to it:
//! - paths are documented where they are served (under `/api/v1`, except the probes);
//! - any error is problem+json (a `default` response), and operations that accept a bearer
//!   token document the 401 a wrong one gets;
//! - reads that can answer 304 take `If-None-Match` and send `ETag`;
//! - a `{slug}` in a path is a [`Slug`](crate::post::Slug), with a post of the sample blog
//!   as its example.

use utoipa::Modify;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Type;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Required};

use crate::http::API_PREFIX;

/// Routes mounted at the root rather than under [`API_PREFIX`].
const ROOT_PATHS: [&str; 6] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs/",
    "/assets/{path}",
];
const PROBLEM_JSON: &str = "application/problem+json";
/// A post of the sample blog, so "Try it out" in `/docs` finds something.
const EXAMPLE_SLUG: &str = "attention-scaling";

pub struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = std::mem::take(&mut openapi.paths.paths);
        for (path, mut item) in paths {
            for operation in operations_mut(&mut item) {
                document_errors(operation);
                document_slug_parameters(operation);
                document_conditional_read(operation);
            }
            openapi.paths.paths.insert(mounted(&path), item);
        }
    }
}

/// Where a handler's path is served: `#[get("/posts")]` inside the API scope is
/// `/api/v1/posts`. Idempotent, so a handler that spells out its full path stays as it is.
fn mounted(path: &str) -> String {
    if ROOT_PATHS.contains(&path) || path.starts_with(API_PREFIX) {
        path.to_string()
    } else {
        format!("{API_PREFIX}{path}")
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.patch,
        &mut item.delete,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

pub(super) fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn document_errors(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    responses.entry("default".into()).or_insert_with(|| {
        RefOr::T(problem(
            "Any other error, as an RFC 9457 problem: 400 for an invalid parameter, 404 for \
             an unknown route, 413 for a body over the limit, 415 for a wrong content type",
        ))
    });
    if accepts_bearer(operation) {
        operation
            .responses
            .responses
            .entry("401".into())
            .or_insert_with(|| {
                RefOr::T(problem(
                    "The bearer token is not valid (anonymous requests carry none)",
                ))
            });
    }
}

/// Whether any security requirement of the operation names a scheme (an empty one means
/// "anonymous is fine too").
fn accepts_bearer(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        serde_json::to_value(requirements).is_ok_and(|value| {
            value.as_array().is_some_and(|all| {
                all.iter()
                    .any(|r| r.as_object().is_some_and(|schemes| !schemes.is_empty()))
            })
        })
    })
}

fn document_slug_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.name == "slug" && parameter.parameter_in == ParameterIn::Path {
            *parameter = ParameterBuilder::from(parameter.clone())
                .schema(Some(Ref::from_schema_name("Slug")))
                .example(Some(serde_json::json!(EXAMPLE_SLUG)))
                .build();
        }
    }
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn document_conditional_read(operation: &mut Operation) {
    if !operation.responses.responses.contains_key("304") {
        return;
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(
        ParameterBuilder::new()
            .name("If-None-Match")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "An ETag from an earlier answer: the server answers 304 if it still holds",
            ))
            .schema(Some(string_schema()))
            .build()
            .into(),
    );
    if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
        ok.headers.entry("ETag".into()).or_insert_with(|| {
            HeaderBuilder::new()
                .schema(Some(string_schema()))
                .description(Some(
                    "Strong validator for If-None-Match (a post's blob id and body hash; a list's tip)",
                ))
                .build()
                .into()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_documented_under_the_prefix_and_probes_at_the_root() {
        assert_eq!(mounted("/posts/{slug}"), "/api/v1/posts/{slug}");
        assert_eq!(mounted("/api/v1/history"), "/api/v1/history");
        assert_eq!(mounted("/metrics"), "/metrics");
    }
}
