//! Stale branch locks: libgit2 (like git) updates a ref by writing `<ref>.lock` and renaming
//! it into place, so a process killed in between leaves the lock behind and every later
//! update of the branch fails with `Locked` until someone removes it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use git2::Repository;

use super::{Store, StoreError};

/// Clearing stale locks on the served branch.
impl Store {
    /// Where git, libgit2 and this server lock the served branch:
    /// `<git dir>/refs/heads/<branch>.lock`.
    pub(crate) fn branch_lock_path(&self, repo: &Repository) -> PathBuf {
        repo.commondir().join(format!("{}.lock", self.branch_ref()))
    }

    /// Removes the branch's lock file if it is still there, unchanged, after `wait`.
    ///
    /// A live writer (this server, or `git push`) holds the lock for milliseconds, so a lock
    /// that outlives `wait` with the same modification time was left by a crash. Returns
    /// whether a lock was removed; each removal is logged.
    ///
    /// # Errors
    /// `NotARepository`, or I/O errors removing the file.
    pub fn clear_stale_branch_lock(&self, wait: Duration) -> Result<bool, StoreError> {
        let lock = self.branch_lock_path(&self.repository()?);
        let Some(first_seen) = modified(&lock) else {
            return Ok(false);
        };
        std::thread::sleep(wait);
        if modified(&lock) != Some(first_seen) {
            // Gone, or rewritten by a live writer: not ours to touch.
            return Ok(false);
        }
        match std::fs::remove_file(&lock) {
            Ok(()) => {
                tracing::warn!(lock = %lock.display(), waited_ms = wait.as_millis() as u64,
                    "removed a stale branch lock left by a crashed writer");
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io {
                context: format!("removing the stale lock {}", lock.display()),
                source,
            }),
        }
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_one_commit(dir: &std::path::Path) -> (Store, git2::Oid) {
        let path = dir.join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let file = ("posts/a.md".to_string(), b"---\ntitle: A\n---\n".to_vec());
        let commit = store.commit_files("first", &[file]);
        (store, commit)
    }

    #[test]
    fn a_stale_lock_blocks_the_branch_until_it_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let (store, tip) = store_with_one_commit(dir.path());
        let repo = store.repository().unwrap();
        let lock = store.branch_lock_path(&repo);
        std::fs::write(&lock, format!("{tip}\n")).unwrap();

        let result = store.move_branch(&repo, tip, Some(tip), "blocked");
        assert!(
            matches!(result, Err(StoreError::BranchLocked(_))),
            "{result:?}"
        );

        assert!(
            store
                .clear_stale_branch_lock(Duration::from_millis(20))
                .unwrap()
        );
        assert!(!lock.exists());
        store
            .move_branch(&repo, tip, Some(tip), "free again")
            .unwrap();
    }

    #[test]
    fn without_a_lock_nothing_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_one_commit(dir.path());
        assert!(!store.clear_stale_branch_lock(Duration::ZERO).unwrap());
    }
}
