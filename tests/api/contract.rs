//! Cross-cutting promises of the contract, checked on every endpoint they cover.

use crate::helpers::{assert_problem, spawn_app};

/// An unknown query parameter is a 400 on every read, never silently ignored, so that a
/// client's typo (`?tags=` for `?tag=`) does not pass for an answer.
#[tokio::test]
async fn every_read_rejects_an_unknown_query_parameter() {
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
    ] {
        let fine = app.get(&path).send().await.unwrap();
        assert_eq!(fine.status(), 200, "{path}");
        let typo = app.get(&format!("{path}?tags=attention")).send().await.unwrap();
        let problem = assert_problem(typo, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("tags"),
            "{path}: {problem}"
        );
    }
}
