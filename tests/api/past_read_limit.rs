//! The limit on anonymous reads of the past: a client over its share is answered 429 with
//! `Retry-After` and a problem, while its reads of the present, authors and other clients
//! go on being answered; all anonymous clients together share a budget of bytes, over
//! which they are answered 503; both are set by flags and can be turned off. The rates are
//! per minute, or one byte a second, so that nothing here depends on how fast the machine
//! runs the test.

use reqwest::{RequestBuilder, Response};

use crate::helpers::{TestApp, assert_problem, sample_posts, spawn_app_configured, start_binary};

const SLUG: &str = "attention-scaling";

/// An app where each anonymous client may read the past three times a minute, and whose
/// client address is taken from `X-Forwarded-For`, so one test can play several clients.
async fn limited_app() -> (TestApp, String) {
    let app = spawn_app_configured(sample_posts(), |settings| {
        settings.past_read_limit.per_minute = 1;
        settings.past_read_limit.burst = 3;
        settings.past_read_limit.trust_forwarded_for = true;
    })
    .await;
    let commit = app.branch_log()[0].id.clone();
    (app, commit)
}

/// `request` as the proxy in front passes on one from `client` (after whatever the client
/// itself claimed).
fn from(request: RequestBuilder, client: &str) -> RequestBuilder {
    request.header("X-Forwarded-For", format!("203.0.113.99, {client}"))
}

async fn read_as(app: &TestApp, client: &str, path: &str) -> Response {
    from(app.get(path), client).send().await.unwrap()
}

/// The `Retry-After` of `response`, in seconds.
fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

async fn assert_busy(response: Response) {
    assert!(retry_after(&response) >= 1);
    let problem = assert_problem(response, 503).await;
    assert_eq!(problem["type"], "/problems/busy");
}

async fn assert_too_many(response: Response) {
    let retry_after = retry_after(&response);
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let problem = assert_problem(response, 429).await;
    assert_eq!(problem["type"], "/problems/too-many-requests");
}

#[tokio::test]
async fn a_client_over_its_share_of_the_past_is_told_to_come_back_and_nobody_else_is() {
    let (app, commit) = limited_app().await;
    let past = [
        format!("/api/v1/posts/{SLUG}?rev={commit}"),
        format!("/api/v1/posts/{SLUG}/diff"),
        format!("/api/v1/posts/{SLUG}/blame"),
    ];
    for path in &past {
        assert_eq!(
            read_as(&app, "198.51.100.1", path).await.status(),
            200,
            "{path}"
        );
    }
    // Every kind of read of the past counts, however it is spelled.
    for path in [
        format!("/api/v1/posts/{SLUG}/revisions/{commit}"),
        format!("/api/v1/posts/{SLUG}?r%65v={commit}"),
        format!("/api/v1/posts/{SLUG}/diff?from={commit}"),
        "/api/v1/posts?as_of=2030-01-01".to_string(),
    ] {
        assert_too_many(read_as(&app, "198.51.100.1", &path).await).await;
    }

    // The same client still reads the present.
    let present = format!("/api/v1/posts/{SLUG}");
    assert_eq!(read_as(&app, "198.51.100.1", &present).await.status(), 200);
    assert_eq!(
        read_as(&app, "198.51.100.1", "/api/v1/posts")
            .await
            .status(),
        200
    );
    // Another client has its own share, and an author is never limited.
    assert_eq!(read_as(&app, "198.51.100.2", &past[0]).await.status(), 200);
    for _ in 0..5 {
        let author = from(app.get_as_author(&past[0]), "198.51.100.1");
        assert_eq!(author.send().await.unwrap().status(), 200);
    }
    // A token that is not valid is refused as such, not let through as an author.
    let forged = from(
        app.get(&past[0]).bearer_auth("not-the-token"),
        "198.51.100.1",
    );
    assert_problem(forged.send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn all_anonymous_clients_share_one_budget_of_bytes_of_the_past() {
    let app = spawn_app_configured(sample_posts(), |settings| {
        settings.past_read_limit.bytes_per_second = 1;
        settings.past_read_limit.trust_forwarded_for = true;
    })
    .await;
    let diff = format!("/api/v1/posts/{SLUG}/diff");
    assert_eq!(read_as(&app, "198.51.100.1", &diff).await.status(), 200);
    // That answer spent the budget for a long while, for every address, each within its
    // own share.
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_busy(read_as(&app, client, &diff).await).await;
    }
    // The present is not counted, and authors are not limited.
    let present = format!("/api/v1/posts/{SLUG}");
    assert_eq!(read_as(&app, "198.51.100.2", &present).await.status(), 200);
    let author = from(app.get_as_author(&diff), "198.51.100.2");
    assert_eq!(author.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn clients_are_told_apart_by_their_connection_unless_the_proxy_is_trusted() {
    let app = spawn_app_configured(sample_posts(), |settings| {
        settings.past_read_limit.per_minute = 1;
        settings.past_read_limit.burst = 1;
    })
    .await;
    let path = format!("/api/v1/posts/{SLUG}/diff");
    assert_eq!(read_as(&app, "198.51.100.1", &path).await.status(), 200);
    // A header the client writes itself does not make it someone else.
    assert_too_many(read_as(&app, "198.51.100.2", &path).await).await;
}

#[tokio::test]
async fn the_limit_is_set_by_flags_and_zero_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let repo = crate::helpers::seed_repo(dir.path(), &sample_posts());
    let path = format!("/api/v1/posts/{SLUG}/diff");
    let client = reqwest::Client::new();

    let limited = ["--past-reads-per-minute", "1", "--past-reads-burst", "2"];
    let (mut server, port, _) = start_binary(&repo, &limited, &[]).await;
    let url = format!("http://127.0.0.1:{port}{path}");
    for _ in 0..2 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    assert_too_many(client.get(&url).send().await.unwrap()).await;
    server.kill().await.unwrap();

    let budget = ["--past-bytes-per-second", "1"];
    let (mut server, port, _) = start_binary(&repo, &budget, &[]).await;
    let url = format!("http://127.0.0.1:{port}{path}");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_busy(client.get(&url).send().await.unwrap()).await;
    server.kill().await.unwrap();

    let off = [
        ("PALIMPSEST_PAST_READS_PER_MINUTE", "0"),
        ("PALIMPSEST_PAST_BYTES_PER_SECOND", "0"),
    ];
    let (mut server, port, _) = start_binary(&repo, &[], &off).await;
    let url = format!("http://127.0.0.1:{port}{path}");
    for _ in 0..50 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    server.kill().await.unwrap();
}
