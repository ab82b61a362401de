//! The OpenAPI document, generated from the handlers and their types, and `/docs`.

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{health, listing, posts, tags, views, write_requests, writes};
use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Palimpsest",
        description = "A git-backed headless CMS for a technical learning blog. Posts live in a git repository; every write is a commit, and every post's history is part of its content."
    ),
    paths(
        posts::list_posts,
        posts::get_post,
        posts::get_backlinks,
        tags::list_tags,
        health::healthz,
        health::readyz,
        writes::create_post,
        writes::replace_post,
        writes::patch_post,
        writes::delete_post,
        writes::rename_post,
        writes::restore_post,
    ),
    components(schemas(
        Problem,
        FieldError,
        views::PageMeta,
        views::TagCount,
        listing::StatusFilter,
        listing::SortOrder,
        write_requests::NewPost,
        write_requests::ReplacedPost,
        write_requests::FrontMatterPatch,
        write_requests::NewSlug,
        write_requests::RestoredRevision,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "posts", description = "Reading posts"),
        (name = "writing", description = "Creating and editing posts: each write is one commit by the token's author"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer-token scheme authors use.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served and committed to `openapi/openapi.json`.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()));
}
