//! Browsers on other origins: any page reads, only `--cors-origins` pages write.

use reqwest::Method;

use crate::helpers::{TestApp, sample_posts, spawn_app_configured};

const EDITOR: &str = "http://editor.example.org";
const STRANGER: &str = "http://elsewhere.example.net";

async fn app_with_an_editor_origin() -> TestApp {
    spawn_app_configured(sample_posts(), |settings| {
        settings.cors_origins = vec![EDITOR.into()];
    })
    .await
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/v1/posts/attention-scaling"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn any_origin_reads_and_sees_the_etag_link_and_request_id() {
    let app = app_with_an_editor_origin().await;
    for path in [
        "/api/v1/posts",
        "/api/v1/posts/attention-scaling",
        "/api/v1/posts/nope",
    ] {
        let response = app
            .get(path)
            .header("Origin", STRANGER)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let exposed = header(&response, "access-control-expose-headers")
            .unwrap()
            .to_lowercase();
        for name in ["etag", "link", "location", "x-request-id"] {
            assert!(
                exposed.contains(name),
                "{name} exposed on {path}: {exposed}"
            );
        }
    }
    let head = app
        .client
        .head(app.url("/api/v1/posts"))
        .header("Origin", STRANGER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&head, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}

#[tokio::test]
async fn a_read_preflight_is_allowed_from_any_origin() {
    let app = app_with_an_editor_origin().await;
    let response = preflight(
        &app,
        STRANGER,
        "GET",
        "if-none-match,x-request-id,authorization",
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let methods = header(&response, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && !methods.contains("PUT"),
        "{methods}"
    );
    let headers = header(&response, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(headers.contains("if-none-match") && headers.contains("authorization"));
}

#[tokio::test]
async fn a_write_preflight_is_allowed_only_from_a_configured_origin() {
    let app = app_with_an_editor_origin().await;
    let allowed = preflight(&app, EDITOR, "PUT", "authorization,content-type,if-match").await;
    assert_eq!(allowed.status(), 204);
    assert!(header(&allowed, "access-control-allow-origin").is_some());
    let methods = header(&allowed, "access-control-allow-methods").unwrap();
    for method in ["PUT", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{method} in {methods}");
    }
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "x-commit-message",
        "x-request-id",
    ] {
        assert!(headers.contains(name), "{name} in {headers}");
    }

    let refused = preflight(&app, STRANGER, "PUT", "authorization,content-type,if-match").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_write_answer_names_only_a_configured_origin() {
    let app = app_with_an_editor_origin().await;
    let patch = |origin: &'static str| {
        app.as_author(Method::PATCH, "/api/v1/posts/attention-scaling")
            .header("Origin", origin)
            .json(&serde_json::json!({"front_matter": {"series": "cors"}}))
            .send()
    };
    let from_editor = patch(EDITOR).await.unwrap();
    assert_eq!(from_editor.status(), 200);
    assert!(header(&from_editor, "access-control-allow-origin").is_some());
    let from_stranger = patch(STRANGER).await.unwrap();
    assert_eq!(header(&from_stranger, "access-control-allow-origin"), None);
}
