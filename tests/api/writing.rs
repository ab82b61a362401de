//! Writing posts: every success is one commit by the token's author; stale edits are merged
//! or refused; bad input is refused, naming the field, without a commit.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AUTHOR, TOKEN, assert_problem, etag_of, spawn_app};

fn new_post(title: &str) -> Value {
    json!({
        "front_matter": {"title": title, "tags": ["inference"], "status": "draft", "series": "kv"},
        "markdown": "## Question\n\nWhy does it grow?\n\n## Takeaways\n\nLinearly.\n",
    })
}

#[tokio::test]
async fn creating_a_post_is_one_commit_by_the_author_and_is_served_at_once() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let mut body = new_post("Why does the KV cache grow?");
    body["message"] = json!("Start the KV cache post");

    let response = app.create_post(&body).await;

    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["location"],
        "/api/v1/posts/why-does-the-kv-cache-grow"
    );
    let etag = etag_of(&response);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["slug"], "why-does-the-kv-cache-grow");
    assert_eq!(written["front_matter"]["series"], "kv");
    assert_eq!(written["merged"], false);
    let log = app.branch_log();
    assert_eq!(log.len(), before + 1, "exactly one commit");
    assert_eq!(written["commit"], log[0].id.as_str());
    assert_eq!(log[0].author, AUTHOR);
    assert_eq!(log[0].committer, "Palimpsest <palimpsest@localhost>");
    assert_eq!(log[0].message, "Start the KV cache post");

    let (read, read_etag) = app.read_post("why-does-the-kv-cache-grow").await;
    assert_eq!(read_etag, etag);
    assert_eq!(read["title"], "Why does the KV cache grow?");
    assert_eq!(read["markdown"], written["markdown"]);
}

#[tokio::test]
async fn a_raw_post_takes_its_slug_from_the_front_matter_and_a_generated_message() {
    let app = spawn_app().await;
    let raw = "---\ntitle: Sparse attention\nslug: sparse\n---\n\n## Question\n\nHow sparse?\n";
    let response = app.create_post(&json!({"raw": raw})).await;
    assert_eq!(response.status(), 201);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["slug"], "sparse");
    assert_eq!(app.branch_log()[0].message, "Create post sparse");
}

#[tokio::test]
async fn creating_an_existing_slug_is_a_conflict_and_commits_nothing() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let mut body = new_post("Anything");
    body["slug"] = json!("attention-scaling");
    let problem = assert_problem(app.create_post(&body).await, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("attention-scaling")
    );
    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn writing_needs_a_valid_token_which_is_never_echoed() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/posts"))
        .json(&new_post("T"))
        .send()
        .await
        .unwrap();
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_problem(anonymous, 401).await;

    let guess = format!("{TOKEN}-guess");
    let wrong = app
        .client
        .delete(app.url("/api/v1/posts/attention-scaling"))
        .bearer_auth(&guess)
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(wrong, 401).await;
    assert!(!problem.to_string().contains(&guess));
    app.read_post("attention-scaling").await;
}

