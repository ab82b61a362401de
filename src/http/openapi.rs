//! The OpenAPI document, generated from the handlers and their types, and `/docs`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

mod conventions;
mod free_form;
mod past_reads;
mod post_bodies;

use conventions::Conventions;
use free_form::FreeFormMaps;
use past_reads::PastReads;
use post_bodies::PostBodies;

use super::{
    assets, feed, health, history, history_views, hooks, listing, metrics, posts, preview,
    revision_feed, search, tags, views, webhooks, write_requests, writes,
};
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
        search::search,
        tags::list_tags,
        history::list_revisions,
        history::get_revision,
        history::get_diff,
        history::site_history,
        super::blame::get_blame,
        super::questions::list_questions,
        health::healthz,
        health::readyz,
        writes::create_post,
        writes::replace_post,
        writes::patch_post,
        writes::delete_post,
        writes::rename_post,
        writes::restore_post,
        feed::feed,
        revision_feed::site_revisions_feed,
        revision_feed::post_revisions_feed,
        metrics::metrics,
        webhooks::list_webhooks,
        hooks::push_hook,
        preview::preview_post,
        assets::get_asset,
        assets::list_assets,
        assets::put_asset,
        assets::delete_asset,
    ),
    components(schemas(
        Problem,
        FieldError,
        views::PageMeta,
        views::TagCount,
        health::Liveness,
        health::Readiness,
        listing::StatusFilter,
        listing::SortOrder,
        write_requests::NewPost,
        write_requests::ReplacedPost,
        write_requests::FrontMatterPatch,
        write_requests::NewSlug,
        write_requests::RestoredRevision,
        history_views::RevisionEntry,
        history_views::LogEntry,
        history_views::TouchedPost,
        crate::history::Author,
        crate::history::Blame,
        crate::history::BlameLine,
        crate::history::BlameSection,
        crate::history::BlameRevision,
        crate::history::FilePart,
        super::questions::QuestionList,
        super::questions::QuestionEntry,
        super::questions::QuestionState,
        super::questions::Raised,
        super::questions::Settled,
        crate::history::RevisionStamp,
        crate::history::CommitSummary,
        crate::history::ChangeKind,
        crate::history::SectionStatus,
        crate::webhooks::BranchMoved,
        crate::webhooks::MovedCommit,
    )),
    modifiers(&BearerAuth, &Documents, &Conventions, &FreeFormMaps, &PostBodies, &PastReads),
    tags(
        (name = "posts", description = "Reading posts"),
        (name = "writing", description = "Creating and editing posts: each write is one commit by the token's author"),
        (name = "assets", description = "Figures and other files under `assets/`: served, listed, uploaded"),
        (name = "history", description = "Revisions, diffs and the site-wide log"),
        (name = "operations", description = "Probes, metrics and webhooks"),
        (name = "documents", description = "This document and the interactive docs"),
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
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An author's token (`PALIMPSEST_TOKEN`, or one line of `--tokens-file`). \
                         Without one, clients see published posts only and cannot write; \
                         a wrong one is a 401.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the two routes Swagger UI serves, which have no handler of ours to annotate.
struct Documents;

impl Modify for Documents {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let document = OperationBuilder::new()
            .tag("documents")
            .operation_id(Some("openapi_document"))
            .summary(Some("This OpenAPI 3.1 document."))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The OpenAPI document")
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(
                                ObjectBuilder::new()
                                    .schema_type(Type::Object)
                                    .additional_properties(Some(AdditionalProperties::FreeForm(
                                        true,
                                    ))),
                            ))
                            .build(),
                    ),
            );
        let docs = OperationBuilder::new()
            .tag("documents")
            .operation_id(Some("interactive_docs"))
            .summary(Some(
                "Interactive documentation (Swagger UI), served from the binary: no CDN.",
            ))
            .response(
                "200",
                ResponseBuilder::new().description("An HTML page").content(
                    "text/html",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                ),
            );
        for (path, operation) in [("/openapi.json", document), ("/docs/", docs)] {
            openapi
                .paths
                .add_path_operation(path, vec![HttpMethod::Get], operation.build());
        }
    }
}

/// The document as served and committed to `openapi/openapi.json`.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

/// `/openapi.json` and Swagger UI at `/docs/`, its assets compiled into the binary (no CDN).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .route("/docs", web::get().to(docs_without_slash));
}

/// Swagger UI's assets are relative to `/docs/`, so `/docs` must not serve the page itself.
async fn docs_without_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
