//! Authors' tokens with the real binary: `token new` makes a token and its tokens-file line,
//! the server admits exactly that token, commits as its author, and never logs it.

use std::process::Command;

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::{branch_log, sample_posts, seed_repo, start_binary};

/// Runs `palimpsest token new` and returns the token and the tokens-file line it printed.
fn new_token(author: &str) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_palimpsest"))
        .args(["token", "new", "--author", author])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let indented: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .collect();
    assert_eq!(indented.len(), 2, "{printed}");
    (indented[0].to_string(), indented[1].to_string())
}

#[tokio::test]
async fn a_tokens_file_admits_its_authors_who_commit_under_their_own_names() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), &sample_posts());
    let (ola_token, ola_line) = new_token("Ola Nordmann <ola@example.org>");
    let (_, other_line) = new_token("Ana Lima <ana@example.org>");
    assert!(!ola_line.contains(&ola_token), "the file holds only a hash");
    let tokens_file = dir.path().join("authors.txt");
    std::fs::write(
        &tokens_file,
        format!("# authors\n{other_line}\n{ola_line}\n"),
    )
    .unwrap();

    let file = tokens_file.to_str().unwrap();
    let args = ["--tokens-file", file, "--max-body-bytes", "4096"];
    let (_server, port, log) = start_binary(&repo, &args, &[]).await;
    let client = Client::new();
    let posts = format!("http://127.0.0.1:{port}/api/v1/posts");
    let body = json!({"front_matter": {"title": "Ola writes"}, "markdown": "Hello.\n"});

    let created = client
        .post(&posts)
        .bearer_auth(&ola_token)
        .json(&body)
        .send();
    let created = created.await.unwrap();
    assert_eq!(created.status(), 201);
    let written: Value = created.json().await.unwrap();
    let log_entry = &branch_log(&repo)[0];
    assert_eq!(written["commit"], log_entry.id.as_str());
    assert_eq!(log_entry.author, "Ola Nordmann <ola@example.org>");

    let wrong = client
        .post(&posts)
        .bearer_auth("pal_guess")
        .json(&body)
        .send();
    assert_eq!(wrong.await.unwrap().status(), 401);
    let mut huge = body.clone();
    huge["markdown"] = json!("x".repeat(5000));
    let too_big = client
        .post(&posts)
        .bearer_auth(&ola_token)
        .json(&huge)
        .send();
    assert_eq!(
        too_big.await.unwrap().status(),
        413,
        "--max-body-bytes applies"
    );

    // Log lines are written by a thread of their own: wait for the write's line.
    for _ in 0..100 {
        if log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("group committed"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("group committed"), "the log is captured");
    assert!(!log.contains(&ola_token), "tokens never reach the log");
}
