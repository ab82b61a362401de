//! Revision history against git itself: revisions, reads as of a revision, diffs, the
//! site-wide log, renames, force pushes and drafts. The git command line is the reference.

use std::path::Path;
use std::process::Command;

use palimpsest::post::split_front_matter;
use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, post, spawn_app};

/// Runs git against `repo` and returns its standard output.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(args)
        .output()
        .expect("running git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The reference a post's revisions must equal: `git log --follow` for its file.
fn git_log_follow(repo: &Path, path: &str) -> Vec<String> {
    lines(&git(
        repo,
        &["log", "--follow", "--format=%H", "main", "--", path],
    ))
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// Waits until the server serves `commit` as its tip.
async fn served(app: &TestApp, commit: &str) {
    app.eventually("/readyz", |body| body["served_tip"] == commit)
        .await;
}

async fn json(app: &TestApp, path: &str) -> Value {
    let response = app.get_as_author(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn revision_commits(body: &Value) -> Vec<String> {
    body["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["commit"].as_str().unwrap().to_string())
        .collect()
}

/// The sample post `attention-scaling` with its Takeaways and Open Questions replaced.
fn attention(takeaway: &str, open: &str) -> String {
    post(
        "Why divide by sqrt(d_k)?",
        "2026-09-01",
        "[transformers, attention]",
        "published",
        "See [the norms post](layernorm-vs-rmsnorm).",
        open,
    )
    .replace("A takeaway.", takeaway)
}

/// Three more revisions of `attention-scaling`, one of them also touching another post.
fn edit_attention_three_times(app: &TestApp) -> Vec<String> {
    let path = "posts/attention-scaling.md";
    let first = attention(
        "Scaling keeps softmax out of saturation.",
        "- Does it matter with QK-norm?",
    );
    let second = attention(
        "Scaling keeps softmax out of saturation.",
        "- Does it matter with QK-norm?\n- What about muP?",
    );
    let third = attention(
        "Scaling keeps the logits' variance at one.",
        "- What about muP?",
    );
    vec![
        app.commit_outside("Sharpen the takeaway", &[(path, Some(&first))]),
        app.commit_outside(
            "Raise muP; touch the README",
            &[(path, Some(&second)), ("README.md", Some("Notes.\n"))],
        ),
        app.commit_outside("Settle QK-norm", &[(path, Some(&third))]),
    ]
}

#[tokio::test]
async fn a_posts_revisions_are_the_commits_git_log_follow_lists() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    app.commit_outside(
        "Touch another post",
        &[(
            "posts/layernorm-vs-rmsnorm.md",
            Some("---\ntitle: Other\n---\n\nBody.\n"),
        )],
    );
    let tip = git(&app.repo, &["rev-parse", "main"]);
    served(&app, tip.trim()).await;

    let body = json(&app, "/api/v1/posts/attention-scaling/revisions").await;
    let expected = git_log_follow(&app.repo, "posts/attention-scaling.md");
    assert_eq!(revision_commits(&body), expected);
    assert_eq!(expected.len(), 4);
    assert_eq!(
        expected[..3],
        [&commits[2], &commits[1], &commits[0]].map(String::from)
    );
    assert_eq!(body["meta"]["total"], 4);

    let newest = &body["revisions"][0];
    assert_eq!(newest["change"], "modified");
    assert_eq!(newest["path"], "posts/attention-scaling.md");
    assert_eq!(newest["previous_path"], Value::Null);
    assert_eq!(newest["message"], "Settle QK-norm");
    assert_eq!(newest["author"]["email"], "outside@example.org");
    assert_eq!(newest["parents"][0], commits[1].as_str());
    assert_eq!(
        newest["sections_changed"],
        serde_json::json!(["takeaways", "open_questions"])
    );
    let numstat = git(
        &app.repo,
        &[
            "diff",
            "--numstat",
            &commits[1],
            &commits[2],
            "--",
            "posts/attention-scaling.md",
        ],
    );
    let counts: Vec<u64> = numstat
        .split_whitespace()
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(
        [
            newest["additions"].as_u64().unwrap(),
            newest["deletions"].as_u64().unwrap()
        ],
        [counts[0], counts[1]]
    );
    assert_eq!(body["revisions"][3]["change"], "added");
}

#[tokio::test]
async fn revisions_are_paginated_with_a_link_header() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let response = app
        .get("/api/v1/posts/attention-scaling/revisions?per_page=3&page=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"prev\"") && !link.contains("rel=\"next\""),
        "{link}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["meta"],
        serde_json::json!({"page": 2, "per_page": 3, "total": 4, "pages": 2})
    );
    assert_eq!(body["revisions"].as_array().unwrap().len(), 1);
    assert_eq!(body["revisions"][0]["change"], "added");
}

#[tokio::test]
async fn each_revision_reads_as_git_show_prints_it() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let body = json(&app, "/api/v1/posts/attention-scaling/revisions").await;
    for commit in revision_commits(&body) {
        let file = git(
            &app.repo,
            &["show", &format!("{commit}:posts/attention-scaling.md")],
        );
        let old = json(
            &app,
            &format!("/api/v1/posts/attention-scaling/revisions/{commit}"),
        )
        .await;
        assert_eq!(old["markdown"], split_front_matter(&file).1, "{commit}");
        assert_eq!(old["revision"]["commit"], commit.as_str());
        let short = &commit[..10];
        let by_prefix = json(
            &app,
            &format!("/api/v1/posts/attention-scaling/revisions/{short}"),
        )
        .await;
        assert_eq!(by_prefix["markdown"], old["markdown"]);
    }
    let first = json(
        &app,
        &format!("/api/v1/posts/attention-scaling/revisions/{}", commits[0]),
    )
    .await;
    assert_eq!(first["revision_count"], 2);
    assert_eq!(
        first["open_questions"],
        serde_json::json!(["Does it matter with QK-norm?"])
    );
}

#[tokio::test]
async fn the_diff_adds_and_removes_the_lines_git_diff_does() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let seed = git(&app.repo, &["rev-list", "--max-parents=0", "main"]);
    let seed = seed.trim();
    for (from, to) in [
        (seed, commits[2].as_str()),
        (&commits[0], &commits[1]),
        (&commits[2], seed),
    ] {
        let body = json(
            &app,
            &format!("/api/v1/posts/attention-scaling/diff?from={from}&to={to}"),
        )
        .await;
        assert_eq!(
            (body["from"].as_str().unwrap(), body["to"].as_str().unwrap()),
            (from, to)
        );
        let ours = changed_lines(body["unified"].as_str().unwrap());
        let git_diff = git(
            &app.repo,
            &["diff", from, to, "--", "posts/attention-scaling.md"],
        );
        let theirs = changed_lines(&git_diff);
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "{from}..{to}");
    }
}

