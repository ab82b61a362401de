//! A writer's handle on the repository, for committing in groups.
//!
//! Written one by one, every loose object is a file and a folder entry of its own (with
//! libgit2's fsync, two flushes each, eight per commit). A [`Batch`] instead keeps the objects of a whole group of
//! commits in memory (libgit2's mempack) and persists them as one pack, flushed once with the
//! branch move (see `durability`): the durability cost is paid per group, not per commit.
//!
//! One pack per group would leave thousands of small packs, and every lookup would search
//! them all; so every [`PACKS_PER_CONSOLIDATION`] groups the writer packs the commits made
//! since the last consolidation into one pack and deletes the small packs it wrote itself
//! (never a pack another process wrote). `git gc` remains free to repack everything.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;

use git2::{Buf, Odb, Repository};

use super::read::{blob_in, post_at_in};
use super::{CommitRequest, Oid, Store, StoreError};
use crate::post::Slug;

/// Reads newer than the in-memory objects of a batch must see them: the mempack goes first.
const MEMPACK_PRIORITY: i32 = 999;

/// How many group packs the writer leaves before merging them into one.
pub const PACKS_PER_CONSOLIDATION: usize = 32;

/// The writer thread's access to the repository; not `Sync`, so it lives on one thread.
pub struct WriteSession {
    store: Store,
    small_packs: RefCell<SmallPacks>,
    /// The repository the batches use, kept open between groups: opening one loads every
    /// pack index and closing it unmaps them, which cost more CPU than a small commit.
    open: RefCell<Option<OpenRepository>>,
}

/// A repository kept open across batches, and how many batches it has served.
struct OpenRepository {
    repo: Repository,
    batches: usize,
}

/// The packs this session wrote since it last consolidated, and the tip it did so at.
#[derive(Default)]
struct SmallPacks {
    since: Option<Oid>,
    started: bool,
    paths: Vec<PathBuf>,
}

impl Store {
    /// A handle for the writer thread.
    pub fn write_session(&self) -> WriteSession {
        WriteSession {
            store: self.clone(),
            small_packs: RefCell::default(),
            open: RefCell::default(),
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

    /// Runs `group` with a [`Batch`]: its commits stay in memory until
    /// [`Batch::move_branch`] persists them; whatever is not persisted is dropped.
    ///
    /// # Errors
    /// `NotARepository`, or git errors setting up the in-memory object store.
    pub fn batch<T>(&self, group: impl FnOnce(&Batch<'_>) -> T) -> Result<T, StoreError> {
        let mut open = self.open.borrow_mut();
        // Every batch adds a mempack to the open repository's object database (libgit2
        // cannot remove one), and the packs merged away stay mapped until it closes: so the
        // repository is reopened as often as the small packs are consolidated.
        let open = match open
            .take()
            .filter(|open| open.batches < PACKS_PER_CONSOLIDATION)
        {
            Some(kept) => open.insert(kept),
            None => open.insert(OpenRepository {
                repo: self.store.repository()?,
                batches: 0,
            }),
        };
        open.batches += 1;
        let repo = &open.repo;
        let odb = repo.odb()?;
        // libgit2 writes into the writable backend of highest priority: this batch's
        // mempack must outrank the (empty) ones earlier batches left on this repository.
        let priority =
            MEMPACK_PRIORITY.saturating_add(i32::try_from(open.batches).unwrap_or(i32::MAX));
        let mempack = odb.add_new_mempack_backend(priority)?;
        {
            let mut small_packs = self.small_packs.borrow_mut();
            if !small_packs.started {
                small_packs.started = true;
                small_packs.since = self.store.tip_in(repo)?;
            }
        }
        let batch = Batch {
            session: self,
            store: &self.store,
            repo,
            odb: &odb,
            mempack,
        };
        Ok(group(&batch))
    }

    /// Merges the small packs into one once there are enough of them; see the module notes.
    ///
    /// # Errors
    /// Git or I/O errors; the small packs stay then, and nothing is lost.
    pub fn consolidate_if_due(&self) -> Result<(), StoreError> {
        let mut small_packs = self.small_packs.borrow_mut();
        if small_packs.paths.len() < PACKS_PER_CONSOLIDATION {
            return Ok(());
        }
        let repo = self.store.repository()?;
        let Some(tip) = self.store.tip_in(&repo)? else {
            return Ok(());
        };
        let mut walk = repo.revwalk()?;
        walk.push(tip)?;
        if let Some(since) = small_packs.since {
            walk.hide(since)?;
        }
        let mut builder = repo.packbuilder()?;
        builder.insert_walk(&mut walk)?;
        let mut pack = Buf::new();
        builder.write_buf(&mut pack)?;
        write_pack(&repo.odb()?, &pack)?;
        // The merged pack must be on disk before the small packs' removal can be.
        self.store.durability.flush(
            &repo.commondir().join("objects"),
            "making a merged pack durable",
        )?;
        // Every object the small packs hold that the branch can reach is in the new pack,
        // flushed; what else they hold was written by groups whose branch move failed.
        for path in small_packs.paths.drain(..) {
            for file in [path.with_extension("idx"), path.clone()] {
                if let Err(error) = std::fs::remove_file(&file) {
                    tracing::warn!(%error, pack = %file.display(), "could not remove a merged pack");
                }
            }
        }
        small_packs.since = Some(tip);
        // The open repository still maps the removed packs; the next batch reopens it.
        self.open.replace(None);
        tracing::debug!(objects = builder.object_count(), "small packs consolidated");
        Ok(())
    }
}

/// Writes a pack and its index through libgit2's indexer, without flushing them: the branch
/// move that follows flushes once for all (see `durability`); returns the pack's name.
fn write_pack(odb: &Odb<'_>, pack: &[u8]) -> Result<PathBuf, StoreError> {
    let mut writer = odb.packwriter()?;
    writer.write_all(pack).map_err(|source| StoreError::Io {
        context: "writing a pack of new commits".into(),
        source,
    })?;
    writer.commit()?;
    // The indexer names a pack after its trailing checksum, the pack's last 20 bytes.
    let checksum = pack
        .get(pack.len().saturating_sub(20)..)
        .unwrap_or_default();
    Ok(PathBuf::from(format!(
        "pack-{}.pack",
        hex::encode(checksum)
    )))
}

/// One group of commits, written in memory and persisted together.
pub struct Batch<'r> {
    session: &'r WriteSession,
    store: &'r Store,
    repo: &'r Repository,
    odb: &'r Odb<'r>,
    mempack: git2::Mempack<'r>,
}

/// Whatever a batch did not persist (its branch move failed, or it never tried) is dropped,
/// so the next batch on the same open repository starts from the disk alone.
impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.mempack.reset() {
            tracing::warn!(%error, "could not drop a batch's unwritten objects");
        }
    }
}

