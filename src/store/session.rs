//! A writer's handle on the repository, for committing in groups.
//!
//! Nothing is flushed object by object: the branch move that publishes a group flushes the
//! filesystem once for all its objects (see `durability`). A group composes its objects in
//! memory (see `compose`) and writes them as one pack of its own (see `pack`): two new
//! files per group, however many edits and objects it holds.
//!
//! So that group packs do not pile up, every [`GROUPS_PER_PACK`] groups the writer packs
//! the commits made since it last did so into one pack (with deltas against each object's
//! previous version, see `periodic`) on a thread of its own, so that no write waits for
//! it; once that pack is flushed, the writer deletes the group packs it covers (never a
//! pack another process wrote), while they are still open, so that their blocks are freed
//! in the background (see [`super::close_in_background`]). Those
//! periodic packs are merged geometrically, like a binary counter (a pack absorbs the packs
//! before it that cover no more groups than it does), so a server that writes for months
//! keeps a number of packs logarithmic in its writes. A merge copies the packs' entries
//! (see `pack::merge`): each object's delta is computed once, when its commits are
//! first packed, where searching again at every merge cost as much CPU as the writes
//! themselves. After a force push nothing is removed (see
//! [`WriteSession::pack_if_due`]). A group whose branch move failed writes nothing; `git
//! gc` remains free to repack everything.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{Buf, Repository};

use super::compose::Pending;
use super::{CommitRequest, GroupObjects, Oid, ReplacedBranch, Store, StoreError};
use super::{pack, periodic};
use crate::post::Slug;

/// How many groups the writer commits before packing them into one pack.
pub const GROUPS_PER_PACK: usize = 32;

/// The most group packs left while a packing is under way: past them, the writer waits for
/// it. Every pack costs lookups that miss, and libgit2 keeps at most 128 pack files open
/// (`configure_libgit2`), closing the least recently used ones when there are more; that
/// juggling, across threads, is where libgit2 has had its data races (libgit2#5591).
const MAX_GROUP_PACKS: usize = 2 * GROUPS_PER_PACK;

/// The writer thread's access to the repository; not `Sync`, so it lives on one thread.
pub struct WriteSession {
    store: Store,
    /// The repository the batches read, kept open between groups: opening one reads the
    /// configuration and loads every pack index, which costs more CPU than a small commit.
    open: RefCell<Option<Repository>>,
    /// What the writer committed since it last packed.
    unpacked: RefCell<Unpacked>,
    /// The objects of the last group, for the next one to read (see `Pending::after`).
    earlier: RefCell<Pending>,
    /// The file the branch was in before the last group moved it, closed after the
    /// acknowledgements (see [`ReplacedBranch`]).
    replaced_branch: RefCell<Option<ReplacedBranch>>,
}

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
    /// The periodic pack being written, if any.
    packing: Option<Packing>,
    /// The tip the writer last published (or found at the start).
    last_tip: Option<Oid>,
    /// Whether the branch was rewritten under the writer since `since` (a force push), so
    /// that commits in its packs may be reachable only from other refs.
    rewritten: bool,
}

/// A periodic pack being written on its thread, and what it replaces once written.
struct Packing {
    thread: std::thread::JoinHandle<Result<Packed, StoreError>>,
    /// The commits it covers: from `since` (exclusive) to the tip, over `groups` groups.
    since: Option<Oid>,
    groups: usize,
    /// How many of the latest periodic packs it absorbs.
    absorbed: usize,
    /// The group packs it replaces.
    group_packs: Vec<PathBuf>,
    /// Where packing stood before it (`since`, `groups`), restored if it fails.
    own: (Option<Oid>, usize),
}

/// What a packing wrote: the index of its pack, and the pack of the new commits alone
/// when that was then merged with earlier ones (to remove with what the merge replaces).
struct Packed {
    index: PathBuf,
    /// The ids of the objects in it, sorted.
    ids: Arc<[Oid]>,
    merged_away: Option<PathBuf>,
    /// The files it replaces, held open so that removing them only updates the folder:
    /// their blocks are freed at the last close (see [`super::close_in_background`]).
    held: Vec<std::fs::File>,
}

