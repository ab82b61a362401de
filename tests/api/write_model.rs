//! A model test of the write path: random sequences of creates, replaces, patches, renames,
//! deletes and restores, sent over HTTP and applied to an in-memory model of the posts; after
//! each sequence the branch holds exactly the model's files, one commit per write that
//! changed something, and `git fsck --full` is clean.
//!
//! Cases are generated up front (the writes are async), so a failure is reported as the
//! generated sequence, not shrunk. `PALIMPSEST_MODEL_CASES=200 cargo test --test api
//! write_model` runs a longer search.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, sample_posts, spawn_app_with};

/// The slugs the sequences write to: few, so that edits meet the same posts often.
const SLOTS: [&str; 3] = ["m-a", "m-b", "m-c"];

#[derive(Debug, Clone)]
enum Op {
    Create { slot: usize, text: usize },
    Replace { slot: usize, text: usize },
    Patch { slot: usize, published: bool },
    Rename { slot: usize, to: usize },
    Delete { slot: usize },
    Restore { slot: usize, back: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS.len();
    prop_oneof![
        (slot.clone(), 0..3usize).prop_map(|(slot, text)| Op::Create { slot, text }),
        (slot.clone(), 0..3usize).prop_map(|(slot, text)| Op::Replace { slot, text }),
        (slot.clone(), any::<bool>()).prop_map(|(slot, published)| Op::Patch { slot, published }),
        (slot.clone(), slot.clone()).prop_map(|(slot, to)| Op::Rename { slot, to }),
        slot.clone().prop_map(|slot| Op::Delete { slot }),
        (slot, 0..4usize).prop_map(|(slot, back)| Op::Restore { slot, back }),
    ]
}

/// A post's whole file; only three bodies, so writes that change nothing happen too.
fn text(n: usize) -> String {
    format!("---\ntitle: Model {n}\nstatus: draft\n---\n\n## Question\n\nWhy {n}?\n")
}

/// The posts as they should be, and the versions each could be restored to.
#[derive(Default)]
struct Model {
    files: HashMap<&'static str, String>,
    /// For each post, (commit, its text then), following it across renames.
    versions: HashMap<&'static str, Vec<(String, String)>>,
    commits: usize,
}

impl Model {
    /// Records a successful write of `slug`'s `text` answered with `commit`.
    fn wrote(&mut self, slug: &'static str, text: String, response: &Value) {
        if self.files.get(slug) != Some(&text) {
            self.commits += 1;
        }
        let commit = response["commit"].as_str().unwrap().to_owned();
        self.versions
            .entry(slug)
            .or_default()
            .push((commit, text.clone()));
        self.files.insert(slug, text);
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, Value) {
    let mut request = app.as_author(method, &format!("/api/v1/posts{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The post's ETag as an author reads it, or a made-up one for a post that is not there.
async fn etag(app: &TestApp, slug: &str) -> String {
    let response = app
        .get_as_author(&format!("/api/v1/posts/{slug}"))
        .send()
        .await
        .unwrap();
    match response.headers().get("etag") {
        Some(etag) if response.status() == 200 => etag.to_str().unwrap().to_owned(),
        _ => "\"0000000000000000000000000000000000000000\"".to_owned(),
    }
}

async fn apply(app: &TestApp, model: &mut Model, op: &Op) {
    match *op {
        Op::Create { slot, text: n } => {
            let slug = SLOTS[slot];
            let body = json!({"slug": slug, "raw": text(n)});
            let (status, response) = send(app, Method::POST, "", Some(body), None).await;
            if model.files.contains_key(slug) {
                assert_eq!(status, 409, "{op:?}");
            } else {
                assert_eq!(status, 201, "{op:?}: {response}");
                model.versions.remove(slug);
                model.wrote(slug, text(n), &response);
            }
        }
        Op::Replace { slot, text: n } => {
            let slug = SLOTS[slot];
            let etag = etag(app, slug).await;
            let body = json!({"raw": text(n)});
            let (status, response) = send(
                app,
                Method::PUT,
                &format!("/{slug}"),
                Some(body),
                Some(&etag),
            )
            .await;
            if model.files.contains_key(slug) {
                assert_eq!(status, 200, "{op:?}: {response}");
                model.wrote(slug, text(n), &response);
            } else {
                assert_eq!(status, 404, "{op:?}");
            }
        }
        Op::Patch { slot, published } => {
            let slug = SLOTS[slot];
            let status_value = if published { "published" } else { "draft" };
            let changes = json!({"status": status_value});
            let body = json!({"front_matter": changes});
            let (status, response) =
                send(app, Method::PATCH, &format!("/{slug}"), Some(body), None).await;
            match model.files.get(slug) {
                Some(current) => {
                    assert_eq!(status, 200, "{op:?}: {response}");
                    let patched =
                        palimpsest::writing::patch(current, changes.as_object().unwrap()).unwrap();
                    model.wrote(slug, patched, &response);
                }
                None => assert_eq!(status, 404, "{op:?}"),
            }
        }
        Op::Rename { slot, to } => {
            let (from, to) = (SLOTS[slot], SLOTS[to]);
            let body = json!({"new_slug": to});
            let (status, response) = send(
                app,
                Method::POST,
                &format!("/{from}/rename"),
                Some(body),
                None,
            )
            .await;
            match model.files.get(from).cloned() {
                // Its own slug is taken, by itself, whether or not it exists.
                _ if from == to => assert_eq!(status, 409, "{op:?}"),
                None => assert_eq!(status, 404, "{op:?}"),
                Some(_) if model.files.contains_key(to) => assert_eq!(status, 409, "{op:?}"),
                Some(text) => {
                    assert_eq!(status, 200, "{op:?}: {response}");
                    model.files.remove(from);
                    let versions = model.versions.remove(from).unwrap_or_default();
                    model.versions.insert(to, versions);
                    model.wrote(to, text, &response);
                }
            }
        }
        Op::Delete { slot } => {
            let slug = SLOTS[slot];
            let etag = etag(app, slug).await;
            let (status, _) =
                send(app, Method::DELETE, &format!("/{slug}"), None, Some(&etag)).await;
            if model.files.remove(slug).is_some() {
                assert_eq!(status, 204, "{op:?}");
                model.versions.remove(slug);
                model.commits += 1;
            } else {
                assert_eq!(status, 404, "{op:?}");
            }
        }
        Op::Restore { slot, back } => {
            let slug = SLOTS[slot];
            if !model.files.contains_key(slug) {
                return;
            }
            let versions = &model.versions[slug];
            let (commit, text) = versions[versions
                .len()
                .saturating_sub(1 + back)
                .min(versions.len() - 1)]
            .clone();
            let body = json!({"revision": commit});
            let (status, response) = send(
                app,
                Method::POST,
                &format!("/{slug}/restore"),
                Some(body),
                None,
            )
            .await;
            assert_eq!(status, 200, "{op:?}: {response}");
            model.wrote(slug, text, &response);
        }
    }
}

/// The model's slots as the branch holds them.
fn files_on_branch(app: &TestApp) -> HashMap<&'static str, String> {
    let repo = git2::Repository::open(&app.repo).unwrap();
    let tree = repo
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    SLOTS
        .iter()
        .filter_map(|slug| {
            let entry = tree
                .get_path(std::path::Path::new(&format!("posts/{slug}.md")))
                .ok()?;
            let blob = repo.find_blob(entry.id()).unwrap();
            Some((*slug, String::from_utf8(blob.content().to_vec()).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn random_write_sequences_leave_the_repository_equal_to_the_model() {
    let cases = std::env::var("PALIMPSEST_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let mut runner = TestRunner::deterministic();
    let sequences = prop::collection::vec(op(), 20);
    for _ in 0..cases {
        let ops = sequences.new_tree(&mut runner).unwrap().current();
        let app = spawn_app_with(sample_posts().into_iter().take(1).collect()).await;
        let before = app.branch_log().len();
        let mut model = Model::default();
        for op in &ops {
            apply(&app, &mut model, op).await;
        }
        assert_eq!(files_on_branch(&app), model.files, "after {ops:?}");
        assert_eq!(
            app.branch_log().len(),
            before + model.commits,
            "commits after {ops:?}"
        );
        let fsck = std::process::Command::new("git")
            .args(["fsck", "--full", "--no-progress"])
            .current_dir(&app.repo)
            .output()
            .unwrap();
        assert!(
            fsck.status.success(),
            "git fsck: {}",
            String::from_utf8_lossy(&fsck.stderr)
        );
    }
}