/// Reading and writing within a batch.
impl Batch<'_> {
    /// The branch tip, read afresh (never cached: another process may have pushed).
    ///
    /// # Errors
    /// Git errors other than a missing branch.
    pub fn tip(&self) -> Result<Option<Oid>, StoreError> {
        self.store.tip_in(self.repo)
    }

    /// The post's blob and bytes as of `commit`, `None` when it has no such post.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        post_at_in(self.repo, commit, slug)
    }

    /// A blob's bytes, `None` when the repository holds no such blob.
    ///
    /// # Errors
    /// Git errors reading the object database.
    pub fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
        blob_in(self.repo, blob)
    }

    /// Writes a commit into the batch's memory; see [`Store::write_commit`].
    ///
    /// # Errors
    /// Git errors writing blobs, trees or the commit.
    pub fn write_commit(
        &self,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        self.store.write_commit(self.repo, parent, request)
    }

    /// Persists the batch's objects as one pack, then moves the branch from `expected` to
    /// `new`: a compare-and-swap, see [`Store::move_branch`], which flushes the pack before
    /// the ref moves, so a crash never leaves a dangling ref.
    ///
    /// # Errors
    /// `BranchMoved`, `BranchLocked`, git or I/O errors writing the pack.
    pub fn move_branch(
        &self,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        self.persist()?;
        self.store
            .move_branch(self.repo, new, expected, log_message)
    }

    /// Writes the in-memory objects to `objects/pack/` as one pack.
    fn persist(&self) -> Result<(), StoreError> {
        let mut pack = Buf::new();
        self.mempack.dump(self.repo, &mut pack)?;
        let name = write_pack(self.odb, &pack)?;
        self.mempack.reset()?;
        let path = self.repo.path().join("objects/pack").join(name);
        if path.exists() {
            self.session.small_packs.borrow_mut().paths.push(path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, Identity};

    fn packs(repo: &std::path::Path) -> usize {
        std::fs::read_dir(repo.join("objects/pack"))
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().path().extension() == Some("pack".as_ref()))
            .count()
    }

    fn commit(batch: &Batch<'_>, parent: Option<Oid>, n: usize) -> Oid {
        let who = Identity::parse("A <a@example.org>").unwrap();
        let request = CommitRequest {
            author: who.clone(),
            committer: who,
            message: format!("write {n}"),
            time: None,
            changes: vec![Change::Upsert {
                path: format!("posts/p{}.md", n % 3),
                content: format!("---\ntitle: P{n}\n---\n").into_bytes(),
            }],
        };
        batch.write_commit(parent, &request).unwrap()
    }

    #[test]
    fn a_batch_persists_its_commits_only_when_the_branch_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let session = store.write_session();

        let dropped = session.batch(|batch| commit(batch, None, 0)).unwrap();
        assert!(store.repository().unwrap().find_commit(dropped).is_err());

        let kept = session
            .batch(|batch| {
                let first = commit(batch, None, 1);
                let second = commit(batch, Some(first), 2);
                batch.move_branch(second, None, "two commits").unwrap();
                second
            })
            .unwrap();
        assert_eq!(store.tip().unwrap(), Some(kept));
        assert_eq!(packs(&path), 1, "one pack for the whole group");
    }

    #[test]
    fn small_packs_are_merged_and_every_commit_stays_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let session = store.write_session();
        let mut commits = Vec::new();
        for n in 0..PACKS_PER_CONSOLIDATION + 3 {
            let tip = store.tip().unwrap();
            let new = session
                .batch(|batch| {
                    let new = commit(batch, tip, n);
                    batch.move_branch(new, tip, "one").unwrap();
                    new
                })
                .unwrap();
            commits.push(new);
            session.consolidate_if_due().unwrap();
        }
        assert!(packs(&path) <= 4, "{} packs", packs(&path));
        let repo = store.repository().unwrap();
        for (n, id) in commits.into_iter().enumerate() {
            let tree = repo.find_commit(id).unwrap().tree().unwrap();
            let entry = tree
                .get_path(format!("posts/p{}.md", n % 3).as_ref())
                .unwrap();
            let blob = repo.find_blob(entry.id()).unwrap();
            assert_eq!(
                blob.content(),
                format!("---\ntitle: P{n}\n---\n").as_bytes()
            );
        }
    }
}
