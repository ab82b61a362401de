//! The HTTP API: routes, request parsing, and the JSON shapes of responses. Handlers only
//! translate between HTTP and the site; decisions live below.

mod as_of;
mod assets;
mod auth;
mod blame;
mod caching;
pub mod cors;
mod feed;
pub mod head;
mod health;
mod history;
mod history_views;
mod hooks;
mod list_pages;
mod listing;
mod methods;
mod metrics;
pub mod observe;
pub mod openapi;
mod posts;
mod preview;
pub mod problem_fallback;
mod questions;
mod renamed;
mod review;
mod revision_feed;
mod search;
mod tags;
pub mod throttle;
mod unique_keys;
mod views;
pub mod warm_posts;
mod webhooks;
mod write_requests;
mod write_responses;
mod writes;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::authors::Authors;
use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::search::Search;
use crate::site::{PastPosts, Site};
use crate::upstream::Upstream;
use crate::webhooks::Webhooks;
use crate::writing::Writer;
pub use auth::Viewer;
pub use write_requests::json_config;

/// Where the JSON API is mounted; the probes and documents live at the root.
pub const API_PREFIX: &str = "/api/v1";

/// What every handler can reach.
pub struct AppState {
    pub site: Arc<Site>,
    /// Full-text search, following the site.
    pub search: Arc<Search>,
    pub authors: Authors,
    pub max_body_bytes: usize,
    /// The repository's one writer thread.
    pub writer: Writer,
    /// The counters `/metrics` reports; writes count their commits and conflicts here.
    pub metrics: Arc<Metrics>,
    /// The URL clients reach the server at, for absolute links (the feed); else the request's.
    pub public_url: Option<String>,
    /// The webhooks told about branch moves, for `GET /api/v1/webhooks`.
    pub webhooks: Arc<Webhooks>,
    /// The remote the branch mirrors, in upstream mode.
    pub upstream: Option<Arc<Upstream>>,
    /// The secret forges sign their push webhooks with (the webhooks' secret).
    pub push_hook_secret: Option<String>,
    /// The origins whose pages may write (see `cors`).
    pub cors_origins: cors::WriteOrigins,
    /// The largest asset accepted, in bytes.
    pub max_asset_bytes: usize,
    /// Past versions of posts, rendered once and a few at a time.
    pub past_posts: Arc<PastPosts>,
    /// Blames already worked out, shared by every worker.
    pub blame_cache: Arc<blame::BlameCache>,
    /// Pages of the post list already answered from the current snapshot.
    pub list_pages: list_pages::ListPages,
}

impl AppState {
    pub fn new(
        site: Arc<Site>,
        search: Arc<Search>,
        webhooks: Arc<Webhooks>,
        upstream: Option<Arc<Upstream>>,
        settings: &Settings,
    ) -> AppState {
        AppState {
            writer: Writer::start(site.clone(), settings.committer(), upstream.clone()),
            upstream,
            push_hook_secret: settings.webhooks.secret.clone(),
            site,
            search,
            authors: settings.authors.clone(),
            max_body_bytes: settings.max_body_bytes,
            metrics: Arc::new(Metrics::default()),
            public_url: settings.public_url.clone(),
            webhooks,
            cors_origins: cors::WriteOrigins::new(&settings.cors_origins),
            max_asset_bytes: settings.max_asset_bytes,
            past_posts: Arc::new(PastPosts::default()),
            blame_cache: Arc::default(),
            list_pages: list_pages::ListPages::default(),
        }
    }
}

/// Registers every route, and makes extractor failures answer as problem+json.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default().error_handler(|error, _| {
            ApiError::bad_request(format!("invalid query: {error}")).into()
        }),
    )
    .app_data(
        web::PathConfig::default().error_handler(|error, _| {
            ApiError::bad_request(format!("invalid path: {error}")).into()
        }),
    )
    .configure(health::configure)
    .configure(metrics::configure)
    .service(
        web::scope(API_PREFIX)
            .wrap(renamed::RedirectOldSlugs)
            .configure(posts::configure)
            .configure(search::configure)
            .configure(writes::configure)
            .configure(tags::configure)
            .configure(feed::configure)
            .configure(revision_feed::configure)
            .configure(history::configure)
            .configure(webhooks::configure)
            .configure(hooks::configure)
            .configure(assets::configure_api)
            .configure(preview::configure)
            .configure(blame::configure)
            .configure(questions::configure),
    )
    .configure(assets::configure_files)
    .configure(openapi::configure)
    .configure(review::configure)
    .default_service(web::to(no_such_route));
}

async fn no_such_route(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(not_allowed) = methods::not_allowed(&request) {
        return Ok(not_allowed);
    }
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    )))
}