/// A periodic pack: the commits from `since` (exclusive) to the tip it was written at.
struct WriterPack {
    index: PathBuf,
    /// The ids of the objects in it, sorted: kept, so that no packing reads every
    /// periodic pack's index again (they grow with the writes since the server started).
    ids: Arc<[Oid]>,
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
            earlier: RefCell::default(),
            replaced_branch: RefCell::default(),
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
    /// neither on disk nor reachable until [`Batch::move_branch`] succeeds.
    ///
    /// # Errors
    /// `NotARepository` when the repository cannot be opened.
    pub fn batch<T>(&self, group: impl FnOnce(&Batch<'_>) -> T) -> Result<T, StoreError> {
        self.with_repository(|repo| {
            {
                let mut unpacked = self.unpacked.borrow_mut();
                if !unpacked.started {
                    unpacked.started = true;
                    unpacked.since = self.store.tip_in(repo)?;
                    unpacked.last_tip = unpacked.since;
                }
            }
            let batch = Batch {
                session: self,
                store: &self.store,
                repo,
                pending: RefCell::new(Pending::after(self.earlier.take())),
                written: std::cell::Cell::new(false),
            };
            let done = group(&batch);
            self.earlier.replace(batch.pending.into_inner());
            Ok(done)
        })
    }

    /// Runs `work` on the session's open repository, opening one if there is none.
    fn with_repository<T>(
        &self,
        work: impl FnOnce(&Repository) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut open = self.open.borrow_mut();
        let repo = match open.take() {
            Some(kept) => open.insert(kept),
            None => open.insert(self.store.repository()?),
        };
        work(repo)
    }

    /// Closes the file the branch was in before the last group moved it; called once the
    /// group's edits are acknowledged, so that no acknowledgement waits for the device.
    pub fn close_replaced_branch(&self) {
        self.replaced_branch.replace(None);
    }

    /// Forgets the open repository, so the next group opens a fresh one (after an error,
    /// which may come from a handle that no longer matches the disk, e.g. after `git gc`,
    /// or after removing packs). The old one closes in the background.
    pub fn reopen(&self) {
        if let Some(old) = self.open.replace(None) {
            super::close_in_background(old);
        }
    }

    /// Packs the writer's commits once there are enough of them (see the module notes),
    /// on a thread of its own so that no write waits for it: this starts a packing when one
    /// is due, and finishes one whose pack is written, removing what it replaces (waiting
    /// for it when group packs pile up faster than it packs them). Says
    /// whether it removed packs, which open repositories keep searching until reopened.
    ///
    /// # Errors
    /// Git or I/O errors; the group packs stay then, and nothing is lost.
    pub fn pack_if_due(&self) -> Result<bool, StoreError> {
        let mut unpacked = self.unpacked.borrow_mut();
        let too_many = unpacked.group_packs.len() >= MAX_GROUP_PACKS;
        let finished = unpacked
            .packing
            .take_if(|packing| too_many || packing.thread.is_finished());
        let removed = match finished {
            Some(packing) => self.finish_packing(&mut unpacked, packing)?,
            None => false,
        };
        if unpacked.packing.is_none() && unpacked.groups >= GROUPS_PER_PACK {
            self.start_packing(&mut unpacked)?;
        }
        Ok(removed)
    }

    /// Whether a packing is under way, to be finished by a later [`Self::pack_if_due`].
    pub fn packing(&self) -> bool {
        self.unpacked.borrow().packing.is_some()
    }

    /// Waits for the packing under way, if any, and finishes it; for tests, which need to
    /// know when the files are gone.
    #[cfg(test)]
    fn wait_for_packing(&self) -> Result<bool, StoreError> {
        let mut unpacked = self.unpacked.borrow_mut();
        match unpacked.packing.take() {
            Some(packing) => self.finish_packing(&mut unpacked, packing),
            None => Ok(false),
        }
    }

    fn start_packing(&self, unpacked: &mut Unpacked) -> Result<(), StoreError> {
        let (tip, rewritten) = self.with_repository(|repo| {
            let tip = self.store.tip_in(repo)?;
            let rewritten = unpacked.rewritten || !descends(repo, tip, unpacked.last_tip)?;
            Ok((tip, rewritten))
        })?;
        let Some(tip) = tip else {
            return Ok(());
        };
        if rewritten {
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
        let ours: Vec<Arc<[Oid]>> = unpacked.packs.iter().map(|p| p.ids.clone()).collect();
        let earlier: Vec<(PathBuf, Arc<[Oid]>)> = unpacked.packs[unpacked.packs.len() - absorbed..]
            .iter()
            .map(|p| (p.index.clone(), p.ids.clone()))
            .collect();
        let group_packs = unpacked.group_packs.clone();
        let store = self.store.clone();
        let thread = std::thread::Builder::new()
            .name("packer".into())
            .spawn(move || {
                let repo = store.repository()?;
                let fresh = pack_new_objects(&store, &repo, &group_packs, &ours)?;
                let mut packed = merge_into(&store, &repo, fresh, &earlier, since, tip)?;
                let replaced = group_packs
                    .iter()
                    .chain(earlier.iter().map(|(index, _)| index))
                    .chain(&packed.merged_away);
                packed.held = replaced
                    .flat_map(|index| [index.with_extension("pack"), index.clone()])
                    .filter_map(|file| std::fs::File::open(file).ok())
                    .collect();
                Ok(packed)
            })
            .map_err(|source| StoreError::Io {
                context: "starting to pack the writer's commits".into(),
                source,
            })?;
        unpacked.packing = Some(Packing {
            thread,
            since,
            groups,
            absorbed,
            group_packs: std::mem::take(&mut unpacked.group_packs),
            own: (unpacked.since, unpacked.groups),
        });
        unpacked.since = Some(tip);
        unpacked.groups = 0;
        Ok(())
    }

    /// Removes what a written pack replaces, or, if writing it failed, gives its groups
    /// back to the next packing.
    fn finish_packing(
        &self,
        unpacked: &mut Unpacked,
        packing: Packing,
    ) -> Result<bool, StoreError> {
        let written = packing.thread.join().unwrap_or_else(|_| {
            Err(StoreError::Io {
                context: "packing the writer's commits".into(),
                source: std::io::Error::other("the packing thread panicked"),
            })
        });
        let Packed {
            index,
            ids,
            merged_away,
            held,
        } = match written {
            Ok(packed) => packed,
            Err(error) => {
                let (since, groups) = packing.own;
                unpacked.since = since;
                unpacked.groups += groups;
                unpacked.group_packs.splice(0..0, packing.group_packs);
                return Err(error);
            }
        };
        // Every object of the group packs that the branch reaches is in the new pack, and
        // flushed; what else they hold was written by groups whose branch move failed.
        let kept = unpacked.packs.len() - packing.absorbed;
        let absorbed: Vec<PathBuf> = unpacked.packs.drain(kept..).map(|p| p.index).collect();
        let replaced = packing.group_packs.into_iter().chain(absorbed);
        for replaced in replaced.chain(merged_away) {
            for file in [replaced.with_extension("pack"), replaced] {
                remove_if_present(&file);
            }
        }
        unpacked.packs.push(WriterPack {
            index,
            ids,
            since: packing.since,
            groups: packing.groups,
        });
        super::close_in_background(held);
        // The open repository may still map the removed packs; the next batch reopens it.
        self.reopen();
        Ok(true)
    }
}

/// Packs the objects of the `group_packs` (deltas computed once, here; see `periodic`)
/// except those already in one of the writer's periodic packs (`ours`), so that no two of
/// those ever share an object and merging them stays a copy. Flushes the pack; returns its
/// index and the ids it lists.
fn pack_new_objects(
    store: &Store,
    repo: &Repository,
    group_packs: &[PathBuf],
    ours: &[Arc<[Oid]>],
) -> Result<(PathBuf, Arc<[Oid]>), StoreError> {
    let packed = |id: &Oid| ours.iter().any(|ids| ids.binary_search(id).is_ok());
    let pack_dir = repo.commondir().join("objects/pack");
    let (index, ids) = periodic::write(&pack_dir, group_packs, packed)?;
    store
        .durability
        .flush(&pack_dir, "making a pack of the writer's commits durable")?;
    Ok((index, ids.into()))
}

/// The ids of the objects in the pack of `index`, sorted.
fn sorted_ids(index: &Path) -> Result<Arc<[Oid]>, StoreError> {
    let mut ids = pack::object_ids(index)?;
    ids.sort_unstable();
    Ok(ids.into())
}

/// Merges the `fresh` pack with the `earlier` ones (which cover the commits from `since`)
/// by copying their entries, flushed before the caller removes what it replaces. Should
/// they share an object after all, all the commits from `since` to `tip` are packed anew.
fn merge_into(
    store: &Store,
    repo: &Repository,
    (fresh, fresh_ids): (PathBuf, Arc<[Oid]>),
    earlier: &[(PathBuf, Arc<[Oid]>)],
    since: Option<Oid>,
    tip: Oid,
) -> Result<Packed, StoreError> {
    if earlier.is_empty() {
        return Ok(Packed {
            index: fresh,
            ids: fresh_ids,
            merged_away: None,
            held: Vec::new(),
        });
    }
    let mut sources: Vec<PathBuf> = earlier.iter().map(|(index, _)| index.clone()).collect();
    sources.push(fresh.clone());
    let pack_dir = repo.commondir().join("objects/pack");
    let (index, ids) = match pack::merge(&pack_dir, &sources)? {
        Some(merged) => {
            store
                .durability
                .flush(&pack_dir, "making a merged pack durable")?;
            // The sources share no object (else there is no merge): their ids, together.
            let mut ids: Vec<Oid> = earlier
                .iter()
                .flat_map(|(_, ids)| ids.iter())
                .chain(fresh_ids.iter())
                .copied()
                .collect();
            ids.sort_unstable();
            (merged, ids.into())
        }
        None => {
            let index = pack_commits(store, repo, since, tip)?;
            let ids = sorted_ids(&index)?;
            (index, ids)
        }
    };
    Ok(Packed {
        index,
        ids,
        merged_away: Some(fresh),
        held: Vec::new(),
    })
}

/// Writes the commits from `since` (exclusive) to `tip` as one pack, deltas computed, and
/// flushes it (see [`write_pack`]). Returns the path of its index.
fn pack_commits(
    store: &Store,
    repo: &Repository,
    since: Option<Oid>,
    tip: Oid,
) -> Result<PathBuf, StoreError> {
    let mut walk = repo.revwalk()?;
    walk.push(tip)?;
    if let Some(since) = since {
        walk.hide(since)?;
    }
    let mut builder = repo.packbuilder()?;
    builder.insert_walk(&mut walk)?;
    write_pack(store, repo, &mut builder)
}

/// Writes what `builder` holds as a pack with its index, and flushes them: a pack must be
/// on disk before what it replaces can be removed. Returns the index's path.
fn write_pack(
    store: &Store,
    repo: &Repository,
    builder: &mut git2::PackBuilder<'_>,
) -> Result<PathBuf, StoreError> {
    let mut pack = Buf::new();
    builder.write_buf(&mut pack)?;
    let index = pack::index_pack(repo, &pack)?;
    store.durability.flush(
        &repo.commondir().join("objects"),
        "making a pack of the writer's commits durable",
    )?;
    tracing::debug!(
        objects = builder.object_count(),
        "the writer's commits packed"
    );
    Ok(index)
}

/// A packing under way is waited for (not finished: its pack stays, with what it would
/// have replaced), so that nothing writes into the repository once the writer is gone.
impl Drop for WriteSession {
    fn drop(&mut self) {
        if let Some(packing) = self.unpacked.get_mut().packing.take() {
            let _ = packing.thread.join();
        }
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

/// Removes a pack file the writer made redundant; a failure leaves only a redundant copy.
fn remove_if_present(file: &Path) {
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, file = %file.display(), "could not remove a packed copy");
        }
    }
}

/// One group of commits, written into the object database and published together.
pub struct Batch<'r> {
    session: &'r WriteSession,
    store: &'r Store,
    repo: &'r Repository,
    /// The objects the group's commits added, written when the branch moves.
    pending: RefCell<Pending>,
    /// Whether they are written, all of them.
    written: std::cell::Cell<bool>,
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
        self.pending.borrow().post_at(self.repo, commit, slug)
    }

    /// A blob's bytes, `None` when the repository holds no such blob.
    ///
    /// # Errors
    /// Git errors reading the object database.
    pub fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
        self.pending.borrow().blob(self.repo, blob)
    }

    /// Composes a commit on `parent` in memory; it is written with the group's pack.
    ///
    /// # Errors
    /// Git errors reading the parent's trees, or a change git cannot record.
    pub fn write_commit(
        &self,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        // Objects written before this commit do not include its own.
        self.written.set(false);
        self.pending
            .borrow_mut()
            .write_commit(self.repo, parent, request)
    }

    /// Writes the objects kept in memory as one pack, unless already written; nothing is
    /// flushed (the branch move flushes) and nothing names them until the branch moves.
    /// Readers can use them from here on: the writer builds the next snapshot meanwhile.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_objects(&self) -> Result<(), StoreError> {
        if self.written.get() {
            return Ok(());
        }
        let pack_dir = self.repo.commondir().join("objects/pack");
        let index = pack::write_objects(&pack_dir, &self.pending.borrow().objects())?;
        self.session.unpacked.borrow_mut().group_packs.push(index);
        self.written.set(true);
        Ok(())
    }

    /// The objects the group composed, for a reader to take from memory rather than find
    /// in the group's pack (see [`HistoryReader::remember`]); none when they are more than
    /// a reader keeps, which is then no reason to copy them.
    ///
    /// [`HistoryReader::remember`]: super::HistoryReader::remember
    pub fn objects(&self) -> GroupObjects {
        let pending = self.pending.borrow();
        let objects = pending.objects();
        let bytes: usize = objects.iter().map(|object| object.data.len()).sum();
        if bytes > super::history::MEMORY_BYTES {
            return GroupObjects::default();
        }
        GroupObjects::new(
            objects
                .into_iter()
                .map(|object| (object.id, object.kind, object.data.to_vec()))
                .collect(),
        )
    }

    /// Moves the branch from `expected` to `new`, writing the objects kept in memory first
    /// (see [`Batch::write_objects`]): a compare-and-swap, see [`Store::move_branch`], which
    /// flushes the objects before the branch moves, so a crash never leaves it naming a
    /// missing object. The file the branch was in stays open until
    /// [`WriteSession::close_replaced_branch`].
    ///
    /// # Errors
    /// `BranchMoved`, `BranchLocked`, git or I/O errors.
    pub fn move_branch(
        &self,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        self.write_objects()?;
        let replaced = self
            .store
            .move_branch(self.repo, new, expected, log_message)?;
        self.session.replaced_branch.replace(Some(replaced));
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
        let file = (
            format!("posts/p{}.md", n % 3),
            format!("---\ntitle: P{n}\n---\n").into_bytes(),
        );
        let request = CommitRequest::upserts(&format!("write {n}"), &[file]);
        batch.write_commit(parent, &request).unwrap()
    }

    /// Commits `edits` edits in one group on the tip, numbered from `n`; returns the commits.
    fn group(session: &WriteSession, edits: usize, n: usize, publish: bool) -> Vec<Oid> {
        let tip = session.store().tip().unwrap();
        session
            .batch(|batch| {
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
        assert_eq!(
            (packs(&path), loose_objects(&path)),
            (0, 0),
            "nothing written"
        );

        let two = group(&session, 2, 1, true);
        assert_eq!(store.tip().unwrap(), two.last().copied());
        assert_eq!(packs(&path), 1, "several edits: one pack");

        let one = group(&session, 1, 3, true);
        assert_eq!(store.tip().unwrap(), one.last().copied());
        assert_eq!(packs(&path), 2, "one edit: one pack too");
        assert_eq!(loose_objects(&path), 0);
        all_readable(&store, &[two, one].concat());
    }

    #[test]
    fn the_writers_commits_are_packed_and_what_the_pack_replaces_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        for g in 0..GROUPS_PER_PACK + 3 {
            // Groups of one and of two edits in turn.
            commits.extend(group(&session, 1 + g % 2, commits.len(), true));
            session.pack_if_due().unwrap();
        }
        // The pack is written on a thread of its own; writes went on meanwhile.
        session.wait_for_packing().unwrap();
        // Left after the packing: the periodic pack and the packs of the three groups since.
        assert_eq!(packs(&path), 1 + 3);
        assert_eq!(loose_objects(&path), 0);
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

    /// Flushes nothing, or fails when told to: for tests of what is written.
    #[derive(Default)]
    struct NoFlush {
        fail: std::sync::atomic::AtomicBool,
        /// Makes the packing thread's flush take a while.
        slow_packer: std::sync::atomic::AtomicBool,
    }

    impl super::super::durability::Flush for NoFlush {
        fn flush(&self, _: &Path) -> std::io::Result<()> {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(std::io::Error::other("the disk is gone"));
            }
            if self.slow_packer.load(std::sync::atomic::Ordering::SeqCst)
                && std::thread::current().name() == Some("packer")
            {
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
            Ok(())
        }
    }

    /// Every commit reads back, tree included, through a fresh repository.
    /// Publishes a group of one edit (`n`) and packs if due, waiting for the packing;
    /// says whether one was finished.
    fn packed_group(session: &WriteSession, commits: &mut Vec<Oid>, n: usize) -> bool {
        commits.extend(group(session, 1, n, true));
        session.pack_if_due().unwrap();
        session.wait_for_packing().unwrap()
    }

    fn all_readable(store: &Store, commits: &[Oid]) {
        let repo = store.repository().unwrap();
        for id in commits {
            repo.find_commit(*id).unwrap().tree().unwrap();
        }
    }

    /// An empty store whose flushes go through a [`NoFlush`] the test controls.
    fn store_with_flush(dir: &Path) -> (PathBuf, Store, std::sync::Arc<NoFlush>) {
        let (path, store) = empty_store(dir);
        let flush = std::sync::Arc::new(NoFlush::default());
        let store = store.with_durability(super::super::durability::Durability::new(flush.clone()));
        (path, store, flush)
    }

    #[test]
    fn the_writer_waits_for_a_packing_when_group_packs_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store, flush) = store_with_flush(dir.path());
        let session = store.write_session();
        for n in 0..GROUPS_PER_PACK {
            group(&session, 1, n, true);
        }
        flush
            .slow_packer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(!session.pack_if_due().unwrap(), "a packing starts");
        for n in 0..MAX_GROUP_PACKS - 1 {
            group(&session, 1, n, true);
        }
        assert!(
            !session.pack_if_due().unwrap(),
            "still under way: no wait yet"
        );
        group(&session, 1, 0, true);
        assert!(session.pack_if_due().unwrap(), "waited for, then finished");
        // Its group packs are gone; the ones written since await the next packing.
        assert_eq!(packs(&path), 1 + MAX_GROUP_PACKS);
        flush
            .slow_packer
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn a_failed_packing_removes_nothing_and_the_next_one_covers_its_groups() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store, flush) = store_with_flush(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        for _ in 0..GROUPS_PER_PACK {
            commits.extend(group(&session, 1, commits.len(), true));
        }
        flush.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        session.pack_if_due().unwrap();
        assert!(session.wait_for_packing().is_err());
        assert_eq!(
            packs(&path),
            GROUPS_PER_PACK + 1,
            "the group packs and the unflushed one"
        );

        flush.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        let n = commits.len();
        assert!(packed_group(&session, &mut commits, n));
        // The pack of the failed attempt is left for `git gc`; every group pack is gone.
        assert_eq!(packs(&path), 2);
        all_readable(&store, &commits);
    }

    #[test]
    fn the_periodic_packs_are_merged_like_a_binary_counter() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store, _) = store_with_flush(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        let mut counts = Vec::new();
        for g in 0..7 * GROUPS_PER_PACK {
            let n = commits.len();
            let packed = packed_group(&session, &mut commits, n);
            assert_eq!(packed, (g + 1) % GROUPS_PER_PACK == 0, "after group {g}");
            if packed {
                counts.push(packs(&path));
            }
        }
        // Packings 1 to 7 leave packs of 1, 2, 2+1, 4, 4+1, 4+2 and 4+2+1 times
        // GROUPS_PER_PACK groups.
        assert_eq!(counts, [1, 1, 2, 1, 2, 2, 3]);
        assert_eq!(loose_objects(&path), 0);
        all_readable(&store, &commits);
        // What the session remembers of each pack is what its index lists.
        for pack in &session.unpacked.borrow().packs {
            assert_eq!(pack.ids, sorted_ids(&pack.index).unwrap());
        }
    }

    #[test]
    fn a_commit_composed_after_the_objects_were_written_is_written_with_the_branch_move() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store) = empty_store(dir.path());
        let session = store.write_session();
        let commits = session
            .batch(|batch| {
                let first = commit(batch, None, 0);
                batch.write_objects().unwrap();
                batch.write_objects().unwrap();
                assert_eq!(packs(&path), 1, "written once");
                let second = commit(batch, Some(first), 1);
                batch.move_branch(second, None, "group").unwrap();
                vec![first, second]
            })
            .unwrap();
        assert_eq!(packs(&path), 2);
        all_readable(&store, &commits);
    }

    #[test]
    fn a_group_hands_its_objects_over_unless_they_are_more_than_a_reader_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = empty_store(dir.path());
        let session = store.write_session();
        let (small, big) = session
            .batch(|batch| {
                let first = commit(batch, None, 0);
                let small = batch.objects();
                let large = vec![b'x'; super::super::history::MEMORY_BYTES];
                let request = CommitRequest::upserts("large", &[("posts/large.md".into(), large)]);
                batch.write_commit(Some(first), &request).unwrap();
                (small, batch.objects())
            })
            .unwrap();
        // A blob, the `posts` tree, the root tree and the commit.
        assert_eq!(small.len(), 4);
        assert_eq!(big.len(), 0, "read from disk instead of copied");
    }

    #[test]
    fn a_version_brought_back_is_packed_once() {
        let dir = tempfile::tempdir().unwrap();
        let (path, store, _) = store_with_flush(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        for g in 0..2 * GROUPS_PER_PACK {
            // The second packing's first group brings back the very first post version:
            // its blob is in the first periodic pack, and in the second's group packs.
            let n = if g == GROUPS_PER_PACK { 0 } else { g };
            packed_group(&session, &mut commits, n);
        }
        assert_eq!(packs(&path), 1, "the first pack was absorbed");
        let pack_dir = path.join("objects/pack");
        let index = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|file| file.extension().is_some_and(|e| e == "idx"))
            .unwrap();
        let ids = pack::object_ids(&index).unwrap();
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "no object twice");
        all_readable(&store, &commits);
    }

    #[test]
    fn packs_sharing_an_object_are_packed_anew_instead_of_merged() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store, _) = store_with_flush(dir.path());
        let session = store.write_session();
        let mut commits = Vec::new();
        for n in 0..4 {
            commits.extend(group(&session, 1, n, true));
        }
        let repo = store.repository().unwrap();
        let first = pack_commits(&store, &repo, None, commits[2]).unwrap();
        let overlapping = pack_commits(&store, &repo, Some(commits[1]), commits[3]).unwrap();
        let with_ids = |index: &PathBuf| (index.clone(), sorted_ids(index).unwrap());
        let packed = merge_into(
            &store,
            &repo,
            with_ids(&overlapping),
            &[with_ids(&first)],
            None,
            commits[3],
        )
        .unwrap();
        assert_eq!(packed.merged_away, Some(overlapping));
        let ids = sorted_ids(&packed.index).unwrap();
        assert_eq!(ids, packed.ids, "the ids it says it holds");
        assert_eq!(
            ids.len(),
            4 * 4,
            "a commit, a root tree, a posts tree and a blob each"
        );
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
        let before = packs(&path);
        group(&session, 1, 1000, true);
        assert!(!session.pack_if_due().unwrap(), "nothing removed");
        assert!(!session.packing(), "packing starts again from the new tip");
        assert_eq!(packs(&path), before + 1, "a pack added, none removed");
        let fresh = store.repository().unwrap();
        fresh.find_commit(old_tip).unwrap().tree().unwrap();
    }
}
