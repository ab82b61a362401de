//! A writer's handle on the repository, for committing in groups.
//!
//! Nothing is flushed object by object: the branch move that publishes a group flushes the
//! filesystem once for all its objects (see `durability`). How the objects are written
//! depends on the group's size:
//!
//! - a group of one edit (one author writing at a time) writes its four objects (blob, two
//!   trees, commit) as loose objects: four small files, nothing else to compute;
//! - a larger group (concurrent writers) keeps its objects in memory (libgit2's mempack)
//!   and writes them as one pack: one delta search and one index for the whole group
//!   instead of four files per commit.
//!
//! So that neither pile up, every [`GROUPS_PER_PACK`] groups the writer packs the commits
//! made since it last did so into one pack, flushes it, deletes the group packs it wrote
//! itself (never a pack another process wrote) and removes the loose copies of the objects
//! the new pack holds (what `git prune-packed` does). Those periodic packs are merged
//! geometrically, like a binary counter (a pack absorbs the packs before it that cover no
//! more groups than it does), so a server that writes for months keeps a number of packs
//! logarithmic in its writes, and every object is repacked only that many times. After a
//! force push nothing is removed (see [`WriteSession::pack_if_due`]). Objects of a group
//! whose branch move failed stay loose and unreachable until `git gc` prunes them; `git gc`
//! remains free to repack everything.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{Buf, Repository};

use super::read::{blob_in, post_at_in};
use super::{CommitRequest, Oid, Store, StoreError};
use crate::post::Slug;

/// How many groups the writer commits before packing them into one pack.
pub const GROUPS_PER_PACK: usize = 64;

/// Reads newer than the in-memory objects of a batch must see them: the mempack goes first.
const MEMPACK_PRIORITY: i32 = 999;

/// The writer thread's access to the repository; not `Sync`, so it lives on one thread.
pub struct WriteSession {
    store: Store,
    /// The repositories the batches use, kept open between groups: opening one reads the
    /// configuration and loads every pack index, which costs more CPU than a small commit.
    open: RefCell<OpenRepositories>,
    /// What the writer committed since it last packed.
    unpacked: RefCell<Unpacked>,
}

/// One repository for groups written loose, one for groups kept in memory: libgit2 writes
/// into the writable backend of highest priority, and a mempack, once added to a
/// repository, cannot be removed, so loose writes need a repository that never had one.
#[derive(Default)]
struct OpenRepositories {
    loose: Option<Repository>,
    /// With the number of mempacks it holds; reopened when they add up.
    in_memory: Option<(Repository, i32)>,
}

/// The most mempacks an open repository collects before it is reopened.
const MEMPACKS_PER_REPOSITORY: i32 = 32;

/// The writer's commits since it last packed, and the periodic packs it wrote.
#[derive(Default)]
struct Unpacked {
    /// The tip when they started: the commits to pack are those it does not reach.
    since: Option<Oid>,
    started: bool,
    groups: usize,
    /// The indexes of the group packs written since, to delete (with their packs) once
    /// their commits are packed together.
    group_packs: Vec<PathBuf>,
    /// The periodic packs this session wrote, oldest first.
    packs: Vec<WriterPack>,
    /// The tip the writer last published (or found at the start).
    last_tip: Option<Oid>,
    /// Whether the branch was rewritten under the writer since `since` (a force push), so
    /// that commits in its packs may be reachable only from other refs.
    rewritten: bool,
}

/// A periodic pack: the commits from `since` (exclusive) to the tip it was written at.
struct WriterPack {
    index: PathBuf,
    since: Option<Oid>,
    groups: usize,
}

