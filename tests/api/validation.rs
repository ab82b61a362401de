//! One validation for every write route: the same input is refused the same way whether it
//! arrives by POST, PUT or PATCH, and nothing is committed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, assert_problem, spawn_app};

const SLUG: &str = "attention-scaling";

/// Sends `front_matter` (merged into a valid post where a whole post is needed) by POST, PUT
/// and PATCH, and checks each is a 400 naming `field`.
async fn refused_everywhere(app: &TestApp, front_matter: Value, markdown: &str, field: &str) {
    let mut whole = json!({"title": "Checked"});
    whole
        .as_object_mut()
        .unwrap()
        .extend(front_matter.as_object().unwrap().clone());
    let post = json!({"front_matter": whole, "markdown": markdown});
    let problem = assert_problem(app.create_post(&post).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], field, "POST {post}");
    let (_, etag) = app.read_post(SLUG).await;
    let problem = assert_problem(app.put_post(SLUG, &post, Some(&etag)).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], field, "PUT {post}");
    if markdown.is_empty() {
        let patch = json!({"front_matter": front_matter});
        let problem = assert_problem(app.patch_post(SLUG, &patch, None).await, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "PATCH {patch}");
    }
}

#[tokio::test]
async fn the_front_matter_slug_is_checked_alike_on_every_write_route() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    refused_everywhere(&app, json!({"slug": "../../etc"}), "", "front_matter.slug").await;
    // Another post's slug: taken on create (409), not this post's on replace and patch.
    let other = json!({"slug": "layernorm-vs-rmsnorm"});
    let post = json!({"front_matter": {"title": "T", "slug": "layernorm-vs-rmsnorm"}});
    assert_problem(app.create_post(&post).await, 409).await;
    let (_, etag) = app.read_post(SLUG).await;
    assert_problem(app.put_post(SLUG, &post, Some(&etag)).await, 400).await;
    let patch = json!({"front_matter": other});
    assert_problem(app.patch_post(SLUG, &patch, None).await, 400).await;
    let own = json!({"front_matter": {"slug": SLUG}});
    assert_eq!(app.patch_post(SLUG, &own, None).await.status(), 200);
    assert_eq!(
        app.branch_log().len(),
        before + 1,
        "only the valid patch committed"
    );
}

#[tokio::test]
async fn control_characters_are_refused_in_markdown_title_and_tags() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    refused_everywhere(&app, json!({}), "## Question\n\nNUL\u{0}here\n", "markdown").await;
    refused_everywhere(&app, json!({"title": "a\u{0}b"}), "", "title").await;
    refused_everywhere(&app, json!({"tags": ["ok", "b\u{1}ad"]}), "", "tags").await;
    let raw = json!({"raw": "---\ntitle: \"a\\0b\"\n---\n\nx\n"});
    let problem = assert_problem(app.create_post(&raw).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "raw");
    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn duplicate_json_front_matter_keys_are_refused_like_duplicate_yaml_keys() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let send = |method: Method, path: &str, body: &'static str| {
        app.as_author(method, path)
            .header("content-type", "application/json")
            .body(body)
    };
    let created = send(
        Method::POST,
        "/api/v1/posts",
        r#"{"front_matter": {"title": "A", "title": "B"}, "markdown": ""}"#,
    );
    let problem = assert_problem(created.send().await.unwrap(), 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate key")
    );
    let patched = send(
        Method::PATCH,
        &format!("/api/v1/posts/{SLUG}"),
        r#"{"front_matter": {"status": "draft", "status": "published"}}"#,
    );
    assert_problem(patched.send().await.unwrap(), 400).await;
    let yaml = json!({"raw": "---\ntitle: A\ntitle: B\n---\n"});
    assert_problem(app.create_post(&yaml).await, 400).await;
    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .get("/api/v1/posts?status=all")
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
    let wrong = app
        .get("/api/v1/posts")
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401).await;
}

#[tokio::test]
async fn what_the_openapi_document_promises_is_what_the_server_enforces() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/history?page=1000001",
        "/api/v1/posts/attention-scaling/revisions?page=1000001",
        "/api/v1/posts/attention-scaling/revisions/0",
        "/api/v1/posts/attention-scaling/diff?to=",
    ] {
        assert_problem(app.get(path).send().await.unwrap(), 400).await;
    }
    let same = json!({"new_slug": SLUG});
    assert_problem(app.rename_post(SLUG, &same).await, 409).await;
    let restore = app
        .as_author(Method::POST, &format!("/api/v1/posts/{SLUG}/restore"))
        .header("if-match", "")
        .json(&json!({"revision": ""}));
    let problem = assert_problem(restore.send().await.unwrap(), 400).await;
    assert_eq!(
        problem["errors"][0]["field"], "revision",
        "checked before If-Match"
    );
}
