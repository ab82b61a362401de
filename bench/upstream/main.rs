//! Upstream mode: what pushing every write to an upstream costs, and how instances on one
//! upstream share its branch. Run with `bench/upstream/run.sh`; results in BENCHMARKS.md.
//!
//! 1. Write latency (sequential PUTs of one post) through one instance on a local
//!    repository, then on a `file://` upstream, then on a smart-HTTP upstream (`git
//!    http-backend` on loopback, which starts a git process per request, as forges' git
//!    servers do not).
//! 2. Throughput of one instance with 24 writers against three instances with 8 writers
//!    each, on one `file://` upstream (every writer updates a post of its own).
//! 3. Time from a write's acknowledgement on one instance to another instance serving it:
//!    with the first instance's webhook pointed at the second's push hook, and with the
//!    second polling every second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palimpsest::authors::Authors;
use palimpsest::config::Settings;
use palimpsest::startup::Application;
use palimpsest::store::{self, Identity};
use palimpsest::upstream::UpstreamSettings;
use serde_json::{Value, json};

#[path = "../blog.rs"]
mod blog;
// The tests' smart-HTTP server; its TLS variant is left unused here.
#[allow(dead_code)]
#[path = "../../tests/api/git_http.rs"]
mod git_http;

const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef";
const AUTHOR: &str = "Bench Author <bench@example.org>";
const UPSTREAM_TOKEN: &str = "bench-upstream-token";
const POSTS: usize = 30;

fn main() -> anyhow::Result<()> {
    let (duration, root, _log) = blog::prepare("target/bench-upstream")?;
    let samples = blog::setting("BENCH_SAMPLES", 20);
    let content = blog::write_content(&root, POSTS)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&root, &content, duration, samples))
}

async fn run(
    root: &Path,
    content: &Path,
    duration: Duration,
    samples: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let seed = |name: &str| -> anyhow::Result<PathBuf> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        let repo = dir.join("content.git");
        store::seed_repository(&repo, content, "main", &Identity::parse(AUTHOR).unwrap())?;
        Ok(repo)
    };

    // 1. Latency.
    let local = serve(&seed("local")?, None, &[]).await?;
    let file_upstream = seed("file-upstream")?;
    let file_url = format!("file://{}", file_upstream.display());
    let on_file = serve(
        &root.join("file-1.git"),
        Some(upstream(&file_url, 3600)),
        &[],
    )
    .await?;
    let http_upstream = seed("http-upstream")?;
    let http = git_http::GitHttp::start(http_upstream.parent().unwrap(), UPSTREAM_TOKEN);
    let on_http = serve(
        &root.join("http-1.git"),
        Some(upstream(&http.url("content.git"), 3600)),
        &[],
    )
    .await?;
    println!("## Write latency, one writer, sequential PUTs of one post\n");
    println!("| instance | writes | p50 ms | p99 ms | p50 / local |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut local_p50 = 0.0;
    for (name, address) in [
        ("local repository", &local),
        ("file:// upstream", &on_file),
        ("smart-HTTP upstream (git http-backend)", &on_http),
    ] {
        let mut latencies = writers(&client, std::slice::from_ref(address), 1, duration)
            .await
            .latencies;
        let (p50, p99) = (
            percentile(&mut latencies, 50),
            percentile(&mut latencies, 99),
        );
        if local_p50 == 0.0 {
            local_p50 = p50;
        }
        println!(
            "| {name} | {} | {p50:.1} | {p99:.1} | {:.2}× |",
            latencies.len(),
            p50 / local_p50
        );
    }

    // 2. Throughput.
    let three_upstream = seed("three-upstream")?;
    let three_url = format!("file://{}", three_upstream.display());
    let mut three = Vec::new();
    for n in 0..3 {
        let repo = root.join(format!("three-{n}.git"));
        three.push(serve(&repo, Some(upstream(&three_url, 1)), &[]).await?);
    }
    let local_24 = writers(&client, std::slice::from_ref(&local), 24, duration).await;
    let one_24 = writers(&client, std::slice::from_ref(&on_file), 24, duration).await;
    let three_8 = writers(&client, &three, 8, duration).await;
    println!("\n## Throughput, 24 writers, a post each\n");
    println!("| setup | writes | 412 / 503 | writes/s | / one instance on the upstream |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let reference = one_24.rate();
    for (name, run) in [
        ("one instance, local repository, 24 writers", &local_24),
        ("one instance on a file:// upstream, 24 writers", &one_24),
        (
            "three instances on one file:// upstream, 8 writers each",
            &three_8,
        ),
    ] {
        println!(
            "| {name} | {} | {} / {} | {:.1} | {:.2}× |",
            run.latencies.len(),
            run.conflicts,
            run.unavailable,
            run.rate(),
            run.rate() / reference
        );
    }

    // 3. Visibility on another instance.
    let seen_upstream = seed("seen-upstream")?;
    let seen_url = format!("file://{}", seen_upstream.display());
    let hooked = serve(
        &root.join("seen-hooked.git"),
        Some(upstream(&seen_url, 3600)),
        &[],
    )
    .await?;
    let polling = serve(
        &root.join("seen-polling.git"),
        Some(upstream(&seen_url, 1)),
        &[],
    )
    .await?;
    let writer = serve(
        &root.join("seen-writer.git"),
        Some(upstream(&seen_url, 3600)),
        &[format!("{hooked}/api/v1/hooks/push")],
    )
    .await?;
    let (mut with_hook, mut with_polling) = (Vec::new(), Vec::new());
    for n in 0..samples {
        let commit = put(&client, &writer, 0, n).await;
        let acknowledged = Instant::now();
        let (hook, poll) = tokio::join!(
            served(&client, &hooked, &commit, acknowledged),
            served(&client, &polling, &commit, acknowledged)
        );
        with_hook.push(hook);
        with_polling.push(poll);
        // Writes land at random points of the polling interval.
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..300))).await;
    }
    println!("\n## From a write's acknowledgement to another instance serving it\n");
    println!("| how the other instance hears of it | writes | p50 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, mut times) in [
        ("the writer's webhook → its push hook", with_hook),
        ("polling, --fetch-interval 1", with_polling),
    ] {
        let max = times.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {} | {:.1} | {max:.1} |",
            times.len(),
            percentile(&mut times, 50)
        );
    }
    drop(http);
    Ok(())
}

