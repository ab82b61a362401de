//! Log lines as an operator gets them from the real binary: written off the request path,
//! none lost when the server stops, and no colour codes in a file.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The log so far, as text.
fn read_log(file: &std::path::Path) -> String {
    std::fs::read_to_string(file).unwrap_or_default()
}

#[test]
fn log_lines_to_a_file_are_plain_and_all_written_by_the_time_the_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let content = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("content-repo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palimpsest"))
        .args(["--listen", "127.0.0.1:0", "--workers", "1"])
        .arg("--repo")
        .arg(dir.path().join("content.git"))
        .arg("--seed-from")
        .arg(&content)
        .env("RUST_LOG", "info")
        .env("PALIMPSEST_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting palimpsest with serve flags and no subcommand");
    let started = Instant::now();
    let port = loop {
        let text = read_log(&log);
        if let Some(port) = text
            .lines()
            .find(|line| line.contains("serving"))
            .and_then(|line| line.split("port=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break port.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no `serving` line: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let client = reqwest::blocking::Client::new();
    for _ in 0..20 {
        let response = client
            .get(format!("http://127.0.0.1:{port}/api/v1/posts?per_page=1"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    let text = read_log(&log);
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
    let answered = text
        .lines()
        .filter(|line| line.contains("answered") && line.contains("/api/v1/posts"))
        .count();
    assert_eq!(answered, 20, "{text}");
}