impl Store {
    /// A handle for the writer thread.
    pub fn write_session(&self) -> WriteSession {
        WriteSession {
            store: self.clone(),
            open: RefCell::default(),
            unpacked: RefCell::default(),
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

    /// Runs `group`, a group of `edits` edits, with a [`Batch`] on the session's open
    /// repository. Its objects are neither durable nor reachable until
    /// [`Batch::move_branch`] succeeds (see the module notes for where they go).
    ///
    /// # Errors
    /// `NotARepository`, or git errors setting up the in-memory object store.
    pub fn batch<T>(
        &self,
        edits: usize,
        group: impl FnOnce(&Batch<'_>) -> T,
    ) -> Result<T, StoreError> {
        let mut open = self.open.borrow_mut();
        let (repo, mempacks) = if edits > 1 {
            let kept = open
                .in_memory
                .take()
                .filter(|(_, mempacks)| *mempacks < MEMPACKS_PER_REPOSITORY);
            let (repo, mempacks) = match kept {
                Some(kept) => open.in_memory.insert(kept),
                None => open.in_memory.insert((self.store.repository()?, 0)),
            };
            *mempacks += 1;
            (&*repo, Some(*mempacks))
        } else {
            let repo = match open.loose.take() {
                Some(kept) => open.loose.insert(kept),
                None => open.loose.insert(self.store.repository()?),
            };
            (&*repo, None)
        };
        {
            let mut unpacked = self.unpacked.borrow_mut();
            if !unpacked.started {
                unpacked.started = true;
                unpacked.since = self.store.tip_in(repo)?;
                unpacked.last_tip = unpacked.since;
            }
        }
        let odb = repo.odb()?;
        // This batch's mempack must outrank the (emptied) ones earlier batches left behind.
        let mempack = mempacks
            .map(|count| odb.add_new_mempack_backend(MEMPACK_PRIORITY.saturating_add(count)))
            .transpose()?;
        let batch = Batch {
            session: self,
            store: &self.store,
            repo,
            mempack,
        };
        Ok(group(&batch))
    }

    /// Forgets the open repository, so the next group opens a fresh one (after an error,
    /// which may come from a handle that no longer matches the disk, e.g. after `git gc`).
    pub fn reopen(&self) {
        self.open.replace(OpenRepositories::default());
    }

    /// Packs the writer's commits once there are enough of them; see the module notes.
    ///
    /// # Errors
    /// Git or I/O errors; the loose objects and group packs stay then, and nothing is lost.
    pub fn pack_if_due(&self) -> Result<(), StoreError> {
        let mut unpacked = self.unpacked.borrow_mut();
        if unpacked.groups < GROUPS_PER_PACK {
            return Ok(());
        }
        let repo = self.store.repository()?;
        let Some(tip) = self.store.tip_in(&repo)? else {
            return Ok(());
        };
        if unpacked.rewritten || !descends(&repo, Some(tip), unpacked.last_tip)? {
            // The branch was rewritten (a force push): commits in the writer's packs may be
            // reachable only from other refs now, so nothing of them is removed; they stay
            // for `git gc` to sort out, and packing starts again from here.
            *unpacked = Unpacked {
                since: Some(tip),
                started: true,
                last_tip: Some(tip),
                ..Unpacked::default()
            };
            return Ok(());
        }
        // Absorb the earlier packs that cover no more groups than this one will.
        let (mut since, mut groups, mut absorbed) = (unpacked.since, unpacked.groups, 0);
        for earlier in unpacked.packs.iter().rev() {
            if earlier.groups > groups {
                break;
            }
            (since, groups, absorbed) = (earlier.since, groups + earlier.groups, absorbed + 1);
        }
        let mut walk = repo.revwalk()?;
        walk.push(tip)?;
        if let Some(since) = since {
            walk.hide(since)?;
        }
        let mut builder = repo.packbuilder()?;
        builder.insert_walk(&mut walk)?;
        let mut pack = Buf::new();
        builder.write_buf(&mut pack)?;
        let index = write_pack(&repo, &pack)?;
        // The pack must be on disk before what it replaces can be removed.
        let objects = repo.commondir().join("objects");
        self.store
            .durability
            .flush(&objects, "making a pack of the writer's commits durable")?;
        // Every object of the group packs that the branch reaches is in the new pack, and
        // flushed; what else they hold was written by groups whose branch move failed.
        let kept = unpacked.packs.len() - absorbed;
        let absorbed: Vec<PathBuf> = unpacked.packs.drain(kept..).map(|p| p.index).collect();
        for replaced in unpacked.group_packs.drain(..).chain(absorbed) {
            for file in [replaced.with_extension("pack"), replaced] {
                remove_if_present(&file);
            }
        }
        for id in pack_index_ids(&index)? {
            let hex = id.to_string();
            remove_if_present(&objects.join(&hex[..2]).join(&hex[2..]));
        }
        unpacked.packs.push(WriterPack {
            index,
            since,
            groups,
        });
        unpacked.since = Some(tip);
        unpacked.groups = 0;
        // The open repository may still map the removed packs; the next batch reopens it.
        self.reopen();
        tracing::debug!(
            objects = builder.object_count(),
            "the writer's commits packed"
        );
        Ok(())
    }
}

/// Whether `new` is `old` or one of its descendants (anything descends from no commit).
fn descends(repo: &Repository, new: Option<Oid>, old: Option<Oid>) -> Result<bool, StoreError> {
    Ok(match (new, old) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(new), Some(old)) => new == old || repo.graph_descendant_of(new, old)?,
    })
}

/// Removes a file the writer made redundant; a failure leaves only a redundant copy.
fn remove_if_present(file: &Path) {
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, file = %file.display(), "could not remove a packed copy");
        }
    }
}

/// Writes a pack and its index through libgit2's indexer, without flushing them (the caller
/// flushes); returns the path of the pack's index.
fn write_pack(repo: &Repository, pack: &[u8]) -> Result<PathBuf, StoreError> {
    let odb = repo.odb()?;
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
    Ok(repo
        .commondir()
        .join("objects/pack")
        .join(format!("pack-{}.idx", hex::encode(checksum))))
}

