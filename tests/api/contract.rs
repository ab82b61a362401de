//! Cross-cutting promises of the contract, checked on every endpoint they cover.

use crate::helpers::{assert_problem, post, spawn_app};

/// Query parameters a read does not know (cache busters, `utm_*`) are ignored on every
/// read, so that a frontend's tracking or cache-busting never breaks it; a bad value of a
/// known parameter is still a 400 (see `reading::bad_query_values_are_400`).
#[tokio::test]
async fn every_read_ignores_unknown_query_parameters() {
    let app = spawn_app().await;
    let revisions: serde_json::Value = app
        .get("/api/v1/posts/attention-scaling/revisions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rev = revisions["revisions"][0]["commit"].as_str().unwrap();
    // The ledger is built in the background after start; 503 until then.
    app.eventually("/api/v1/questions", |body| body["questions"].is_array())
        .await;
    for path in [
        "/api/v1/posts".to_string(),
        "/api/v1/posts/attention-scaling".to_string(),
        "/api/v1/posts/attention-scaling/revisions".to_string(),
        format!("/api/v1/posts/attention-scaling/revisions/{rev}"),
        "/api/v1/posts/attention-scaling/diff".to_string(),
        "/api/v1/posts/attention-scaling/backlinks".to_string(),
        "/api/v1/history".to_string(),
        "/api/v1/tags".to_string(),
        "/api/v1/feed.atom".to_string(),
        "/api/v1/assets".to_string(),
        "/api/v1/posts/attention-scaling/blame".to_string(),
        "/api/v1/questions".to_string(),
        "/api/v1/search?q=softmax".to_string(),
    ] {
        let plain = app.text(&path).await;
        let separator = if path.contains('?') { '&' } else { '?' };
        let busted = app
            .get(&format!(
                "{path}{separator}utm_source=newsletter&_=1733300000"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(busted.status(), 200, "{path}");
        assert_eq!(busted.text().await.unwrap(), plain, "{path}");
    }
}

/// A post's ETag changes whenever its body does, even when its file does not: anonymous
/// readers and authors see different `links_to` when it links to a draft, and publishing
/// that draft changes what anonymous readers get.
#[tokio::test]
async fn a_posts_etag_differs_whenever_its_body_does() {
    let app = spawn_app().await;
    // layernorm-vs-rmsnorm links to the draft moe-routing.
    let path = "/api/v1/posts/layernorm-vs-rmsnorm";
    let read = |author: bool| {
        let request = if author {
            app.get_as_author(path)
        } else {
            app.get(path)
        };
        async move {
            let response = request.send().await.unwrap();
            let etag = response.headers()["etag"].to_str().unwrap().to_string();
            (etag, response.text().await.unwrap())
        }
    };
    let (anonymous_etag, anonymous_body) = read(false).await;
    let (author_etag, author_body) = read(true).await;
    assert_ne!(
        anonymous_body, author_body,
        "only authors see the link to the draft"
    );
    assert_ne!(anonymous_etag, author_etag);

    let published = post(
        "Mixture-of-experts routing",
        "2026-11-01",
        "[moe, transformers]",
        "published",
        "Links to [attention](attention-scaling).",
        "- Top-1 or top-2?",
    );
    let tip = app.commit_outside("Publish", &[("posts/moe-routing.md", Some(&published))]);
    app.eventually("/readyz", |body| body["served_tip"] == tip.as_str())
        .await;
    let revalidated = app
        .get(path)
        .header("If-None-Match", &anonymous_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        revalidated.status(),
        200,
        "the links changed, the file did not"
    );
    let (etag, _) = read(false).await;
    let fresh = app
        .get(path)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 304);
}

/// A problem depends on who asks (a draft is a 404 to anonymous readers only) and on the
/// moment (a 404 until the post is pushed): no cache may store one and hand it to an author,
/// or keep it after the post appears.
#[tokio::test]
async fn a_problem_is_never_stored_by_a_cache() {
    let app = spawn_app().await;
    let answers = [
        app.get("/api/v1/posts/moe-routing").send().await.unwrap(),
        app.get("/api/v1/posts/not-yet-written")
            .send()
            .await
            .unwrap(),
        app.client
            .delete(app.url("/api/v1/tags"))
            .send()
            .await
            .unwrap(),
    ];
    for response in answers {
        let url = response.url().to_string();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("cache-control"), "no-store", "{url}");
        assert!(
            header("vary")
                .to_ascii_lowercase()
                .contains("authorization"),
            "{url}"
        );
        let status = response.status().as_u16();
        assert!(status == 404 || status == 405, "{url}");
        assert_problem(response, status).await;
    }
}
