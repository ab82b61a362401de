//! List orders are sorted once per snapshot: they must still follow every new commit, and
//! each status and order keeps its own list.

use serde_json::Value;

use crate::helpers::{post, spawn_app};

fn slugs(list: &Value) -> Vec<String> {
    list["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_new_commit_reorders_a_list_already_served() {
    let app = spawn_app().await;
    let before: Value = app
        .get("/api/v1/posts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        slugs(&before),
        ["layernorm-vs-rmsnorm", "attention-scaling"]
    );

    let newest = post(
        "KV cache",
        "2026-12-01",
        "[inference]",
        "published",
        "x",
        "- y",
    );
    app.commit_outside("Add kv-cache", &[("posts/kv-cache.md", Some(&newest))]);
    let after = app
        .eventually("/api/v1/posts", |list| list["meta"]["total"] == 3)
        .await;
    assert_eq!(
        slugs(&after),
        ["kv-cache", "layernorm-vs-rmsnorm", "attention-scaling"]
    );
}

#[tokio::test]
async fn each_status_and_order_is_its_own_list() {
    let app = spawn_app().await;
    let list = |query: &'static str| {
        let request = app.get_as_author(&format!("/api/v1/posts?{query}"));
        async move { slugs(&request.send().await.unwrap().json().await.unwrap()) }
    };
    assert_eq!(
        list("status=all").await,
        ["moe-routing", "layernorm-vs-rmsnorm", "attention-scaling"]
    );
    assert_eq!(
        list("status=all&sort=date").await,
        ["attention-scaling", "layernorm-vs-rmsnorm", "moe-routing"]
    );
    assert_eq!(list("status=draft").await, ["moe-routing"]);
    assert_eq!(
        list("status=all&sort=title").await,
        ["layernorm-vs-rmsnorm", "moe-routing", "attention-scaling"]
    );
    assert_eq!(
        list("sort=title&per_page=1&page=2").await,
        ["attention-scaling"]
    );
}

/// `-date` orders posts by the instant they were first published, whatever offset their
/// `date` is written with; a date that does not parse sorts as no date, last.
#[tokio::test]
async fn newest_first_compares_instants_not_text() {
    let dated = |date: &str| post("A post", date, "[t]", "published", "x", "- y");
    let app = crate::helpers::spawn_app_with(vec![
        (
            "late-evening-in-new-york",
            dated("2026-11-02T23:00:00-05:00"),
        ),
        ("early-morning-in-london", dated("2026-11-03T01:00:00Z")),
        ("the-day-before", dated("2026-11-02")),
        ("someday", dated("someday")),
    ])
    .await;
    let list: Value = app
        .get("/api/v1/posts?sort=-date")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        slugs(&list),
        [
            "late-evening-in-new-york",
            "early-morning-in-london",
            "the-day-before",
            "someday"
        ]
    );
}
