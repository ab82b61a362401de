//! The open-questions ledger against a hand-built history: raise, settle, reword, rename,
//! delete, re-create at the same slug, draft then publish.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    TestApp, assert_problem, commit_into, post, sample_posts, seed_repo, spawn_app, spawn_app_on,
};

fn text(title: &str, status: &str, open: &str) -> String {
    post(title, "2026-11-03", "[ledger]", status, "Body.", open)
}

/// A page of the ledger, once it is built: while it is, the server answers 503 with a
/// `Retry-After`, and this asks again (for five seconds at most).
async fn questions(app: &TestApp, query: &str, as_author: bool) -> Value {
    let path = format!("/api/v1/questions{query}");
    for _ in 0..100 {
        let request = if as_author {
            app.get_as_author(&path)
        } else {
            app.get(&path)
        };
        let response = request.send().await.unwrap();
        if response.status() == 503 {
            assert!(response.headers().contains_key("retry-after"));
            assert_problem(response, 503).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(response.status(), 200, "{path}");
        return response.json().await.unwrap();
    }
    panic!("{path}: the ledger was never built");
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

fn ledger_file(repo: &Path) -> PathBuf {
    repo.join("palimpsest/questions.bin")
}

fn modified(file: &Path) -> std::time::SystemTime {
    std::fs::metadata(file).unwrap().modified().unwrap()
}

/// A second server started on `app`'s repository, as a restart would.
async fn restart(app: &TestApp) -> TestApp {
    spawn_app_on(tempfile::tempdir().unwrap(), app.repo.clone()).await
}

/// A server on a repository whose history raised and settled questions before it started.
async fn app_with_history() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let q = "posts/kv-cache.md";
    commit_into(
        &repo,
        "Ask",
        &[(
            q,
            Some(&text("KV", "published", "- Does it scale?\n- Why?")),
        )],
        None,
    );
    commit_into(
        &repo,
        "Settle why",
        &[(q, Some(&text("KV", "published", "- Does it scale?")))],
        None,
    );
    spawn_app_on(dir, repo).await
}

#[tokio::test]
async fn a_restarted_server_answers_from_the_saved_ledger_without_building_it_again() {
    let app = app_with_history().await;
    let before = questions(&app, "?per_page=100", true).await;
    assert_eq!(before["meta"]["total"], 6, "{before}");
    // Built ledgers are saved before they answer.
    let file = ledger_file(&app.repo);
    let (saved, when) = (std::fs::read(&file).unwrap(), modified(&file));

    let again = restart(&app).await;
    let response = again
        .get_as_author("/api/v1/questions?per_page=100")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "loaded at start, not built");
    assert_eq!(response.json::<Value>().await.unwrap(), before);
    assert_eq!(modified(&file), when, "not built and saved again");
    assert_eq!(std::fs::read(&file).unwrap(), saved);
}

#[tokio::test]
async fn a_damaged_ledger_file_is_built_again() {
    let app = app_with_history().await;
    let before = questions(&app, "?per_page=100", true).await;
    let file = ledger_file(&app.repo);
    let mut damaged = std::fs::read(&file).unwrap();
    damaged.truncate(damaged.len() / 2);
    std::fs::write(&file, &damaged).unwrap();

    let again = restart(&app).await;
    assert_eq!(questions(&again, "?per_page=100", true).await, before);
    let rebuilt = std::fs::read(&file).unwrap();
    assert!(rebuilt.starts_with(b"PLMLEDGR") && rebuilt.len() > damaged.len());
}

#[tokio::test]
async fn a_rewritten_branch_rebuilds_the_ledger_live_and_at_the_next_start() {
    let app = app_with_history().await;
    let scale = |body: &Value| {
        rows(body)
            .into_iter()
            .filter(|row| row.1 == "kv-cache")
            .map(|row| (row.0, row.2))
            .collect::<Vec<_>>()
    };
    let before = questions(&app, "?per_page=100", true).await;
    assert_eq!(scale(&before).len(), 2, "{before}");
    let file = ledger_file(&app.repo);
    let stale = std::fs::read(&file).unwrap();
    let stale_time = modified(&file);

    // A force push: the branch back to its seed commit, then a new history on top.
    let repo = git2::Repository::open(&app.repo).unwrap();
    let seed = repo
        .revparse_single("main~2")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    repo.reference("refs/heads/main", seed.id(), true, "force push")
        .unwrap();
    let rewritten = commit_into(
        &app.repo,
        "Ask otherwise",
        &[(
            "posts/kv-cache.md",
            Some(&text("KV", "published", "- Is paging worth it?")),
        )],
        None,
    );
    let mut after = questions(&app, "?per_page=100", true).await;
    for _ in 0..100 {
        if after.to_string().contains(&rewritten) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = questions(&app, "?per_page=100", true).await;
    }
    assert_eq!(
        scale(&after),
        vec![("Is paging worth it?".to_string(), "open".to_string())]
    );
    for _ in 0..100 {
        if modified(&file) != stale_time {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(modified(&file), stale_time, "the rebuilt ledger is saved");

    // A saved ledger whose tip the branch no longer has is not used.
    std::fs::write(&file, &stale).unwrap();
    let again = restart(&app).await;
    assert_eq!(questions(&again, "?per_page=100", true).await, after);
}