/// The `+` and `-` lines of a unified diff, headers left out.
fn changed_lines(unified: &str) -> Vec<&str> {
    unified
        .lines()
        .filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++"))
                || (l.starts_with('-') && !l.starts_with("---"))
        })
        .collect()
}

#[tokio::test]
async fn the_diff_reads_front_matter_sections_and_open_questions() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    let path = "posts/attention-scaling.md";
    let retagged = attention(
        "Scaling keeps the logits' variance at one.",
        "- What about muP?",
    )
    .replace("series: kept-untouched\n", "")
    .replace("[transformers, attention]", "[attention]")
    .replace("## Takeaways", "## Aside\n\nA detour.\n\n## Takeaways")
        + "\n## Appendix\n\nNew part.\n";
    let last = app.commit_outside("Retag", &[(path, Some(&retagged))]);
    served(&app, &last).await;

    // Defaults: the previous revision and the current one.
    let body = json(&app, "/api/v1/posts/attention-scaling/diff").await;
    assert_eq!(body["from"], commits[2].as_str());
    assert_eq!(body["to"], last.as_str());
    let front_matter = &body["front_matter"];
    assert_eq!(
        front_matter["removed"],
        serde_json::json!({"series": "kept-untouched"})
    );
    assert_eq!(front_matter["added"], serde_json::json!({}));
    assert_eq!(
        front_matter["changed"],
        serde_json::json!([{"key": "tags", "old": ["transformers", "attention"], "new": ["attention"]}])
    );
    let statuses: Vec<(String, String, String)> = body["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap().to_string();
            (text("kind"), text("title"), text("status"))
        })
        .collect();
    let expect = |kind: &str, title: &str, status: &str| {
        (kind.to_string(), title.to_string(), status.to_string())
    };
    assert_eq!(
        statuses,
        [
            expect("question", "Question", "unchanged"),
            expect("background", "Background", "unchanged"),
            expect("exploration", "Exploration", "unchanged"),
            expect("other", "Aside", "added"),
            expect("takeaways", "Takeaways", "unchanged"),
            expect("open_questions", "Open Questions", "unchanged"),
            expect("other", "Appendix", "added"),
        ]
    );
    assert_eq!(
        body["open_questions"],
        serde_json::json!({"added": [], "removed": []})
    );

    // Across two revisions: one question settled, one raised, the takeaway rewritten.
    let body = json(
        &app,
        &format!(
            "/api/v1/posts/attention-scaling/diff?from={}&to={}",
            commits[0], commits[2]
        ),
    )
    .await;
    assert_eq!(
        body["open_questions"],
        serde_json::json!({"added": ["What about muP?"], "removed": ["Does it matter with QK-norm?"]})
    );
    let takeaways = body["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "takeaways")
        .unwrap();
    assert_eq!(takeaways["status"], "modified");
    assert_eq!(
        takeaways["unified"],
        "@@ -1 +1 @@\n-Scaling keeps softmax out of saturation.\n+Scaling keeps the logits' variance at one.\n"
    );
}

