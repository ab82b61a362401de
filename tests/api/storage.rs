//! A full disk and a read-only repository: writes are refused with 507 and 503
//! (problem+json), nothing half-written is left, reads go on, and writes work again as
//! soon as space or permission is back, without a restart. The full disk needs root for a
//! small tmpfs of its own (skipped with a message otherwise); the read-only repository is one
//! whose write permission is taken away (the server runs unprivileged when the tests run as
//! root, since root ignores permission bits).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Client;
use serde_json::json;

use crate::helpers::{AUTHOR, TOKEN, assert_problem, sample_posts, seed_repo, start_binary_as};
use crate::locks::{Outcome, assert_answers_were_true, start_server};

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}

/// A tmpfs of a few megabytes mounted on a temporary folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (and a message) when this process may not mount one.
    fn mount(test: &str) -> Option<Tmpfs> {
        if !is_root() {
            println!("skipped {test}: mounting a small tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .status();
        if !mounted.is_ok_and(|status| status.success()) {
            println!("skipped {test}: could not mount a tmpfs (no CAP_SYS_ADMIN?)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Fills the filesystem holding `dir` to the last block; returns the file that did it.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    while file.write_all(&[0]).is_ok() {}
    filler
}

async fn create(client: &Client, port: u16, slug: &str) -> reqwest::Response {
    client
        .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
        .bearer_auth(TOKEN)
        .json(&json!({
            "slug": slug,
            "front_matter": {"title": format!("Post {slug}")},
            "markdown": "## Question\n\nWill it fit?\n",
        }))
        .send()
        .await
        .unwrap()
}

/// Creates `slug`, expecting a refusal with `status` and problem `kind`; reads still work.
async fn refused(client: &Client, port: u16, slug: &str, status: u16, kind: &str) -> Outcome {
    let response = create(client, port, slug).await;
    let retry_after = response.headers().contains_key("retry-after");
    let problem = assert_problem(response, status).await;
    assert_eq!(problem["type"], kind);
    assert!(status != 503 || retry_after, "a 503 says when to retry");
    let read = client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/posts/attention-scaling"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads go on");
    (slug.to_string(), status, None)
}

/// Creates `slug`, expecting it to be acknowledged.
async fn accepted(client: &Client, port: u16, slug: &str) -> Outcome {
    let response = create(client, port, slug).await;
    assert_eq!(response.status(), 201, "{slug}");
    let written: serde_json::Value = response.json().await.unwrap();
    (
        slug.to_string(),
        201,
        Some(written["commit"].as_str().unwrap().into()),
    )
}

/// No temporary or half-written object is left (`git count-objects -v`: `garbage: 0`).
fn assert_no_garbage(repo: &Path) {
    let counted = Command::new("git")
        .args(["count-objects", "-v"])
        .current_dir(repo)
        .output()
        .unwrap();
    let counted = String::from_utf8_lossy(&counted.stdout).into_owned();
    assert!(counted.contains("garbage: 0"), "{counted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_507_until_space_is_freed() {
    let Some(tmpfs) = Tmpfs::mount("a_full_disk_refuses_writes_with_507_until_space_is_freed")
    else {
        return;
    };
    let repo = seed_repo(tmpfs.path(), &sample_posts());
    let (mut server, port) = start_server(&repo).await;
    let client = Client::new();
    let mut outcomes = vec![accepted(&client, port, "before-the-disk-fills").await];

    let filler = fill(tmpfs.path());
    for n in 0..3 {
        outcomes.push(
            refused(
                &client,
                port,
                &format!("full-{n}"),
                507,
                "/problems/insufficient-storage",
            )
            .await,
        );
    }
    std::fs::remove_file(filler).unwrap();
    outcomes.push(accepted(&client, port, "after-space-is-freed").await);

    server.start_kill().unwrap();
    server.wait().await.unwrap();
    assert_answers_were_true(&repo, &outcomes);
    assert_no_garbage(&repo);
}

/// The user a read-only repository is served as when the tests run as root: root ignores
/// permission bits, and a tmpfs cannot be remounted read-only while the server holds files
/// open for writing (its search index's writer lock), so the server runs unprivileged.
const NOBODY: u32 = 65534;

/// A repository folder whose write permission is taken away and given back.
struct ReadOnly {
    dir: tempfile::TempDir,
}

impl ReadOnly {
    fn new() -> ReadOnly {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), "a+rx", false);
        ReadOnly { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The user the server runs as: unprivileged when the tests run as root.
    fn server_user(&self) -> Option<u32> {
        is_root().then_some(NOBODY)
    }

    /// Hands the seeded repository to the server's user.
    fn hand_over(&self) {
        if let Some(user) = self.server_user() {
            let owner = format!("{user}:{user}");
            let status = Command::new("chown")
                .args(["-R", &owner])
                .arg(self.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown -R {owner}");
        }
    }

    /// Gives the repository back to the test's own user, for git's checks.
    fn take_back(&self) {
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "0:0"])
                .arg(self.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown -R 0:0");
        }
    }

    fn set(&self, read_only: bool) {
        let mode = if read_only { "a-w" } else { "u+w" };
        chmod(self.path(), mode, true);
    }
}

fn chmod(path: &Path, mode: &str, recursive: bool) {
    let mut command = Command::new("chmod");
    if recursive {
        command.arg("-R");
    }
    let status = command.arg(mode).arg(path).status().unwrap();
    assert!(status.success(), "chmod {mode}");
}

async fn start_server_as(user: Option<u32>, repo: &Path) -> (tokio::process::Child, u16) {
    let envs = [("PALIMPSEST_TOKEN", TOKEN), ("PALIMPSEST_AUTHOR", AUTHOR)];
    let (child, port, _log) = start_binary_as(user, repo, &[], &envs).await;
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_repository_refuses_writes_with_503_until_it_is_writable() {
    let place = ReadOnly::new();
    let repo = seed_repo(place.path(), &sample_posts());
    place.hand_over();
    let (mut server, port) = start_server_as(place.server_user(), &repo).await;
    let client = Client::new();
    let mut outcomes = vec![accepted(&client, port, "before-read-only").await];

    place.set(true);
    for n in 0..3 {
        outcomes.push(
            refused(
                &client,
                port,
                &format!("read-only-{n}"),
                503,
                "/problems/read-only",
            )
            .await,
        );
    }
    // A server started on the read-only repository serves it, and refuses writes the same.
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let (mut server, port) = start_server_as(place.server_user(), &repo).await;
    outcomes.push(
        refused(
            &client,
            port,
            "read-only-restarted",
            503,
            "/problems/read-only",
        )
        .await,
    );
    place.set(false);
    outcomes.push(accepted(&client, port, "writable-again").await);

    server.start_kill().unwrap();
    server.wait().await.unwrap();
    place.take_back();
    assert_answers_were_true(&repo, &outcomes);
    assert_no_garbage(&repo);
}
