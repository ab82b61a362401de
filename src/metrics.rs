//! What an operator scrapes from `/metrics`: request counts and latency histograms by route,
//! and the counters of what the server did (commits made, write conflicts, cache hits), in
//! the Prometheus text exposition format.
//!
//! Counters are plain atomics and the per-route histograms sit behind one mutex held for a
//! few nanoseconds per request: no registry, no macros, nothing global, so every test server
//! has its own numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: from a warm cached read (well under a
/// millisecond) to a slow history walk.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server's counters. One per running application, shared by every worker.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, Histogram>>,
    not_modified: AtomicU64,
    commits_made: AtomicU64,
    conflicts: AtomicU64,
}

/// What a request is counted under: its route pattern (never the raw path, whose slugs would
/// make the label set unbounded), method and status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket of [`LATENCY_BUCKETS`], the requests that took at most that long (not
    /// cumulative; made cumulative when rendered).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
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

impl Metrics {
    /// Counts one answered request. `route` is the matched pattern, e.g.
    /// `/api/v1/posts/{slug}`, or `unmatched` for requests no route took.
    pub fn request_answered(&self, route: &str, method: &str, status: u16, took: Duration) {
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
        let key = RequestKey {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        let seconds = took.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = requests.entry(key).or_default();
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|&le| seconds <= le) {
            histogram.buckets[bucket] += 1;
        }
        histogram.count += 1;
        histogram.sum_seconds += seconds;
    }

    /// Counts a commit the server made on the branch (an API write).
    pub fn commit_made(&self) {
        self.commits_made.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a write refused or retried because the post or the branch moved under it
    /// (a stale `If-Match`, a lost compare-and-swap).
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn commits_made(&self) -> u64 {
        self.commits_made.load(Ordering::Relaxed)
    }

    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Requests answered `304 Not Modified`: reads the client's cache served.
    pub fn cache_hits(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }

    /// Everything, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, site: SiteGauges) -> String {
        let mut out = String::new();
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();

        header(
            &mut out,
            "palimpsest_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern, method and status.",
        );
        for (key, histogram) in &requests {
            let _ = writeln!(
                out,
                "palimpsest_http_requests_total{{{}}} {}",
                key.labels(),
                histogram.count
            );
        }

        header(
            &mut out,
            "palimpsest_http_request_duration_seconds",
            "histogram",
            "Time from request to response, by route pattern, method and status.",
        );
        for (key, histogram) in &requests {
            histogram.render(&mut out, &key.labels());
        }

        counter(
            &mut out,
            "palimpsest_cache_hits_total",
            "Reads answered 304 Not Modified from the client's ETag.",
            self.cache_hits(),
        );
        counter(
            &mut out,
            "palimpsest_commits_total",
            "Commits the server made on the branch (API writes).",
            self.commits_made(),
        );
        counter(
            &mut out,
            "palimpsest_conflicts_total",
            "Writes that met a concurrent change (stale If-Match or a moved branch).",
            self.conflicts(),
        );
        counter(
            &mut out,
            "palimpsest_snapshot_builds_total",
            "Snapshots of the branch built: at start, when the branch moved, and ahead of API writes.",
            site.snapshot_builds,
        );

        header(
            &mut out,
            "palimpsest_posts",
            "gauge",
            "Posts in the served snapshot, by status.",
        );
        let _ = writeln!(
            out,
            "palimpsest_posts{{status=\"published\"}} {}",
            site.published_posts
        );
        let _ = writeln!(
            out,
            "palimpsest_posts{{status=\"draft\"}} {}",
            site.draft_posts
        );
        header(
            &mut out,
            "palimpsest_broken_posts",
            "gauge",
            "Files under posts/ that do not parse and are served nowhere.",
        );
        let _ = writeln!(out, "palimpsest_broken_posts {}", site.broken_posts);
        out
    }
}

impl RequestKey {
    fn labels(&self) -> String {
        format!(
            "route=\"{}\",method=\"{}\",status=\"{}\"",
            escape_label(&self.route),
            escape_label(&self.method),
            self.status
        )
    }
}

impl Histogram {
    fn render(&self, out: &mut String, labels: &str) {
        let name = "palimpsest_http_request_duration_seconds";
        let mut cumulative = 0;
        for (le, in_bucket) in LATENCY_BUCKETS.iter().zip(self.buckets) {
            cumulative += in_bucket;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Label values escape backslash, double quote and newline (the format's only escapes).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        let metrics = Metrics::default();
        let route = "/api/v1/posts/{slug}";
        metrics.request_answered(route, "GET", 200, Duration::from_micros(300));
        metrics.request_answered(route, "GET", 200, Duration::from_millis(30));
        metrics.request_answered(route, "GET", 404, Duration::from_millis(2));
        let text = metrics.render(SiteGauges::default());

        let ok = "route=\"/api/v1/posts/{slug}\",method=\"GET\",status=\"200\"";
        assert_eq!(
            line(&text, &format!("palimpsest_http_requests_total{{{ok}}}")),
            format!("palimpsest_http_requests_total{{{ok}}} 2")
        );
        let bucket = |le: &str| {
            let prefix =
                format!("palimpsest_http_request_duration_seconds_bucket{{{ok},le=\"{le}\"}}");
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
        let metrics = Metrics::default();
        metrics.request_answered("/api/v1/tags", "GET", 304, Duration::ZERO);
        metrics.request_answered("/api/v1/tags", "GET", 200, Duration::ZERO);
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
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
