//! `GET /metrics`: the server's counters and the served site's size, for Prometheus.

use actix_web::{HttpResponse, get, web};

use super::AppState;
use crate::metrics::{CONTENT_TYPE, SiteGauges};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

/// Prometheus metrics: requests by route and status with latency histograms, commits made,
/// conflicts, cache hits (304s), snapshot builds and posts served.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Metrics in the OpenMetrics text format, which Prometheus scrapes", body = String, content_type = "application/openmetrics-text",
            example = "# HELP palimpsest_commits Commits the server made on the branch (API writes).\n# TYPE palimpsest_commits counter\npalimpsest_commits_total 3\n# EOF\n"),
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.site.snapshot();
    let published_posts = snapshot.posts().filter(|r| r.is_published()).count();
    let gauges = SiteGauges {
        published_posts,
        draft_posts: snapshot.len() - published_posts,
        broken_posts: snapshot.broken.len(),
        snapshot_builds: state.site.snapshot_builds(),
    };
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.render(gauges))
}
