//! Reading the branch's history for the revision index: a first-parent walk, and a tree
//! diff that finds the post files each commit changed.
//!
//! The diff is written over git2 trees rather than with `git2::Diff`: it compares entry ids
//! and descends only into subtrees whose ids differ, so a commit that edits one post costs
//! two tree reads and one merge-join, with none of libgit2's generic diff machinery.

use std::cell::{Cell, OnceCell};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use git2::{ErrorCode, ObjectType, Odb, OdbObject, Oid, Repository, Tree};

use super::{Store, StoreError};
use crate::post::Slug;

/// A commit as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFacts {
    pub id: Oid,
    pub parents: Vec<Oid>,
    pub author_name: String,
    pub author_email: String,
    /// Committer time, seconds since the Unix epoch.
    pub committed_at: i64,
    pub message: String,
}

/// A post file that differs between a commit and its first parent: `old` is `None` when the
/// file was added, `new` when it was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFileChange {
    pub slug: Slug,
    pub old: Option<Oid>,
    pub new: Option<Oid>,
}

/// One blob path that differs between two trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeChange {
    pub path: String,
    pub old: Option<Oid>,
    pub new: Option<Oid>,
}

/// A repository handle for one long read (an index build, a snapshot's posts), so that
/// its reads share libgit2's caches and the repository is opened once.
pub struct HistoryReader {
    repo: Repository,
    /// Objects handed over in memory (see [`HistoryReader::remember`]), added on first use.
    memory: OnceCell<Memory>,
}

/// The most bytes of handed-over objects a reader keeps; past them it starts over.
pub(crate) const MEMORY_BYTES: usize = 8 << 20;

/// Above the packs and loose objects: memory is searched first, and a miss there costs a
/// hash lookup.
const MEMORY_PRIORITY: i32 = 1000;

/// A mempack backend of the reader's object database, and how many bytes it holds.
struct Memory {
    backend: *mut libgit2_sys::git_odb_backend,
    bytes: Cell<usize>,
}

// SAFETY: the backend belongs to the object database of the reader's repository, which
// frees it and which is `Send`; the reader's `Cell`s already keep it on one thread at a time.
unsafe impl Send for Memory {}

/// Objects the writer composed for a group, shared with whoever reads them next.
#[derive(Debug, Clone, Default)]
pub struct GroupObjects(Arc<Vec<(Oid, ObjectType, Vec<u8>)>>);

impl GroupObjects {
    pub(crate) fn new(objects: Vec<(Oid, ObjectType, Vec<u8>)>) -> GroupObjects {
        GroupObjects(Arc::new(objects))
    }

    /// How many objects there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Opening history readers.
impl Store {
    /// A reader over this store's repository, for one blocking unit of work.
    ///
    /// # Errors
    /// `NotARepository` when the repository cannot be opened.
    pub fn history_reader(&self) -> Result<HistoryReader, StoreError> {
        Ok(HistoryReader {
            repo: self.repository()?,
            memory: OnceCell::new(),
        })
    }

    /// The git directory (`.git` of a working tree, or the bare repository itself), where
    /// the server keeps its own files.
    ///
    /// # Errors
    /// `NotARepository` when the repository cannot be opened.
    pub fn git_dir(&self) -> Result<std::path::PathBuf, StoreError> {
        Ok(self.repository()?.path().to_path_buf())
    }

