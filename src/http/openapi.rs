//! The OpenAPI document, generated from the handlers and their types, and `/docs`.

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{health, history, history_views, listing, posts, tags, views};
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
        history::list_revisions,
        history::get_revision,
        history::get_diff,
        history::site_history,
        health::healthz,
        health::readyz,
    ),
    components(schemas(
        Problem,
        FieldError,
        views::PageMeta,
        views::TagCount,
        listing::StatusFilter,
        listing::SortOrder,
        history_views::RevisionEntry,
        history_views::LogEntry,
        history_views::TouchedPost,
        crate::history::Author,
        crate::history::RevisionStamp,
        crate::history::ChangeKind,
        crate::history::SectionStatus,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "posts", description = "Reading posts"),
        (name = "history", description = "Revisions, diffs and the site-wide log"),
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
