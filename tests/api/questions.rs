//! The open-questions ledger against a hand-built history: raise, settle, reword, rename,
//! delete, re-create at the same slug, draft then publish.

use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, post, spawn_app};

fn text(title: &str, status: &str, open: &str) -> String {
    post(title, "2026-11-03", "[ledger]", status, "Body.", open)
}

async fn questions(app: &TestApp, query: &str, as_author: bool) -> Value {
    let path = format!("/api/v1/questions{query}");
    let request = if as_author {
        app.get_as_author(&path)
    } else {
        app.get(&path)
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The questions of a page as `(text, post, state, raised, settled)`.
fn rows(body: &Value) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut rows: Vec<_> = body["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                s(&q["text"]),
                s(&q["post"]),
                s(&q["state"]),
                s(&q["raised"]["commit"]),
                s(&q["settled"]["commit"]),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn row(
    text: &str,
    post: &str,
    raised: &str,
    settled: Option<&str>,
) -> (String, String, String, String, String) {
    let state = if settled.is_some() { "settled" } else { "open" };
    (
        text.into(),
        post.into(),
        state.into(),
        raised.into(),
        settled.unwrap_or_default().into(),
    )
}

#[tokio::test]
async fn the_ledger_follows_questions_through_settling_rewording_renames_and_deletions() {
    let app = spawn_app().await;
    let q = "posts/kv-cache.md";
    let raise = app.commit_outside(
        "Ask two questions",
        &[(
            q,
            Some(&text(
                "KV cache",
                "published",
                "- Does it scale?\n- Why warmup at all?",
            )),
        )],
    );
    let reword = app.commit_outside(
        "Settle warmup, sharpen scaling",
        &[(
            q,
            Some(&text(
                "KV cache",
                "published",
                "- Does it scale to a billion tokens?\n- Is the loss stable?",
            )),
        )],
    );
    app.eventually("/api/v1/posts/kv-cache", |body| {
        body["revision"]["commit"] == reword.as_str()
    })
    .await;
    let renamed = app
        .rename_post("kv-cache", &serde_json::json!({"new_slug": "cache"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let delete = app.commit_outside("Delete the cache post", &[("posts/cache.md", None)]);
    let recreate = app.commit_outside(
        "A new post at the same slug",
        &[(
            "posts/cache.md",
            Some(&text("Cache", "published", "- What is a cache line?")),
        )],
    );
    let draft = app.commit_outside(
        "Draft a post",
        &[(
            "posts/moe-gates.md",
            Some(&text("Gates", "draft", "- Top-1 or top-2 gates?")),
        )],
    );
    app.eventually("/api/v1/posts/moe-gates", |body| {
        body["revision"]["commit"] == draft.as_str()
    })
    .await;

    let expected = vec![
        row(
            "Does it scale to a billion tokens?",
            "cache",
            &raise,
            Some(&delete),
        ),
        row("Is the loss stable?", "cache", &reword, Some(&delete)),
        row("What is a cache line?", "cache", &recreate, None),
        row("Why warmup at all?", "cache", &raise, Some(&reword)),
    ];
    assert_eq!(rows(&questions(&app, "?post=cache", false).await), expected);
    let all = questions(&app, "?tag=ledger&per_page=100", false).await;
    assert_eq!(rows(&all), expected, "the draft's question is hidden");
    assert_eq!(all["meta"]["total"], 4);
    let reworded = all["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["text"] == "Does it scale to a billion tokens?")
        .unwrap();
    assert_eq!(
        reworded["reworded_from"],
        serde_json::json!(["Does it scale?"])
    );
    assert_eq!(reworded["settled"]["message"], "Delete the cache post");
    let open = questions(&app, "?tag=ledger&state=open", false).await;
    assert_eq!(
        rows(&open),
        vec![row("What is a cache line?", "cache", &recreate, None)]
    );
    let settled = questions(&app, "?post=cache&state=settled", false).await;
    assert_eq!(settled["meta"]["total"], 3);
    let paged = questions(&app, "?post=cache&per_page=3&page=2", false).await;
    assert_eq!(paged["questions"].as_array().unwrap().len(), 1);

    // A token holder sees the draft's question; publishing it shows it to everyone, raised
    // by the draft.
    let gates = row("Top-1 or top-2 gates?", "moe-gates", &draft, None);
    assert_eq!(
        rows(&questions(&app, "?post=moe-gates", true).await),
        vec![gates.clone()]
    );
    assert!(rows(&questions(&app, "?post=moe-gates", false).await).is_empty());
    let publish = app.commit_outside(
        "Publish the gates post",
        &[(
            "posts/moe-gates.md",
            Some(&text("Gates", "published", "- Top-1 or top-2 gates?")),
        )],
    );
    app.eventually("/api/v1/posts/moe-gates", |body| {
        body["revision"]["commit"] == publish.as_str()
    })
    .await;
    assert_eq!(
        rows(&questions(&app, "?post=moe-gates", false).await),
        vec![gates]
    );
    // The seeded draft's questions stay hidden from anonymous readers.
    assert!(rows(&questions(&app, "?post=moe-routing", false).await).is_empty());
    assert_eq!(
        rows(&questions(&app, "?post=moe-routing", true).await).len(),
        1
    );
}

#[tokio::test]
async fn bad_ledger_queries_are_400() {
    let app = spawn_app().await;
    for query in ["?state=closed", "?page=0", "?per_page=101"] {
        let response = app
            .get(&format!("/api/v1/questions{query}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
}
