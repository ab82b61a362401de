//! Upstream mode over smart HTTP, as with a forge: `git http-backend` on loopback wants the
//! token, an instance cloned from it pushes its writes there and serves what others push;
//! a refused or missing token stops a clone at start, and makes writes 503 later. Over
//! https, the server's certificate is trusted only through a CA given in `SSL_CERT_FILE`.

use std::path::Path;
use std::time::Duration;

use palimpsest::config::Settings;
use palimpsest::startup::Application;
use palimpsest::upstream::UpstreamSettings;
use serde_json::{Value, json};

use crate::git_http::GitHttp;
use crate::helpers::{
    TOKEN, TestApp, assert_problem, branch_log, git_as_pusher, sample_posts, seed_repo,
    spawn_app_on_configured, start_binary,
};

const UPSTREAM_TOKEN: &str = "forge-token-for-the-blog";
const HOOK_SECRET: &str = "push-hook-secret";

fn settings_for(url: &str, token: Option<&str>) -> impl FnOnce(&mut Settings) {
    let (url, token) = (url.to_string(), token.map(str::to_string));
    move |settings| {
        settings.upstream = Some(UpstreamSettings {
            url,
            token,
            fetch_interval: Duration::from_secs(3600),
        });
        settings.webhooks.secret = Some(HOOK_SECRET.into());
    }
}

/// An instance on `url` whose repository `instance.git` is cloned at start unless
/// `prepare` made it.
async fn instance(url: &str, token: Option<&str>, prepare: impl FnOnce(&Path)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("instance.git");
    prepare(&repo);
    spawn_app_on_configured(dir, repo, settings_for(url, token)).await
}

async fn push_hook(app: &TestApp) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/hooks/push"))
        .header("X-Gitlab-Token", HOOK_SECRET)
        .body("{}")
        .send()
        .await
        .unwrap()
}

fn new_post(slug: &str) -> Value {
    json!({
        "slug": slug,
        "front_matter": {"title": format!("About {slug}")},
        "markdown": "## Question\n\nWhy?\n",
    })
}

async fn create(app: &TestApp, slug: &str) -> (u16, Value) {
    let response = app.create_post(&new_post(slug)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_on_a_smart_http_upstream_pushes_its_writes_and_serves_other_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = seed_repo(dir.path(), &sample_posts());
    let server = GitHttp::start(dir.path(), UPSTREAM_TOKEN);
    let url = server.url("content.git");
    let app = instance(&url, Some(UPSTREAM_TOKEN), |_| {}).await;
    assert_eq!(
        branch_log(&app.repo)[0].id,
        branch_log(&upstream)[0].id,
        "cloned over HTTP at start"
    );

    let (status, written) = create(&app, "over-http").await;
    assert_eq!(status, 201, "{written}");
    assert_eq!(
        branch_log(&upstream)[0].id,
        written["commit"].as_str().unwrap(),
        "acknowledged means upstream"
    );

    // An author pushes to the upstream from a clone of their own, over the same server.
    let laptop = tempfile::tempdir().unwrap();
    let authenticated = url.replace("http://", &format!("http://mira:{UPSTREAM_TOKEN}@"));
    let git = |args: &[&str]| {
        let output = git_as_pusher(laptop.path(), args);
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    git(&["clone", "-q", &authenticated, "."]);
    std::fs::write(
        laptop.path().join("posts/from-a-laptop.md"),
        "---\ntitle: From a laptop\n---\n\n## Question\n\nHow?\n",
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "Pushed from a laptop"]);
    git(&["push", "-q", "origin", "HEAD:main"]);
    let pushed = branch_log(&upstream)[0].id.clone();

    let fetched = push_hook(&app).await;
    assert_eq!(fetched.status(), 200);
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched["fetched_tip"], pushed.as_str());
    assert_eq!(app.status("/api/v1/posts/from-a-laptop").await, 200);

    // The next write is pushed on top of the author's push.
    let (status, written) = create(&app, "after-the-laptop").await;
    assert_eq!(status, 201, "{written}");
    let log = branch_log(&upstream);
    assert_eq!(log[0].id, written["commit"].as_str().unwrap());
    assert_eq!(log[1].id, pushed);
}

#[tokio::test]
async fn a_refused_or_missing_token_stops_a_clone_and_makes_writes_503() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = seed_repo(dir.path(), &sample_posts());
    let server = GitHttp::start(dir.path(), UPSTREAM_TOKEN);
    let url = server.url("content.git");

    for (token, why) in [
        (Some("not-the-token"), "refused the credentials"),
        (None, "asks for credentials"),
    ] {
        let here = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_repo(here.path().join("instance.git"));
        settings.listen = "127.0.0.1:0".into();
        settings_for(&url, token)(&mut settings);
        let Err(error) = Application::build(settings).await else {
            panic!("an instance that cannot clone must not start");
        };
        let error = format!("{error:#}");
        assert!(
            error.contains(why) && error.contains("--upstream-token"),
            "{error}"
        );
        assert!(!error.contains("not-the-token"), "the token is never shown");
    }

    // A repository cloned earlier: served from what it has, writes refused until the token
    // is right.
    let app = instance(&url, Some("not-the-token"), |repo| {
        let status = std::process::Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(&upstream)
            .arg(repo)
            .status()
            .unwrap();
        assert!(status.success());
    })
    .await;
    let ready: Value = app.json("/readyz").await;
    assert_eq!(ready["upstream"]["reachable"], false, "{ready}");
    let error = ready["upstream"]["error"].as_str().unwrap();
    assert!(error.contains("--upstream-token"), "{error}");
    assert_eq!(app.status("/api/v1/posts/attention-scaling").await, 200);
    let refused = app.create_post(&new_post("with-a-wrong-token")).await;
    assert!(refused.headers().get("retry-after").is_some());
    assert_problem(refused, 503).await;
    assert_problem(push_hook(&app).await, 503).await;
    assert_eq!(
        branch_log(&upstream).len(),
        1,
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn an_https_upstream_with_a_private_ca_is_cloned_and_pushed_to() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = seed_repo(dir.path(), &sample_posts());
    let (server, certificate) = GitHttp::start_tls(dir.path(), UPSTREAM_TOKEN);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certificate).unwrap();
    // Without the CA, the certificate is not trusted: the clone at start fails.
    let untrusting = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_repo(untrusting.path().join("instance.git"));
    settings.listen = "127.0.0.1:0".into();
    settings_for(&server.url("content.git"), Some(UPSTREAM_TOKEN))(&mut settings);
    let Err(error) = Application::build(settings).await else {
        panic!("a certificate nobody vouches for must not be trusted");
    };
    assert!(format!("{error:#}").contains("certificate"), "{error:#}");
    let here = tempfile::tempdir().unwrap();
    let repo = here.path().join("instance.git");
    // The binary, so that the CA given through the environment is its own.
    let (_server, port, log) = start_binary(
        &repo,
        &[
            "--upstream",
            &server.url("content.git"),
            "--upstream-token",
            UPSTREAM_TOKEN,
            "--token",
            TOKEN,
        ],
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    )
    .await;
    assert_eq!(
        branch_log(&repo)[0].id,
        branch_log(&upstream)[0].id,
        "cloned over https at start: {:?}",
        log.lock().unwrap()
    );
    let written = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
        .bearer_auth(TOKEN)
        .json(&new_post("over-https"))
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 201);
    let written: Value = written.json().await.unwrap();
    assert_eq!(
        branch_log(&upstream)[0].id,
        written["commit"].as_str().unwrap(),
        "acknowledged means upstream"
    );
}
