//! Upstream mode: instances mirroring one bare upstream repository are one site. Every
//! acknowledged write is upstream, two stale edits of the same lines never both succeed, a
//! push to the upstream is served by every instance (on the interval, or at once through a
//! signed push webhook), and an unreachable upstream makes writes 503 while reads go on.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use palimpsest::upstream::UpstreamSettings;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, branch_log, commit_into, etag_of, sample_posts, seed_repo,
    spawn_app_on_configured,
};

const SECRET: &str = "push-hook-secret";

/// A bare upstream holding the sample blog, in its own folder.
fn upstream() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    (dir, repo)
}

/// An instance whose repository is cloned from `url`, fetching every `interval`.
async fn instance(url: &str, interval: Duration) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("instance.git");
    let url = url.to_string();
    spawn_app_on_configured(dir, repo, move |settings| {
        settings.upstream = Some(UpstreamSettings {
            url,
            token: None,
            fetch_interval: interval,
        });
        settings.webhooks.secret = Some(SECRET.into());
    })
    .await
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn new_post(slug: &str) -> Value {
    json!({
        "slug": slug,
        "front_matter": {"title": format!("About {slug}")},
        "markdown": "## Question\n\nWhy?\n\n## Takeaways\n\nFirst line.\n\nSecond line.\n",
    })
}

/// Creates `count` posts through `app`, one after another; returns each answer's status and
/// commit.
async fn write_posts(app: &TestApp, prefix: String, count: usize) -> Vec<(u16, Option<String>)> {
    let mut answers = Vec::new();
    for n in 0..count {
        let response = app.create_post(&new_post(&format!("{prefix}-{n}"))).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        answers.push((status, body["commit"].as_str().map(str::to_string)));
    }
    answers
}

