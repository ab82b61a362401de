//! Locks: two servers on one repository, one of them paused while it holds the branch's
//! lock, lose nothing; a lock a live process holds is waited for, never taken; a write's
//! answer says truly whether it was committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::{
    AUTHOR, TOKEN, TestApp, assert_problem, branch_log, sample_posts, seed_repo, spawn_app_on,
    start_binary,
};

/// Starts the server binary over `repo`; returns it and its port.
pub async fn start_server(repo: &Path) -> (tokio::process::Child, u16) {
    let envs = [("PALIMPSEST_TOKEN", TOKEN), ("PALIMPSEST_AUTHOR", AUTHOR)];
    let (child, port, _log) = start_binary(repo, &[], &envs).await;
    (child, port)
}

/// Whether the server process `pid` holds the branch's lock: its lock journal (see
/// `store::lock`) names `refs/heads/main.lock`, and that file is the journal's entry.
pub fn holds_branch_lock(repo: &Path, pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(journals) = std::fs::read_dir(repo.join("palimpsest/locks")) else {
        return false;
    };
    let lock = std::fs::metadata(repo.join("refs/heads/main.lock")).ok();
    journals.flatten().any(|journal| {
        let name = journal.file_name().to_string_lossy().into_owned();
        let entry = journal.path().join("refs%2Fheads%2Fmain.lock");
        name.starts_with(&format!("{pid}-"))
            && std::fs::metadata(entry)
                .ok()
                .zip(lock.as_ref())
                .is_some_and(|(entry, lock)| entry.ino() == lock.ino())
    })
}

/// Waits (spinning: a lock is held for milliseconds) until `pid` holds the branch's lock,
/// then sends it `signal`; `false` if it never did before the deadline.
pub async fn signal_while_holding(repo: &Path, pid: u32, signal: i32) -> bool {
    let repo = repo.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if holds_branch_lock(&repo, pid) {
                // SAFETY: signalling a child process this test started and still owns.
                unsafe { libc::kill(pid as i32, signal) };
                return true;
            }
            std::thread::yield_now();
        }
        false
    })
    .await
    .unwrap()
}

/// What one attempted create got: the slug, the status, the commit if acknowledged.
pub type Outcome = (String, u16, Option<String>);

/// Creates posts on `port` until `stop`; returns every attempt's outcome. A transport
/// error (the server was killed) ends it.
pub async fn write_until(
    client: Client,
    port: u16,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let slug = format!("{prefix}-{n}");
        let body = json!({
            "slug": slug,
            "front_matter": {"title": format!("Written beside a lock {n}")},
            "markdown": "## Question\n\nIs it kept?\n",
        });
        let sent = client
            .post(format!("http://127.0.0.1:{port}/api/v1/posts"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { break };
        let status = response.status().as_u16();
        let Ok(answer) = response.json::<Value>().await else {
            break;
        };
        let commit = (status == 201).then(|| answer["commit"].as_str().unwrap().to_string());
        outcomes.push((slug, status, commit));
    }
    outcomes
}

/// Checks that every acknowledged create is on the branch, every refused one is not (its
/// answer was true), and that `git fsck --full` passes.
pub fn assert_answers_were_true(repo: &Path, outcomes: &[Outcome]) {
    let log = branch_log(repo);
    let git = git2::Repository::open(repo).unwrap();
    let tree = git
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_tree()
        .unwrap();
    for (slug, status, commit) in outcomes {
        let present = tree
            .get_path(Path::new(&format!("posts/{slug}.md")))
            .is_ok();
        match commit {
            Some(commit) => {
                assert!(
                    log.iter().any(|c| &c.id == commit),
                    "acknowledged {slug} ({commit}) is on the branch"
                );
                assert!(present, "acknowledged {slug} is in the tree");
            }
            None => assert!(!present, "{slug} was answered {status} but committed"),
        }
    }
    let fsck = std::process::Command::new("git")
        .args(["fsck", "--full", "--strict", "--no-progress"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "git fsck --full: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

const STALLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_lose_nothing_when_one_stalls_while_holding_the_branch_lock() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let (mut first, first_port) = start_server(&repo).await;
    let (mut second, second_port) = start_server(&repo).await;
    let stalled = first.id().unwrap();
    let client = Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [
        (first_port, "a"),
        (first_port, "b"),
        (second_port, "c"),
        (second_port, "d"),
    ]
    .into_iter()
    .map(|(port, name)| {
        tokio::spawn(write_until(
            client.clone(),
            port,
            format!("two-{name}"),
            stop.clone(),
        ))
    })
    .collect();

    let mut held = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while held < STALLS && Instant::now() < deadline {
        assert!(
            signal_while_holding(&repo, stalled, libc::SIGSTOP).await,
            "the first server takes the lock"
        );
        // Count the stalls during which it really held the lock (it may have let go between
        // the look and the signal).
        if holds_branch_lock(&repo, stalled) {
            held += 1;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // SAFETY: resuming the child this test stopped.
        unsafe { libc::kill(stalled as i32, libc::SIGCONT) };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.unwrap());
    }
    assert_eq!(
        held, STALLS,
        "the first server stalled {STALLS} times while holding the lock"
    );
    let acknowledged = outcomes.iter().filter(|o| o.2.is_some()).count();
    assert!(
        acknowledged > 10,
        "both servers wrote: {acknowledged} acknowledged"
    );
    assert_answers_were_true(&repo, &outcomes);
    first.start_kill().unwrap();
    second.start_kill().unwrap();
    first.wait().await.unwrap();
    second.wait().await.unwrap();
    assert!(!repo.join("refs/heads/main.lock").exists());
}

/// A repository with a working tree (reflogs on), holding the sample posts.
pub fn working_tree_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("content");
    std::fs::create_dir_all(repo.join("posts")).unwrap();
    for (slug, text) in sample_posts() {
        std::fs::write(repo.join(format!("posts/{slug}.md")), text).unwrap();
    }
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "posts"],
        &[
            "-c",
            "user.name=Mira",
            "-c",
            "user.email=mira@example.org",
            "commit",
            "-qm",
            "posts",
        ],
    ] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
    repo
}

