//! Moving the served branch: a compare-and-swap under git's own lock protocol, made durable
//! with two flushes in the order correctness needs (see `durability`).
//!
//! git and libgit2 update a ref by creating `<ref>.lock` exclusively, writing the new id into
//! it and renaming it over `<ref>`; whoever holds the lock may change the ref, and a reader
//! sees the old file or the new one. This module takes the same lock, so it excludes a
//! concurrent `git push` exactly as libgit2 did, but writes the lock file itself: that way
//! the lock's content is flushed by the same flush as the objects, before the rename, and a
//! power loss can never leave the branch naming a missing object nor an empty ref file.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature};

use super::{Store, StoreError};

/// Moving the branch.
impl Store {
    /// Moves the served branch from `expected` to `new`: a compare-and-swap, made durable.
    ///
    /// The only way this crate publishes commits (writer groups, seeding), so it carries the
    /// durability order: lock the branch, check it still is at `expected`, write the new id
    /// into the lock (and the reflog entry, when the repository keeps one); flush, so the
    /// objects written so far and the lock's content are on disk; rename the lock over the
    /// branch; flush again; only then return (the file the branch was in, see
    /// [`ReplacedBranch`]). A crash before the rename leaves the branch
    /// where it was (and a lock that `clear_stale_branch_lock` removes); one after it leaves
    /// the new id, whose objects are on disk.
    ///
    /// # Errors
    /// `BranchMoved` if the branch no longer points at `expected` (another writer or a
    /// `git push` got there first); `BranchLocked` while another process (or a crashed one)
    /// holds `<branch>.lock`; `Io` when writing or a flush fails (after the rename the branch
    /// may have moved, but the write must not be acknowledged); other git errors.
    pub fn move_branch(
        &self,
        repo: &Repository,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<ReplacedBranch, StoreError> {
        let git_dir = repo.commondir();
        let lock = BranchLock::take(self.branch_lock_path(repo))?;
        // Read under the lock: git and libgit2 move the branch only while holding it.
        if self.tip_in(repo)? != expected {
            return Err(StoreError::BranchMoved { expected });
        }
        lock.write(new)?;
        if keeps_a_reflog(repo, &self.branch_ref()) {
            let mut reflog = repo.reflog(&self.branch_ref())?;
            reflog.append(new, &reflog_signature(repo)?, Some(log_message))?;
            reflog.write()?;
        }
        self.durability.flush_together(
            &[git_dir.join("objects"), git_dir.join("refs")],
            "making the new objects and the branch's lock durable",
        )?;
        let replaced = lock.commit(&git_dir.join(self.branch_ref()))?;
        self.durability
            .flush_together(&[git_dir.join("refs")], "making the branch move durable")?;
        Ok(replaced)
    }
}

/// The file the branch was in before it moved, still open. Closing the last handle on it
/// frees its block, which on a filesystem mounted with `discard` waits for the device, as
/// long again as the rename itself: so the writer closes it once it has acknowledged.
#[derive(Debug)]
pub struct ReplacedBranch {
    _open: Option<File>,
}

/// `<ref>.lock`, held from its exclusive creation until it is renamed over the ref or removed.
struct BranchLock {
    path: PathBuf,
    file: Option<File>,
}

impl BranchLock {
    /// Creates the lock file, failing with `BranchLocked` when it already exists.
    fn take(path: PathBuf) -> Result<BranchLock, StoreError> {
        let io = |source| StoreError::Io {
            context: format!("locking the branch ({})", path.display()),
            source,
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io)?;
        }
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => Ok(BranchLock {
                path,
                file: Some(file),
            }),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(StoreError::BranchLocked(path)),
            Err(source) => Err(io(source)),
        }
    }

    /// Writes the new id, as git does: forty hex digits and a newline.
    fn write(&self, new: Oid) -> Result<(), StoreError> {
        let mut file = self
            .file
            .as_ref()
            .expect("the lock is held until committed");
        file.write_all(format!("{new}\n").as_bytes())
            .map_err(|source| StoreError::Io {
                context: format!("writing the branch's lock ({})", self.path.display()),
                source,
            })
    }

    /// Renames the lock over `branch`: the branch now names the new commit.
    /// Returns the file the branch named before, still open (see [`ReplacedBranch`]).
    fn commit(mut self, branch: &Path) -> Result<ReplacedBranch, StoreError> {
        drop(self.file.take());
        let previous = File::open(branch).ok();
        std::fs::rename(&self.path, branch).map_err(|source| StoreError::Io {
            context: format!("moving the branch ({})", branch.display()),
            source,
        })?;
        Ok(ReplacedBranch { _open: previous })
    }
}