/// The ids of the objects a pack holds, read from its index (version 2: a header, a
/// 256-entry fan-out table whose last entry is the object count, then the sorted ids).
fn pack_index_ids(index: &Path) -> Result<Vec<Oid>, StoreError> {
    const HEADER: usize = 8;
    const FANOUT: usize = 256 * 4;
    let invalid = |why: &str| StoreError::Io {
        context: format!("reading the pack index {}", index.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    };
    let bytes = std::fs::read(index).map_err(|source| StoreError::Io {
        context: format!("reading the pack index {}", index.display()),
        source,
    })?;
    if bytes.get(..HEADER) != Some(b"\xfftOc\x00\x00\x00\x02".as_slice()) {
        return Err(invalid("not a version 2 pack index"));
    }
    let count = bytes
        .get(HEADER + FANOUT - 4..HEADER + FANOUT)
        .map(|last| u32::from_be_bytes([last[0], last[1], last[2], last[3]]) as usize)
        .ok_or_else(|| invalid("truncated fan-out table"))?;
    let ids = bytes
        .get(HEADER + FANOUT..HEADER + FANOUT + count * 20)
        .ok_or_else(|| invalid("truncated object ids"))?;
    ids.chunks_exact(20)
        .map(|id| Oid::from_bytes(id).map_err(StoreError::from))
        .collect()
}

/// One group of commits, written into the object database and published together.
pub struct Batch<'r> {
    session: &'r WriteSession,
    store: &'r Store,
    repo: &'r Repository,
    /// Where a group of several edits keeps its objects until the branch moves.
    mempack: Option<git2::Mempack<'r>>,
}