async fn create(app: &TestApp, slug: &str) -> reqwest::Response {
    app.create_post(&json!({
        "slug": slug,
        "front_matter": {"title": format!("Post {slug}")},
        "markdown": "Written.\n",
    }))
    .await
}

#[tokio::test]
async fn a_write_is_answered_true_when_the_reflog_or_the_branch_cannot_be_locked() {
    let dir = tempfile::tempdir().unwrap();
    let repo = working_tree_repo(dir.path());
    let app = spawn_app_on(dir, repo.join(".git")).await;
    let git_dir = repo.join(".git");

    // The reflog cannot be appended (here: a folder where the file should be; a leftover
    // reflog lock, as a crash of an earlier version left it, besides): the branch moves,
    // so the write succeeded, and says so.
    let reflog = git_dir.join("logs/refs/heads/main");
    std::fs::remove_file(&reflog).unwrap();
    std::fs::create_dir(&reflog).unwrap();
    std::fs::write(git_dir.join("logs/refs/heads/main.lock"), "left by a crash").unwrap();
    let response = create(&app, "reflog-refused").await;
    assert_eq!(response.status(), 201);
    let commit: Value = response.json().await.unwrap();
    assert_eq!(
        branch_log(&git_dir)[0].id,
        commit["commit"].as_str().unwrap()
    );
    assert!(!git_dir.join("logs/refs/heads/main.lock").exists());
    std::fs::remove_dir(&reflog).unwrap();

    // The branch is locked by a live process (as `git push` holds it): the write waits,
    // then is refused, and nothing was committed.
    let tip = branch_log(&git_dir)[0].id.clone();
    let lock = git_dir.join("refs/heads/main.lock");
    std::fs::write(&lock, format!("{tip}\n")).unwrap();
    let response = create(&app, "branch-locked").await;
    let retry_after = response.headers().get("retry-after").cloned();
    let problem = assert_problem(response, 503).await;
    assert_eq!(problem["type"], "/problems/locked");
    assert!(retry_after.is_some(), "a 503 says when to retry");
    assert_eq!(branch_log(&git_dir)[0].id, tip, "the branch did not move");
    assert_eq!(
        app.get("/api/v1/posts/branch-locked")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(lock.exists(), "a live holder's lock is never taken");

    // The holder lets go: writing works again.
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(create(&app, "after-the-lock").await.status(), 201);
    let git = git2::Repository::open(&git_dir).unwrap();
    let reflog = git.reflog("refs/heads/main").unwrap();
    assert_eq!(reflog.len(), 1, "the reflog made anew holds the last write");
    assert_eq!(
        reflog.get(0).unwrap().id_new().to_string(),
        branch_log(&git_dir)[0].id
    );
}