    /// Whether `commit` is reachable from the branch tip (the tip itself included).
    ///
    /// # Errors
    /// Git errors reading the graph.
    ///
    /// # Performance
    /// Walks history back from the tip; callers with an index check it first.
    pub fn reaches(&self, commit: Oid) -> Result<bool, StoreError> {
        let repo = self.repository()?;
        let Some(tip) = self.tip_in(&repo)? else {
            return Ok(false);
        };
        Ok(commit == tip || repo.graph_descendant_of(tip, commit)?)
    }
}

/// Reading a group's objects from memory.
impl HistoryReader {
    /// Reads `objects` from memory from now on. They are a group's, just written in a pack
    /// this reader has not seen: libgit2 would find them only after listing the pack folder
    /// and opening the new pack's index, while the disk is busy flushing them. Keeps at most
    /// 8 MiB (`MEMORY_BYTES`), starting over past them (what it forgets is read from disk).
    ///
    /// # Errors
    /// Git errors adding the memory to the object database or storing an object there.
    pub fn remember(&self, objects: &GroupObjects) -> Result<(), StoreError> {
        let memory = match self.memory.get() {
            Some(memory) => memory,
            None => {
                let odb = self.repo.odb()?;
                let backend = odb.add_new_mempack_backend(MEMORY_PRIORITY)?;
                self.memory.get_or_init(|| Memory {
                    backend: git2::Binding::raw(&backend),
                    bytes: Cell::new(0),
                })
            }
        };
        let size: usize = objects.0.iter().map(|(_, _, data)| data.len()).sum();
        if memory.bytes.get() + size > MEMORY_BYTES {
            // SAFETY: the backend is a live mempack of this reader's object database.
            if unsafe { libgit2_sys::git_mempack_reset(memory.backend) } < 0 {
                return Err(git2::Error::last_error(-1).into());
            }
            memory.bytes.set(0);
        }
        for (id, kind, data) in objects.0.iter() {
            memory.store(*id, *kind, data)?;
        }
        memory.bytes.set(memory.bytes.get() + size);
        Ok(())
    }
}

impl Memory {
    /// Stores one object in the mempack directly: `git_odb_write` would first look for it
    /// in the packs, refreshing them, which is the very cost the memory is there to avoid.
    fn store(&self, id: Oid, kind: ObjectType, data: &[u8]) -> Result<(), StoreError> {
        let raw_kind = match kind {
            ObjectType::Commit => libgit2_sys::GIT_OBJECT_COMMIT,
            ObjectType::Tree => libgit2_sys::GIT_OBJECT_TREE,
            ObjectType::Blob => libgit2_sys::GIT_OBJECT_BLOB,
            ObjectType::Tag => libgit2_sys::GIT_OBJECT_TAG,
            ObjectType::Any => return Err(git2::Error::from_str("an object without a type").into()),
        };
        let mut raw_id = libgit2_sys::git_oid {
            id: [0; libgit2_sys::GIT_OID_MAX_SIZE],
        };
        raw_id.id[..id.as_bytes().len()].copy_from_slice(id.as_bytes());
        // SAFETY: a mempack always has `write`; it copies `data` before returning, and the
        // backend lives as long as the reader's repository.
        let written = unsafe {
            let write = (*self.backend).write.expect("a mempack writes");
            write(
                self.backend,
                &raw_id,
                data.as_ptr().cast(),
                data.len(),
                raw_kind,
            )
        };
        if written < 0 {
            return Err(git2::Error::last_error(written).into());
        }
        Ok(())
    }
}

/// Walking first parents and diffing trees.
impl HistoryReader {
    /// The tip of `store`'s branch, read through this reader's repository.
    ///
    /// # Errors
    /// Git errors other than a missing branch.
    pub fn tip(&self, store: &Store) -> Result<Option<Oid>, StoreError> {
        store.tip_in(&self.repo)
    }

    /// Every post file in the tree of `commit`; see [`Store::post_files`].
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_files(&self, commit: Oid) -> Result<Vec<super::PostFile>, StoreError> {
        super::read::post_files_in(&self.repo, commit)
    }

    /// The first-parent chain from `tip`, newest first, stopping before the first commit
    /// for which `known` holds; that commit is returned alongside (`None`: the walk reached
    /// the root).
    ///
    /// # Errors
    /// Git errors reading commits.
    pub fn first_parent_chain(
        &self,
        tip: Oid,
        known: impl Fn(Oid) -> bool,
    ) -> Result<(Vec<CommitFacts>, Option<Oid>), StoreError> {
        let mut chain = Vec::new();
        let mut next = Some(tip);
        while let Some(id) = next {
            if known(id) {
                return Ok((chain, Some(id)));
            }
            let commit = self.repo.find_commit(id)?;
            let author = commit.author();
            let parents: Vec<Oid> = commit.parent_ids().collect();
            next = parents.first().copied();
            chain.push(CommitFacts {
                id,
                parents,
                author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
                committed_at: commit.committer().when().seconds(),
                message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
            });
        }
        Ok((chain, None))
    }

    /// For each commit of `commits` (oldest first, each the first parent of the next; the
    /// first one's first parent is `base`), the post files it changed, passed to `each`.
    ///
    /// # Errors
    /// Git errors reading commits and trees, and any error of `each`.
    pub fn post_changes_along<E: From<StoreError>>(
        &self,
        base: Option<Oid>,
        commits: impl Iterator<Item = Oid>,
        mut each: impl FnMut(Oid, Vec<PostFileChange>) -> Result<(), E>,
    ) -> Result<(), E> {
        let odb = self.repo.odb().map_err(|e| E::from(e.into()))?;
        let mut trees = TreeCache::new(&odb);
        let mut previous = match base {
            Some(id) => Some(self.root_tree_id(id).map_err(E::from)?),
            None => None,
        };
        for id in commits {
            let root = self.root_tree_id(id).map_err(E::from)?;
            let mut changed = Vec::new();
            diff_trees(
                &mut trees,
                previous,
                Some(root),
                "",
                &|dir| dir == "posts",
                &mut changed,
            )
            .map_err(|e| E::from(e.into()))?;
            trees.next_step();
            let posts = changed
                .into_iter()
                .filter_map(|change| {
                    Some(PostFileChange {
                        slug: Slug::from_path(&change.path)?,
                        old: change.old,
                        new: change.new,
                    })
                })
                .collect();
            each(id, posts)?;
            previous = Some(root);
        }
        Ok(())
    }

