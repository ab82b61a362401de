//! Tags with the number of visible posts carrying each.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};

use serde::Deserialize;
use utoipa::IntoParams;

use super::views::{self, TagCount, TagList};
use super::{AppState, Viewer, caching};
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_tags);
}

/// The query of `GET /api/v1/tags`; unknown parameters are ignored.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagsQuery {
    /// The tags as of this time (RFC 3339, or `YYYY-MM-DD`: the end of that day, UTC).
    #[param(example = "2026-11-02")]
    pub as_of: Option<String>,
}

/// Every tag, most used first; drafts count only for authors.
#[utoipa::path(
    tag = "posts",
    params(TagsQuery),
    responses(
        (status = 200, description = "Tags with their post counts", body = TagList),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "An unparsable `as_of`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`as_of` before the branch's first commit", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/tags")]
pub async fn list_tags(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<TagsQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.site.snapshot();
    let tip = now.tip.map(|t| t.to_string()).unwrap_or_default();
    // As of a time, the answer depends on the tip now (posts that are drafts now are
    // hidden) and on the time.
    let etag = match &query.as_of {
        None => format!("\"{tip}-tags-{}\"", u8::from(viewer.is_author())),
        Some(_) => caching::tip_etag(&now, &request, &viewer),
    };
    let snapshot = super::as_of::snapshot_for(&state, &viewer, query.as_of.as_deref()).await?;
    Ok(caching::json_read(&request, &viewer, &etag, || {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for record in snapshot.posts() {
            if viewer.audience().sees(record) {
                for tag in &record.post().tags {
                    *counts.entry(tag).or_default() += 1;
                }
            }
        }
        let mut tags: Vec<TagCount> = counts
            .into_iter()
            .map(|(tag, count)| TagCount {
                tag: tag.to_string(),
                count,
            })
            .collect();
        tags.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
        views::to_bytes(&TagList { tags })
    }))
}
