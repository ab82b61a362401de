//! The HTTP API: routes, request parsing, and the JSON shapes of responses. Handlers only
//! translate between HTTP and the site; decisions live below.

mod auth;
mod caching;
mod feed;
pub mod head;
mod health;
mod history;
mod history_views;
mod hooks;
mod listing;
mod methods;
mod metrics;
pub mod observe;
pub mod openapi;
mod posts;
pub mod problem_fallback;
mod tags;
mod views;
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
use crate::site::Site;
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
}

impl AppState {
    pub fn new(
        site: Arc<Site>,
        webhooks: Arc<Webhooks>,
        upstream: Option<Arc<Upstream>>,
        settings: &Settings,
    ) -> AppState {
        AppState {
            writer: Writer::start(site.clone(), settings.committer(), upstream.clone()),
            upstream,
            push_hook_secret: settings.webhooks.secret.clone(),
            site,
            authors: settings.authors.clone(),
            max_body_bytes: settings.max_body_bytes,
            metrics: Arc::new(Metrics::default()),
            public_url: settings.public_url.clone(),
            webhooks,
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
            .configure(posts::configure)
            .configure(writes::configure)
            .configure(tags::configure)
            .configure(feed::configure)
            .configure(history::configure)
            .configure(webhooks::configure)
            .configure(hooks::configure),
    )
    .configure(openapi::configure)
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
