//! Living beside git's own maintenance: while API writers write, `git repack`, `git gc`,
//! `git maintenance` and a `git push` that starts `git gc --auto` lose no acknowledged
//! write and leave a repository `git fsck --strict --full` finds sound.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, git_as_pusher, spawn_app};

const WRITERS: usize = 3;
/// How long each maintenance command runs in a loop beside the writers.
const PHASE: Duration = Duration::from_millis(1500);

/// Runs git in `dir` as a pushing author; says whether it succeeded, with its stderr.
fn git(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = git_as_pusher(dir, args);
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text)
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = git(dir, args);
    assert!(ok, "git {args:?}: {text}");
    text
}

/// Creates posts until `until`; returns the (slug, commit) of each acknowledged write.
async fn write_until(app: Arc<TestApp>, prefix: String, until: Instant) -> Vec<(String, String)> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        if Instant::now() >= until {
            break;
        }
        let slug = format!("{prefix}-{n}");
        let body = json!({"slug": slug, "front_matter": {"title": format!("Beside git {n}")},
            "markdown": "## Question\n\nDoes it survive git's maintenance?\n"});
        let response = app.create_post(&body).await;
        let status = response.status();
        let written: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{slug}: {written}");
        acknowledged.push((slug, written["commit"].as_str().unwrap().to_string()));
    }
    acknowledged
}

/// Writers for `PHASE`, with `args` run again and again in the repository meanwhile.
async fn writes_beside(
    app: &Arc<TestApp>,
    phase: usize,
    args: &'static [&'static str],
) -> Vec<(String, String)> {
    let until = Instant::now() + PHASE;
    let repo = app.repo.clone();
    let maintenance = tokio::task::spawn_blocking(move || {
        let mut runs = 0;
        while Instant::now() < until {
            git_ok(&repo, args);
            runs += 1;
        }
        runs
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(write_until(
                app.clone(),
                format!("phase-{phase}-{w}"),
                until,
            ))
        })
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(maintenance.await.unwrap() > 0, "git {args:?} ran");
    acknowledged
}

/// Every acknowledged write is on the branch and served, and git finds the repository sound.
async fn assert_all_kept(app: &TestApp, acknowledged: &[(String, String)]) {
    let log = app.branch_log();
    for (slug, commit) in acknowledged {
        assert!(
            log.iter().any(|c| &c.id == commit),
            "acknowledged {slug} ({commit}) is on the branch"
        );
    }
    for (slug, _) in acknowledged.iter().step_by(5) {
        app.read_post(slug).await;
    }
    git_ok(&app.repo, &["fsck", "--strict", "--full", "--no-progress"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_git_maintenance_running_in_a_loop() {
    let app = Arc::new(spawn_app().await);
    let mut acknowledged = Vec::new();
    let commands: [&'static [&'static str]; 5] = [
        &["repack", "-a", "-d", "-q"][..],
        &["repack", "-a", "-d", "-f", "-q"],
        &["gc", "--quiet"],
        &["repack", "-d", "--geometric=2", "-q"],
        &["maintenance", "run", "--task=gc", "--quiet"],
    ];
    for (phase, command) in commands.into_iter().enumerate() {
        acknowledged.extend(writes_beside(&app, phase, command).await);
    }
    assert!(acknowledged.len() >= 5 * WRITERS, "the writers wrote");
    assert_all_kept(&app, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_that_starts_git_gc_auto_loses_no_api_write() {
    let app = Arc::new(spawn_app().await);
    // Every push keeps its pack, and more than two packs start `git gc --auto`, which the
    // push waits for.
    for (key, value) in [
        ("receive.unpackLimit", "1"),
        ("gc.autoPackLimit", "2"),
        ("gc.autoDetach", "false"),
    ] {
        git_ok(&app.repo, &["config", key, value]);
    }
    let dir = tempfile::tempdir().unwrap();
    let clone: PathBuf = dir.path().join("clone");
    git_ok(
        dir.path(),
        &["clone", "--quiet", app.repo.to_str().unwrap(), "clone"],
    );
    let until = Instant::now() + 3 * PHASE;
    let pushing = tokio::task::spawn_blocking(move || {
        let mut pushed = Vec::new();
        for n in 0.. {
            if Instant::now() >= until && pushed.len() >= 4 {
                break;
            }
            git_ok(&clone, &["pull", "--quiet", "--rebase", "origin", "main"]);
            let file = clone.join(format!("posts/pushed-{n}.md"));
            std::fs::write(&file, format!("---\ntitle: Pushed {n}\n---\n\nPushed.\n")).unwrap();
            git_ok(&clone, &["add", "posts"]);
            git_ok(&clone, &["commit", "--quiet", "-m", &format!("Push {n}")]);
            // Refused when an API write moved the branch since the pull: pulled again.
            if git(&clone, &["push", "--quiet", "origin", "HEAD:main"]).0 {
                pushed.push(git_ok(&clone, &["rev-parse", "HEAD"]).trim().to_string());
            }
        }
        pushed
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until(app.clone(), format!("beside-push-{w}"), until)))
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let pushed = pushing.await.unwrap();
    let packs = std::fs::read_dir(app.repo.join("objects/pack"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("pack".as_ref()))
        .count();
    assert!(
        packs < pushed.len(),
        "{packs} packs after {} pushes of a pack each: git gc --auto ran",
        pushed.len()
    );
    let log = app.branch_log();
    for commit in &pushed {
        assert!(log.iter().any(|c| &c.id == commit), "pushed {commit} kept");
    }
    assert_all_kept(&app, &acknowledged).await;
}