#[tokio::test]
async fn invalid_posts_are_refused_naming_the_field_without_a_commit() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let cases = [
        (
            json!({"front_matter": {"tags": ["x"]}, "markdown": ""}),
            "title",
        ),
        (
            json!({"front_matter": ["title"], "markdown": ""}),
            "front_matter",
        ),
        (
            json!({"slug": "../x", "front_matter": {"title": "T"}, "markdown": ""}),
            "slug",
        ),
        (
            json!({"slug": "Upper", "front_matter": {"title": "T"}, "markdown": ""}),
            "slug",
        ),
        (
            json!({"slug": "a".repeat(300), "front_matter": {"title": "T"}, "markdown": ""}),
            "slug",
        ),
        (json!({"raw": "---\ntitle: [unclosed\n---\n"}), "raw"),
        (json!({"raw": "---\n- a list\n---\n"}), "front_matter"),
        (
            json!({"front_matter": {"title": "T", "tags": 3}, "markdown": ""}),
            "tags",
        ),
        (
            json!({"front_matter": {"title": "T"}, "titel": "x"}),
            "titel",
        ),
        (json!({"markdown": "no front matter"}), "front_matter"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(app.create_post(&body).await, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn malformed_oversized_and_non_json_bodies_are_refused() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let post = || app.as_author(Method::POST, "/api/v1/posts");

    let malformed = post()
        .header("content-type", "application/json")
        .body("{\"front_matter\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400).await;

    let form = post()
        .body("title=T")
        .header("content-type", "text/plain")
        .send();
    assert_problem(form.await.unwrap(), 415).await;

    let huge = new_post("Huge");
    let mut huge = huge.clone();
    huge["markdown"] = json!("x".repeat(1024 * 1024 + 1));
    assert_problem(app.create_post(&huge).await, 413).await;

    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn replacing_needs_if_match_or_a_base_revision() {
    let app = spawn_app().await;
    let (post, _) = app.read_post("attention-scaling").await;
    let body = json!({"front_matter": post["front_matter"], "markdown": "New body.\n"});
    assert_problem(app.put_post("attention-scaling", &body, None).await, 428).await;

    let base = app.branch_log()[0].id.clone();
    let mut based = body.clone();
    based["base_revision"] = json!(base);
    let response = app.put_post("attention-scaling", &based, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.branch_log()[0].message, "Update post attention-scaling");
}

#[tokio::test]
async fn replacing_with_the_current_etag_updates_the_post_and_its_etag() {
    let app = spawn_app().await;
    let (post, etag) = app.read_post("attention-scaling").await;
    let body = json!({"front_matter": post["front_matter"], "markdown": "## Question\n\nRewritten.\n", "message": "Rewrite"});
    let response = app.put_post("attention-scaling", &body, Some(&etag)).await;
    assert_eq!(response.status(), 200);
    let new_etag = etag_of(&response);
    assert_ne!(new_etag, etag);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["markdown"], "## Question\n\nRewritten.\n");
    assert_eq!(written["commit"], app.branch_log()[0].id.as_str());
    let (read, read_etag) = app.read_post("attention-scaling").await;
    assert_eq!(read_etag, new_etag);
    assert_eq!(read["markdown"], "## Question\n\nRewritten.\n");
}

#[tokio::test]
async fn a_stale_edit_of_the_same_lines_is_refused_with_the_current_post() {
    let app = spawn_app().await;
    let (post, stale) = app.read_post("attention-scaling").await;
    let markdown = post["markdown"].as_str().unwrap();
    let theirs = markdown.replace("A takeaway.", "Their takeaway.");
    let body = json!({"front_matter": post["front_matter"], "markdown": theirs});
    assert_eq!(
        app.put_post("attention-scaling", &body, Some(&stale))
            .await
            .status(),
        200
    );
    let before = app.branch_log().len();

    let ours = markdown.replace("A takeaway.", "Our takeaway.");
    let body = json!({"front_matter": post["front_matter"], "markdown": ours});
    let problem = assert_problem(
        app.put_post("attention-scaling", &body, Some(&stale)).await,
        412,
    )
    .await;
    assert!(
        problem["current"]["markdown"]
            .as_str()
            .unwrap()
            .contains("Their takeaway.")
    );
    assert_eq!(app.branch_log().len(), before);
    let delete = app.delete_post("attention-scaling", Some(&stale)).await;
    assert_problem(delete, 412).await;
}

#[tokio::test]
async fn a_stale_edit_of_other_lines_is_merged_three_way() {
    let app = spawn_app().await;
    let (post, stale) = app.read_post("attention-scaling").await;
    let markdown = post["markdown"].as_str().unwrap();
    let theirs = markdown.replace("A takeaway.", "Their takeaway.");
    let body = json!({"front_matter": post["front_matter"], "markdown": theirs});
    assert_eq!(
        app.put_post("attention-scaling", &body, Some(&stale))
            .await
            .status(),
        200
    );

    let ours = markdown.replace("What is Why", "What, really, is Why");
    let body = json!({"front_matter": post["front_matter"], "markdown": ours});
    let response = app.put_post("attention-scaling", &body, Some(&stale)).await;
    assert_eq!(response.status(), 200);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["merged"], true);
    let merged = written["markdown"].as_str().unwrap();
    assert!(merged.contains("Their takeaway.") && merged.contains("What, really, is Why"));
}

#[tokio::test]
async fn if_match_holds_when_any_listed_etag_is_current_and_compares_strongly() {
    let app = spawn_app().await;
    let (post, current) = app.read_post("attention-scaling").await;
    let body = |line: &str| {
        let markdown = post["markdown"]
            .as_str()
            .unwrap()
            .replace("A takeaway.", line);
        json!({"front_matter": post["front_matter"], "markdown": markdown})
    };
    let made_up = format!("\"{}\"", "0".repeat(40));
    let before = app.branch_log().len();

    // Weak tags never match If-Match, even the current one.
    let weak = app
        .put_post(
            "attention-scaling",
            &body("Weak."),
            Some(&format!("W/{current}")),
        )
        .await;
    assert_problem(weak, 412).await;
    assert_eq!(app.branch_log().len(), before);

    let listed = format!("{made_up}, {current}");
    let response = app
        .put_post("attention-scaling", &body("Listed."), Some(&listed))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.branch_log().len(), before + 1);

    // Two tags, neither current: stale, and no merge (it would need one base).
    let stale = format!("{current}, {made_up}");
    let response = app
        .put_post("attention-scaling", &body("Stale."), Some(&stale))
        .await;
    assert_problem(response, 412).await;
    assert_eq!(app.branch_log().len(), before + 1);
}

#[tokio::test]
async fn patching_publishes_a_draft_and_leaves_the_body_untouched() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/api/v1/posts/moe-routing")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (draft, _) = app.read_post("moe-routing").await;

    let patch = json!({"front_matter": {"status": "published", "series": null}});
    let response = app.patch_post("moe-routing", &patch, None).await;

    assert_eq!(response.status(), 200);
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["status"], "published");
    assert!(written["front_matter"].get("series").is_none());
    assert_eq!(written["markdown"], draft["markdown"]);
    assert_eq!(app.branch_log()[0].message, "Publish post moe-routing");
    let public = app.get("/api/v1/posts/moe-routing").send().await.unwrap();
    assert_eq!(public.status(), 200);
}