    /// The bytes of a blob.
    ///
    /// # Errors
    /// Git errors, including an unknown blob.
    pub fn blob(&self, id: Oid) -> Result<Vec<u8>, StoreError> {
        Ok(self.repo.find_blob(id)?.content().to_vec())
    }

    /// The post file `slug` in the tree of `commit`: its blob, or `None` when absent.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_blob_at(&self, commit: Oid, slug: &Slug) -> Result<Option<Oid>, StoreError> {
        let tree = self.root_tree(commit)?;
        match tree.get_path(std::path::Path::new(&slug.path())) {
            Ok(entry) if entry.kind() == Some(ObjectType::Blob) => Ok(Some(entry.id())),
            Ok(_) => Ok(None),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The commit a client names by full id or unambiguous prefix, without checking that
    /// the branch reaches it (see [`Store::resolve_revision`] for the rules on `rev`).
    ///
    /// # Errors
    /// `InvalidRevision`, `UnknownRevision` or `AmbiguousRevision`.
    pub fn lookup_commit(&self, rev: &str) -> Result<Oid, StoreError> {
        super::read::lookup_commit_in(&self.repo, rev)
    }

    fn root_tree(&self, commit: Oid) -> Result<Tree<'_>, StoreError> {
        Ok(self.repo.find_commit(commit)?.tree()?)
    }

    fn root_tree_id(&self, commit: Oid) -> Result<Oid, StoreError> {
        Ok(self.repo.find_commit(commit)?.tree_id())
    }
}

/// Trees read while diffing one commit, kept for the next commit: there the new side of
/// this step is the old side, so each tree is read and split into entries once per walk.
struct TreeCache<'odb> {
    odb: &'odb Odb<'odb>,
    current: HashMap<Oid, Rc<RawTree<'odb>>>,
    previous: HashMap<Oid, Rc<RawTree<'odb>>>,
}

impl<'odb> TreeCache<'odb> {
    fn new(odb: &'odb Odb<'odb>) -> TreeCache<'odb> {
        TreeCache {
            odb,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn get(&mut self, id: Oid) -> Result<Rc<RawTree<'odb>>, git2::Error> {
        if let Some(tree) = self.current.get(&id) {
            return Ok(tree.clone());
        }
        let tree = match self.previous.remove(&id) {
            Some(tree) => tree,
            None => Rc::new(RawTree::read(self.odb, id)?),
        };
        self.current.insert(id, tree.clone());
        Ok(tree)
    }

    fn next_step(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// A tree object as stored (`<mode> <name>\0<20-byte id>` per entry, sorted), with where
/// each entry lies in it.
struct RawTree<'odb> {
    object: OdbObject<'odb>,
    entries: Vec<RawEntry>,
}

/// Byte offsets of one entry in its tree: it spans `start..nul + 21`, its name is
/// `name..nul` and its id the 20 bytes after `nul`.
#[derive(Clone, Copy)]
struct RawEntry {
    start: u32,
    name: u32,
    nul: u32,
    /// `Tree`, `Blob` (files and symlinks) or `Commit` (a submodule); `None` if unknown.
    kind: Option<ObjectType>,
}

impl<'odb> RawTree<'odb> {
    fn read(odb: &'odb Odb<'odb>, id: Oid) -> Result<RawTree<'odb>, git2::Error> {
        let object = odb.read(id)?;
        if object.kind() != ObjectType::Tree {
            return Err(git2::Error::from_str(&format!("{id} is not a tree")));
        }
        let malformed = || git2::Error::from_str(&format!("tree {id} is malformed"));
        let data = object.data();
        let mut entries = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let space = at
                + data[at..]
                    .iter()
                    .position(|&b| b == b' ')
                    .ok_or_else(malformed)?;
            let nul = space
                + data[space..]
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(malformed)?;
            if nul + 21 > data.len() {
                return Err(malformed());
            }
            let kind = match &data[at..space] {
                b"40000" => Some(ObjectType::Tree),
                b"100644" | b"100755" | b"100664" | b"120000" => Some(ObjectType::Blob),
                b"160000" => Some(ObjectType::Commit),
                _ => None,
            };
            entries.push(RawEntry {
                start: at as u32,
                name: space as u32 + 1,
                nul: nul as u32,
                kind,
            });
            at = nul + 21;
        }
        Ok(RawTree { object, entries })
    }

    fn bytes(&self, entry: &RawEntry) -> &[u8] {
        &self.object.data()[entry.start as usize..entry.nul as usize + 21]
    }

    fn name(&self, entry: &RawEntry) -> &[u8] {
        &self.object.data()[entry.name as usize..entry.nul as usize]
    }

    fn id(&self, entry: &RawEntry) -> Oid {
        let at = entry.nul as usize + 1;
        Oid::from_bytes(&self.object.data()[at..at + 20]).expect("20 bytes make an object id")
    }
}

