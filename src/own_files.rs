//! The server's own files, kept in `<gitdir>/palimpsest/` beside the repository's: state
//! that is not content (the history index, webhooks' acknowledged tips), which git ignores
//! and which travels with the repository.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the file `name` of the repository at `git_dir` is kept.
pub fn path(git_dir: &Path, name: &str) -> PathBuf {
    git_dir.join("palimpsest").join(name)
}

/// Replaces `file` with `bytes` atomically (a temporary file beside it, flushed, renamed,
/// the folder flushed): a crash leaves the old file or the new one.
///
/// # Errors
/// I/O errors creating, writing or renaming the file.
pub fn replace(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    // Only the folder itself: a repository deleted under a running server is not created
    // again, empty, by its next save.
    match std::fs::create_dir(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    let temporary = file.with_extension(format!("tmp-{}", std::process::id()));
    let mut out = std::fs::File::create(&temporary)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&temporary, file)?;
    std::fs::File::open(dir)?.sync_all()
}
