//! The branch's reflog: one line appended per move, under the branch's lock, as git does.
//!
//! libgit2 offers only `Reflog::write`, which rewrites the whole reflog through a lock file
//! of its own, `logs/<ref>.lock`: a process killed meanwhile leaves that lock behind and
//! every later rewrite fails, and the rewrite grows with the reflog. git itself (and
//! libgit2 when it moves a ref) appends one line with `O_APPEND` while holding the ref's
//! lock, which leaves nothing behind; so this module does the same, and writes the line
//! by hand, since no library writes a single reflog line.
//!
//! Whoever rewrites a reflog (`git reflog expire`, libgit2's `Reflog::write` in this
//! server's earlier versions) holds the ref's lock meanwhile. So while this server holds
//! the branch's lock, a `logs/<ref>.lock` cannot belong to a live writer: it is a crash's
//! leftover, and removed, or `git gc` (which expires reflogs) would fail on it forever.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature};

/// An appended reflog line, which can be taken back if the branch move fails after all.
#[must_use]
pub(crate) struct Logged {
    appended: Option<(File, u64)>,
}

impl Logged {
    /// Truncates the reflog to what it was before the append (the branch did not move).
    pub(crate) fn undo(self) {
        if let Some((file, length)) = self.appended
            && let Err(error) = file.set_len(length)
        {
            tracing::warn!(%error, "could not take back a reflog entry for a failed move");
        }
    }
}

/// Appends `old → new` to `name`'s reflog if the repository keeps one. The caller holds
/// `name`'s lock. A failure is logged, not returned: a reflog is a convenience, and the
/// branch move it records must not fail for it.
pub(crate) fn append(
    repo: &Repository,
    name: &str,
    old: Option<Oid>,
    new: Oid,
    message: &str,
) -> Logged {
    if !keeps_a_reflog(repo, name) {
        return Logged { appended: None };
    }
    let path = repo.commondir().join("logs").join(name);
    clear_leftover_lock(&path);
    let line = entry(repo, old, new, message);
    match append_line(&path, line.as_bytes()) {
        Ok(appended) => Logged {
            appended: Some(appended),
        },
        Err(error) => {
            tracing::warn!(%error, reflog = %path.display(),
                "could not append to the branch's reflog; the branch moves without an entry");
            Logged { appended: None }
        }
    }
}

/// Appends `line` in one `write`; on failure the file is cut back to its old length, so no
/// partial line is left for the next entry to be glued to.
fn append_line(path: &Path, line: &[u8]) -> std::io::Result<(File, u64)> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    let length = file.metadata()?.len();
    if let Err(error) = file.write_all(line) {
        let _ = file.set_len(length);
        return Err(error);
    }
    Ok((file, length))
}

/// One reflog line: `<old> <new> <name> <<email>> <seconds> <±hhmm>\t<message>\n`.
fn entry(repo: &Repository, old: Option<Oid>, new: Oid, message: &str) -> String {
    let who = signature(repo);
    let when = who.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "{} {new} {} <{}> {} {sign}{:02}{:02}\t{}\n",
        old.unwrap_or(Oid::ZERO_SHA1),
        String::from_utf8_lossy(who.name_bytes()),
        String::from_utf8_lossy(who.email_bytes()),
        when.seconds(),
        offset / 60,
        offset % 60,
        message.replace('\n', " ").trim(),
    )
}

/// Removes `<reflog>.lock`, which cannot be held while the caller holds the ref's lock.
fn clear_leftover_lock(reflog: &Path) {
    let mut lock = reflog.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    match std::fs::remove_file(&lock) {
        Ok(()) => tracing::warn!(lock = %lock.display(),
            "removed a reflog lock left by a crash (its writer would hold the branch's lock)"),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, lock = %lock.display(), "could not remove a reflog lock")
        }
    }
}

/// Whether git would log this ref's moves: its reflog exists, or `core.logAllRefUpdates`
/// says so (unset: only in repositories with a working tree), as libgit2 decides.
fn keeps_a_reflog(repo: &Repository, name: &str) -> bool {
    if repo.commondir().join("logs").join(name).exists() {
        return true;
    }
    match repo
        .config()
        .and_then(|config| config.get_string("core.logAllRefUpdates"))
    {
        Ok(value) => {
            value.eq_ignore_ascii_case("always") || git2::Config::parse_bool(value).unwrap_or(false)
        }
        Err(_) => !repo.is_bare(),
    }
}

/// Who the reflog says moved the branch: the repository's configured user, as libgit2 does.
fn signature(repo: &Repository) -> Signature<'static> {
    repo.signature()
        .map(|signature| signature.to_owned())
        .unwrap_or_else(|_| Signature::now("unknown", "unknown").expect("a valid signature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn working_tree_repo(dir: &Path) -> Repository {
        let repo = Repository::init(dir.join("c")).unwrap();
        let mut config = repo.config().unwrap();
        config.set_str("user.name", "Ada").unwrap();
        config.set_str("user.email", "ada@example.org").unwrap();
        repo
    }

    #[test]
    fn an_entry_reads_back_through_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let repo = working_tree_repo(dir.path());
        let (a, b) = (
            Oid::hash_object(git2::ObjectType::Blob, b"a").unwrap(),
            Oid::ZERO_SHA1,
        );
        let _ = append(&repo, "refs/heads/main", None, a, "first\nline");
        let _ = append(&repo, "refs/heads/main", Some(a), b, "second");

        let reflog = repo.reflog("refs/heads/main").unwrap();
        assert_eq!(reflog.len(), 2);
        let newest = reflog.get(0).unwrap();
        assert_eq!((newest.id_old(), newest.id_new()), (a, b));
        assert_eq!(newest.message().unwrap(), Some("second"));
        assert_eq!(newest.committer().email().ok(), Some("ada@example.org"));
        assert_eq!(
            reflog.get(1).unwrap().message().unwrap(),
            Some("first line")
        );
    }

    #[test]
    fn a_leftover_reflog_lock_is_removed_and_a_failed_append_is_only_logged() {
        let dir = tempfile::tempdir().unwrap();
        let repo = working_tree_repo(dir.path());
        let log = repo.commondir().join("logs/refs/heads/main");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(log.with_extension("lock"), "half a reflog").unwrap();
        let a = Oid::hash_object(git2::ObjectType::Blob, b"a").unwrap();
        let _ = append(&repo, "refs/heads/main", None, a, "after a crash");
        assert!(!log.with_extension("lock").exists());
        assert_eq!(repo.reflog("refs/heads/main").unwrap().len(), 1);

        // A reflog that cannot be opened for appending: nothing panics, nothing is appended.
        std::fs::remove_file(&log).unwrap();
        std::fs::create_dir(&log).unwrap();
        let logged = append(&repo, "refs/heads/main", Some(a), a, "unlogged");
        assert!(logged.appended.is_none());
    }

    #[test]
    fn an_undone_entry_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = working_tree_repo(dir.path());
        let a = Oid::hash_object(git2::ObjectType::Blob, b"a").unwrap();
        let _ = append(&repo, "refs/heads/main", None, a, "kept");
        append(&repo, "refs/heads/main", Some(a), a, "undone").undo();
        let reflog = repo.reflog("refs/heads/main").unwrap();
        assert_eq!(reflog.len(), 1);
        assert_eq!(reflog.get(0).unwrap().message().unwrap(), Some("kept"));
    }
}
