//! Crashes: the real binary, SIGKILLed under a write load and restarted, has lost nothing it
//! acknowledged, the repository passes `git fsck --strict`, holds no garbage and few packs,
//! and a stale branch lock left behind does not stop the next server from writing.

use std::path::Path;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::helpers::{AUTHOR, TOKEN, branch_log, sample_posts, seed_repo, start_binary};

const CRASHES: usize = 5;
const WRITERS: usize = 4;

async fn start_server(repo: &Path) -> (Child, u16) {
    let envs = [("PALIMPSEST_TOKEN", TOKEN), ("PALIMPSEST_AUTHOR", AUTHOR)];
    let (child, port, _log) = start_binary(repo, &[], &envs).await;
    (child, port)
}

/// Creates posts until the server stops answering; returns the (slug, commit) of each 201.
async fn write_until_killed(client: Client, port: u16, prefix: String) -> Vec<(String, String)> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let slug = format!("{prefix}-{n}");
        let body = json!({
            "slug": slug,
            "front_matter": {"title": format!("Written before a crash {n}")},
            "markdown": "## Question\n\nDoes it survive?\n",
        });
        let sent = client
            .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { break };
        if response.status() != 201 {
            break;
        }
        let Ok(written) = response.json::<Value>().await else {
            break;
        };
        acknowledged.push((slug, written["commit"].as_str().unwrap().to_string()));
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let client = Client::new();

    let mut acknowledged = Vec::new();
    for crash in 0..CRASHES {
        let (mut server, port) = start_server(&repo).await;
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write_until_killed(
                    client.clone(),
                    port,
                    format!("crash-{crash}-{w}"),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.start_kill().unwrap(); // SIGKILL: no chance to clean up
        server.wait().await.unwrap();
        for writer in writers {
            acknowledged.extend(writer.await.unwrap());
        }
    }
    assert!(acknowledged.len() >= CRASHES, "the load wrote something");

    // A crash between locking and renaming the branch leaves this behind.
    let lock = repo.join("refs/heads/main.lock");
    let tip = branch_log(&repo)[0].id.clone();
    std::fs::write(&lock, format!("{tip}\n")).unwrap();
    let (_server, port) = start_server(&repo).await;
    assert!(!lock.exists(), "the stale lock is cleared at startup");
    let after = write_until_first(&client, port).await;

    let log = branch_log(&repo);
    for (slug, commit) in acknowledged.iter().chain([&after]) {
        assert!(
            log.iter().any(|c| &c.id == commit),
            "acknowledged {slug} ({commit}) is on the branch"
        );
        let read = client
            .get(format!("http://127.0.0.1:{port}/api/v1/posts/{slug}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{slug} is served");
    }
    // What the killed servers left was cleaned up or packed by the next start.
    let counted = std::process::Command::new("git")
        .args(["count-objects", "-v"])
        .current_dir(&repo)
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
    let fsck = std::process::Command::new("git")
        .args(["fsck", "--strict", "--full", "--no-progress"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "git fsck --strict: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

/// One create on a freshly started server.
async fn write_until_first(client: &Client, port: u16) -> (String, String) {
    let body = json!({
        "slug": "after-the-crashes",
        "front_matter": {"title": "After the crashes"},
        "markdown": "Still writing.\n",
    });
    let response = client
        .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let written: Value = response.json().await.unwrap();
    (
        "after-the-crashes".into(),
        written["commit"].as_str().unwrap().to_string(),
    )
}
