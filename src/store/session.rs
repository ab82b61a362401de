//! The writer's handle on the repository: commits written in groups, through libgit2's
//! own object machinery, and published by one branch move per group.
//!
//! **What is written where, and why git's maintenance cannot drop it.** A group's blobs,
//! trees (`TreeUpdateBuilder`) and commits are written by libgit2 as loose objects
//! (`objects/xx/…`, each a temporary file renamed into place), never flushed one by one:
//! the branch move flushes the filesystem once before it names them (see `durability`).
//! Until the branch names them they are unreachable, and no git maintenance deletes a
//! fresh unreachable loose object: `git repack -a -d [-f]` packs what the refs reach and
//! deletes only loose objects that are in a pack (`prune-packed`); `git repack -d
//! --geometric=2` moves loose objects into a new pack together, unreachable ones included;
//! `git gc` and `git maintenance run --task=gc` keep unreachable objects younger than
//! `gc.pruneExpire` (two weeks), loose or in a cruft pack. So no pack of the server's ever
//! holds an object the branch does not yet name, and none needs a `.keep`. One window
//! stays, as for git's own commands: an object that already exists is not written again
//! (libgit2 only refreshes its time), so one whose only copy is in a pack and unreachable
//! (a post brought back to a version only a force-pushed-away commit held) can still be
//! dropped by a concurrent `repack -a -d` before the branch names it.
//!
//! **Consolidation** (see `packing`): loose objects must not pile up (git's own `gc.auto`
//! threshold is 6,700), and nothing in the server runs `git gc`. Once the writer has
//! written [`LOOSE_OBJECTS_PER_PACK`] objects, a thread of its own packs, with libgit2's
//! `PackBuilder`, the objects the branch reaches from its loose commits, and removes the
//! loose copies of what that pack holds. Packing them is safe without a `.keep`: they are
//! reachable, so a concurrent `repack -a -d` that deletes the new pack has packed them
//! itself. The server's own packs are merged geometrically into the new one (whole: every
//! object of an absorbed pack goes into it), so it keeps at most
//! [`packing::MAX_OWN_PACKS`] of them, across restarts too (they are listed in a file of
//! its own).

use std::cell::RefCell;

use git2::Repository;

use super::packing::{self, Packing};
use super::{CommitRequest, Oid, ReplacedBranch, Store, StoreError};
use crate::post::Slug;

/// How many loose objects the writer writes before they are packed together.
pub const LOOSE_OBJECTS_PER_PACK: usize = 4000;

/// The writer thread's access to the repository; not `Sync`, so it lives on one thread.
pub struct WriteSession {
    store: Store,
    /// The repository the batches write through, kept open between groups: opening one
    /// reads the configuration and every pack index, which costs more than a small commit.
    open: RefCell<Option<Repository>>,
    /// The file the branch was in before the last group moved it, closed after the
    /// acknowledgements (see [`ReplacedBranch`]).
    replaced_branch: RefCell<Option<ReplacedBranch>>,
    /// Loose objects written (or found at the start) since the last packing started.
    loose: RefCell<usize>,
    /// After how many loose objects they are packed.
    pack_after: usize,
    /// The packing under way, if any.
    packing: RefCell<Option<Packing>>,
}

impl Store {
    /// A handle for the writer thread. Cleans up what a crashed server left in the
    /// repository first (see `leftovers`), and counts the loose objects already there.
    pub fn write_session(&self) -> WriteSession {
        self.write_session_packing_after(LOOSE_OBJECTS_PER_PACK)
    }

    pub(crate) fn write_session_packing_after(&self, pack_after: usize) -> WriteSession {
        let loose = match self.repository() {
            Ok(repo) => {
                super::leftovers::clean(&repo);
                packing::loose_objects(&repo).len()
            }
            Err(_) => 0,
        };
        WriteSession {
            store: self.clone(),
            open: RefCell::default(),
            replaced_branch: RefCell::default(),
            loose: RefCell::new(loose),
            pack_after,
            packing: RefCell::default(),
        }
    }
}

