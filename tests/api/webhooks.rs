//! Webhooks: every branch move, by an API write or from outside, is told to each receiver
//! as a signed `branch.moved` event, at least once: through failures, a receiver that never
//! answers, and a restart of the server while the receiver is down. Drafts are never named.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::helpers::{
    AUTHOR, TOKEN, TestApp, branch_log, sample_posts, seed_repo, spawn_app_on_configured,
    start_binary,
};
use crate::receiver::{Answer, Received, Receiver};

const SECRET: &str = "a-webhook-secret";

/// A server over the sample blog telling `receiver`, retrying quickly.
async fn spawn_told(receiver: &Receiver, timeout: Duration) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let url = receiver.url.clone();
    spawn_app_on_configured(dir, repo, move |settings| {
        settings.webhooks.urls = vec![url];
        settings.webhooks.secret = Some(SECRET.into());
        settings.webhooks.retry.timeout = timeout;
        settings.webhooks.retry.first = Duration::from_millis(50);
        settings.webhooks.retry.longest = Duration::from_millis(200);
    })
    .await
}

fn new_post(slug: &str, status: &str) -> Value {
    json!({
        "slug": slug,
        "front_matter": {"title": format!("About {slug}"), "status": status},
        "markdown": "## Question\n\nWhy?\n",
        "message": format!("Write {slug}"),
    })
}

async fn create(app: &TestApp, slug: &str, status: &str) -> String {
    let response = app.create_post(&new_post(slug, status)).await;
    assert_eq!(response.status(), 201);
    let written: Value = response.json().await.unwrap();
    written["commit"].as_str().unwrap().to_string()
}

/// Deliveries the receiver acknowledged (answered 2xx) whose event ends at `tip`.
fn reached(received: &[Received], tip: &str) -> bool {
    received.iter().any(|r| r.json()["after"] == tip)
}

fn expected_signature(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn every_branch_move_is_told_with_a_signed_event() {
    let receiver = Receiver::start();
    let app = spawn_told(&receiver, Duration::from_secs(5)).await;
    let first_tip = branch_log(&app.repo)[0].id.clone();

    let written = create(&app, "sparse-attention", "published").await;
    let received = receiver
        .until("the API write", |r| reached(r, &written))
        .await;
    let delivery = &received[0];
    assert_eq!(delivery.header("x-palimpsest-event"), Some("branch.moved"));
    assert_eq!(
        delivery.header("content-type"),
        Some("application/json"),
        "content type"
    );
    assert_eq!(
        delivery.header("x-palimpsest-signature-256"),
        Some(expected_signature(&delivery.body).as_str())
    );
    let event = delivery.json();
    assert_eq!(event["event"], "branch.moved");
    assert_eq!(event["branch"], "main");
    assert_eq!(event["before"], first_tip.as_str());
    assert_eq!(event["after"], written.as_str());
    assert_eq!(
        event["commits"],
        json!([{
            "commit": written,
            "message": "Write sparse-attention",
            "author": {"name": "Mira Okafor", "email": "mira@example.org"},
            "committed_at": event["commits"][0]["committed_at"],
            "posts": [{"slug": "sparse-attention", "change": "added"}],
        }])
    );

    // A commit pushed from outside moves the branch too.
    let pushed = app.commit_outside(
        "Pushed from a laptop",
        &[("posts/attention-scaling.md", None)],
    );
    let received = receiver
        .until("the pushed commit", |r| reached(r, &pushed))
        .await;
    let event = received.last().unwrap().json();
    assert_eq!(event["before"], written.as_str());
    assert_eq!(event["commits"][0]["message"], "Pushed from a laptop");
    assert_eq!(
        event["commits"][0]["posts"],
        json!([{"slug": "attention-scaling", "change": "deleted"}])
    );
    let ids: std::collections::HashSet<_> = received
        .iter()
        .map(|r| r.header("x-palimpsest-delivery").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), received.len(), "each delivery has its own id");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_the_same_delivery_until_it_acknowledges() {
    let receiver = Receiver::start();
    receiver.answer(&[
        Answer::Status(500),
        Answer::Status(503),
        Answer::Status(404),
    ]);
    let app = spawn_told(&receiver, Duration::from_secs(5)).await;

    let written = create(&app, "retried-post", "published").await;
    let received = receiver.until("four attempts", |r| r.len() >= 4).await;
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.header("x-palimpsest-delivery").unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "retries keep the id: {ids:?}"
    );
    assert!(
        received
            .iter()
            .all(|r| r.json()["after"] == written.as_str())
    );

    let status = eventually_status(&app, |hook| hook["backlog"] == 0).await;
    assert_eq!(status["acknowledged"], written.as_str());
    assert_eq!(status["failures"], 0);
    assert_eq!(status["last_delivery"]["outcome"], "delivered");
    assert_eq!(status["last_delivery"]["attempt"], 4);
    assert_eq!(status["last_delivery"]["http_status"], 200);
    assert_eq!(receiver.received().len(), 4, "nothing delivered twice");
}