#[tokio::test]
async fn a_patch_may_not_leave_a_post_without_a_title() {
    let app = spawn_app().await;
    let before = app.branch_log().len();
    let patch = json!({"front_matter": {"title": null}});
    let problem = assert_problem(app.patch_post("moe-routing", &patch, None).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "title");
    let not_a_map = json!({"front_matter": "status: published"});
    assert_problem(app.patch_post("moe-routing", &not_a_map, None).await, 400).await;
    assert_eq!(app.branch_log().len(), before);
}

#[tokio::test]
async fn deleting_needs_if_match_and_is_a_commit() {
    let app = spawn_app().await;
    assert_problem(app.delete_post("attention-scaling", None).await, 428).await;
    let (_, etag) = app.read_post("attention-scaling").await;

    let response = app.delete_post("attention-scaling", Some(&etag)).await;

    assert_eq!(response.status(), 204);
    assert_eq!(app.branch_log()[0].message, "Delete post attention-scaling");
    let gone = app
        .get_as_author("/api/v1/posts/attention-scaling")
        .send()
        .await;
    assert_problem(gone.unwrap(), 404).await;
    assert_problem(app.delete_post("attention-scaling", Some(&etag)).await, 404).await;
}

#[tokio::test]
async fn renaming_moves_the_post_unless_the_new_slug_is_taken() {
    let app = spawn_app().await;
    let taken = json!({"new_slug": "layernorm-vs-rmsnorm"});
    assert_problem(app.rename_post("attention-scaling", &taken).await, 409).await;
    let invalid = json!({"new_slug": "Not A Slug"});
    let problem = assert_problem(app.rename_post("attention-scaling", &invalid).await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "new_slug");

    let response = app
        .rename_post("attention-scaling", &json!({"new_slug": "attention"}))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["location"], "/api/v1/posts/attention");
    let written: Value = response.json().await.unwrap();
    assert_eq!(written["slug"], "attention");
    assert_eq!(
        app.branch_log()[0].message,
        "Rename post attention-scaling to attention"
    );
    app.read_post("attention").await;
    // The old slug now redirects (see `frontends::a_renamed_posts_old_slug_redirects...`).
    let old = app
        .get_as_author("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap();
    assert_eq!(old.url().path(), "/api/v1/posts/attention");
}

