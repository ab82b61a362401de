//! Durability of writes: exactly the flushes a branch move needs, in the order it needs them.
//!
//! libgit2's own fsync (`GIT_OPT_ENABLE_FSYNC_GITDIR`) syncs every file and folder it writes
//! one by one: a group's pack, its index and their folder, then the ref's lock file and
//! `refs/heads/`: six flushes per write where two suffice. It is off
//! (`configure_libgit2`); instead every branch move ([`Store::move_branch`], the only way
//! this crate publishes a commit) flushes twice:
//!
//! 1. after the objects and the branch's lock file are written and before the lock is
//!    renamed over the branch: so the branch never names an object that is not durable,
//!    and the renamed file never comes back empty;
//! 2. after the rename and before the write is acknowledged: so an acknowledged write
//!    survives power loss.
//!
//! A flush is `syncfs(2)`: one journal commit covers every dirty file and folder of the
//! repository (a group's pack and its index, directory entries, lock file, rename), where
//! fsync would need one call per file and folder. It also writes back other dirty files of
//! the same filesystem, which costs more when other programs write a lot to it.
//!
//! Other processes are unaffected: they see the branch move only at the rename, after the
//! objects are in the object database, as before.
//!
//! [`Store::move_branch`]: super::Store::move_branch

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::StoreError;

/// Makes everything written under a folder durable.
pub(crate) trait Flush: Send + Sync {
    /// Returns once every file and folder written under `dir` is on stable storage.
    ///
    /// # Errors
    /// I/O errors opening `dir` or flushing its filesystem.
    fn flush(&self, dir: &Path) -> io::Result<()>;
}

/// The flush a store's writes go through; `syncfs` unless a test records them.
#[derive(Clone)]
pub(crate) struct Durability(Arc<dyn Flush>);

impl Default for Durability {
    fn default() -> Durability {
        Durability(Arc::new(SyncFilesystem))
    }
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Durability")
    }
}

impl Durability {
    #[cfg(test)]
    pub(crate) fn new(flush: Arc<dyn Flush>) -> Durability {
        Durability(flush)
    }

    /// Flushes every filesystem holding one of `dirs`, each once (usually they share one).
    ///
    /// # Errors
    /// `Io` when a flush fails: the data may not be durable, so nothing may be acknowledged.
    pub(crate) fn flush_together(&self, dirs: &[PathBuf], what: &str) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let mut flushed = Vec::new();
        for dir in dirs {
            let device = std::fs::metadata(dir)
                .map_err(|source| StoreError::Io {
                    context: format!("{what} ({})", dir.display()),
                    source,
                })?
                .dev();
            if !flushed.contains(&device) {
                self.flush(dir, what)?;
                flushed.push(device);
            }
        }
        Ok(())
    }

    /// Flushes the filesystem holding `dir`; `what` names the step for the error.
    ///
    /// # Errors
    /// `Io` when the flush fails: the data may not be durable, so nothing may be acknowledged.
    pub(crate) fn flush(&self, dir: &Path, what: &str) -> Result<(), StoreError> {
        self.0.flush(dir).map_err(|source| StoreError::Io {
            context: format!("{what} ({})", dir.display()),
            source,
        })
    }
}

/// `syncfs(2)` on the filesystem holding the folder (`sync(2)` where there is no `syncfs`).
struct SyncFilesystem;