/// Appends to `out` every blob path that differs between the trees `old` and `new` (either
/// may be absent), descending only into subtrees whose ids differ and for which `descend`
/// holds.
///
/// # Performance
/// A merge-join over the two trees' raw entries: an unchanged entry is one byte comparison
/// (mode, name and id at once), with no parsing into objects and no allocation; only
/// changed paths allocate.
fn diff_trees(
    trees: &mut TreeCache<'_>,
    old: Option<Oid>,
    new: Option<Oid>,
    prefix: &str,
    descend: &dyn Fn(&str) -> bool,
    out: &mut Vec<TreeChange>,
) -> Result<(), git2::Error> {
    let old = old.map(|id| trees.get(id)).transpose()?;
    let new = new.map(|id| trees.get(id)).transpose()?;
    let no_entries: &[RawEntry] = &[];
    let old_entries = old.as_ref().map_or(no_entries, |t| &t.entries);
    let new_entries = new.as_ref().map_or(no_entries, |t| &t.entries);
    let (mut i, mut j) = (0, 0);
    while i < old_entries.len() || j < new_entries.len() {
        let pair = (old_entries.get(i), new_entries.get(j));
        let order = match (&old, &new, pair) {
            (Some(old), Some(new), (Some(a), Some(b))) => {
                if old.bytes(a) == new.bytes(b) {
                    i += 1;
                    j += 1;
                    continue;
                }
                git_order((old.name(a), a.kind), (new.name(b), b.kind))
            }
            (_, _, (Some(_), None)) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let left = (order != Ordering::Greater)
            .then(|| old.as_ref().zip(old_entries.get(i)))
            .flatten();
        let right = (order != Ordering::Less)
            .then(|| new.as_ref().zip(new_entries.get(j)))
            .flatten();
        i += usize::from(left.is_some());
        j += usize::from(right.is_some());
        let of_kind = |side: Option<(&Rc<RawTree<'_>>, &RawEntry)>, kind: ObjectType| {
            side.filter(|(_, e)| e.kind == Some(kind))
                .map(|(tree, e)| tree.id(e))
        };
        let named = left
            .or(right)
            .map(|(tree, e)| tree.name(e))
            .unwrap_or_default();
        let path = format!("{prefix}{}", String::from_utf8_lossy(named));
        let (old_blob, new_blob) = (
            of_kind(left, ObjectType::Blob),
            of_kind(right, ObjectType::Blob),
        );
        if old_blob != new_blob {
            out.push(TreeChange {
                path: path.clone(),
                old: old_blob,
                new: new_blob,
            });
        }
        let (old_tree, new_tree) = (
            of_kind(left, ObjectType::Tree),
            of_kind(right, ObjectType::Tree),
        );
        if old_tree != new_tree && descend(&path) {
            diff_trees(trees, old_tree, new_tree, &format!("{path}/"), descend, out)?;
        }
    }
    Ok(())
}

/// Git's order of tree entries: by name, a subtree sorting as if its name ended in `/`.
/// Entries with the same name and kind compare equal (the same path on both sides).
fn git_order(a: (&[u8], Option<ObjectType>), b: (&[u8], Option<ObjectType>)) -> Ordering {
    let (x, y) = (a.0, b.0);
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let next = |name: &[u8], kind: Option<ObjectType>| match name.get(common) {
            Some(&byte) => Some(byte),
            None if kind == Some(ObjectType::Tree) => Some(b'/'),
            None => None,
        };
        match (next(x, a.1), next(y, b.1)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(p), Some(q)) => p.cmp(&q).then(x.len().cmp(&y.len())),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{FileMode, build::TreeUpdateBuilder};

    fn tree_with(repo: &Repository, files: &[(&str, &str)]) -> Oid {
        let empty = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap());
        let mut update = TreeUpdateBuilder::new();
        for (path, content) in files {
            update.upsert(
                *path,
                repo.blob(content.as_bytes()).unwrap(),
                FileMode::Blob,
            );
        }
        update.create_updated(repo, &empty.unwrap()).unwrap()
    }

    fn changes(old: &[(&str, &str)], new: &[(&str, &str)]) -> Vec<(String, bool, bool)> {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let (old, new) = (tree_with(&repo, old), tree_with(&repo, new));
        let odb = repo.odb().unwrap();
        let mut out = Vec::new();
        let mut trees = TreeCache::new(&odb);
        diff_trees(&mut trees, Some(old), Some(new), "", &|_| true, &mut out).unwrap();
        out.into_iter()
            .map(|c| (c.path, c.old.is_some(), c.new.is_some()))
            .collect()
    }

    /// A group's objects composed in memory on `parent`, never written to disk.
    fn composed_in_memory(repo: &Repository, parent: Option<Oid>) -> (Oid, GroupObjects) {
        let mut pending = super::super::compose::Pending::default();
        let file = b"---\ntitle: In memory\n---\n".to_vec();
        let request = super::super::CommitRequest::upserts(
            "not on disk",
            &[("posts/in-memory.md".into(), file)],
        );
        let commit = pending.write_commit(repo, parent, &request).unwrap();
        let objects = pending
            .objects()
            .iter()
            .map(|object| (object.id, object.kind, object.data.to_vec()))
            .collect();
        (commit, GroupObjects::new(objects))
    }

    #[test]
    fn a_reader_reads_the_objects_handed_to_it_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        let (commit, objects) = composed_in_memory(&store.repository().unwrap(), None);
        let reader = store.history_reader().unwrap();
        assert!(reader.first_parent_chain(commit, |_| false).is_err());

        reader.remember(&objects).unwrap();
        let (chain, _) = reader.first_parent_chain(commit, |_| false).unwrap();
        assert_eq!(chain[0].message, "not on disk");
        let files = reader.post_files(commit).unwrap();
        assert_eq!(files[0].slug.as_str(), "in-memory");
        // Only in this reader's memory: the repository itself never had them.
        assert!(store.history_reader().unwrap().blob(files[0].blob).is_err());
    }

    #[test]
    fn a_reader_forgets_what_it_was_handed_once_it_holds_too_much() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        let reader = store.history_reader().unwrap();
        let big = |fill: u8| {
            let data = vec![fill; MEMORY_BYTES * 2 / 3];
            let id = Oid::hash_object(ObjectType::Blob, &data).unwrap();
            (id, GroupObjects::new(vec![(id, ObjectType::Blob, data)]))
        };
        let ((first, first_objects), (second, second_objects)) = (big(1), big(2));
        reader.remember(&first_objects).unwrap();
        assert!(reader.blob(first).is_ok());

        reader.remember(&second_objects).unwrap();
        assert!(reader.blob(second).is_ok());
        assert!(reader.blob(first).is_err(), "the first group is forgotten");
    }

    #[test]
    fn the_tree_diff_names_added_modified_and_deleted_files() {
        let old = [("posts/a.md", "a"), ("posts/b.md", "b"), ("README", "r")];
        let new = [("posts/b.md", "b2"), ("posts/c.md", "c"), ("README", "r")];
        assert_eq!(
            changes(&old, &new),
            [
                ("posts/a.md".to_string(), true, false),
                ("posts/b.md".to_string(), true, true),
                ("posts/c.md".to_string(), false, true),
            ]
        );
    }

    #[test]
    fn the_tree_diff_skips_identical_subtrees_and_handles_a_file_becoming_a_folder() {
        let old = [("assets/x.png", "x"), ("posts", "a file")];
        let new = [("assets/x.png", "x"), ("posts/a.md", "a")];
        assert_eq!(
            changes(&old, &new),
            [
                ("posts".to_string(), true, false),
                ("posts/a.md".to_string(), false, true),
            ]
        );
    }

    #[test]
    fn the_tree_diff_orders_entries_as_git_does() {
        // `a.md` sorts before the folder `a` (as `a/`), which sorts before `a0`.
        let old = [("a.md", "1"), ("a/x", "2"), ("a0", "3")];
        let new = [("a.md", "1"), ("a/x", "2b"), ("a0", "3")];
        assert_eq!(changes(&old, &new), [("a/x".to_string(), true, true)]);
    }
}
