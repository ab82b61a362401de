//! Concurrent writers and pushes: every acknowledged write is exactly one commit on the
//! branch, and no acknowledged edit is lost or silently overwritten.

use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, etag_of, git_as_pusher, spawn_app};

const EDITORS: usize = 8;
const EDITS_PER_EDITOR: usize = 4;
const CREATES: usize = 24;

/// Reads the post, appends `line` to its body, and writes it back with `If-Match`, again
/// and again until a write is acknowledged. Returns how many writes were acknowledged.
async fn append_line(app: &TestApp, slug: &str, line: &str) -> usize {
    loop {
        let (post, etag) = app.read_post(slug).await;
        let markdown = format!("{}{line}\n", post["markdown"].as_str().unwrap());
        let body = json!({"front_matter": post["front_matter"], "markdown": markdown});
        let response = app.put_post(slug, &body, Some(&etag)).await;
        match response.status().as_u16() {
            200 => return 1,
            412 => continue,
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_editors_and_creators_never_lose_an_acknowledged_write() {
    let app = std::sync::Arc::new(spawn_app().await);
    let before = app.branch_log().len();

    let editors = (0..EDITORS).map(|editor| {
        let app = app.clone();
        tokio::spawn(async move {
            let mut acknowledged = 0;
            for edit in 0..EDITS_PER_EDITOR {
                let line = format!("- editor {editor} edit {edit}");
                acknowledged += append_line(&app, "attention-scaling", &line).await;
            }
            acknowledged
        })
    });
    let editors: Vec<_> = editors.collect();
    let creators: Vec<_> = (0..CREATES)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({
                    "slug": format!("concurrent-{n}"),
                    "front_matter": {"title": format!("Concurrent {n}")},
                    "markdown": "## Question\n\nWho wins?\n",
                });
                let response = app.create_post(&body).await;
                assert_eq!(response.status(), 201);
                let written: Value = response.json().await.unwrap();
                written["commit"].as_str().unwrap().to_string()
            })
        })
        .collect();

    let mut acknowledged = 0;
    for editor in editors {
        acknowledged += editor.await.unwrap();
    }
    let mut create_commits = Vec::new();
    for creator in creators {
        create_commits.push(creator.await.unwrap());
    }
    acknowledged += create_commits.len();

    let log = app.branch_log();
    assert_eq!(
        log.len() - before,
        acknowledged,
        "every 2xx is exactly one commit"
    );
    for commit in &create_commits {
        assert!(
            log.iter().any(|c| &c.id == commit),
            "{commit} on the branch"
        );
    }
    let (post, _) = app.read_post("attention-scaling").await;
    let markdown = post["markdown"].as_str().unwrap();
    for editor in 0..EDITORS {
        for edit in 0..EDITS_PER_EDITOR {
            let line = format!("- editor {editor} edit {edit}\n");
            assert_eq!(markdown.matches(&line).count(), 1, "{line:?} kept once");
        }
    }
    for n in 0..CREATES {
        app.read_post(&format!("concurrent-{n}")).await;
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_as_pusher(dir, args);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Clones the app's bare repository, rewrites one line of a post, commits and pushes.
pub fn push_edit(app: &TestApp, slug: &str, from: &str, to: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let repo = app.repo.to_str().unwrap();
    git(dir.path(), &["clone", "--quiet", repo, "clone"]);
    let clone = dir.path().join("clone");
    let path = clone.join(format!("posts/{slug}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    git(
        &clone,
        &["commit", "--quiet", "-am", "Edit pushed from a clone"],
    );
    git(&clone, &["push", "--quiet", "origin", "HEAD:main"]);
    git(&clone, &["rev-parse", "HEAD"]).trim().to_string()
}

#[tokio::test]
async fn a_git_push_between_api_writes_keeps_both_and_stales_the_etag() {
    let app = spawn_app().await;
    let (post, etag) = app.read_post("layernorm-vs-rmsnorm").await;
    let markdown = post["markdown"].as_str().unwrap().to_string();
    let (other, other_etag) = app.read_post("attention-scaling").await;

    let pushed = push_edit(
        &app,
        "layernorm-vs-rmsnorm",
        "A takeaway.",
        "A pushed takeaway.",
    );

    // The same line, edited from the ETag read before the push: refused.
    let overlapping = markdown.replace("A takeaway.", "An API takeaway.");
    let body = json!({"front_matter": post["front_matter"], "markdown": overlapping});
    let problem = assert_problem(
        app.put_post("layernorm-vs-rmsnorm", &body, Some(&etag))
            .await,
        412,
    )
    .await;
    assert!(
        problem["current"]["markdown"]
            .as_str()
            .unwrap()
            .contains("A pushed takeaway.")
    );

    // Another line of the same post: merged with the push.
    let elsewhere = markdown.replace("What is LayerNorm", "What, exactly, is LayerNorm");
    let body = json!({"front_matter": post["front_matter"], "markdown": elsewhere});
    let response = app
        .put_post("layernorm-vs-rmsnorm", &body, Some(&etag))
        .await;
    assert_eq!(response.status(), 200);
    let merged: Value = response.json().await.unwrap();
    assert_eq!(merged["merged"], true);
    let text = merged["markdown"].as_str().unwrap();
    assert!(text.contains("A pushed takeaway.") && text.contains("What, exactly, is LayerNorm"));

    // A post the push did not touch: its ETag is still current.
    let body = json!({"front_matter": other["front_matter"], "markdown": "Rewritten.\n"});
    let response = app
        .put_post("attention-scaling", &body, Some(&other_etag))
        .await;
    assert_eq!(response.status(), 200);
    assert_ne!(etag_of(&response), other_etag);

    let log = app.branch_log();
    assert_eq!(log[2].id, pushed, "the push stays on the branch");
    assert_eq!(log[2].author, "Pushing Author <push@example.org>");
    assert_eq!(log[0].message, "Update post attention-scaling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_gc_between_api_writes_leaves_reading_and_writing_working() {
    let app = std::sync::Arc::new(spawn_app().await);
    // Writes alone and grouped, before and after the gc.
    let edit = |n: usize| {
        let app = &app;
        async move {
            let (post, etag) = app.read_post("attention-scaling").await;
            let markdown = format!("{}\nEdit {n}.\n", post["markdown"].as_str().unwrap());
            let body = json!({"front_matter": post["front_matter"], "markdown": markdown});
            let response = app.put_post("attention-scaling", &body, Some(&etag)).await;
            assert_eq!(response.status(), 200, "edit {n}");
        }
    };
    edit(1).await;
    let creates: Vec<_> = (0..4)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"front_matter": {"title": format!("Before gc {n}")},
                    "markdown": "## Question\n\nWhy?\n"});
                app.create_post(&body).await.status()
            })
        })
        .collect();
    for create in creates {
        assert_eq!(create.await.unwrap(), 201);
    }

    git(&app.repo, &["gc", "--quiet", "--prune=now"]);

    edit(2).await;
    let pushed = push_edit(&app, "attention-scaling", "Edit 2.", "Edit 2, pushed.");
    let post = app
        .eventually("/api/v1/posts/attention-scaling", |post| {
            post["revision"]["commit"] == pushed.as_str()
        })
        .await;
    assert!(
        post["markdown"]
            .as_str()
            .unwrap()
            .contains("Edit 2, pushed.")
    );
    edit(3).await;
    let revisions: Value =
        serde_json::from_str(&app.text("/api/v1/posts/attention-scaling/revisions").await).unwrap();
    let log = app.branch_log();
    assert_eq!(revisions["revisions"][0]["commit"], log[0].id.as_str());
    git(&app.repo, &["fsck", "--strict", "--no-progress"]);
}