fn upstream(url: &str, fetch_seconds: u64) -> UpstreamSettings {
    UpstreamSettings {
        url: url.to_string(),
        token: Some(UPSTREAM_TOKEN.into()),
        fetch_interval: Duration::from_secs(fetch_seconds),
    }
}

/// An instance on `repo` (cloned from the upstream when there is one), with `webhooks`.
async fn serve(
    repo: &Path,
    upstream: Option<UpstreamSettings>,
    webhooks: &[String],
) -> anyhow::Result<String> {
    let mut settings = Settings::for_repo(repo.to_path_buf());
    settings.listen = "127.0.0.1:0".into();
    settings.authors = Authors::single(TOKEN, Identity::parse(AUTHOR).unwrap());
    settings.upstream = upstream;
    settings.webhooks.urls = webhooks.to_vec();
    let app = Application::build(settings).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(address)
}

/// What a set of writers achieved.
struct Run {
    /// Of each acknowledged write, in milliseconds.
    latencies: Vec<f64>,
    conflicts: usize,
    unavailable: usize,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `per_instance` writers on each of `instances`, each updating a post of its own with
/// If-Match for `duration`.
async fn writers(
    client: &reqwest::Client,
    instances: &[String],
    per_instance: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, address) in instances.iter().enumerate() {
        for w in 0..per_instance {
            let post = 1 + i * per_instance + w;
            let (client, url) = (
                client.clone(),
                format!("{address}/api/v1/posts/post-{post}"),
            );
            tasks.push(tokio::spawn(async move {
                update_loop(client, url, post, started, duration).await
            }));
        }
    }
    let mut run = Run {
        latencies: Vec::new(),
        conflicts: 0,
        unavailable: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (latencies, conflicts, unavailable) = task.await.expect("writer task");
        run.latencies.extend(latencies);
        run.conflicts += conflicts;
        run.unavailable += unavailable;
    }
    run.elapsed = started.elapsed();
    run
}

async fn update_loop(
    client: reqwest::Client,
    url: String,
    post: usize,
    started: Instant,
    duration: Duration,
) -> (Vec<f64>, usize, usize) {
    let etag_of =
        |response: &reqwest::Response| response.headers()["etag"].to_str().unwrap().to_string();
    let fresh = |client: reqwest::Client, url: String| async move {
        client.get(&url).bearer_auth(TOKEN).send().await.unwrap()
    };
    let mut etag = etag_of(&fresh(client.clone(), url.clone()).await);
    let (mut latencies, mut conflicts, mut unavailable) = (Vec::new(), 0, 0);
    let mut revision = 1_000_000;
    while started.elapsed() < duration {
        revision += 1;
        let sent = Instant::now();
        let response = client
            .put(&url)
            .bearer_auth(TOKEN)
            .header("If-Match", &etag)
            .json(&json!({"raw": blog::post_text(post, revision)}))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                etag = etag_of(&response);
            }
            412 => {
                conflicts += 1;
                etag = etag_of(&fresh(client.clone(), url.clone()).await);
            }
            503 => {
                unavailable += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            status => panic!("{status}: {}", response.text().await.unwrap_or_default()),
        }
    }
    (latencies, conflicts, unavailable)
}

/// Writes revision `n` of `post-{post}` through `address` and returns its commit.
async fn put(client: &reqwest::Client, address: &str, post: usize, n: usize) -> String {
    let url = format!("{address}/api/v1/posts/post-{post}");
    let current = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_string();
    let response = client
        .put(&url)
        .bearer_auth(TOKEN)
        .header("If-Match", etag)
        .json(&json!({"raw": blog::post_text(post, n + 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["commit"].as_str().unwrap().to_string()
}

/// Milliseconds from `since` until `address` serves `commit` (zero if it already did).
async fn served(client: &reqwest::Client, address: &str, commit: &str, since: Instant) -> f64 {
    loop {
        let ready: Value = client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["served_tip"] == commit {
            return since.elapsed().as_secs_f64() * 1000.0;
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{address} never served {commit}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(values: &mut [f64], p: usize) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() * p / 100).min(values.len() - 1)]
}
