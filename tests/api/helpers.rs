//! `spawn_app()` and the `TestApp` every test talks to.

use std::path::PathBuf;
use std::time::Duration;

use palimpsest::authors::Authors;
use palimpsest::config::Settings;
use palimpsest::startup::Application;
use palimpsest::store::{self, Identity};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const TOKEN: &str = "test-token-with-enough-entropy-0123456789";
pub const AUTHOR: &str = "Mira Okafor <mira@example.org>";

/// A running server over its own temporary repository.
pub struct TestApp {
    pub address: String,
    pub repo: PathBuf,
    pub client: Client,
    _dir: tempfile::TempDir,
}

/// A small blog: two published posts linking to each other and one draft.
pub fn sample_posts() -> Vec<(&'static str, String)> {
    vec![
        (
            "attention-scaling",
            post(
                "Why divide by sqrt(d_k)?",
                "2026-09-01",
                "[transformers, attention]",
                "published",
                "See [the norms post](layernorm-vs-rmsnorm).",
                "- Does it matter with QK-norm?",
            ),
        ),
        (
            "layernorm-vs-rmsnorm",
            post(
                "LayerNorm versus RMSNorm",
                "2026-10-01",
                "[transformers, normalization]",
                "published",
                "Compare with [attention](/posts/attention-scaling) and [moe](moe-routing).",
                "- Is re-centering ever needed?\n- What about Post-LN?",
            ),
        ),
        (
            "moe-routing",
            post(
                "Mixture-of-experts routing",
                "2026-11-01",
                "[moe, transformers]",
                "draft",
                "Links to [attention](attention-scaling).",
                "- Top-1 or top-2?",
            ),
        ),
    ]
}

pub fn post(title: &str, date: &str, tags: &str, status: &str, body: &str, open: &str) -> String {
    format!(
        "---\ntitle: \"{title}\"\ndate: {date}\ntags: {tags}\nstatus: {status}\nsummary: \"About {title}.\"\nseries: kept-untouched\n---\n\n## Question\n\nWhat is {title}?\n\n## Background\n\n{body}\n\n## Exploration\n\nMath: $\\sqrt{{d_k}}$ and\n\n$$\\operatorname{{softmax}}(x)_i = e^{{x_i}} / \\sum_j e^{{x_j}}$$\n\n## Takeaways\n\nA takeaway.\n\n## Open Questions\n\n{open}\n"
    )
}

/// Starts a server over a fresh repository holding `sample_posts()`.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(sample_posts()).await
}

pub async fn spawn_app_with(posts: Vec<(&str, String)>) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let content = dir.path().join("content");
    std::fs::create_dir_all(content.join("posts")).unwrap();
    for (slug, text) in &posts {
        std::fs::write(content.join(format!("posts/{slug}.md")), text).unwrap();
    }
    let repo = dir.path().join("content.git");
    let author = Identity::parse(AUTHOR).unwrap();
    store::seed_repository(&repo, &content, "main", &author).expect("seeding the repository");

    let mut settings = Settings::for_repo(repo.clone());
    settings.listen = "127.0.0.1:0".into();
    settings.authors = Authors::single(TOKEN, author);
    settings.poll_interval = Duration::from_millis(50);
    settings.workers = 2;
    let app = Application::build(settings)
        .await
        .expect("building the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        repo,
        client: Client::new(),
        _dir: dir,
    }
}

impl TestApp {
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.address))
    }

    pub fn get_as_author(&self, path: &str) -> RequestBuilder {
        self.get(path).bearer_auth(TOKEN)
    }

    /// Commits `files` (path, content or None to delete) straight into the repository, as a
    /// `git push` from elsewhere would, and returns the new commit id.
    pub fn commit_outside(&self, message: &str, files: &[(&str, Option<&str>)]) -> String {
        self.commit_outside_at(message, files, None)
    }

    /// [`commit_outside`](Self::commit_outside) with the commit's time set (`None`: now).
    pub fn commit_outside_at(
        &self,
        message: &str,
        files: &[(&str, Option<&str>)],
        time: Option<git2::Time>,
    ) -> String {
        let store = store::Store::open(&self.repo, "main").unwrap();
        let repo = store.repository().unwrap();
        let tip = store.tip().unwrap();
        let author = Identity::parse("Outside Editor <outside@example.org>").unwrap();
        let changes = files
            .iter()
            .map(|(path, content)| match content {
                Some(text) => store::Change::Upsert {
                    path: path.to_string(),
                    content: text.as_bytes().to_vec(),
                },
                None => store::Change::Delete {
                    path: path.to_string(),
                },
            })
            .collect();
        let request = store::CommitRequest {
            author: author.clone(),
            committer: author,
            message: message.to_string(),
            time,
            changes,
        };
        let commit = store.write_commit(&repo, tip, &request).unwrap();
        store.move_branch(&repo, commit, tip, "test push").unwrap();
        commit.to_string()
    }

    /// The body of an anonymous `GET path`, as text, whatever the status.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).send().await.unwrap().text().await.unwrap()
    }

    /// Polls `path` until `done` holds for its JSON body, for changes the server picks up
    /// in the background; fails after five seconds.
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let body: Value = self
                .get_as_author(path)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if done(&body) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never reached the expected state");
    }
}

/// Asserts a response is an RFC 9457 problem with `status`, and returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"))
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}