impl Drop for BranchLock {
    /// A lock not committed (the branch moved, an error) is released.
    fn drop(&mut self) {
        if self.file.is_some()
            && let Err(error) = std::fs::remove_file(&self.path)
        {
            tracing::warn!(%error, lock = %self.path.display(), "could not release the branch lock");
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
fn reflog_signature(repo: &Repository) -> Result<Signature<'static>, StoreError> {
    match repo.signature() {
        Ok(signature) => Ok(signature.to_owned()),
        Err(_) => Ok(Signature::now("unknown", "unknown")?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CommitRequest;

    fn request(n: usize) -> CommitRequest {
        let file = format!("---\ntitle: A{n}\n---\n").into_bytes();
        CommitRequest::upserts(&format!("write {n}"), &[("posts/a.md".into(), file)])
    }

    #[test]
    fn the_branch_moves_only_from_the_expected_commit_and_leaves_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let repo = store.repository().unwrap();
        let first = store.write_commit(&repo, None, &request(0)).unwrap();
        store.move_branch(&repo, first, None, "first").unwrap();
        let second = store.write_commit(&repo, Some(first), &request(1)).unwrap();

        let stale = store.move_branch(&repo, second, None, "as if new");
        assert!(
            matches!(stale, Err(StoreError::BranchMoved { .. })),
            "{stale:?}"
        );
        let replaced = store
            .move_branch(&repo, second, Some(first), "second")
            .unwrap();

        assert_eq!(store.tip().unwrap(), Some(second));
        let file = std::fs::read_to_string(path.join("refs/heads/main")).unwrap();
        assert_eq!(file, format!("{second}\n"));
        assert!(!store.branch_lock_path(&repo).exists());
        // What stays open is the file the branch was in, not the one it is in now.
        let mut before = String::new();
        std::io::Read::read_to_string(&mut replaced._open.unwrap(), &mut before).unwrap();
        assert_eq!(before, format!("{first}\n"));
    }

    #[test]
    fn a_branch_in_packed_refs_is_compared_and_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let repo = store.repository().unwrap();
        let first = store.write_commit(&repo, None, &request(0)).unwrap();
        store.move_branch(&repo, first, None, "first").unwrap();
        // As `git pack-refs --all` leaves it: the branch only in packed-refs.
        std::fs::write(
            path.join("packed-refs"),
            format!("# pack-refs with: peeled fully-peeled sorted \n{first} refs/heads/main\n"),
        )
        .unwrap();
        std::fs::remove_file(path.join("refs/heads/main")).unwrap();
        assert_eq!(store.tip().unwrap(), Some(first));
        let second = store.write_commit(&repo, Some(first), &request(1)).unwrap();

        store
            .move_branch(&repo, second, Some(first), "second")
            .unwrap();

        assert_eq!(store.tip().unwrap(), Some(second));
    }

    #[test]
    fn a_working_tree_repository_logs_the_move_in_the_reflog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        Repository::init(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let repo = store.repository().unwrap();
        let first = store.write_commit(&repo, None, &request(0)).unwrap();
        store
            .move_branch(&repo, first, None, "palimpsest: 1 write(s)")
            .unwrap();

        let reflog = repo.reflog("refs/heads/main").unwrap();
        assert_eq!(reflog.len(), 1);
        let entry = reflog.get(0).unwrap();
        assert_eq!(entry.id_new(), first);
        assert_eq!(entry.message().unwrap(), Some("palimpsest: 1 write(s)"));
    }
}