/// A working clone of the server's repository, for changes made the way an author would.
fn clone_of(app: &TestApp, dir: &Path) -> std::path::PathBuf {
    let work = dir.join("work");
    let status = Command::new("git")
        .args(["clone", "--quiet"])
        .arg(&app.repo)
        .arg(&work)
        .status()
        .unwrap();
    assert!(status.success());
    for (key, value) in [
        ("user.name", "Git Author"),
        ("user.email", "git@example.org"),
    ] {
        in_clone(&work, &["config", key, value]);
    }
    work
}

fn in_clone(work: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(work)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_git_mv_with_a_small_edit_is_followed_like_git_log_follow() {
    let app = spawn_app().await;
    edit_attention_three_times(&app);
    let dir = tempfile::tempdir().unwrap();
    let work = clone_of(&app, dir.path());
    in_clone(
        &work,
        &[
            "mv",
            "posts/attention-scaling.md",
            "posts/scaled-attention.md",
        ],
    );
    let file = work.join("posts/scaled-attention.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("What is", "So what is")).unwrap();
    in_clone(
        &work,
        &["commit", "--quiet", "-am", "Rename with a small edit"],
    );
    in_clone(&work, &["push", "--quiet", "origin", "main"]);
    let tip = git(&app.repo, &["rev-parse", "main"]);
    served(&app, tip.trim()).await;

    let body = json(&app, "/api/v1/posts/scaled-attention/revisions").await;
    let expected = git_log_follow(&app.repo, "posts/scaled-attention.md");
    assert_eq!(expected.len(), 5);
    assert_eq!(revision_commits(&body), expected);
    let rename = &body["revisions"][0];
    assert_eq!(rename["change"], "renamed");
    assert_eq!(rename["path"], "posts/scaled-attention.md");
    assert_eq!(rename["previous_path"], "posts/attention-scaling.md");
    assert_eq!(
        (rename["additions"].as_u64(), rename["deletions"].as_u64()),
        (Some(1), Some(1))
    );

    let post = json(&app, "/api/v1/posts/scaled-attention").await;
    assert_eq!(post["revision_count"], 5);
    assert_eq!(post["revision"]["commit"], tip.trim());
    // Reading the post before the rename finds it under its old name.
    let before = json(
        &app,
        &format!("/api/v1/posts/scaled-attention/revisions/{}", expected[1]),
    )
    .await;
    assert!(before["markdown"].as_str().unwrap().contains("What is"));
    let diff = json(&app, "/api/v1/posts/scaled-attention/diff").await;
    assert!(diff["unified"].as_str().unwrap().contains("-What is"));
    assert!(diff["unified"].as_str().unwrap().contains("+So what is"));
}

#[tokio::test]
async fn a_force_push_rewrites_the_history_served() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    assert_eq!(
        json(&app, "/api/v1/posts/attention-scaling").await["revision_count"],
        4
    );

    let dir = tempfile::tempdir().unwrap();
    let work = clone_of(&app, dir.path());
    in_clone(&work, &["reset", "--quiet", "--hard", &commits[0]]);
    let file = work.join("posts/attention-scaling.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text + "\nA rewritten ending.\n").unwrap();
    in_clone(&work, &["commit", "--quiet", "-am", "Rewrite history"]);
    in_clone(&work, &["push", "--quiet", "--force", "origin", "main"]);
    let tip = git(&app.repo, &["rev-parse", "main"]);
    served(&app, tip.trim()).await;

    let body = json(&app, "/api/v1/posts/attention-scaling/revisions").await;
    let expected = git_log_follow(&app.repo, "posts/attention-scaling.md");
    assert_eq!(revision_commits(&body), expected);
    assert_eq!(expected.len(), 3);
    assert!(!revision_commits(&body).contains(&commits[1]));
    // Commits dropped by the force push are no longer revisions.
    let gone = app
        .get(&format!(
            "/api/v1/posts/attention-scaling/revisions/{}",
            commits[2]
        ))
        .send()
        .await
        .unwrap();
    assert_problem(gone, 404).await;
    let log = json(&app, "/api/v1/history?per_page=100").await;
    let logged: Vec<&str> = log["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap())
        .collect();
    assert_eq!(
        logged,
        lines(&git(
            &app.repo,
            &["log", "--first-parent", "--format=%H", "main"]
        ))
    );
}

#[tokio::test]
async fn every_post_and_list_entry_carries_its_history() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let seed = git(&app.repo, &["rev-list", "--max-parents=0", "main"]);
    let post = json(&app, "/api/v1/posts/attention-scaling").await;
    assert_eq!(post["revision"]["commit"], commits[2].as_str());
    assert_eq!(post["revision"]["message"], "Settle QK-norm");
    assert_eq!(post["revision"]["author"]["name"], "Outside Editor");
    let blob = git(
        &app.repo,
        &[
            "rev-parse",
            &format!("{}:posts/attention-scaling.md", commits[2]),
        ],
    );
    assert_eq!(post["revision"]["blob"], blob.trim());
    assert_eq!(post["revision_count"], 4);
    let committed = |rev: &str| {
        let seconds: i64 = git(&app.repo, &["log", "-1", "--format=%ct", rev])
            .trim()
            .parse()
            .unwrap();
        palimpsest::history::rfc3339(seconds)
    };
    assert_eq!(post["updated_at"], committed(&commits[2]));
    assert_eq!(post["created_at"], committed(seed.trim()));
    assert_eq!(post["revision"]["committed_at"], post["updated_at"]);

    let list = json(&app, "/api/v1/posts?sort=-updated").await;
    let entry = &list["posts"][0];
    assert_eq!(entry["slug"], "attention-scaling");
    assert_eq!(entry["revision_count"], 4);
    assert_eq!(entry["revision"]["commit"], commits[2].as_str());
    assert_eq!(list["posts"][1]["revision_count"], 1);
}

#[tokio::test]
async fn the_site_wide_log_lists_first_parent_commits_with_the_posts_they_touched() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let log = json(&app, "/api/v1/history?per_page=2").await;
    assert_eq!(log["meta"]["total"], 4);
    let newest = &log["commits"][0];
    assert_eq!(newest["commit"], commits[2].as_str());
    assert_eq!(newest["message"], "Settle QK-norm");
    assert_eq!(
        newest["posts"],
        serde_json::json!([{"slug": "attention-scaling", "change": "modified"}])
    );
    let all = json(&app, "/api/v1/history?per_page=100").await;
    let logged: Vec<&str> = all["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap())
        .collect();
    assert_eq!(
        logged,
        lines(&git(
            &app.repo,
            &["log", "--first-parent", "--format=%H", "main"]
        ))
    );
    let seed = &all["commits"][3];
    assert_eq!(seed["posts"].as_array().unwrap().len(), 3);
    assert!(
        seed["posts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["change"] == "added")
    );
}

#[tokio::test]
async fn anonymous_clients_never_see_a_drafts_history() {
    let app = spawn_app().await;
    let draft = "posts/moe-routing.md";
    let edited = post(
        "Mixture-of-experts routing",
        "2026-11-01",
        "[moe]",
        "draft",
        "Edited.",
        "- Top-1?",
    );
    let draft_only = app.commit_outside("Edit the draft", &[(draft, Some(&edited))]);
    let notes = app.commit_outside("Notes only", &[("NOTES.md", Some("n\n"))]);
    served(&app, &notes).await;

    for path in [
        "/api/v1/posts/moe-routing/revisions".to_string(),
        "/api/v1/posts/moe-routing/diff".to_string(),
        format!("/api/v1/posts/moe-routing/revisions/{draft_only}"),
    ] {
        assert_problem(app.get(&path).send().await.unwrap(), 404).await;
        assert_eq!(
            app.get_as_author(&path).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }

    let public: Value = app
        .get("/api/v1/history")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = public.to_string();
    assert!(!text.contains("moe-routing"), "{text}");
    let logged: Vec<&str> = public["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap())
        .collect();
    assert!(!logged.contains(&draft_only.as_str()));
    assert!(
        logged.contains(&notes.as_str()),
        "a commit touching no post is listed"
    );
    assert_eq!(public["meta"]["total"], 2);

    let authors = json(&app, "/api/v1/history").await;
    assert_eq!(authors["meta"]["total"], 3);
    assert_eq!(authors["commits"][1]["posts"][0]["slug"], "moe-routing");
}

#[tokio::test]
async fn a_published_posts_revisions_made_as_a_draft_are_visible() {
    let app = spawn_app().await;
    let path = "posts/moe-routing.md";
    let published = post(
        "Mixture-of-experts routing",
        "2026-11-01",
        "[moe]",
        "published",
        "Now public.",
        "- Top-1?",
    );
    let tip = app.commit_outside("Publish", &[(path, Some(&published))]);
    served(&app, &tip).await;
    let body: Value = app
        .get("/api/v1/posts/moe-routing/revisions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["total"], 2);
    let first = body["revisions"][1]["commit"].as_str().unwrap().to_string();
    let old: Value = app
        .get(&format!("/api/v1/posts/moe-routing/revisions/{first}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "draft");
}

/// Every part of a deleted post's past follows the status of its last version: a post
/// published once, turned back into a draft and then deleted is hidden everywhere,
/// including the revision at which it was public; a post published and then deleted
/// shows every revision, including those made while it was a draft.
#[tokio::test]
async fn a_deleted_posts_past_follows_its_last_version_everywhere() {
    let app = spawn_app().await;
    let path = "posts/moe-routing.md";
    let as_status = |status: &str| {
        post(
            "Mixture-of-experts routing",
            "2026-11-01",
            "[moe]",
            status,
            "Routing.",
            "- Top-1?",
        )
    };
    let public_once = app.commit_outside("Publish", &[(path, Some(&as_status("published")))]);
    app.commit_outside("Back to draft", &[(path, Some(&as_status("draft")))]);
    let gone = app.commit_outside("Delete", &[(path, None)]);
    served(&app, &gone).await;

    for path in [
        format!("/api/v1/posts/moe-routing?rev={public_once}"),
        format!("/api/v1/posts/moe-routing/revisions/{public_once}"),
        "/api/v1/posts/moe-routing/revisions".to_string(),
    ] {
        assert_problem(app.get(&path).send().await.unwrap(), 404).await;
    }
    let log = app.text("/api/v1/history?per_page=100").await;
    assert!(!log.contains("moe-routing"), "{log}");
    assert!(!log.contains(&format!("\"{public_once}\"")), "{log}");

    // The other way round: a draft published, then deleted.
    let layernorm = "posts/layernorm-vs-rmsnorm.md";
    let draft = post(
        "LayerNorm versus RMSNorm",
        "2026-10-01",
        "[transformers]",
        "draft",
        "Drafted.",
        "- Why?",
    );
    let drafted = app.commit_outside("Unpublish to rework", &[(layernorm, Some(&draft))]);
    let final_text = draft.replace("status: draft", "status: published");
    app.commit_outside("Publish again", &[(layernorm, Some(&final_text))]);
    let removed = app.commit_outside("Delete", &[(layernorm, None)]);
    served(&app, &removed).await;

    let read = app
        .get(&format!("/api/v1/posts/layernorm-vs-rmsnorm?rev={drafted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "a revision made as a draft, via ?rev=");
    let log: Value = app
        .get("/api/v1/history?per_page=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        log["commits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["commit"] == drafted.as_str()),
        "{log}"
    );
}

/// `?rev=` and `/revisions/{rev}` are one answer: the post as of that commit, followed
/// back across a rename, with the revision it was at.
#[tokio::test]
async fn reading_with_rev_follows_the_post_across_a_rename_as_revisions_does() {
    let app = spawn_app().await;
    let seeded = app.branch_log()[0].id.clone();
    let renamed = app
        .rename_post(
            "attention-scaling",
            &serde_json::json!({"new_slug": "scaled-attention"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);

    let by_query = app
        .get(&format!("/api/v1/posts/scaled-attention?rev={seeded}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_query.status(),
        200,
        "the post existed then, under its old name"
    );
    let query_etag = by_query.headers()["etag"].clone();
    let by_query: Value = by_query.json().await.unwrap();
    let by_path = app
        .get(&format!(
            "/api/v1/posts/scaled-attention/revisions/{seeded}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_path.headers()["etag"], query_etag);
    let by_path: Value = by_path.json().await.unwrap();
    assert_eq!(by_query, by_path);
    assert_eq!(by_query["revision"]["commit"], seeded.as_str());
}

/// A post's first and last diffs carry git's headers for an added and a deleted file, so
/// that `git apply` takes them as they are.
#[tokio::test]
async fn the_diff_of_an_added_or_deleted_post_is_what_git_diff_prints() {
    let app = spawn_app().await;
    let path = "posts/kv-cache.md";
    let text = post(
        "KV cache",
        "2026-11-03",
        "[inference]",
        "published",
        "Rows.",
        "- Why?",
    );
    let added = app.commit_outside("Add the KV cache post", &[(path, Some(&text))]);
    let deleted = app.commit_outside("Delete it", &[(path, None)]);
    served(&app, &deleted).await;

    for (from, to) in [(None, &added), (Some(&added), &deleted)] {
        let query = match from {
            Some(from) => format!("from={from}&to={to}"),
            None => format!("to={to}"),
        };
        let diff = json(&app, &format!("/api/v1/posts/kv-cache/diff?{query}")).await;
        let git_diff = git(&app.repo, &["diff", &format!("{to}^"), to, "--", path]);
        assert_eq!(diff["unified"], git_diff.as_str(), "{query}");
    }
}

/// A post created at the slug of a deleted draft is another post: it does not inherit the
/// draft's past, so nothing of the draft reaches anonymous readers through it.
#[tokio::test]
async fn a_post_created_where_a_draft_was_deleted_does_not_inherit_its_past() {
    let app = spawn_app().await;
    let path = "posts/moe-routing.md";
    let draft_edit = post(
        "Mixture-of-experts routing",
        "2026-11-01",
        "[moe]",
        "draft",
        "Secret working notes.",
        "- Top-1?",
    );
    let drafted = app.commit_outside("moe-routing: secret notes", &[(path, Some(&draft_edit))]);
    app.commit_outside("Drop the draft", &[(path, None)]);
    let fresh = post(
        "Routing, again",
        "2026-12-01",
        "[moe]",
        "published",
        "Public.",
        "- ?",
    );
    let created = app.commit_outside("A new public post", &[(path, Some(&fresh))]);
    served(&app, &created).await;

    let revisions = json(&app, "/api/v1/posts/moe-routing/revisions").await;
    assert_eq!(revision_commits(&revisions), std::slice::from_ref(&created));
    let current = json(&app, "/api/v1/posts/moe-routing").await;
    assert_eq!(current["revision_count"], 1);
    assert_problem(
        app.get(&format!("/api/v1/posts/moe-routing/revisions/{drafted}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let log = app.text("/api/v1/history?per_page=100").await;
    assert!(!log.contains("secret notes"), "{log}");
    assert!(!log.contains(&drafted), "{log}");
}

#[tokio::test]
async fn revisions_that_are_not_commit_ids_are_rejected() {
    let app = spawn_app().await;
    let commits = edit_attention_three_times(&app);
    served(&app, &commits[2]).await;
    let base = "/api/v1/posts/attention-scaling";
    for (rev, status) in [
        ("--all", 400),
        ("HEAD~1:..%2Fx", 400),
        ("HEAD", 400),
        ("main", 400),
        ("abc", 400),
        ("zzzzzzz", 400),
        ("deadbeefdeadbeef", 404),
    ] {
        let response = app
            .get(&format!("{base}/revisions/{rev}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, status).await;
        let response = app
            .get(&format!("{base}/diff?from={rev}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, status).await;
    }
    // A blob or tree id is not a revision.
    let blob = git(
        &app.repo,
        &[
            "rev-parse",
            &format!("{}:posts/attention-scaling.md", commits[0]),
        ],
    );
    assert_problem(
        app.get(&format!("{base}/revisions/{}", blob.trim()))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("{base}/diff?to=x&from=y&extra=1"))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        app.get(&format!("{base}/revisions?page=0"))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        app.get("/api/v1/history?per_page=101")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        app.get("/api/v1/posts/no-such-post/revisions")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_problem(
        app.get("/api/v1/posts/Bad_Slug/diff").send().await.unwrap(),
        400,
    )
    .await;
}

#[tokio::test]
async fn a_revision_before_the_post_existed_is_not_found() {
    let app = spawn_app().await;
    let seed = git(&app.repo, &["rev-parse", "main"]);
    let tip = app.commit_outside(
        "New post",
        &[(
            "posts/fresh.md",
            Some("---\ntitle: Fresh\n---\n\n## Question\n\nNew?\n"),
        )],
    );
    served(&app, &tip).await;
    let response = app
        .get(&format!("/api/v1/posts/fresh/revisions/{}", seed.trim()))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404).await;
    // Its only revision diffs against nothing.
    let diff = json(&app, "/api/v1/posts/fresh/diff").await;
    assert_eq!(diff["from"], Value::Null);
    assert!(diff["unified"].as_str().unwrap().contains("+title: Fresh"));
}
