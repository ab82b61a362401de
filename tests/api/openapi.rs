//! The OpenAPI document and the interactive docs: the committed `openapi/openapi.json` is
//! what the code generates, the server serves it, every documented path is routed, and
//! `/docs/` works without any network.
//!
//! After changing an endpoint, regenerate the committed document with
//! `PALIMPSEST_UPDATE_OPENAPI=1 cargo test --test api openapi`.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::{TOKEN, assert_problem, spawn_app};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = format!("{}\n", palimpsest::http::openapi::document_json());
    let path = committed_path();
    if std::env::var_os("PALIMPSEST_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("writing openapi/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: regenerate it with \
         `PALIMPSEST_UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_in_openapi_3_1() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let generated: Value =
        serde_json::from_str(&palimpsest::http::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(served["components"]["schemas"]["Problem"].is_object());
}

/// Fills a documented path's parameters with values that exist in the sample blog.
fn concrete(path: &str) -> String {
    path.replace("{slug}", "attention-scaling")
}

/// Every operation in the document reaches a handler: none falls through to the "no
/// route" 404 or a 405, and what the reads answer is documented. Writes are sent without
/// a body, which the contract says is refused without touching the repository.
#[tokio::test]
async fn every_documented_operation_is_routed_where_documented() {
    let app = spawn_app().await;
    let document: Value =
        serde_json::from_str(&palimpsest::http::openapi::document_json()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/posts") && paths.contains_key("/metrics"));
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(verb) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue; // a path-level field such as `parameters`
            };
            let response = app
                .client
                .request(verb, format!("{}{}", app.address, concrete(path)))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let unrouted = status == 405 || (status == 404 && body.contains("no route for"));
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed: {body}"
            );
            let responses = &operation["responses"];
            let documented = responses[status.to_string()].is_object()
                || (status >= 400 && responses["default"].is_object());
            if method == "get" {
                assert!(documented, "GET {path} answered {status}, undocumented");
            }
        }
    }
}

#[tokio::test]
async fn docs_are_served_from_the_binary_without_a_cdn() {
    let app = spawn_app().await;
    let response = app.get("/docs").send().await.unwrap();
    assert_eq!(response.status(), 200, "/docs leads to /docs/");
    assert_eq!(response.url().path(), "/docs/");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"));

    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.ends_with(".js") || part.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 3, "scripts and styles found: {assets:?}");
    for asset in assets {
        assert!(
            !asset.contains("://"),
            "{asset} is not served by the binary"
        );
        let url = format!("/docs/{}", asset.trim_start_matches("./"));
        let response = app.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{url} is empty");
    }
    let initializer = app.text("/docs/swagger-initializer.js").await;
    assert!(initializer.contains("/openapi.json"));
    assert!(
        !initializer.contains("https://"),
        "no remote document or assets"
    );
}

#[tokio::test]
async fn a_missing_docs_asset_is_a_problem_404() {
    let app = spawn_app().await;
    let response = app.get("/docs/no-such-asset.js").send().await.unwrap();
    assert_problem(response, 404).await;
}