#[tokio::test]
async fn a_receiver_that_never_answers_delays_no_write_and_is_retried() {
    let receiver = Receiver::start();
    receiver.answer(&[Answer::Hang, Answer::Hang]);
    let app = spawn_told(&receiver, Duration::from_millis(300)).await;

    let first = create(&app, "first-while-hanging", "published").await;
    receiver.until("the first attempt", |r| !r.is_empty()).await;
    // The receiver holds that attempt; writes go on meanwhile.
    let second = create(&app, "second-while-hanging", "published").await;
    let status = eventually_status(&app, |hook| hook["failures"].as_u64() >= Some(1)).await;
    assert_eq!(
        status["last_delivery"]["error"],
        "the receiver did not answer in time"
    );

    eventually_status(&app, |hook| hook["backlog"] == 0).await;
    let received = receiver.received();
    // The first two attempts hung; what the later ones told covers both writes.
    let told: Vec<String> = received[2..]
        .iter()
        .flat_map(|r| r.json()["commits"].as_array().unwrap().clone())
        .map(|c| c["commit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(told, [first, second], "both writes told, oldest first");
}

#[tokio::test]
async fn drafts_are_never_named_to_a_webhook() {
    let receiver = Receiver::start();
    let app = spawn_told(&receiver, Duration::from_secs(5)).await;

    let draft = create(&app, "secret-draft", "draft").await;
    let received = receiver
        .until("the draft's move", |r| reached(r, &draft))
        .await;
    let event = received.last().unwrap().json();
    assert_eq!(
        event["commits"],
        json!([]),
        "a commit to a draft only is left out"
    );
    // One commit changing a draft and a published post names the published one only.
    let both = app.commit_outside(
        "Touch both",
        &[
            (
                "posts/secret-draft.md",
                Some("---\ntitle: Still secret\nstatus: draft\n---\n"),
            ),
            ("posts/moe-routing.md", None),
            (
                "posts/attention-scaling.md",
                Some("---\ntitle: Rewritten\n---\n\n## Question\n\nWhy?\n"),
            ),
        ],
    );
    let received = receiver
        .until("the mixed commit", |r| reached(r, &both))
        .await;
    let event = received.last().unwrap().json();
    assert_eq!(
        event["commits"][0]["posts"],
        json!([{"slug": "attention-scaling", "change": "modified"}])
    );
    for delivery in &received {
        let body = String::from_utf8_lossy(&delivery.body);
        assert!(
            !body.contains("secret-draft") && !body.contains("moe-routing"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_webhooks_status_needs_a_token() {
    let receiver = Receiver::start();
    let app = spawn_told(&receiver, Duration::from_secs(5)).await;
    let anonymous = app.get("/api/v1/webhooks").send().await.unwrap();
    crate::helpers::assert_problem(anonymous, 401).await;
    let status = eventually_status(&app, |hook| hook["backlog"] == 0).await;
    assert_eq!(status["url"], receiver.url.as_str());
    assert_eq!(
        status["last_delivery"],
        Value::Null,
        "nothing to deliver yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_the_receiver_is_down_delivers_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let first_tip = branch_log(&repo)[0].id.clone();
    // A port nobody listens on yet: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let envs = [
        ("PALIMPSEST_TOKEN", TOKEN),
        ("PALIMPSEST_AUTHOR", AUTHOR),
        ("PALIMPSEST_WEBHOOKS", url.as_str()),
        ("PALIMPSEST_WEBHOOK_SECRET", SECRET),
    ];
    let (mut server, server_port, _log) = start_binary(&repo, &[], &envs).await;
    let client = reqwest::Client::new();
    let mut written = Vec::new();
    for slug in ["missed-one", "missed-two"] {
        let response = client
            .post(format!("http://127.0.0.1:{server_port}/api/v1/posts"))
            .bearer_auth(TOKEN)
            .json(&new_post(slug, "published"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        written.push(body["commit"].as_str().unwrap().to_string());
    }
    server.kill().await.unwrap();

    let receiver = Receiver::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    let (_restarted, _, _log) = start_binary(&repo, &[], &envs).await;
    let received = receiver
        .until("what it missed", |r| reached(r, &written[1]))
        .await;
    let event = received[0].json();
    assert_eq!(event["before"], first_tip.as_str());
    let commits: Vec<_> = event["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(commits, written, "both writes, oldest first");
    assert_eq!(
        received[0].header("x-palimpsest-signature-256"),
        Some(expected_signature(&received[0].body).as_str())
    );
}

/// Polls `GET /api/v1/webhooks` until its one webhook satisfies `done`.
async fn eventually_status(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let body = app
        .eventually("/api/v1/webhooks", |body| done(&body["webhooks"][0]))
        .await;
    body["webhooks"][0].clone()
}