impl WriteSession {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The id git gives a blob holding `bytes` (a post's ETag), without writing it.
    ///
    /// # Errors
    /// Git errors hashing.
    pub fn blob_id(bytes: &[u8]) -> Result<Oid, StoreError> {
        Ok(Oid::hash_object(git2::ObjectType::Blob, bytes)?)
    }

    /// Runs `group` with a [`Batch`] on the session's open repository. Its objects are
    /// unreachable until [`Batch::move_branch`] succeeds.
    ///
    /// # Errors
    /// `NotARepository` when the repository cannot be opened.
    pub fn batch<T>(&self, group: impl FnOnce(&Batch<'_>) -> T) -> Result<T, StoreError> {
        let mut open = self.open.borrow_mut();
        let repo = match open.take() {
            Some(kept) => open.insert(kept),
            None => open.insert(self.store.repository()?),
        };
        Ok(group(&Batch {
            session: self,
            repo,
            written: RefCell::new(0),
        }))
    }

    /// Closes the file the branch was in before the last group moved it; called once the
    /// group's edits are acknowledged, so that no acknowledgement waits for the device.
    pub fn close_replaced_branch(&self) {
        self.replaced_branch.replace(None);
    }

    /// Forgets the open repository, so the next group opens a fresh one (after an error,
    /// which may come from a handle that no longer matches the disk, e.g. after `git gc`,
    /// or after packs were removed). The old one closes in the background.
    pub fn reopen(&self) {
        if let Some(old) = self.open.replace(None) {
            super::close_in_background(old);
        }
    }

    /// Packs the writer's loose objects once there are enough of them (see the module
    /// notes), on a thread of its own so that no write waits for it: this finishes a
    /// packing whose thread is done and starts one when one is due. Says whether packs or
    /// loose objects were removed, which open repositories keep looking for until reopened.
    ///
    /// # Errors
    /// Git or I/O errors of the packing; the loose objects stay then, and nothing is lost.
    pub fn pack_if_due(&self) -> Result<bool, StoreError> {
        let finished = self
            .packing
            .borrow_mut()
            .take_if(|packing| packing.is_finished());
        let removed = match finished {
            Some(packing) => {
                let result = packing.finish();
                if result.is_err() {
                    // Tried again after as many objects again, not after every write.
                    *self.loose.borrow_mut() = 0;
                }
                result?
            }
            None => false,
        };
        if removed {
            self.reopen();
        }
        let mut loose = self.loose.borrow_mut();
        if self.packing.borrow().is_none() && *loose >= self.pack_after {
            *loose = 0;
            *self.packing.borrow_mut() = Some(Packing::start(&self.store)?);
        }
        Ok(removed)
    }

    /// Whether a packing is under way, to be finished by a later [`Self::pack_if_due`].
    pub fn packing(&self) -> bool {
        self.packing.borrow().is_some()
    }

    /// Waits for the packing under way, if any, and finishes it; for tests.
    #[cfg(test)]
    pub(crate) fn wait_for_packing(&self) -> Result<bool, StoreError> {
        match self.packing.borrow_mut().take() {
            Some(packing) => packing.finish(),
            None => Ok(false),
        }
    }
}

/// One group of commits, written into the object database and published together.
pub struct Batch<'r> {
    session: &'r WriteSession,
    repo: &'r Repository,
    /// About how many objects the group wrote: a blob per change, the trees above it and
    /// the commit (an estimate is enough to decide when to pack).
    written: RefCell<usize>,
}

/// Reading and writing within a batch.
impl Batch<'_> {
    /// The branch tip, read afresh (never cached: another process may have pushed).
    ///
    /// # Errors
    /// Git errors other than a missing branch.
    pub fn tip(&self) -> Result<Option<Oid>, StoreError> {
        self.session.store.tip_in(self.repo)
    }

    /// The post's blob and bytes as of `commit`, `None` when it has no such post.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        let Some(blob) = super::read::post_blob_in(self.repo, commit, slug)? else {
            return Ok(None);
        };
        Ok(self.blob(blob)?.map(|bytes| (blob, bytes)))
    }

    /// A blob's bytes, `None` when the repository holds no such blob.
    ///
    /// # Errors
    /// Git errors reading the object database.
    pub fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
        super::read::blob_in(self.repo, blob)
    }

    /// Writes a commit on `parent` as loose objects; nothing names it until the branch
    /// moves.
    ///
    /// # Errors
    /// Git errors reading the parent's trees or writing the objects.
    pub fn write_commit(
        &self,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        let commit = self
            .session
            .store
            .write_commit(self.repo, parent, request)?;
        *self.written.borrow_mut() += request.changes.len() + 3;
        Ok(commit)
    }

    /// Moves the branch from `expected` to `new`: a compare-and-swap, see
    /// [`Store::move_branch`], which flushes the objects before the branch names them, so a
    /// crash never leaves it naming a missing object. The file the branch was in stays
    /// open until [`WriteSession::close_replaced_branch`].
    ///
    /// # Errors
    /// `BranchMoved`, `BranchLocked`, git or I/O errors.
    pub fn move_branch(
        &self,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        // Counted whether or not the branch moves: the objects are on disk either way.
        *self.session.loose.borrow_mut() += self.written.replace(0);
        let replaced = self
            .session
            .store
            .move_branch(self.repo, new, expected, log_message)?;
        self.session.replaced_branch.replace(Some(replaced));
        Ok(())
    }
}

