//! Moving the served branch: a compare-and-swap under git's own lock protocol, made durable
//! with two flushes in the order correctness needs (see `durability`), and answered truly.
//!
//! git and libgit2 update a ref by creating `<ref>.lock` exclusively, writing the new id into
//! it and renaming it over `<ref>`; whoever holds the lock may change the ref, and a reader
//! sees the old file or the new one. This module takes the same lock, so it excludes a
//! concurrent `git push` exactly as libgit2 did, but writes the lock file itself: that way
//! the lock is recorded in a journal (see `lock`), so a crash's leftover can be told from a
//! live holder's, and its content is flushed by the same flush as the objects, before the
//! rename, so a power loss can never leave the branch naming a missing object nor an empty
//! ref file. The reflog entry is appended under the same lock, as git does (see `reflog`).
//!
//! The rename is the commit point: every error before it leaves the branch where it was
//! (and is reported), nothing after it is reported as a failure (it is logged), so a
//! client is never told that a write failed which others can already see.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{Oid, Repository};

use super::lock::{Journal, LockError, LockFile};
use super::{Store, StoreError, reflog};

/// How long a write waits for a lock that a live process holds before it gives up: a
/// `git push` or another server holds it for milliseconds, a paused one for longer.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// The longest pause between two attempts at a held lock.
const LOCK_POLL_MAX: Duration = Duration::from_millis(50);

/// Moving the branch.
impl Store {
    /// Where git, libgit2 and this server lock the served branch:
    /// `<git dir>/refs/heads/<branch>.lock`.
    pub(crate) fn branch_lock_path(&self, repo: &Repository) -> PathBuf {
        repo.commondir().join(format!("{}.lock", self.branch_ref()))
    }

    /// Moves the served branch from `expected` to `new`: a compare-and-swap, made durable.
    ///
    /// The only way this crate publishes commits (writer groups, seeding), so it carries the
    /// durability order: lock the branch (waiting up to [`LOCK_WAIT`] for a live holder,
    /// removing at once a lock whose holder is known to be dead), check it still is at
    /// `expected`, write the new id into the lock; flush, so the objects written so far and
    /// the lock's content are on disk; append the reflog entry, when the repository keeps
    /// one; rename the lock over the branch; flush again; only then return (the file the
    /// branch was in, see [`ReplacedBranch`]). A crash before the rename leaves the branch
    /// where it was (and a lock that recovery removes); one after it leaves the new id,
    /// whose objects are on disk.
    ///
    /// # Errors
    /// Only while the branch has not moved: `BranchMoved` if it no longer points at
    /// `expected` (another writer or a `git push` got there first); `BranchLocked` while
    /// another live process holds `<branch>.lock`; `Io` when writing the lock or the first
    /// flush fails (a full disk among them); other git errors. Once the branch has moved,
    /// a failure (appending the reflog, the last flush) is logged and the move succeeds.
    pub fn move_branch(
        &self,
        repo: &Repository,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<ReplacedBranch, StoreError> {
        let git_dir = repo.commondir();
        self.journal.with(git_dir, |journal| {
            self.move_with(journal, repo, new, expected, log_message)
        })
    }

    /// [`Store::move_branch`], its lock recorded in `journal`.
    fn move_with(
        &self,
        journal: &Journal,
        repo: &Repository,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<ReplacedBranch, StoreError> {
        let git_dir = repo.commondir();
        let name = self.branch_ref();
        let lock = take_waiting(journal, git_dir, &name)?;
        // Read under the lock: git and libgit2 move the branch only while holding it.
        if self.tip_in(repo)? != expected {
            return Err(StoreError::BranchMoved { expected });
        }
        lock.write(format!("{new}\n").as_bytes())
            .map_err(|source| StoreError::Io {
                context: format!("writing the branch's lock ({})", lock.path().display()),
                source,
            })?;
        self.durability.flush_together(
            &[git_dir.join("objects"), git_dir.join("refs")],
            "making the new objects and the branch's lock durable",
        )?;
        let logged = reflog::append(repo, &name, expected, new, log_message);
        let branch = git_dir.join(&name);
        let previous = File::open(&branch).ok();
        if let Err(source) = lock.commit(&branch) {
            logged.undo();
            return Err(StoreError::Io {
                context: format!("moving the branch ({})", branch.display()),
                source,
            });
        }
        // The branch has moved: from here on the write has happened.
        if let Err(error) = self
            .durability
            .flush_together(&[git_dir.join("refs")], "making the branch move durable")
        {
            tracing::error!(%error, branch = %name, commit = %new,
                "the branch moved but flushing the move failed; a power loss may undo it");
        }
        Ok(ReplacedBranch { _open: previous })
    }
}

/// Takes `<name>.lock`, removing it first if a dead server left it; waits, polling with
/// a growing pause, while a live process holds it.
fn take_waiting<'j>(
    journal: &'j Journal,
    git_dir: &Path,
    name: &str,
) -> Result<LockFile<'j>, StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match journal.lock(name) {
            Ok(lock) => return Ok(lock),
            Err(LockError::Io(source)) => {
                return Err(StoreError::Io {
                    context: format!("locking {name} in {}", git_dir.display()),
                    source,
                });
            }
            Err(LockError::Held(path)) => {
                match super::lock::recover(git_dir) {
                    Ok(removed) if removed.contains(&path) => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "could not look for dead servers' locks"),
                }
                if Instant::now() >= deadline {
                    return Err(StoreError::BranchLocked(path));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(LOCK_POLL_MAX);
            }
        }
    }
}

