//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::{ApiError, Problem};
use crate::upstream::UpstreamStatus;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// `GET /healthz`: the process answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Liveness {
    /// Always `ok`.
    pub status: &'static str,
}

/// `GET /readyz`: the site is loaded and the repository can be read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "ready",
    "tip": "3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d",
    "served_tip": "3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d",
    "posts": 8,
    "broken_posts": 0
}))]
pub struct Readiness {
    /// Always `ready`.
    pub status: &'static str,
    /// The branch tip in the repository now; `null` for a branch without commits.
    pub tip: Option<String>,
    /// The tip the served snapshot was built from; it catches up with `tip` within the poll
    /// interval.
    pub served_tip: Option<String>,
    /// Posts served (drafts included).
    pub posts: usize,
    /// Files under `posts/` that do not parse and are served nowhere (see `palimpsest check`).
    pub broken_posts: usize,
    /// In upstream mode, the remote's last fetch and whether it is reachable; absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamStatus>,
}

/// The process is up and answering.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Alive", body = Liveness))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

/// The site is loaded and the repository answers: ready for traffic.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The repository cannot be read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.site.store().clone();
    let tip = web::block(move || store.tip())
        .await?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let snapshot = state.site.snapshot();
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        tip: tip.map(|t| t.to_string()),
        served_tip: snapshot.tip.map(|t| t.to_string()),
        posts: snapshot.len(),
        broken_posts: snapshot.broken.len(),
        upstream: state.upstream.as_ref().map(|upstream| upstream.status()),
    }))
}