fn fsck(repo: &Path) {
    let output = std::process::Command::new("git")
        .args(["-C", repo.to_str().unwrap(), "fsck", "--full", "--strict"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Commits `files` straight into the upstream, as an author's `git push` to it would.
fn push_to_upstream(upstream: &Path, message: &str, files: &[(&str, Option<&str>)]) -> String {
    commit_into(upstream, message, files, None)
}

/// Waits until `app` serves `tip`.
async fn serves(app: &TestApp, tip: &str) {
    app.eventually("/readyz", |ready| ready["served_tip"] == tip)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_upstream_lose_no_acknowledged_write() {
    let (_dir, upstream) = upstream();
    let url = file_url(&upstream);
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(instance(&url, Duration::from_millis(200)).await);
    }
    let instances = std::sync::Arc::new(instances);
    let mut writers = Vec::new();
    for (number, _) in instances.iter().enumerate() {
        for writer in 0..2 {
            let instances = instances.clone();
            writers.push(tokio::spawn(async move {
                write_posts(&instances[number], format!("i{number}-w{writer}"), 4).await
            }));
        }
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        for (status, commit) in writer.await.unwrap() {
            assert_eq!(status, 201, "every write through every instance succeeds");
            acknowledged.push(commit.unwrap());
        }
    }
    let upstream_log: Vec<String> = branch_log(&upstream).into_iter().map(|c| c.id).collect();
    for commit in &acknowledged {
        assert!(upstream_log.contains(commit), "{commit} is upstream");
    }
    assert_eq!(acknowledged.len(), 24);
    fsck(&upstream);
    for app in instances.iter() {
        serves(app, &upstream_log[0]).await;
        let list: Value = app.json("/api/v1/posts?per_page=100").await;
        assert_eq!(
            list["meta"]["total"],
            2 + 24,
            "every instance serves every post"
        );
        fsck(&app.repo);
    }
}

#[tokio::test]
async fn two_stale_edits_of_the_same_line_through_two_instances_never_both_succeed() {
    let (_dir, upstream) = upstream();
    let url = file_url(&upstream);
    let (one, two) = (
        instance(&url, Duration::from_secs(60)).await,
        instance(&url, Duration::from_secs(60)).await,
    );
    let (post, etag) = one.read_post("attention-scaling").await;
    let (_, same_etag) = two.read_post("attention-scaling").await;
    assert_eq!(etag, same_etag);
    let edit = |line: &str| {
        let markdown = post["markdown"]
            .as_str()
            .unwrap()
            .replace("A takeaway.", line);
        json!({"front_matter": post["front_matter"], "markdown": markdown})
    };
    let (from_one, from_two) = (edit("Takeaway from one."), edit("Takeaway from two."));
    let (first, second) = tokio::join!(
        one.put_post("attention-scaling", &from_one, Some(&etag)),
        two.put_post("attention-scaling", &from_two, Some(&etag)),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 412],
        "one wins, one is told what is there now"
    );
    let loser = if first.status() == 412 { first } else { second };
    let problem = assert_problem(loser, 412).await;
    assert!(
        problem["current"].is_object(),
        "the 412 carries the current post"
    );
    fsck(&upstream);

    // Edits of different lines, both stale, through the two instances: both go through.
    let (post, etag) = one.read_post("layernorm-vs-rmsnorm").await;
    let text = post["markdown"].as_str().unwrap();
    let (a, b) = (
        text.replace("What is LayerNorm", "What exactly is LayerNorm"),
        text.replace("A takeaway.", "A better takeaway."),
    );
    let first = one
        .put_post(
            "layernorm-vs-rmsnorm",
            &json!({"front_matter": post["front_matter"], "markdown": a}),
            Some(&etag),
        )
        .await;
    assert_eq!(first.status(), 200);
    let second = two
        .put_post(
            "layernorm-vs-rmsnorm",
            &json!({"front_matter": post["front_matter"], "markdown": b}),
            Some(&etag),
        )
        .await;
    assert_eq!(second.status(), 200, "disjoint lines are merged");
    let merged: Value = second.json().await.unwrap();
    assert_eq!(merged["merged"], true);
    let text = merged["markdown"].as_str().unwrap();
    assert!(text.contains("What exactly is LayerNorm") && text.contains("A better takeaway."));
}

#[tokio::test]
async fn a_push_to_the_upstream_is_served_by_every_instance_even_when_it_moves_away_and_back() {
    let (_dir, upstream) = upstream();
    let url = file_url(&upstream);
    let before = branch_log(&upstream)[0].id.clone();
    let instances = [
        instance(&url, Duration::from_millis(100)).await,
        instance(&url, Duration::from_millis(100)).await,
    ];
    let pushed = push_to_upstream(
        &upstream,
        "Pushed from a laptop",
        &[(
            "posts/from-a-laptop.md",
            Some("---\ntitle: From a laptop\n---\n\n## Question\n\nHow?\n"),
        )],
    );
    for app in &instances {
        serves(app, &pushed).await;
        assert_eq!(app.status("/api/v1/posts/from-a-laptop").await, 200);
    }

    // The upstream branch moved away (reset to before) and back again: every instance follows.
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&upstream)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["update-ref", "refs/heads/main", &before]);
    for app in &instances {
        serves(app, &before).await;
        assert_eq!(app.status("/api/v1/posts/from-a-laptop").await, 404);
    }
    git(&["update-ref", "refs/heads/main", &pushed]);
    for app in &instances {
        serves(app, &pushed).await;
    }
    // And writes still land on the upstream's tip.
    let answers = write_posts(&instances[1], "after-the-move".into(), 1).await;
    assert_eq!(answers[0].0, 201);
    assert_eq!(branch_log(&upstream)[1].id, pushed);
    fsck(&upstream);
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_signed_push_webhook_fetches_at_once_and_a_badly_signed_one_is_refused() {
    let (_dir, upstream) = upstream();
    let app = instance(&file_url(&upstream), Duration::from_secs(3600)).await;
    let hook = |headers: &[(&str, String)], body: &'static str| {
        let mut request = app
            .client
            .post(app.url("/api/v1/hooks/push"))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    let body = r#"{"ref":"refs/heads/main"}"#;
    let pushed = push_to_upstream(
        &upstream,
        "Pushed",
        &[("posts/pushed.md", Some("---\ntitle: Pushed\n---\n"))],
    );

    for refused in [
        vec![],
        vec![(
            "X-Hub-Signature-256",
            format!("sha256={}", github_signature(b"another body")),
        )],
        vec![("X-Gitea-Signature", "00ff".to_string())],
        vec![("X-Gitlab-Token", "not-the-secret".to_string())],
        vec![(
            "X-Palimpsest-Signature-256",
            format!("sha256={}", github_signature(b"another body")),
        )],
    ] {
        assert_problem(hook(&refused, body).await.unwrap(), 401).await;
    }
    let ready: Value = app.json("/readyz").await;
    assert_ne!(
        ready["served_tip"],
        pushed.as_str(),
        "nothing fetched for a bad signature"
    );

    let github = hook(
        &[(
            "X-Hub-Signature-256",
            format!("sha256={}", github_signature(body.as_bytes())),
        )],
        body,
    )
    .await
    .unwrap();
    assert_eq!(github.status(), 200);
    let fetched: Value = github.json().await.unwrap();
    assert_eq!(fetched["fetched_tip"], pushed.as_str());
    let ready: Value = app.json("/readyz").await;
    assert_eq!(ready["served_tip"], pushed.as_str(), "served at once");
    assert_eq!(ready["upstream"]["reachable"], true);
    assert_eq!(ready["upstream"]["fetched_tip"], pushed.as_str());

    let gitea = hook(
        &[("X-Gitea-Signature", github_signature(body.as_bytes()))],
        body,
    )
    .await
    .unwrap();
    assert_eq!(gitea.status(), 200);
    let gitlab = hook(&[("X-Gitlab-Token", SECRET.to_string())], body)
        .await
        .unwrap();
    assert_eq!(gitlab.status(), 200);
    let another_instance = hook(
        &[(
            "X-Palimpsest-Signature-256",
            format!("sha256={}", github_signature(body.as_bytes())),
        )],
        body,
    )
    .await
    .unwrap();
    assert_eq!(another_instance.status(), 200);
}

#[tokio::test]
async fn an_unreachable_upstream_makes_writes_503_while_reads_go_on() {
    let (dir, upstream) = upstream();
    let app = instance(&file_url(&upstream), Duration::from_secs(3600)).await;
    let away = dir.path().join("moved-away.git");
    std::fs::rename(&upstream, &away).unwrap();
    let token = [("X-Gitlab-Token", SECRET)];
    let fetch = || {
        let mut request = app.client.post(app.url("/api/v1/hooks/push")).body("{}");
        for (name, value) in token {
            request = request.header(name, value);
        }
        request.send()
    };
    assert_problem(fetch().await.unwrap(), 503).await;
    let ready: Value = app.json("/readyz").await;
    assert_eq!(ready["upstream"]["reachable"], false);
    assert!(ready["upstream"]["error"].is_string());

    let refused = app.create_post(&new_post("while-unreachable")).await;
    assert!(
        refused.headers().get("retry-after").is_some(),
        "503 says when to retry"
    );
    assert_problem(refused, 503).await;
    let read = app
        .get("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads go on");
    etag_of(&read);

    std::fs::rename(&away, &upstream).unwrap();
    assert_eq!(fetch().await.unwrap().status(), 200);
    let written = write_posts(&app, "back-again".into(), 1).await;
    assert_eq!(written[0].0, 201);
    assert_eq!(branch_log(&upstream)[0].id, written[0].1.clone().unwrap());
}

/// `git daemon` serving `base` on a free loopback port, for as long as it lives.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // `git daemon` runs `git-daemon` as a child of its own: stop the whole group, or the
        // daemon outlives the test (and holds the test's output open).
        // SAFETY: signalling a process group this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn git_daemon(base: &Path) -> (Daemon, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("git")
        .args([
            "daemon",
            "--export-all",
            "--enable=receive-pack",
            "--reuseaddr",
        ])
        .arg("--listen=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting git daemon");
    let daemon = Daemon(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (daemon, port);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("git daemon never listened on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_on_an_upstream_served_by_git_daemon_push_with_a_lease() {
    let (dir, upstream) = upstream();
    let (_daemon, port) = git_daemon(dir.path());
    let url = format!("git://127.0.0.1:{port}/content.git");
    let (one, two) = (
        instance(&url, Duration::from_millis(200)).await,
        instance(&url, Duration::from_millis(200)).await,
    );
    let (first, second) = tokio::join!(
        write_posts(&one, "over-git-one".into(), 3),
        write_posts(&two, "over-git-two".into(), 3),
    );
    let upstream_log: Vec<String> = branch_log(&upstream).into_iter().map(|c| c.id).collect();
    for (status, commit) in first.into_iter().chain(second) {
        assert_eq!(status, 201);
        assert!(
            upstream_log.contains(&commit.unwrap()),
            "acknowledged means upstream"
        );
    }
    assert_eq!(upstream_log.len(), 1 + 6);
    fsck(&upstream);
    serves(&one, &upstream_log[0]).await;
    serves(&two, &upstream_log[0]).await;
}
