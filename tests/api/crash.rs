//! Crashes: the real binary, SIGKILLed under a write load while it holds the branch's lock
//! and restarted, writes again at once and has lost nothing it acknowledged, and the
//! repository passes `git fsck --full --strict`, holds no garbage and few packs; with and
//! without a working tree (reflogs).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::json;

use crate::helpers::{TOKEN, sample_posts, seed_repo};
use crate::locks::{
    Outcome, assert_answers_were_true, signal_while_holding, start_server, working_tree_repo,
    write_until,
};

const CRASHES: usize = 3;
const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    crashes_lose_nothing(&repo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_over_a_working_tree_repository_writes_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let repo = working_tree_repo(dir.path()).join(".git");
    crashes_lose_nothing(&repo).await;
    assert!(
        repo.join("logs/refs/heads/main").exists(),
        "the moves are logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_over_a_bare_repository_with_reflogs_writes_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    git2::Repository::open(&repo)
        .unwrap()
        .config()
        .unwrap()
        .set_bool("core.logAllRefUpdates", true)
        .unwrap();
    crashes_lose_nothing(&repo).await;
    assert!(
        repo.join("logs/refs/heads/main").exists(),
        "the moves are logged"
    );
}

/// Kills the server `CRASHES` times while it holds the branch's lock under `WRITERS`
/// writers; after every restart a write must succeed within seconds, and in the end every
/// acknowledged write is there.
async fn crashes_lose_nothing(repo: &Path) {
    let client = Client::new();
    let lock = repo.join("refs/heads/main.lock");
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut locks_left = 0;
    for crash in 0..=CRASHES {
        let (mut server, port) = start_server(repo).await;
        assert!(
            !lock.exists(),
            "the lock the killed server held is gone after the restart"
        );
        outcomes.push(first_write(&client, port, &format!("restart-{crash}")).await);
        if crash == CRASHES {
            break;
        }
        let never = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write_until(
                    client.clone(),
                    port,
                    format!("crash-{crash}-{w}"),
                    never.clone(),
                ))
            })
            .collect();
        let pid = server.id().unwrap();
        assert!(
            signal_while_holding(repo, pid, libc::SIGKILL).await,
            "the server took the lock"
        );
        server.wait().await.unwrap();
        for writer in writers {
            outcomes.extend(writer.await.unwrap());
        }
        locks_left += usize::from(lock.exists());
        assert!(
            !repo.join("logs/refs/heads/main.lock").exists(),
            "the server never leaves a reflog lock"
        );
    }
    assert!(locks_left > 0, "some crash left the branch's lock behind");
    assert!(
        outcomes.iter().filter(|o| o.2.is_some()).count() > CRASHES,
        "the load wrote"
    );
    assert_answers_were_true(repo, &outcomes);
    assert_no_garbage_and_few_packs(repo);
}

/// What the killed servers left was cleaned up or packed by the next start.
fn assert_no_garbage_and_few_packs(repo: &Path) {
    let counted = std::process::Command::new("git")
        .args(["count-objects", "-v"])
        .current_dir(repo)
        .output()
        .unwrap();
    let counted = String::from_utf8(counted.stdout).unwrap();
    let field = |name: &str| -> usize {
        let line = counted
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")));
        line.unwrap().split(' ').nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(field("garbage"), 0, "{counted}");
    assert!(field("packs") <= 10, "{counted}");
}

/// The first write after a restart: it must be acknowledged within a few seconds.
async fn first_write(client: &Client, port: u16, slug: &str) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = client
            .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
            .bearer_auth(TOKEN)
            .json(&json!({
                "slug": slug,
                "front_matter": {"title": "After a restart"},
                "markdown": "Still writing.\n",
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 201 {
            let written: serde_json::Value = response.json().await.unwrap();
            return (
                slug.to_string(),
                201,
                Some(written["commit"].as_str().unwrap().into()),
            );
        }
        assert!(
            Instant::now() < deadline,
            "no write succeeded after the restart ({status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