#[tokio::test]
async fn restoring_a_revision_is_a_new_commit_with_that_content() {
    let app = spawn_app().await;
    let first = app.branch_log()[0].id.clone();
    let (post, etag) = app.read_post("attention-scaling").await;
    let body = json!({"front_matter": post["front_matter"], "markdown": "Changed my mind.\n"});
    assert_eq!(
        app.put_post("attention-scaling", &body, Some(&etag))
            .await
            .status(),
        200
    );

    let response = app
        .restore_post("attention-scaling", &json!({"revision": first}))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        etag_of(&response)[..41],
        etag[..41],
        "the same file, so an ETag naming the same blob"
    );
    let restored: Value = response.json().await.unwrap();
    assert_eq!(restored["markdown"], post["markdown"]);
    assert_eq!(
        app.branch_log()[0].message,
        format!("Restore post attention-scaling to {}", &first[..7])
    );

    let unknown = json!({"revision": "0123456789abcdef0123456789abcdef01234567"});
    assert_problem(app.restore_post("attention-scaling", &unknown).await, 404).await;
    let created = app.create_post(&new_post("Brand new")).await;
    assert_eq!(created.status(), 201);
    let before_it_existed = json!({"revision": first});
    assert_problem(app.restore_post("brand-new", &before_it_existed).await, 404).await;
}

#[tokio::test]
async fn restoring_a_revision_from_before_a_rename_follows_the_post() {
    let app = spawn_app().await;
    let first = app.branch_log()[0].id.clone();
    let (before, _) = app.read_post("attention-scaling").await;
    let renamed = app
        .rename_post(
            "attention-scaling",
            &json!({"new_slug": "why-scale-attention"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let (post, etag) = app.read_post("why-scale-attention").await;
    let body = json!({"front_matter": post["front_matter"], "markdown": "Rewritten.\n"});
    let edited = app
        .put_post("why-scale-attention", &body, Some(&etag))
        .await;
    assert_eq!(edited.status(), 200);

    let response = app
        .restore_post("why-scale-attention", &json!({"revision": first}))
        .await;

    assert_eq!(response.status(), 200);
    let restored: Value = response.json().await.unwrap();
    assert_eq!(
        restored["slug"], "why-scale-attention",
        "restored under its name now"
    );
    assert_eq!(restored["markdown"], before["markdown"]);
    assert_eq!(restored["revision_count"], 4);
}

#[tokio::test]
async fn a_non_bare_repository_is_written_without_touching_its_working_tree() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("blog");
    std::fs::create_dir_all(work.join("posts")).unwrap();
    let original = "---\ntitle: On disk\n---\n\nAs checked out.\n";
    std::fs::write(work.join("posts/on-disk.md"), original).unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=A", "-c", "user.email=a@example.org"])
            .args(args)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}");
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "First post"]);
    let app = crate::helpers::spawn_app_on(dir, work.clone()).await;

    let (post, etag) = app.read_post("on-disk").await;
    let body = json!({"front_matter": post["front_matter"], "markdown": "Through the API.\n"});
    assert_eq!(
        app.put_post("on-disk", &body, Some(&etag)).await.status(),
        200
    );

    assert_eq!(app.branch_log()[0].message, "Update post on-disk");
    assert_eq!(
        std::fs::read_to_string(work.join("posts/on-disk.md")).unwrap(),
        original,
        "the working tree is never written"
    );
    let (read, _) = app.read_post("on-disk").await;
    assert_eq!(read["markdown"], "Through the API.\n");
}

#[tokio::test]
async fn a_lock_a_dead_server_left_met_while_writing_is_cleared_and_the_write_goes_through() {
    let app = spawn_app().await;
    // What a server killed between locking and moving the branch leaves: its lock journal,
    // whose flock nobody holds any more, and the lock, one file with the journal's entry.
    let lock = app.repo.join("refs/heads/main.lock");
    let journal = app.repo.join("palimpsest/locks/4194304-0-0");
    std::fs::create_dir_all(&journal).unwrap();
    let entry = journal.join("refs%2Fheads%2Fmain.lock");
    std::fs::write(&entry, format!("{}\n", app.branch_log()[0].id)).unwrap();
    std::fs::hard_link(&entry, &lock).unwrap();

    let response = app.create_post(&new_post("Written past a lock")).await;

    assert_eq!(response.status(), 201);
    assert!(!lock.exists());
    assert!(!journal.exists());
    assert_eq!(
        app.branch_log()[0].message,
        "Create post written-past-a-lock"
    );
}
