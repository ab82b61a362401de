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
    let repo = seed_repo(dir.path(), &posts);
    spawn_app_on(dir, repo).await
}

/// A bare repository `content.git` in `dir` whose one commit holds `posts`.
pub fn seed_repo(dir: &std::path::Path, posts: &[(&str, String)]) -> PathBuf {
    let content = dir.join("content");
    std::fs::create_dir_all(content.join("posts")).unwrap();
    for (slug, text) in posts {
        std::fs::write(content.join(format!("posts/{slug}.md")), text).unwrap();
    }
    let repo = dir.join("content.git");
    let author = Identity::parse(AUTHOR).unwrap();
    store::seed_repository(&repo, &content, "main", &author).expect("seeding the repository");
    repo
}

/// Starts a server over `posts`, with settings changed by `configure` (`--cors-origins`,
/// `--public-url`...).
pub async fn spawn_app_configured(
    posts: Vec<(&str, String)>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let repo = seed_repo(dir.path(), &posts);
    spawn_app_on_configured(dir, repo, configure).await
}

/// Starts a server over an existing repository `repo` (bare or not) inside `dir`.
pub async fn spawn_app_on(dir: tempfile::TempDir, repo: PathBuf) -> TestApp {
    spawn_app_on_configured(dir, repo, |_| {}).await
}

/// [`spawn_app_on`] with the test settings changed by `configure` first.
pub async fn spawn_app_on_configured(
    dir: tempfile::TempDir,
    repo: PathBuf,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::for_repo(repo.clone());
    settings.listen = "127.0.0.1:0".into();
    settings.authors = Authors::single(TOKEN, Identity::parse(AUTHOR).unwrap());
    settings.poll_interval = Duration::from_millis(50);
    settings.workers = 2;
    configure(&mut settings);
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
        commit_into(&self.repo, message, files, time)
    }

    /// The status of an anonymous `GET path`.
    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).send().await.unwrap().status().as_u16()
    }

    /// The body of an anonymous `GET path`, as JSON, whatever the status.
    pub async fn json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    /// The body of an anonymous `GET path`, as text, whatever the status.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).send().await.unwrap().text().await.unwrap()
    }

    /// Polls `path` until `done` holds for its JSON body, for changes the server picks up
    /// in the background; fails after ten seconds (CI machines are shared).
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
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

/// Commits `files` (path, content or None to delete) on `main` in `repo`, as a `git push`
/// from elsewhere would, and returns the new commit id.
pub fn commit_into(
    repo: &std::path::Path,
    message: &str,
    files: &[(&str, Option<&str>)],
    time: Option<git2::Time>,
) -> String {
    let store = store::Store::open(repo, "main").unwrap();
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

/// One commit on the branch, as the write tests check it.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: String,
    pub author: String,
    pub committer: String,
    pub message: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the author's token.
    pub fn as_author(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    /// `POST /api/v1/posts` with a JSON body.
    pub async fn create_post(&self, body: &Value) -> Response {
        self.as_author(reqwest::Method::POST, "/api/v1/posts")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `PUT /api/v1/posts/{slug}`, with `If-Match` when given.
    pub async fn put_post(&self, slug: &str, body: &Value, if_match: Option<&str>) -> Response {
        let mut request = self
            .as_author(reqwest::Method::PUT, &format!("/api/v1/posts/{slug}"))
            .json(body);
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        request.send().await.unwrap()
    }

    /// `PATCH /api/v1/posts/{slug}`, with `If-Match` when given.
    pub async fn patch_post(&self, slug: &str, body: &Value, if_match: Option<&str>) -> Response {
        let mut request = self
            .as_author(reqwest::Method::PATCH, &format!("/api/v1/posts/{slug}"))
            .json(body);
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        request.send().await.unwrap()
    }

    /// `DELETE /api/v1/posts/{slug}`, with `If-Match` when given.
    pub async fn delete_post(&self, slug: &str, if_match: Option<&str>) -> Response {
        let mut request = self.as_author(reqwest::Method::DELETE, &format!("/api/v1/posts/{slug}"));
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        request.send().await.unwrap()
    }

    /// `POST /api/v1/posts/{slug}/rename`.
    pub async fn rename_post(&self, slug: &str, body: &Value) -> Response {
        self.as_author(
            reqwest::Method::POST,
            &format!("/api/v1/posts/{slug}/rename"),
        )
        .json(body)
        .send()
        .await
        .unwrap()
    }

    /// `POST /api/v1/posts/{slug}/restore`.
    pub async fn restore_post(&self, slug: &str, body: &Value) -> Response {
        self.as_author(
            reqwest::Method::POST,
            &format!("/api/v1/posts/{slug}/restore"),
        )
        .json(body)
        .send()
        .await
        .unwrap()
    }

    /// The post as an author sees it, with its ETag.
    pub async fn read_post(&self, slug: &str) -> (Value, String) {
        let response = self
            .get_as_author(&format!("/api/v1/posts/{slug}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "reading {slug}");
        let etag = etag_of(&response);
        (response.json().await.unwrap(), etag)
    }

    /// The branch's commits, newest first (first parents).
    pub fn branch_log(&self) -> Vec<CommitInfo> {
        branch_log(&self.repo)
    }
}

/// The `ETag` header of a response.
pub fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag header")
        .to_string()
}

/// The commits of `main` in `repo`, newest first (first parents).
pub fn branch_log(repo: &std::path::Path) -> Vec<CommitInfo> {
    let repo = git2::Repository::open(repo).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.simplify_first_parent().unwrap();
    walk.map(|id| {
        let commit = repo.find_commit(id.unwrap()).unwrap();
        let who = |s: git2::Signature| format!("{} <{}>", s.name().unwrap(), s.email().unwrap());
        CommitInfo {
            id: commit.id().to_string(),
            author: who(commit.author()),
            committer: who(commit.committer()),
            message: commit.message().unwrap().to_string(),
        }
    })
    .collect()
}

/// Starts the real `palimpsest serve` binary over `repo` on a free port, with extra flags and
/// environment; returns it, the port it logged, and its log lines as they arrive.
pub async fn start_binary(
    repo: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (
    tokio::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    start_binary_as(None, repo, args, envs).await
}

/// [`start_binary`], the server running as the user and group `id` when one is given (the
/// test must run as root for that).
pub async fn start_binary_as(
    id: Option<u32>,
    repo: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (
    tokio::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_palimpsest"));
    if let Some(id) = id {
        // The standard library drops root's supplementary groups with the uid; git's
        // configuration is looked for in a home the user may read.
        command.uid(id).gid(id).env("HOME", repo);
    }
    let mut child = command
        .args(["serve", "--repo", repo.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--workers", "2"])
        .args(args)
        .envs(envs.iter().copied())
        .env("PALIMPSEST_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the server binary");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let port = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the server logs its port")
            .unwrap()
            .expect("the server exited before serving");
        log.lock().unwrap().push(line.clone());
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && let Some(port) = event["port"].as_u64()
        {
            break port as u16;
        }
    };
    // Keep reading the log so the server never blocks on a full pipe.
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    (child, port, log)
}

/// Runs the `git` CLI in `dir` as an author pushing from a clone would.
pub fn git_as_pusher(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Pushing Author")
        .env("GIT_AUTHOR_EMAIL", "push@example.org")
        .env("GIT_COMMITTER_NAME", "Pushing Author")
        .env("GIT_COMMITTER_EMAIL", "push@example.org")
        .output()
        .expect("running git")
}
