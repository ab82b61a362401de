//! What an operator scrapes from `/metrics`: request counts and latency histograms by route,
//! and the counters of what the server did (commits made, write conflicts, cache hits), in
//! the OpenMetrics text format that Prometheus scrapes.
//!
//! The metrics and their encoding are `prometheus-client`'s, in a registry owned by each
//! running application (never a global one), so every test server has its own numbers.
//! Recording is an atomic add, plus for a request the histogram's own short lock: each HTTP
//! worker keeps its handles on the series it counts ([`WorkerCounts`]), so only a series'
//! first request on a worker takes the families' shared lock. Facts about the served site
//! are read at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: from a warm cached read (well under a
/// millisecond) to a slow history walk.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server's counters. One per running application, shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    cache_hits: Counter,
    commits_made: Counter,
    conflicts: Counter,
}

/// What a request is counted under: its route pattern (never the raw path, whose slugs would
/// make the label set unbounded), method and status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: Cow<'static, str>,
    status: u16,
}

/// The methods whose label needs no copy of its own.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The `status` label of `palimpsest_posts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PostStatus {
    status: &'static str,
}

/// Facts about the served site that are read at scrape time rather than counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct SiteGauges {
    pub published_posts: usize,
    pub draft_posts: usize,
    /// Files under `posts/` that do not parse and are served nowhere.
    pub broken_posts: usize,
    /// Snapshots built since start, the first included.
    pub snapshot_builds: u64,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "palimpsest_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        let durations = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "palimpsest_http_request_duration",
            "Time from request to response, by route pattern, method and status",
            Unit::Seconds,
            durations.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "palimpsest_cache_hits",
            "Reads answered 304 Not Modified from the client's ETag",
            cache_hits.clone(),
        );
        let commits_made = Counter::default();
        registry.register(
            "palimpsest_commits",
            "Commits the server made on the branch (API writes)",
            commits_made.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "palimpsest_conflicts",
            "Writes that met a concurrent change (stale If-Match or a moved branch)",
            conflicts.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            cache_hits,
            commits_made,
            conflicts,
        }
    }
}

/// A method's label, borrowed for the common methods.
fn method_label(method: &str) -> Cow<'static, str> {
    match METHODS.iter().find(|known| **known == method) {
        Some(known) => Cow::Borrowed(*known),
        None => Cow::Owned(method.to_string()),
    }
}

/// One worker's handles on the request series it has counted: the families (shared by every
/// worker, behind a lock) are asked for a series once per worker, then the worker counts
/// into its handles, which share the series' numbers. Counting a request thus takes no lock
/// the workers share, only the series' own counter and histogram.
pub struct WorkerCounts {
    metrics: Arc<Metrics>,
    series: RefCell<HashMap<SeriesKey, (Counter, Histogram), foldhash::fast::RandomState>>,
}

/// A worker's key for a series: the labels, with the route shared rather than copied.
#[derive(PartialEq, Eq, Hash)]
struct SeriesKey {
    route: Rc<str>,
    method: Cow<'static, str>,
    status: u16,
}

impl WorkerCounts {
    pub fn new(metrics: Arc<Metrics>) -> WorkerCounts {
        WorkerCounts {
            metrics,
            series: RefCell::default(),
        }
    }

    /// Counts one answered request. `route` is the matched pattern, e.g.
    /// `/api/v1/posts/{slug}`, or `unmatched` for requests no route took.
    pub fn request_answered(&self, route: Rc<str>, method: &str, status: u16, took: Duration) {
        let metrics = &self.metrics;
        if status == 304 {
            metrics.cache_hits.inc();
        }
        let key = SeriesKey {
            route,
            method: method_label(method),
            status,
        };
        let mut series = self.series.borrow_mut();
        let (requests, durations) = series.entry(key).or_insert_with_key(|key| {
            let labels = RequestLabels {
                route: key.route.to_string(),
                method: key.method.clone(),
                status: key.status,
            };
            (
                metrics.requests.get_or_create(&labels).clone(),
                metrics.durations.get_or_create(&labels).clone(),
            )
        });
        requests.inc();
        durations.observe(took.as_secs_f64());
    }
}

impl Metrics {
    /// Counts a commit the server made on the branch (an API write).
    pub fn commit_made(&self) {
        self.commits_made.inc();
    }

    /// Counts a write refused or retried because the post or the branch moved under it
    /// (a stale `If-Match`, a lost compare-and-swap).
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    pub fn commits_made(&self) -> u64 {
        self.commits_made.get()
    }

    pub fn conflicts(&self) -> u64 {
        self.conflicts.get()
    }

