//! Drafts stay secret from anonymous clients: a write that changes nothing makes no commit,
//! and the public log never names a draft, however its commits were made.

use serde_json::{Value, json};

use crate::helpers::{TestApp, etag_of, spawn_app};

const DRAFT_TITLE: &str = "Secret plan for sparse heads";
const DRAFT_SLUG: &str = "secret-plan-for-sparse-heads";

async fn create_draft(app: &TestApp) -> Value {
    let body = json!({
        "front_matter": {"title": DRAFT_TITLE, "status": "draft"},
        "markdown": "## Question\n\nWhich heads can go?\n",
    });
    let response = app.create_post(&body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The anonymous site-wide log, every page of it, as text.
async fn public_log(app: &TestApp) -> String {
    let mut text = String::new();
    for page in 1..=20 {
        let body = app
            .json(&format!("/api/v1/history?page={page}&per_page=100"))
            .await;
        text.push_str(&body.to_string());
        if body["commits"].as_array().is_none_or(Vec::is_empty) {
            break;
        }
    }
    text
}

fn assert_draft_unnamed(text: &str) {
    assert!(
        !text.contains(DRAFT_SLUG),
        "the draft's slug leaked: {text}"
    );
    assert!(
        !text.to_lowercase().contains(&DRAFT_TITLE.to_lowercase()),
        "the draft's title leaked"
    );
}

#[tokio::test]
async fn writes_that_change_nothing_make_no_commit_and_name_no_draft() {
    let app = spawn_app().await;
    let created = create_draft(&app).await;
    let revision = created["revision"]["commit"].clone();
    let before = app.branch_log();

    let (post, etag) = app.read_post(DRAFT_SLUG).await;
    let patched = app
        .patch_post(DRAFT_SLUG, &json!({"front_matter": {}}), None)
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(etag_of(&patched), etag, "the post is as it was");
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["commit"], before[0].id.as_str());
    assert_eq!(patched["revision"]["commit"], revision);

    let same = json!({"front_matter": post["front_matter"], "markdown": post["markdown"]});
    let replaced = app.put_post(DRAFT_SLUG, &same, Some(&etag)).await;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["revision"]["commit"], revision);

    let restore = json!({"revision": revision});
    let restored = app.restore_post(DRAFT_SLUG, &restore).await;
    assert_eq!(restored.status(), 200);
    let restored: Value = restored.json().await.unwrap();
    assert_eq!(restored["commit"], before[0].id.as_str());

    let patched_title = json!({"front_matter": {"title": DRAFT_TITLE}});
    assert_eq!(
        app.patch_post(DRAFT_SLUG, &patched_title, None)
            .await
            .status(),
        200
    );
    let after = app.branch_log();
    assert_eq!(after.len(), before.len(), "no commit was made");
    assert_eq!(after[0].id, before[0].id);
    assert_draft_unnamed(&public_log(&app).await);
}

#[tokio::test]
async fn a_commit_touching_no_post_is_public_only_when_its_message_names_no_draft() {
    let app = spawn_app().await;
    create_draft(&app).await;
    let naming_slug = app.commit_outside(&format!("Update post {DRAFT_SLUG}"), &[]);
    let naming_title = app.commit_outside(&format!("notes: {DRAFT_TITLE}"), &[]);
    let neutral = app.commit_outside("Tidy the repository", &[("notes.txt", Some("x"))]);
    // Picked up by the watcher; authors see every commit.
    app.eventually("/api/v1/history", |log| {
        log["commits"][0]["commit"] == neutral.as_str()
    })
    .await;

    let log = public_log(&app).await;
    assert_draft_unnamed(&log);
    // Their ids may appear as a listed commit's parent, but they are not listed.
    for hidden in [&naming_slug, &naming_title] {
        assert!(!log.contains(&format!("\"commit\":\"{hidden}\"")));
    }
    assert!(
        log.contains(&format!("\"commit\":\"{neutral}\"")),
        "a commit touching no post is public"
    );
    let as_author = app
        .get_as_author("/api/v1/history?per_page=100")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(as_author.contains(&naming_slug) && as_author.contains(DRAFT_SLUG));
}
