//! `POST /api/v1/hooks/push`: a forge's push webhook (GitHub, Gitea, GitLab) telling an
//! instance in upstream mode to fetch now rather than at its next interval.

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AppState;
use crate::error::{ApiError, Problem};
use crate::webhooks::signature;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(push_hook);
}

/// The answer to a push webhook: where the upstream branch is after the fetch it caused.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fetched {
    /// The upstream branch's tip, now served; `null` when the upstream has no such branch.
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub fetched_tip: Option<String>,
}

/// Fetches the upstream at once (upstream mode): point a GitHub, Gitea or GitLab push webhook
/// here.
///
/// With `--webhook-secret` set, the request must be signed with it the way its forge signs:
/// GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, Gitea's
/// `X-Gitea-Signature: <hex HMAC-SHA256>`, or GitLab's `X-Gitlab-Token: <secret>`; or as
/// another instance's webhook (`X-Palimpsest-Signature-256`, the same as GitHub's), so that
/// instances sharing the secret can point their `--webhook` at each other. The body itself
/// is not read: whatever the event, the upstream is fetched.
#[utoipa::path(
    tag = "operations",
    request_body(content = String, description = "The forge's event (not read)", content_type = "application/json"),
    responses(
        (status = 200, description = "Fetched; the upstream's tip is served", body = Fetched),
        (status = 401, description = "A secret is set and the request is not signed with it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No upstream is configured", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The upstream could not be fetched", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/hooks/push")]
pub async fn push_hook(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(upstream) = state.upstream.clone() else {
        return Err(ApiError::not_found("no upstream is configured"));
    };
    if let Some(secret) = &state.push_hook_secret {
        verify(secret, request.headers(), &body)?;
    }
    let fetched = web::block(move || upstream.fetch())
        .await?
        .map_err(|error| ApiError::Unavailable(format!("fetching the upstream: {error}")))?;
    Ok(HttpResponse::Ok().json(Fetched {
        fetched_tip: fetched.map(|tip| tip.to_string()),
    }))
}

/// Checks the forge's signature of `body` under `secret`.
///
/// # Errors
/// 401 when no header a forge signs with is there, or its signature does not match.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    // Another instance's `branch.moved` webhook signs the way GitHub does, so that instances
    // can tell each other at once without a forge in between.
    let github = header("x-hub-signature-256").or_else(|| header("x-palimpsest-signature-256"));
    let signed = if let Some(github) = github {
        github
            .strip_prefix("sha256=")
            .is_some_and(|hex| signature::verify(secret, body, hex))
    } else if let Some(gitea) = header("x-gitea-signature") {
        signature::verify(secret, body, gitea)
    } else if let Some(gitlab) = header("x-gitlab-token") {
        bool::from(gitlab.as_bytes().ct_eq(secret.as_bytes()))
    } else {
        return Err(ApiError::Unauthorized(
            "a push webhook must carry X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token \
             or X-Palimpsest-Signature-256"
                .into(),
        ));
    };
    if signed {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the push webhook's signature does not match the secret".into(),
        ))
    }
}
