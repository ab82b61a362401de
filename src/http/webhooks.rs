//! `GET /api/v1/webhooks`: how deliveries to each configured webhook are going.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, Viewer};
use crate::error::{ApiError, Problem};
use crate::webhooks::WebhookStatus;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_webhooks);
}

/// `GET /api/v1/webhooks`: every configured webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookStatus>,
}

/// Each webhook's last delivery, its status and backlog.
///
/// Every branch move, however it happened, is delivered to each webhook as a `POST` of a
/// `branch.moved` event (the `BranchMoved` schema), signed with `X-Palimpsest-Signature-256`
/// when a secret is configured, at least once: failures are retried with exponential
/// backoff, and the tip each webhook acknowledged survives restarts.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The configured webhooks (none: an empty list)", body = WebhookList),
        (status = 401, description = "No author's token, or one that is not valid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, ApiError> {
    viewer.author()?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: state.webhooks.status(&state.site),
    }))
}
