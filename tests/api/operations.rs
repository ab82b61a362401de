//! What an operator relies on: probes, metrics, request ids, the container health check,
//! and a clean stop on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, spawn_app};

/// The value of the first metrics line starting with `prefix`.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    for slug in ["attention-scaling", "layernorm-vs-rmsnorm", "no-such-post"] {
        app.get(&format!("/api/v1/posts/{slug}"))
            .send()
            .await
            .unwrap();
    }
    let response = app
        .get("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].clone();
    let cached = app
        .get("/api/v1/posts/attention-scaling")
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let metrics = response.text().await.unwrap();
    let route = "route=\"/api/v1/posts/{slug}\",method=\"GET\"";
    let requests = |status: u16| {
        sample(
            &metrics,
            &format!("palimpsest_http_requests_total{{{route},status=\"{status}\"}}"),
        )
    };
    assert_eq!(requests(200), Some(3.0));
    assert_eq!(requests(404), Some(1.0));
    assert_eq!(requests(304), Some(1.0));
    assert!(
        !metrics.contains("no-such-post"),
        "raw paths never become labels"
    );
    let inf = format!(
        "palimpsest_http_request_duration_seconds_bucket{{le=\"+Inf\",{route},status=\"200\"}}"
    );
    assert_eq!(sample(&metrics, &inf), Some(3.0));
    assert_eq!(sample(&metrics, "palimpsest_cache_hits_total"), Some(1.0));
    assert_eq!(
        sample(&metrics, "palimpsest_posts{status=\"published\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&metrics, "palimpsest_posts{status=\"draft\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "palimpsest_commits_total"), Some(0.0));
    assert_eq!(sample(&metrics, "palimpsest_conflicts_total"), Some(0.0));
}

#[tokio::test]
async fn snapshot_builds_are_counted_when_the_branch_moves() {
    let app = spawn_app().await;
    let builds = |text: &str| sample(text, "palimpsest_snapshot_builds_total").unwrap();
    let before = app.text("/metrics").await;
    assert_eq!(builds(&before), 1.0);
    app.commit_outside("Remove a post", &[("posts/attention-scaling.md", None)]);
    app.eventually("/api/v1/posts?status=all", |body| {
        body["meta"]["total"] == 2
    })
    .await;
    let after = app.text("/metrics").await;
    assert_eq!(builds(&after), 2.0);
    assert_eq!(
        sample(&after, "palimpsest_posts{status=\"published\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn unmatched_requests_are_counted_under_one_label() {
    let app = spawn_app().await;
    let response = app.get("/no/such/route").send().await.unwrap();
    assert_problem(response, 404).await;
    let metrics = app.text("/metrics").await;
    let unmatched =
        "palimpsest_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}";
    assert_eq!(sample(&metrics, unmatched), Some(1.0));
    assert!(!metrics.contains("/no/such/route"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_clients() {
    let app = spawn_app().await;
    let first = app.get("/healthz").send().await.unwrap();
    let second = app.get("/healthz").send().await.unwrap();
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id(&first).len() >= 16);
    assert_ne!(id(&first), id(&second), "each request gets its own id");

    let traced = app
        .get("/api/v1/posts/no-such-post")
        .header("X-Request-Id", "client-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&traced), "client-trace-42", "errors carry it too");

    let forged = app
        .get("/healthz")
        .header("X-Request-Id", "evil\" injected=1")
        .send()
        .await
        .unwrap();
    assert_ne!(id(&forged), "evil\" injected=1");
}

#[tokio::test]
async fn the_container_health_check_passes_against_a_ready_server() {
    let app = spawn_app().await;
    let listen = app.address.trim_start_matches("http://").to_string();
    let outcome = tokio::task::spawn_blocking(move || palimpsest::healthcheck::check(&listen))
        .await
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// Starts the real binary over a fresh repository and returns it with its port, once ready.
fn start_binary(dir: &std::path::Path) -> (std::process::Child, u16) {
    let binary = env!("CARGO_BIN_EXE_palimpsest");
    let repo = dir.join("content.git");
    let content = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("content-repo");
    let mut child = Command::new(binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--shutdown-timeout",
            "5",
        ])
        .arg("--repo")
        .arg(&repo)
        .arg("--seed-from")
        .arg(&content)
        .env("RUST_LOG", "info")
        .env("PALIMPSEST_LOG_FORMAT", "json")
        .env_remove("PALIMPSEST_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting palimpsest serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut port = None;
    for line in lines.by_ref() {
        let line = line.expect("reading the server's log");
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("log lines are JSON: {line}"));
        if event["message"] == "serving" {
            port = event["port"].as_u64();
            break;
        }
    }
    let port = port.expect("the server logs the port it serves on") as u16;
    // Keep reading the log so the server never writes into a full or closed pipe; echo it
    // so a failing test shows what the server said.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| eprintln!("{l}")));
    (child, port)
}

/// Waits for the process to exit, at most `limit`, and returns its status.
fn wait_for_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the server did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_binary(dir.path());
    palimpsest::healthcheck::check(&format!("127.0.0.1:{port}")).expect("the server is ready");
    send_signal(&child, signal);
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "exit status after SIG{signal}: {status}");
}

#[test]
fn the_server_stops_cleanly_on_sigterm() {
    stops_cleanly_on("TERM");
}

#[test]
fn the_server_stops_cleanly_on_sigint() {
    stops_cleanly_on("INT");
}

#[tokio::test]
async fn a_known_path_with_a_method_it_does_not_take_is_405_with_allow() {
    let app = spawn_app().await;
    for path in ["/api/v1/tags", "/metrics", "/api/v1/feed.atom"] {
        let response = app
            .client
            .delete(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let allow = response.headers()["allow"].to_str().unwrap().to_string();
        assert_eq!(allow, "GET, HEAD", "{path}");
        assert_problem(response, 405).await;
    }
    let unknown = app
        .client
        .delete(format!("{}/api/v1/no-such-thing", app.address))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404).await;
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let get = app
        .get("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap();
    let head = app
        .client
        .head(format!("{}/api/v1/posts/attention-scaling", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], get.headers()["etag"]);
    assert_eq!(
        head.headers()["content-length"],
        get.headers()["content-length"]
    );
    assert!(head.bytes().await.unwrap().is_empty());

    let metrics = app.text("/metrics").await;
    let counted = "palimpsest_http_requests_total{route=\"/api/v1/posts/{slug}\",method=\"HEAD\",status=\"200\"}";
    assert_eq!(sample(&metrics, counted), Some(1.0));
}

fn send_signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}
