//! Blame by section against `git blame --porcelain`: each line's commit, across edits in
//! several sections and a rename, as of a revision, and 404s for drafts and missing posts.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, post, spawn_app};

/// `git blame --porcelain` of `path` at `rev`: each line's commit, in line order.
fn git_blame(repo: &Path, rev: &str, path: &str) -> Vec<String> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["blame", "--porcelain", rev, "--", path])
        .output()
        .expect("running git blame");
    assert!(output.status.success(), "{output:?}");
    // Each line's header is `<commit> <original line> <final line> [<group size>]`; the
    // line itself follows on a line starting with a tab.
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() >= 3
            && words[0].len() == 40
            && words[0].bytes().all(|b| b.is_ascii_hexdigit())
        {
            lines.push((words[2].parse().unwrap(), words[0].to_string()));
        }
    }
    lines.sort();
    lines.into_iter().map(|(_, commit)| commit).collect()
}

async fn blame(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn line_commits(body: &Value) -> Vec<String> {
    body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["commit"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_line_names_the_commit_git_blame_names_across_edits_and_a_rename() {
    let app = spawn_app().await;
    let path = "posts/kv-cache.md";
    let first = post(
        "KV cache",
        "2026-11-03",
        "[inference]",
        "published",
        "Keys and values are kept.\nOne row per token.",
        "- Why?\n- How big?",
    );
    let added = app.commit_outside("Add the KV cache post", &[(path, Some(&first))]);
    let second = first
        .replace("One row per token.", "One row per token and layer.")
        .replace("A takeaway.", "A takeaway.\nMemory grows linearly.");
    app.commit_outside("Say per layer", &[(path, Some(&second))]);
    let third = second
        .replace("- How big?\n", "")
        .replace("[inference]", "[inference, memory]");
    let settled = app.commit_outside("Settle the size question", &[(path, Some(&third))]);
    app.eventually("/api/v1/posts/kv-cache/blame", |body| {
        body["commit"] == settled.as_str()
    })
    .await;
    let renamed = app
        .rename_post(
            "kv-cache",
            &serde_json::json!({"new_slug": "key-value-cache"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let tip = app.branch_log()[0].id.clone();

    let body = blame(&app, "/api/v1/posts/key-value-cache/blame").await;
    assert_eq!(body["commit"], tip.as_str());
    let expected = git_blame(&app.repo, "main", "posts/key-value-cache.md");
    assert_eq!(line_commits(&body), expected);
    let lines = body["lines"].as_array().unwrap();
    let file = git_show(&app.repo, "main:posts/key-value-cache.md");
    assert_eq!(lines.len(), file.lines().count());
    for (n, (line, text)) in lines.iter().zip(file.lines()).enumerate() {
        assert_eq!(line["number"], n + 1);
        assert_eq!(line["text"], text);
    }
    let section_of = |text: &str| {
        lines
            .iter()
            .find(|line| line["text"] == text)
            .map(|line| line["section"].as_str().unwrap().to_string())
    };
    assert_eq!(
        section_of("tags: [inference, memory]").as_deref(),
        Some("front_matter")
    );
    assert_eq!(
        section_of("Memory grows linearly.").as_deref(),
        Some("takeaways")
    );
    assert_eq!(section_of("- Why?").as_deref(), Some("open_questions"));

    // Every named commit is described; the open questions were last changed by the
    // revision that only deleted one of them.
    let revisions = body["revisions"].as_object().unwrap();
    for commit in expected.iter() {
        assert!(revisions.contains_key(commit));
    }
    let sections: HashMap<String, &Value> = body["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap().to_string(), s))
        .collect();
    assert_eq!(sections["open_questions"]["last_changed"], settled.as_str());
    assert_eq!(sections["question"]["last_changed"], added.as_str());
    assert_eq!(
        sections["question"]["commits"],
        serde_json::json!([added.as_str()])
    );
    assert_eq!(revisions[&settled]["message"], "Settle the size question");

    // As of a revision, before the rename: git blame of the old path at that commit.
    let before = blame(
        &app,
        &format!("/api/v1/posts/key-value-cache/blame?rev={settled}"),
    )
    .await;
    assert_eq!(before["commit"], settled.as_str());
    assert_eq!(line_commits(&before), git_blame(&app.repo, &settled, path));
}

fn git_show(repo: &Path, object: &str) -> String {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["show", object])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn drafts_and_missing_posts_are_404_to_anonymous_clients() {
    let app = spawn_app().await;
    let missing = app
        .get("/api/v1/posts/no-such-post/blame")
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404).await;
    let draft = app
        .get("/api/v1/posts/moe-routing/blame")
        .send()
        .await
        .unwrap();
    assert_problem(draft, 404).await;
    let as_author = app
        .get_as_author("/api/v1/posts/moe-routing/blame")
        .send()
        .await
        .unwrap();
    assert_eq!(as_author.status(), 200);
    let unknown = app
        .get("/api/v1/posts/attention-scaling/blame?rev=0000000000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
    assert!(unknown.status().is_client_error());
}
