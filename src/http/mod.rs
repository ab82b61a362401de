//! The HTTP API: routes, request parsing, and the JSON shapes of responses. Handlers only
//! translate between HTTP and the site; decisions live below.

mod auth;
mod caching;
mod health;
mod listing;
pub mod openapi;
mod posts;
mod tags;
mod views;
mod write_requests;
mod write_responses;
mod writes;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::authors::Authors;
use crate::config::Settings;
use crate::error::ApiError;
use crate::site::Site;
use crate::writing::Writer;
pub use auth::Viewer;
pub use write_requests::json_config;

/// What every handler can reach.
pub struct AppState {
    pub site: Arc<Site>,
    pub authors: Authors,
    pub max_body_bytes: usize,
    /// The repository's one writer thread.
    pub writer: Writer,
}

impl AppState {
    pub fn new(site: Arc<Site>, settings: &Settings) -> AppState {
        AppState {
            writer: Writer::start(site.clone(), settings.committer()),
            site,
            authors: settings.authors.clone(),
            max_body_bytes: settings.max_body_bytes,
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
    .service(
        web::scope("/api/v1")
            .configure(posts::configure)
            .configure(writes::configure)
            .configure(tags::configure),
    )
    .configure(openapi::configure)
    .default_service(web::to(no_such_route));
}

async fn no_such_route(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    )))
}