/// Past the point where the writer packs its loose objects (every version of a post edited
/// one write at a time, then many posts created at once), every version reads back as
/// written, over HTTP and with git, the loose objects are packed, and git finds the
/// repository sound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_edited_across_packings_reads_back_every_version() {
    const EDITS: usize = 70;
    const CREATORS: usize = 16;
    const CREATES_EACH: usize = 60;
    let app = std::sync::Arc::new(spawn_app().await);
    let mut written = Vec::new();
    for n in 0..EDITS {
        let (post, etag) = app.read_post("attention-scaling").await;
        let markdown = format!("{}\nEdit {n}.\n", post["markdown"].as_str().unwrap());
        let body = json!({"front_matter": post["front_matter"], "markdown": markdown});
        let response = app.put_post("attention-scaling", &body, Some(&etag)).await;
        assert_eq!(response.status(), 200, "edit {n}");
        let answer: Value = response.json().await.unwrap();
        written.push((answer["commit"].as_str().unwrap().to_string(), markdown));
    }
    // About four objects a commit: past `LOOSE_OBJECTS_PER_PACK` in all.
    const { assert!((EDITS + CREATORS * CREATES_EACH) * 4 > palimpsest::store::LOOSE_OBJECTS_PER_PACK) };
    let creators: Vec<_> = (0..CREATORS)
        .map(|c| {
            let app = app.clone();
            tokio::spawn(async move {
                for n in 0..CREATES_EACH {
                    let body = json!({"front_matter": {"title": format!("Packed {c} {n}")},
                        "markdown": "## Question\n\nPacked?\n"});
                    assert_eq!(app.create_post(&body).await.status(), 201);
                }
            })
        })
        .collect();
    for creator in creators {
        creator.await.unwrap();
    }
    let revisions: Value = serde_json::from_str(
        &app.text("/api/v1/posts/attention-scaling/revisions?per_page=100")
            .await,
    )
    .unwrap();
    let listed: Vec<&str> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|revision| revision["commit"].as_str().unwrap())
        .collect();
    for (n, (commit, markdown)) in written.iter().enumerate().step_by(7) {
        assert!(listed.contains(&commit.as_str()), "edit {n} listed");
        let old: Value = serde_json::from_str(
            &app.text(&format!(
                "/api/v1/posts/attention-scaling/revisions/{commit}"
            ))
            .await,
        )
        .unwrap();
        assert_eq!(
            old["markdown"].as_str(),
            Some(markdown.as_str()),
            "edit {n}"
        );
    }
    // The packing runs on a thread of its own; an idle writer finishes it within 100 ms.
    // What was written after it started stays loose until the next one.
    let counted = |field: &str| {
        let counted = git(&app.repo, &["count-objects", "-v"]);
        let line = counted.lines().find(|l| l.starts_with(field)).unwrap();
        line[field.len()..].trim().parse::<usize>().unwrap()
    };
    // Done once the loose copies stop disappearing: `git fsck` beside a packing that is still
    // removing them would find objects listed a moment before gone (as beside
    // `git prune-packed`).
    let mut counts = [usize::MAX; 3];
    for _ in 0..200 {
        counts.rotate_left(1);
        counts[2] = counted("count:");
        if counted("packs:") > 0 && counts[2] < 500 && counts.iter().all(|c| *c == counts[2]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(counted("packs:") > 0, "the loose objects were packed");
    assert!(counted("count:") < 500, "{} still loose", counted("count:"));
    let (last, markdown) = written.last().unwrap();
    let shown = git(
        &app.repo,
        &["show", &format!("{last}:posts/attention-scaling.md")],
    );
    assert!(shown.ends_with(markdown.as_str()));
    git(&app.repo, &["fsck", "--strict", "--no-progress"]);
}
