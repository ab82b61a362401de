//! What one post may cost to render is bounded: the API refuses a post over the limits,
//! naming them; one that arrives by `git push` is served as plain text with a warning, and
//! its past versions and diffs stay cheap.

use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};
use palimpsest::post::limits::{MAX_BODY_BYTES, MAX_HTML_BYTES};

fn file(body: &str) -> String {
    format!("---\ntitle: Pathological\nstatus: published\n---\n\n{body}\n")
}

#[tokio::test]
async fn the_api_refuses_a_body_over_the_limits_naming_them() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let too_long = json!({
        "front_matter": {"title": "Long"},
        "markdown": "&#".repeat(MAX_BODY_BYTES / 2 + 1),
    });
    let problem = assert_problem(app.create_post(&too_long).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "markdown");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&MAX_BODY_BYTES.to_string())
    );

    // Within the size limit, but each `$x` becomes a math span: too much HTML.
    let expanding = json!({"raw": file(&"$x".repeat(MAX_BODY_BYTES / 2 - 64))});
    let problem = assert_problem(app.create_post(&expanding).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "raw");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&MAX_HTML_BYTES.to_string())
    );
    assert_eq!(app.branch_log().len(), before, "nothing was committed");
}

#[tokio::test]
async fn a_pushed_post_over_the_limits_is_served_as_plain_text_with_a_warning() {
    let app = spawn_app().await;
    let huge = "&#".repeat(500_000);
    let old = app.commit_outside(
        "Push a pathological post",
        &[("posts/pathological.md", Some(&file(&huge)))],
    );
    let expanding = "$x".repeat(MAX_BODY_BYTES / 2 - 64);
    app.commit_outside(
        "Make it expand instead",
        &[("posts/pathological.md", Some(&file(&expanding)))],
    );
    let post = app
        .eventually("/api/v1/posts/pathological", |post| {
            post["markdown"]
                .as_str()
                .is_some_and(|m| m.starts_with("$x"))
        })
        .await;
    assert_plain_text(&post, &MAX_HTML_BYTES.to_string());

    let past = app
        .json(&format!("/api/v1/posts/pathological?rev={old}"))
        .await;
    assert_plain_text(&past, &MAX_BODY_BYTES.to_string());
    assert_eq!(past["markdown"].as_str().unwrap().len(), huge.len() + 1);

    let diff = app
        .get("/api/v1/posts/pathological/diff")
        .send()
        .await
        .unwrap();
    assert_eq!(diff.status(), 200);
}

/// The post's HTML is its escaped text, bounded in size, and a warning names `limit`.
fn assert_plain_text(post: &Value, limit: &str) {
    let html = post["html"].as_str().unwrap();
    assert!(
        html.starts_with("<pre>") && !html.contains("<span"),
        "{}",
        &html[..80]
    );
    assert!(
        html.len() <= 6 * MAX_BODY_BYTES,
        "{} bytes of HTML",
        html.len()
    );
    assert!(
        post["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(limit)),
        "{}",
        post["warnings"]
    );
    assert_eq!(post["sections"], json!([]));
}
