//! A renamed post's old slug: everything readable under it redirects to the same place
//! under the new slug, query kept, until a post takes the old slug; drafts stay unnamed
//! and writes are not redirected.

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, assert_problem, post, spawn_app};

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(app: &TestApp, path: &str, token: bool) -> Response {
    let mut request = no_redirects().get(app.url(path));
    if token {
        request = request.bearer_auth(TOKEN);
    }
    request.send().await.unwrap()
}

/// The newest revision of the post at `slug`, as its author sees it.
async fn latest_commit(app: &TestApp, slug: &str) -> String {
    let revisions: Value = app
        .get_as_author(&format!("/api/v1/posts/{slug}/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    revisions["revisions"][0]["commit"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The post itself and the readable routes under it, most with a query, for a post with
/// `commit` in its history.
fn readable_routes(commit: &str) -> Vec<String> {
    vec![
        "?utm_source=x".to_owned(),
        "/revisions?page=1&utm_source=x".to_owned(),
        format!("/revisions/{commit}?utm_source=x"),
        "/revisions.atom".to_owned(),
        format!("/diff?to={commit}"),
        "/blame?section=question".to_owned(),
        "/backlinks".to_owned(),
    ]
}

#[tokio::test]
async fn an_old_slug_and_every_readable_route_under_it_redirect_until_a_post_takes_it() {
    let app = spawn_app().await;
    let renamed = app
        .rename_post("attention-scaling", &json!({"new_slug": "attention"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let revisions = app.json("/api/v1/posts/attention/revisions").await;
    let commit = revisions["revisions"][0]["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    for route in readable_routes(&commit) {
        for token in [false, true] {
            let old = get(
                &app,
                &format!("/api/v1/posts/attention-scaling{route}"),
                token,
            )
            .await;
            assert_eq!(old.status(), 301, "{route}");
            assert_eq!(
                old.headers()["location"],
                format!("/api/v1/posts/attention{route}").as_str()
            );
        }
        let head = no_redirects()
            .head(app.url(&format!("/api/v1/posts/attention-scaling{route}")))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 301, "HEAD {route}");
        // Where it leads answers.
        let followed = app
            .get(&format!("/api/v1/posts/attention-scaling{route}"))
            .send()
            .await
            .unwrap();
        assert_eq!(followed.status(), 200, "{route} followed");
    }
    // A bad parameter is refused as such, not sent on to the new slug (as the post's own
    // route checks its query before it redirects).
    for bad in [
        "/revisions?page=x",
        "/revisions?per_page=-1",
        "/diff?from=zz",
    ] {
        let refused = get(
            &app,
            &format!("/api/v1/posts/attention-scaling{bad}"),
            false,
        )
        .await;
        assert_problem(refused, 400).await;
    }
    // Twice renamed: the first slug leads to the last.
    app.rename_post("attention", &json!({"new_slug": "scaled-attention"}))
        .await;
    let oldest = get(&app, "/api/v1/posts/attention-scaling/revisions", false).await;
    assert_eq!(
        oldest.headers()["location"],
        "/api/v1/posts/scaled-attention/revisions"
    );
    // A post at the old slug takes its URLs back.
    let reused = post("New", "2026-12-01", "[]", "published", "Fresh.", "- q");
    let created = app
        .create_post(&json!({"slug": "attention-scaling", "raw": reused}))
        .await;
    assert_eq!(created.status(), 201);
    let (now, _) = app.read_post("attention-scaling").await;
    assert_eq!(now["title"], "New");
    let now = get(&app, "/api/v1/posts/attention-scaling/revisions", false).await;
    assert_eq!(now.status(), 200);
    let now: Value = now.json().await.unwrap();
    assert_eq!(now["revisions"].as_array().unwrap().len(), 1, "{now}");
    assert_problem(
        get(&app, "/api/v1/posts/never-was/revisions", false).await,
        404,
    )
    .await;
    assert_problem(get(&app, "/api/v1/posts/never-was", false).await, 404).await;
}

#[tokio::test]
async fn a_renamed_drafts_new_slug_is_told_only_to_authors() {
    let app = spawn_app().await;
    let renamed = app
        .rename_post("moe-routing", &json!({"new_slug": "expert-routing"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let commit = latest_commit(&app, "expert-routing").await;
    for route in readable_routes(&commit) {
        let path = format!("/api/v1/posts/moe-routing{route}");
        let anonymous = get(&app, &path, false).await;
        assert!(anonymous.headers().get("location").is_none(), "{route}");
        let problem = assert_problem(anonymous, 404).await;
        assert!(!problem.to_string().contains("expert"), "{problem}");
        let author = get(&app, &path, true).await;
        assert_eq!(author.status(), 301, "{route}");
        assert_eq!(
            author.headers()["location"],
            format!("/api/v1/posts/expert-routing{route}").as_str()
        );
    }
}

#[tokio::test]
async fn writes_to_an_old_slug_are_not_redirected() {
    let app = spawn_app().await;
    app.rename_post("attention-scaling", &json!({"new_slug": "attention"}))
        .await;
    let raw = post("T", "2026-12-01", "[]", "published", "Body.", "- q");
    let put = app
        .put_post("attention-scaling", &json!({"raw": raw}), Some("\"x\""))
        .await;
    let patch = app
        .patch_post(
            "attention-scaling",
            &json!({"front_matter": {"title": "T"}}),
            Some("\"x\""),
        )
        .await;
    let delete = app.delete_post("attention-scaling", Some("\"x\"")).await;
    let rename = app
        .rename_post("attention-scaling", &json!({"new_slug": "elsewhere"}))
        .await;
    let restore = app
        .as_author(Method::POST, "/api/v1/posts/attention-scaling/restore")
        .json(&json!({"revision": "0000"}))
        .send()
        .await
        .unwrap();
    for response in [put, patch, delete, rename, restore] {
        let status = response.status().as_u16();
        assert!(
            response.headers().get("location").is_none(),
            "{status} {:?}",
            response.url()
        );
        assert!(
            matches!(status, 404 | 409 | 412),
            "{status} {:?}",
            response.url()
        );
    }
    assert_eq!(app.status("/api/v1/posts/attention").await, 200);
}
