//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// The process is up and answering.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The site is loaded and the repository answers: ready for traffic.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "The repository cannot be read", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.site.store().clone();
    let tip = web::block(move || store.tip())
        .await?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let snapshot = state.site.snapshot();
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "tip": tip.map(|t| t.to_string()),
        "served_tip": snapshot.tip.map(|t| t.to_string()),
        "posts": snapshot.len(),
        "broken_posts": snapshot.broken.len(),
    })))
}
