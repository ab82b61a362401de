//! Figures and other assets: served from the branch, listed, uploaded and deleted.

use reqwest::Method;

use crate::helpers::{
    TestApp, assert_problem, etag_of, sample_posts, spawn_app, spawn_app_configured,
};

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>"#;

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn upload(
    app: &TestApp,
    path: &str,
    body: &'static [u8],
    if_match: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .as_author(Method::PUT, &format!("/api/v1/assets/{path}"))
        .header("X-Commit-Message", format!("Add {path}"))
        .body(body);
    if let Some(etag) = if_match {
        request = request.header("If-Match", etag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_figure_is_served_typed_cached_and_sandboxed() {
    let app = spawn_app().await;
    let first = app.commit_outside("Add a figure", &[("assets/plots/fig.svg", Some(SVG))]);
    app.commit_outside("Redraw it", &[("assets/plots/fig.svg", Some("<svg/>"))]);
    wait_until_served(&app, "/assets/plots/fig.svg", "<svg/>").await;

    let response = app.get("/assets/plots/fig.svg").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "image/svg+xml");
    assert_eq!(header(&response, "content-security-policy"), "sandbox");
    assert!(header(&response, "cache-control").contains("must-revalidate"));
    let etag = etag_of(&response);
    assert_eq!(etag.len(), 42, "a blob id in quotes: {etag}");
    assert_eq!(response.text().await.unwrap(), "<svg/>");

    let again = app
        .get("/assets/plots/fig.svg")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let old = app
        .get(&format!("/assets/plots/fig.svg?rev={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 200);
    assert!(header(&old, "cache-control").contains("immutable"));
    assert_eq!(old.text().await.unwrap(), SVG);
}

#[tokio::test]
async fn paths_that_leave_the_assets_folder_are_refused_and_missing_ones_are_404() {
    let app = spawn_app().await;
    for path in [
        "/assets/.git/config",
        "/assets/a/..%2F..%2Fposts%2Fx.md",
        "/assets/%2Fetc%2Fpasswd",
    ] {
        assert_problem(app.get(path).send().await.unwrap(), 400).await;
    }
    assert_problem(app.get("/assets/none.svg").send().await.unwrap(), 404).await;
    let unknown = app
        .get("/assets/none.svg?rev=abcdef12")
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404).await;
}

#[tokio::test]
async fn an_author_uploads_replaces_and_deletes_an_asset_one_commit_each() {
    let app = spawn_app_configured(sample_posts(), |settings| {
        settings.public_url = Some("https://blog.example.org/".into());
    })
    .await;
    let commits = app.branch_log().len();

    let created = upload(&app, "fig.svg", SVG.as_bytes(), None).await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "location"), "/assets/fig.svg");
    let etag = etag_of(&created);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["path"], "fig.svg");
    assert_eq!(body["content_type"], "image/svg+xml");
    assert_eq!(body["bytes"], SVG.len());
    assert_eq!(body["url"], "https://blog.example.org/assets/fig.svg");
    let log = app.branch_log();
    assert_eq!(log.len(), commits + 1);
    assert_eq!(log[0].message, "Add fig.svg");
    assert_eq!(log[0].id, body["commit"]);
    assert_eq!(app.text("/assets/fig.svg").await, SVG);

    let listed: serde_json::Value = app.json("/api/v1/assets").await;
    assert_eq!(listed["assets"][0]["path"], "fig.svg");
    assert_eq!(listed["assets"][0]["blob"], body["blob"]);
    assert_eq!(listed["meta"]["total"], 1);

    let replaced = upload(&app, "fig.svg", b"<svg/>", Some(&etag)).await;
    assert_eq!(replaced.status(), 200);
    let stale = upload(&app, "fig.svg", b"<svg></svg>", Some(&etag)).await;
    assert_problem(stale, 412).await;
    assert_eq!(app.text("/assets/fig.svg").await, "<svg/>");

    let delete = |if_match: Option<String>| {
        let mut request = app.as_author(Method::DELETE, "/api/v1/assets/fig.svg");
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        request.send()
    };
    assert_problem(delete(None).await.unwrap(), 428).await;
    let current = etag_of(&app.get("/assets/fig.svg").send().await.unwrap());
    assert_eq!(delete(Some(current)).await.unwrap().status(), 200);
    assert_problem(app.get("/assets/fig.svg").send().await.unwrap(), 404).await;
    assert_eq!(app.branch_log().len(), commits + 3);
}

#[tokio::test]
async fn uploads_of_other_types_too_large_or_anonymous_are_refused() {
    let app = spawn_app_configured(sample_posts(), |settings| settings.max_asset_bytes = 16).await;
    let commits = app.branch_log().len();
    assert_problem(upload(&app, "page.html", b"<p>", None).await, 415).await;
    let mislabelled = app
        .as_author(Method::PUT, "/api/v1/assets/fig.png")
        .header("Content-Type", "text/html")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_problem(mislabelled, 415).await;
    assert_problem(upload(&app, "big.csv", &[b'1'; 17], None).await, 413).await;
    assert_problem(upload(&app, ".git/x.png", b"x", None).await, 400).await;
    let anonymous = app
        .client
        .put(app.url("/api/v1/assets/fig.png"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401).await;
    assert_eq!(
        upload(&app, "data.csv", b"a,b\n1,2\n", None).await.status(),
        201
    );
    assert_eq!(app.branch_log().len(), commits + 1);
}

#[tokio::test]
async fn an_asset_pushed_with_git_is_served_without_a_restart() {
    let app = spawn_app().await;
    assert_problem(app.get("/assets/pushed.svg").send().await.unwrap(), 404).await;
    app.commit_outside("Push a figure", &[("assets/pushed.svg", Some(SVG))]);
    wait_until_served(&app, "/assets/pushed.svg", SVG).await;
}

/// Polls `path` until it serves `expected`: a push is seen by the branch watcher, within a
/// second.
async fn wait_until_served(app: &TestApp, path: &str, expected: &str) {
    for _ in 0..100 {
        let response = app.get(path).send().await.unwrap();
        if response.status() == 200 && response.text().await.unwrap() == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{path} did not serve the pushed bytes within a second");
}
