//! Previewing an unsaved post: rendered exactly as `GET` would return it once saved, with
//! nothing committed.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::views::{self, PostView};
use super::write_requests::Author;
use super::writes::prepare_file;
use crate::error::{ApiError, Problem};
use crate::post::{Post, Slug};
use crate::site::Audience;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(preview_post);
}

/// A post to preview: `front_matter` and `markdown`, or the whole file as `raw`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"front_matter": {"title": "Why does the KV cache grow linearly?", "tags": ["inference"]}, "markdown": "## Question\n\nSee [the attention post](attention-scaling) and ![a plot](/assets/kv.svg).\n"}))]
pub struct PreviewedPost {
    /// The slug it would have; default: the front matter's `slug`, else one made from the
    /// title.
    pub slug: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub front_matter: Option<Value>,
    pub markdown: Option<String>,
    pub raw: Option<String>,
}

/// Render an unsaved post as `GET /api/v1/posts/{slug}` would return it (without the
/// revision fields, which only a commit gives); nothing is committed.
#[utoipa::path(
    tag = "writing",
    request_body(content = PreviewedPost, content_type = "application/json"),
    responses(
        (status = 200, description = "The post as it would read", body = PostView),
        (status = 400, description = "Invalid JSON, slug, YAML or front matter; `errors` names the field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/preview")]
pub async fn preview_post(
    _author: Author,
    state: web::Data<AppState>,
    body: web::Json<PreviewedPost>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let file = prepare_file(body.slug, body.front_matter, body.markdown, body.raw).await?;
    let post = Post::parse_with(file.slug, &file.text, state.site.addresses())?;
    let snapshot = state.site.snapshot();
    let assets = if post.assets.is_empty() {
        None
    } else {
        let (snapshot, store) = (snapshot.clone(), state.site.store().clone());
        Some(web::block(move || snapshot.assets(&store)).await??)
    };
    let links_to: Vec<Slug> = post
        .links_to
        .iter()
        .filter(|target| snapshot.visible(target, Audience::Authors).is_some())
        .cloned()
        .collect();
    let warnings: Vec<String> = post
        .warnings
        .iter()
        .cloned()
        .chain(snapshot.reference_warnings(&post, assets.as_deref()))
        .collect();
    let mut view = PostView::of(&post, &links_to);
    view.summary.warnings = &warnings;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(views::to_bytes(&view)))
}