/// Whatever a batch kept in memory and did not persist (its branch move failed, or it never
/// tried) is dropped, so the next batch on the same open repository starts from the disk.
impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if let Some(mempack) = &self.mempack
            && let Err(error) = mempack.reset()
        {
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

    /// Writes a commit's objects, not yet flushed; see [`Store::write_commit`].
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

    /// Moves the branch from `expected` to `new`, writing the objects kept in memory as one
    /// pack first: a compare-and-swap, see [`Store::move_branch`], which flushes the
    /// objects before the branch moves, so a crash never leaves it naming a missing object.
    ///
    /// # Errors
    /// `BranchMoved`, `BranchLocked`, git or I/O errors.
    pub fn move_branch(
        &self,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        if let Some(mempack) = &self.mempack {
            let mut pack = Buf::new();
            mempack.dump(self.repo, &mut pack)?;
            let index = write_pack(self.repo, &pack)?;
            mempack.reset()?;
            self.session.unpacked.borrow_mut().group_packs.push(index);
        }
        self.store
            .move_branch(self.repo, new, expected, log_message)?;
        let mut unpacked = self.session.unpacked.borrow_mut();
        // A group builds on what the writer published last, or on commits pushed since
        // (descendants); anything else means the branch was rewritten in between. The
        // branch has moved: a failure to tell must not fail the write, so it counts as a
        // rewrite, which only keeps more files.
        if !descends(self.repo, expected, unpacked.last_tip).unwrap_or(false) {
            unpacked.rewritten = true;
        }
        unpacked.last_tip = Some(new);
        unpacked.groups += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, Identity};

    fn files_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> usize {
        walk(dir).into_iter().filter(|path| keep(path)).count()
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    fn packs(repo: &Path) -> usize {
        files_under(&repo.join("objects/pack"), |p| {
            p.extension() == Some("pack".as_ref())
        })
    }

    /// Loose objects live in `objects/xx/`, two hexadecimal digits.
    fn loose_objects(repo: &Path) -> usize {
        files_under(&repo.join("objects"), |p| {
            let folder = p.parent().unwrap().file_name().unwrap().to_string_lossy();
            folder.len() == 2 && folder.chars().all(|c| c.is_ascii_hexdigit())
        })
    }

    /// A bare repository with no commit yet, under `dir`.
    fn empty_store(dir: &Path) -> (PathBuf, Store) {
        let path = dir.join("c.git");
        Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        (path, store)
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

    /// Commits `edits` edits in one group on the tip, numbered from `n`; returns the commits.
    fn group(session: &WriteSession, edits: usize, n: usize, publish: bool) -> Vec<Oid> {
        let tip = session.store().tip().unwrap();
        session
            .batch(edits, |batch| {
                let mut commits: Vec<Oid> = Vec::new();
                for k in 0..edits {
                    let parent = commits.last().copied().or(tip);
                    commits.push(commit(batch, parent, n + k));
                }
                if publish {
                    batch
                        .move_branch(*commits.last().unwrap(), tip, "group")
                        .unwrap();
                }
                commits
            })
            .unwrap()
    }

    #[test]
    fn a_group_is_published_only_when_the_branch_moves() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();

        group(&session, 1, 0, false);
        assert_eq!(
            store.tip().unwrap(),
            None,
            "a group that did not move the branch"
        );
        // One edit: a blob, two trees, a commit, and the empty tree a root commit starts from.
        assert_eq!(loose_objects(&path), 5);

        let two = group(&session, 2, 1, true);
        assert_eq!(store.tip().unwrap(), two.last().copied());
        assert_eq!(packs(&path), 1, "several edits: one pack");
        assert_eq!(loose_objects(&path), 5);

        // After a group kept in memory, a group of one is still written to disk.
        let one = group(&session, 1, 3, true);
        assert_eq!(store.tip().unwrap(), one.last().copied());
        assert_eq!(loose_objects(&path), 9);
        let fresh = store.repository().unwrap();
        for id in two.iter().chain(&one) {
            fresh.find_commit(*id).unwrap().tree().unwrap();
        }
    }

    #[test]
    fn the_writers_commits_are_packed_and_what_the_pack_replaces_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        for g in 0..GROUPS_PER_PACK + 3 {
            // Groups of one and of two edits in turn: loose objects and group packs.
            commits.extend(group(&session, 1 + g % 2, commits.len(), true));
            session.pack_if_due().unwrap();
        }
        // Left after the packing: the pack, then a group of one (loose), a group of two (its
        // pack) and a group of one (loose); and the empty tree the root commit started from,
        // which no commit holds.
        assert_eq!(packs(&path), 2);
        assert_eq!(loose_objects(&path), 2 * 4 + 1);
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

    /// Flushes nothing: for tests of what is written, not of durability.
    struct NoFlush;

    impl super::super::durability::Flush for NoFlush {
        fn flush(&self, _: &Path) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_periodic_packs_are_merged_like_a_binary_counter() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let store = store.with_durability(super::super::durability::Durability::new(
            std::sync::Arc::new(NoFlush),
        ));
        let session = store.write_session();
        let mut commits = Vec::new();
        let mut counts = Vec::new();
        for g in 0..7 * GROUPS_PER_PACK {
            commits.extend(group(&session, 1, commits.len(), true));
            session.pack_if_due().unwrap();
            if (g + 1) % GROUPS_PER_PACK == 0 {
                counts.push(packs(&path));
            }
        }
        // Packings 1 to 7 leave packs of 64, 128, 128+64, 256, 256+64, 256+128, 256+128+64
        // groups.
        assert_eq!(counts, [1, 1, 2, 1, 2, 2, 3]);
        assert_eq!(
            loose_objects(&path),
            1,
            "only the empty tree, which no commit holds"
        );
        let repo = store.repository().unwrap();
        for id in commits {
            repo.find_commit(id).unwrap().tree().unwrap();
        }
    }

    #[test]
    fn after_a_force_push_the_writers_packs_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();
        let first = group(&session, 1, 0, true)[0];
        for g in 1..GROUPS_PER_PACK {
            group(&session, 1 + g % 2, g * 2, true);
        }
        // The branch is reset to its first commit; an old tip stays reachable from a tag.
        let repo = store.repository().unwrap();
        let old_tip = store.tip().unwrap().unwrap();
        repo.reference("refs/tags/before-reset", old_tip, false, "keep")
            .unwrap();
        repo.reference("refs/heads/main", first, true, "force push")
            .unwrap();
        let before = (packs(&path), loose_objects(&path));
        group(&session, 1, 1000, true);
        session.pack_if_due().unwrap();
        assert_eq!(packs(&path), before.0, "no pack removed");
        assert!(loose_objects(&path) > before.1, "no loose object removed");
        let fresh = store.repository().unwrap();
        fresh.find_commit(old_tip).unwrap().tree().unwrap();
    }

    #[test]
    fn a_pack_index_lists_what_git_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.git");
        let repo = Repository::init_bare(&path).unwrap();
        let blobs: Vec<Oid> = (0..300)
            .map(|n| repo.blob(format!("blob {n}").as_bytes()).unwrap())
            .collect();
        let mut builder = repo.packbuilder().unwrap();
        for blob in &blobs {
            builder.insert_object(*blob, None).unwrap();
        }
        let mut pack = Buf::new();
        builder.write_buf(&mut pack).unwrap();
        let index = write_pack(&repo, &pack).unwrap();
        let mut listed = pack_index_ids(&index).unwrap();
        let mut expected = blobs.clone();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);

        std::fs::write(&index, b"not an index").unwrap();
        assert!(matches!(pack_index_ids(&index), Err(StoreError::Io { .. })));
    }
}