/// A packing under way is waited for and finished, so that nothing writes into the
/// repository once the writer is gone.
impl Drop for WriteSession {
    fn drop(&mut self) {
        if let Some(packing) = self.packing.get_mut().take()
            && let Err(error) = packing.finish()
        {
            tracing::warn!(%error, "could not pack the writer's objects");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::store::packing::{MAX_OWN_PACKS, loose_objects};

    fn packs(repo: &Path) -> usize {
        std::fs::read_dir(repo.join("objects/pack"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("pack".as_ref()))
            .count()
    }

    fn loose(store: &Store) -> usize {
        loose_objects(&store.repository().unwrap()).len()
    }

    /// A bare repository with no commit yet, under `dir`.
    fn empty_store(dir: &Path) -> (PathBuf, Store) {
        let path = dir.join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        (path, store)
    }

    /// Commits one edit (numbered `n`) on the tip; moves the branch when `publish`.
    fn edit(session: &WriteSession, n: usize, publish: bool) -> Oid {
        let tip = session.store().tip().unwrap();
        let file = (
            format!("posts/p{}.md", n % 3),
            format!("---\ntitle: P{n}\n---\n").into_bytes(),
        );
        let request = CommitRequest::upserts(&format!("write {n}"), &[file]);
        session
            .batch(|batch| {
                let commit = batch.write_commit(tip, &request).unwrap();
                if publish {
                    batch.move_branch(commit, tip, "group").unwrap();
                }
                commit
            })
            .unwrap()
    }

    /// Every commit reads back, tree and post included, through a fresh repository.
    fn all_readable(store: &Store, commits: &[Oid]) {
        let repo = store.repository().unwrap();
        for (n, id) in commits.iter().enumerate() {
            let tree = repo.find_commit(*id).unwrap().tree().unwrap();
            let entry = tree.get_path(format!("posts/p{}.md", n % 3).as_ref());
            repo.find_blob(entry.unwrap().id()).unwrap();
        }
    }

    #[test]
    fn a_group_is_written_as_loose_objects_and_published_only_when_the_branch_moves() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();
        edit(&session, 0, false);
        assert_eq!(
            store.tip().unwrap(),
            None,
            "a group that did not move the branch"
        );
        // A blob, the `posts` tree, the root tree and the commit.
        assert_eq!((loose(&store), packs(&path)), (4, 0));
        let published = edit(&session, 1, true);
        assert_eq!(store.tip().unwrap(), Some(published));
        assert_eq!(packs(&path), 0, "no pack per group");
    }

    #[test]
    fn the_writers_loose_objects_are_packed_and_their_loose_copies_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session_packing_after(20);
        let mut commits = Vec::new();
        for n in 0..5 {
            commits.push(edit(&session, n, true));
            session.pack_if_due().unwrap();
        }
        // Five edits of four objects: due after the fifth.
        assert!(session.packing());
        let unpublished = edit(&session, 99, false);
        assert!(session.wait_for_packing().unwrap());
        assert_eq!(packs(&path), 1);
        all_readable(&store, &commits);
        // What the branch does not name stays loose, for `git gc` to judge.
        assert_eq!(loose(&store), 4);
        store
            .repository()
            .unwrap()
            .find_commit(unpublished)
            .unwrap();
    }

    #[test]
    fn the_servers_own_packs_are_merged_also_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let mut commits = Vec::new();
        let mut counts = Vec::new();
        for round in 0..2 * MAX_OWN_PACKS {
            // A new session each round, as after a restart.
            let session = store.write_session_packing_after(1);
            commits.push(edit(&session, round, true));
            session.pack_if_due().unwrap();
            session.wait_for_packing().unwrap();
            counts.push(packs(&path));
        }
        // Four objects each round: packs of 4, 8, 12, then 12 and 4, 20, ...
        assert_eq!(&counts[..5], [1, 1, 1, 2, 1]);
        assert!(counts.iter().all(|&n| n <= 3), "{counts:?}");
        assert_eq!(loose(&store), 0);
        all_readable(&store, &commits);
        let listed = std::fs::read_to_string(path.join("palimpsest/packs")).unwrap();
        assert_eq!(listed.lines().count(), packs(&path));
    }
}