/// The file the branch was in before it moved, still open. Closing the last handle on it
/// frees its block, which on a filesystem mounted with `discard` waits for the device, as
/// long again as the rename itself: so the writer closes it once it has acknowledged.
#[derive(Debug)]
pub struct ReplacedBranch {
    _open: Option<File>,
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
        let (_dir, path, store, repo, first, second) =
            two_commits(|path| Repository::init_bare(path));

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

    /// A new repository made by `init` (bare or not) whose branch is at a first commit, and
    /// a second commit written after it but not yet on the branch; the folder goes with the
    /// `TempDir`.
    fn two_commits(
        init: fn(&Path) -> Result<Repository, git2::Error>,
    ) -> (tempfile::TempDir, PathBuf, Store, Repository, Oid, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        init(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let repo = store.repository().unwrap();
        let first = store.write_commit(&repo, None, &request(0)).unwrap();
        store.move_branch(&repo, first, None, "first").unwrap();
        let second = store.write_commit(&repo, Some(first), &request(1)).unwrap();
        (dir, path, store, repo, first, second)
    }

    #[test]
    fn a_lock_a_live_process_holds_is_waited_for_and_never_taken() {
        let (_dir, _, store, repo, first, second) = two_commits(|path| Repository::init_bare(path));
        // As `git push` holds it: no journal names it.
        let lock = store.branch_lock_path(&repo);
        std::fs::write(&lock, format!("{first}\n")).unwrap();

        let started = Instant::now();
        let refused = store.move_branch(&repo, second, Some(first), "second");
        assert!(
            matches!(&refused, Err(StoreError::BranchLocked(path)) if *path == lock),
            "{refused:?}"
        );
        assert!(started.elapsed() >= LOCK_WAIT, "it waited for the holder");
        assert_eq!(
            std::fs::read_to_string(&lock).unwrap(),
            format!("{first}\n")
        );
        assert_eq!(store.tip().unwrap(), Some(first), "nothing was committed");

        // The holder finishes while a write waits: the write goes through.
        let holder = std::thread::spawn({
            let lock = lock.clone();
            move || {
                std::thread::sleep(Duration::from_millis(50));
                std::fs::remove_file(lock).unwrap();
            }
        });
        store
            .move_branch(&repo, second, Some(first), "second")
            .unwrap();
        holder.join().unwrap();
        assert_eq!(store.tip().unwrap(), Some(second));
    }

    #[test]
    fn a_lock_a_dead_server_left_is_removed_by_the_next_write() {
        let (_dir, path, store, repo, first, second) =
            two_commits(|path| Repository::init_bare(path));
        // A server killed between locking and renaming left its journal and the lock.
        let lock = super::super::lock::left_by_a_dead_server(&path, "refs/heads/main");
        assert_eq!(lock, store.branch_lock_path(&repo));
        let journals = path.join("palimpsest/locks");

        let started = Instant::now();
        store
            .move_branch(&repo, second, Some(first), "second")
            .unwrap();
        assert!(started.elapsed() < LOCK_WAIT, "no wait for a dead holder");
        assert_eq!(store.tip().unwrap(), Some(second));
        assert!(!lock.exists());
        // The dead server's journal is gone; the store's own stays while the store lives.
        assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 1);
        drop(store);
        assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 0);
    }

    #[test]
    fn a_reflog_that_cannot_be_appended_does_not_fail_a_move_that_happened() {
        let (_dir, _, store, repo, first, second) = two_commits(|path| Repository::init(path));
        let reflog = repo.commondir().join("logs/refs/heads/main");
        std::fs::remove_file(&reflog).unwrap();
        std::fs::create_dir(&reflog).unwrap();

        store
            .move_branch(&repo, second, Some(first), "second")
            .unwrap();

        assert_eq!(store.tip().unwrap(), Some(second));
        assert!(!store.branch_lock_path(&repo).exists());
    }
}