impl Flush for SyncFilesystem {
    #[cfg(target_os = "linux")]
    fn flush(&self, dir: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let folder = File::open(dir)?;
        // SAFETY: the descriptor is open for the whole call; syncfs only reads it. Since
        // Linux 5.8 syncfs reports writeback errors, so a failed flush is not acknowledged.
        if unsafe { libc::syncfs(folder.as_raw_fd()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn flush(&self, dir: &Path) -> io::Result<()> {
        // Without syncfs, fsync the folder (its entries) and then sync everything.
        File::open(dir)?.sync_all()?;
        // SAFETY: sync takes no arguments and cannot fail.
        unsafe { libc::sync() };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use git2::{Oid, Repository};

    use super::*;
    use crate::store::{CommitRequest, Store};

    /// What another process would find on disk at each flush.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Seen {
        dir: String,
        tip: Option<Oid>,
        commit_readable: bool,
        lock: Option<String>,
    }

    /// Records, at every flush, the branch and whether the commit being written is readable.
    struct Recorder {
        repo: PathBuf,
        commit: Mutex<Option<Oid>>,
        seen: Mutex<Vec<Seen>>,
        fail: bool,
    }

    impl Flush for Recorder {
        fn flush(&self, dir: &Path) -> io::Result<()> {
            let repo = Repository::open(&self.repo).unwrap();
            let tip = repo
                .find_reference("refs/heads/main")
                .ok()
                .and_then(|r| r.target());
            let commit = *self.commit.lock().unwrap();
            let commit_readable = commit.is_some_and(|id| repo.find_commit(id).is_ok());
            let lock = std::fs::read_to_string(self.repo.join("refs/heads/main.lock")).ok();
            self.seen.lock().unwrap().push(Seen {
                dir: dir.file_name().unwrap().to_string_lossy().into_owned(),
                tip,
                commit_readable,
                lock,
            });
            if self.fail {
                return Err(io::Error::other("the disk is gone"));
            }
            SyncFilesystem.flush(dir)
        }
    }

    fn request(n: usize) -> CommitRequest {
        let file = format!("---\ntitle: A{n}\n---\n").into_bytes();
        CommitRequest::upserts(&format!("write {n}"), &[("posts/a.md".into(), file)])
    }

    /// A store whose first commit is on `main`, its flushes recorded from now on.
    fn recorded_store(dir: &Path, fail: bool) -> (Store, Arc<Recorder>, Oid) {
        let path = dir.join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let repo = store.repository().unwrap();
        let first = store.write_commit(&repo, None, &request(0)).unwrap();
        store.move_branch(&repo, first, None, "first").unwrap();
        let recorder = Arc::new(Recorder {
            repo: path,
            commit: Mutex::default(),
            seen: Mutex::default(),
            fail,
        });
        let store = store.with_durability(Durability::new(recorder.clone()));
        (store, recorder, first)
    }

    #[test]
    fn a_group_is_flushed_before_the_branch_names_it_and_again_before_it_is_acknowledged() {
        // One edit and several: one pack either way.
        for edits in [1, 3] {
            let dir = tempfile::tempdir().unwrap();
            let (store, recorder, first) = recorded_store(dir.path(), false);
            let session = store.write_session();
            let last = session
                .batch(|batch| {
                    let mut last = first;
                    for n in 1..=edits {
                        last = batch.write_commit(Some(last), &request(n)).unwrap();
                    }
                    *recorder.commit.lock().unwrap() = Some(last);
                    batch.move_branch(last, Some(first), "group").unwrap();
                    last
                })
                .unwrap();
            assert_eq!(
                recorder.seen.lock().unwrap().clone(),
                flushes_of_a_group(first, last),
                "a group of {edits}"
            );
        }
    }

    fn flushes_of_a_group(first: Oid, second: Oid) -> Vec<Seen> {
        vec![
            // The objects and the lock are written and flushed while the branch still names
            // the old tip.
            Seen {
                dir: "objects".into(),
                tip: Some(first),
                commit_readable: true,
                lock: Some(format!("{second}\n")),
            },
            // The branch moved, and is flushed before move_branch returns.
            Seen {
                dir: "refs".into(),
                tip: Some(second),
                commit_readable: true,
                lock: None,
            },
        ]
    }

    #[test]
    fn a_failed_flush_leaves_the_branch_alone_and_reports_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recorder, first) = recorded_store(dir.path(), true);
        let repo = store.repository().unwrap();
        let second = store.write_commit(&repo, Some(first), &request(1)).unwrap();

        let result = store.move_branch(&repo, second, Some(first), "second");

        assert!(matches!(result, Err(StoreError::Io { .. })), "{result:?}");
        assert_eq!(store.tip().unwrap(), Some(first));
        assert_eq!(
            recorder.seen.lock().unwrap().len(),
            1,
            "no flush after a failed one"
        );
    }

    #[test]
    fn a_refused_compare_and_swap_flushes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recorder, first) = recorded_store(dir.path(), false);
        let repo = store.repository().unwrap();
        let stale = store.write_commit(&repo, Some(first), &request(1)).unwrap();
        let other = store.write_commit(&repo, Some(first), &request(2)).unwrap();
        store
            .move_branch(&repo, other, Some(first), "other")
            .unwrap();
        recorder.seen.lock().unwrap().clear();

        let result = store.move_branch(&repo, stale, Some(first), "stale");

        assert!(
            matches!(result, Err(StoreError::BranchMoved { .. })),
            "{result:?}"
        );
        assert_eq!(recorder.seen.lock().unwrap().clone(), []);
    }
}
