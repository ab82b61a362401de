//! Write throughput: sequential updates of one post through the API (fsync on) against a
//! loop of `git commit` on the same kind of repository, then 1, 4 and 16 concurrent API
//! writers to different posts. Run with `bench/writes/run.sh`; results in BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use palimpsest::authors::Authors;
use palimpsest::config::Settings;
use palimpsest::startup::Application;
use palimpsest::store::{self, Identity};
use serde_json::{Value, json};

#[path = "../blog.rs"]
mod blog;

const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef";
const AUTHOR: &str = "Bench Author <bench@example.org>";
const POSTS: usize = 50;

fn main() -> anyhow::Result<()> {
    let (duration, root, _log) = blog::prepare("target/bench-writes")?;
    let content = blog::write_content(&root, POSTS)?;

    let git_default = git_loop(&root, &content, "git-default", &[], duration)?;
    Command::new("sync").status()?;
    let git_fsync = git_loop(
        &root,
        &content,
        "git-fsync",
        &[
            "-c",
            "core.fsync=committed,reference",
            "-c",
            "core.fsyncMethod=fsync",
        ],
        duration,
    )?;

    // The git loops leave their writes in the page cache (only the fsync loop flushes
    // some): written back now, they are not flushed by the server's first write instead.
    Command::new("sync").status()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(async {
        let repo = root.join("api.git");
        store::seed_repository(&repo, &content, "main", &Identity::parse(AUTHOR).unwrap())?;
        let address = serve(&repo).await?;
        let client = reqwest::Client::new();
        let sequential = writers(&client, &address, 1, duration, true).await;
        let mut concurrent = Vec::new();
        for n in [1, 4, 16] {
            concurrent.push((n, writers(&client, &address, n, duration, false).await));
        }
        anyhow::Ok((sequential, concurrent))
    })?;
    let (sequential, concurrent) = results;

    println!("| what | writes | seconds | writes/s |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, (count, elapsed)) in [
        ("git commit -am loop (git defaults)", git_default),
        (
            "git commit -am loop (core.fsync=committed,reference)",
            git_fsync,
        ),
        ("API PUT, one post, sequential (fsync on)", sequential),
    ] {
        row(name, count, elapsed);
    }
    for (n, (count, elapsed)) in &concurrent {
        row(
            &format!("API PUT, {n} concurrent writer(s), one post each"),
            *count,
            *elapsed,
        );
    }
    let rate = |(count, elapsed): (usize, Duration)| count as f64 / elapsed.as_secs_f64();
    println!();
    println!(
        "API sequential / git default loop: {:.1}x",
        rate(sequential) / rate(git_default)
    );
    println!(
        "API sequential / git fsync loop:   {:.1}x",
        rate(sequential) / rate(git_fsync)
    );
    println!(
        "16 writers / 1 writer:             {:.1}x",
        rate(concurrent[2].1) / rate(concurrent[0].1)
    );
    Ok(())
}

fn row(name: &str, count: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "| {name} | {count} | {secs:.1} | {:.1} |",
        count as f64 / secs
    );
}

/// Commits the same change as the API benchmark (one line of one post) in a loop with the
/// git CLI, in a non-bare clone of an identically seeded repository.
fn git_loop(
    root: &Path,
    content: &Path,
    name: &str,
    config: &[&str],
    duration: Duration,
) -> anyhow::Result<(usize, Duration)> {
    let bare = root.join(format!("{name}.git"));
    store::seed_repository(&bare, content, "main", &Identity::parse(AUTHOR).unwrap())?;
    let clone = root.join(name);
    git(
        root,
        &[],
        &[
            "clone",
            "--quiet",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    )?;
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < duration {
        count += 1;
        std::fs::write(clone.join("posts/post-0.md"), blog::post_text(0, count))?;
        git(
            &clone,
            config,
            &["commit", "--quiet", "-am", "Update post post-0"],
        )?;
    }
    Ok((count, started.elapsed()))
}

fn git(dir: &Path, config: &[&str], args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("git")
        .args(config)
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench Author")
        .env("GIT_AUTHOR_EMAIL", "bench@example.org")
        .env("GIT_COMMITTER_NAME", "Bench Author")
        .env("GIT_COMMITTER_EMAIL", "bench@example.org")
        .status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

async fn serve(repo: &Path) -> anyhow::Result<String> {
    let mut settings = Settings::for_repo(repo.to_path_buf());
    settings.listen = "127.0.0.1:0".into();
    settings.authors = Authors::single(TOKEN, Identity::parse(AUTHOR).unwrap());
    let app = Application::build(settings).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(address)
}

/// `n` writers, each updating its own post (`post-<i>`) with If-Match in a loop for
/// `duration`; every write waits for its acknowledgement. Returns acknowledged writes.
async fn writers(
    client: &reqwest::Client,
    address: &str,
    n: usize,
    duration: Duration,
    same_post: bool,
) -> (usize, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let post = if same_post { 0 } else { i + 1 };
            let url = format!("{address}/api/v1/posts/post-{post}");
            tokio::spawn(async move { update_loop(client, url, post, started, duration).await })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("writer task");
    }
    (total, started.elapsed())
}

async fn update_loop(
    client: reqwest::Client,
    url: String,
    post: usize,
    started: Instant,
    duration: Duration,
) -> usize {
    let first = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    let mut etag = first.headers()["etag"].to_str().unwrap().to_string();
    let mut count = 0;
    while started.elapsed() < duration {
        count += 1;
        let body = json!({"raw": blog::post_text(post, count + 1_000_000)});
        let response = client
            .put(&url)
            .bearer_auth(TOKEN)
            .header("If-Match", &etag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
        etag = response.headers()["etag"].to_str().unwrap().to_string();
        let _: Value = response.json().await.unwrap();
    }
    count
}
