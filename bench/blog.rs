//! What the write benchmarks share: their settings from the environment, a fresh folder
//! for their repositories, and a blog of numbered posts to seed those from.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `BENCH_SECONDS` (default 5) per measurement, and `BENCH_DIR` (default `default_dir`)
/// emptied for this run's repositories; the server's allocator and logging as `main` sets
/// them up (`RUST_LOG=warn` keeps the tables clean).
pub fn prepare(
    default_dir: &str,
) -> anyhow::Result<(Duration, PathBuf, palimpsest::telemetry::LogGuard)> {
    palimpsest::configure_allocator();
    let seconds: u64 = setting("BENCH_SECONDS", 5);
    let root: PathBuf = std::env::var("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| default_dir.into());
    let log = palimpsest::telemetry::init(palimpsest::telemetry::LogFormat::Text);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    palimpsest::store::configure_libgit2();
    Ok((Duration::from_secs(seconds), root.canonicalize()?, log))
}

/// A number from the environment variable `name`, or `default`.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `posts` posts in the blog's format, as a folder to seed repositories from.
pub fn write_content(root: &Path, posts: usize) -> anyhow::Result<PathBuf> {
    let content = root.join("content");
    std::fs::create_dir_all(content.join("posts"))?;
    for n in 0..posts {
        std::fs::write(content.join(format!("posts/post-{n}.md")), post_text(n, 0))?;
    }
    Ok(content)
}

pub fn post_text(n: usize, revision: usize) -> String {
    format!(
        "---\ntitle: \"Post {n}\"\ndate: 2026-11-01\ntags: [bench]\n---\n\n## Question\n\nRevision {revision} of post {n}.\n\n## Takeaways\n\nStable text.\n"
    )
}