    /// Requests answered `304 Not Modified`: reads the client's cache served.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.get()
    }

    /// Everything, in the OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn render(&self, site: SiteGauges) -> String {
        let mut scraped = Registry::default();
        scraped.register(
            "palimpsest_snapshot_builds",
            "Snapshots of the branch built: at start, when the branch moved, and ahead of API writes",
            ConstCounter::new(site.snapshot_builds),
        );
        let posts = Family::<PostStatus, Gauge>::default();
        for (status, count) in [
            ("published", site.published_posts),
            ("draft", site.draft_posts),
        ] {
            posts
                .get_or_create(&PostStatus { status })
                .set(gauge(count));
        }
        scraped.register(
            "palimpsest_posts",
            "Posts in the served snapshot, by status",
            posts,
        );
        scraped.register(
            "palimpsest_broken_posts",
            "Files under posts/ that do not parse and are served nowhere",
            ConstGauge::new(gauge(site.broken_posts)),
        );
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &scraped))
            .and_then(|()| encode_eof(&mut out));
        out
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix} in\n{text}"))
    }

    #[test]
    fn requests_are_counted_by_route_method_and_status_with_cumulative_buckets() {
        let metrics = Arc::new(Metrics::default());
        let (one, other) = (
            WorkerCounts::new(metrics.clone()),
            WorkerCounts::new(metrics.clone()),
        );
        let route = "/api/v1/posts/{slug}";
        // Two workers count into the same series.
        one.request_answered(route.into(), "GET", 200, Duration::from_micros(300));
        other.request_answered(route.into(), "GET", 200, Duration::from_millis(30));
        one.request_answered(route.into(), "GET", 404, Duration::from_millis(2));
        let text = metrics.render(SiteGauges::default());

        let ok = "route=\"/api/v1/posts/{slug}\",method=\"GET\",status=\"200\"";
        assert_eq!(
            line(&text, &format!("palimpsest_http_requests_total{{{ok}}}")),
            format!("palimpsest_http_requests_total{{{ok}}} 2")
        );
        let bucket = |le: &str| {
            let prefix =
                format!("palimpsest_http_request_duration_seconds_bucket{{le=\"{le}\",{ok}}}");
            line(&text, &prefix).rsplit(' ').next().unwrap().to_string()
        };
        assert_eq!(bucket("0.0005"), "1");
        assert_eq!(bucket("0.025"), "1");
        assert_eq!(bucket("0.05"), "2");
        assert_eq!(bucket("+Inf"), "2");
        assert!(text.contains("status=\"404\"} 1"));
    }

    #[test]
    fn not_modified_answers_count_as_cache_hits() {
        let metrics = Arc::new(Metrics::default());
        let counts = WorkerCounts::new(metrics.clone());
        counts.request_answered("/api/v1/tags".into(), "GET", 304, Duration::ZERO);
        counts.request_answered("/api/v1/tags".into(), "GET", 200, Duration::ZERO);
        assert_eq!(metrics.cache_hits(), 1);
        assert!(
            metrics
                .render(SiteGauges::default())
                .contains("palimpsest_cache_hits_total 1\n")
        );
    }

    #[test]
    fn writes_and_conflicts_are_counted_for_the_write_path() {
        let metrics = Metrics::default();
        metrics.commit_made();
        metrics.commit_made();
        metrics.conflict();
        let text = metrics.render(SiteGauges::default());
        assert!(text.contains("palimpsest_commits_total 2\n"));
        assert!(text.contains("palimpsest_conflicts_total 1\n"));
    }

    #[test]
    fn site_gauges_are_reported_as_read() {
        let text = Metrics::default().render(SiteGauges {
            published_posts: 7,
            draft_posts: 2,
            broken_posts: 1,
            snapshot_builds: 3,
        });
        assert!(text.contains("palimpsest_posts{status=\"published\"} 7\n"));
        assert!(text.contains("palimpsest_posts{status=\"draft\"} 2\n"));
        assert!(text.contains("palimpsest_broken_posts 1\n"));
        assert!(text.contains("palimpsest_snapshot_builds_total 3\n"));
    }

    #[test]
    fn the_text_is_openmetrics_with_help_and_an_end() {
        let metrics = Arc::new(Metrics::default());
        WorkerCounts::new(metrics.clone()).request_answered(
            "/healthz".into(),
            "GET",
            200,
            Duration::ZERO,
        );
        let text = metrics.render(SiteGauges::default());
        assert!(text.contains("# TYPE palimpsest_commits counter\n"));
        assert!(text.contains("# UNIT palimpsest_http_request_duration_seconds seconds\n"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
