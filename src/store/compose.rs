//! A group's commits composed in memory: blobs, trees and commits serialised as git writes
//! them and hashed, kept until the group's pack is written (see `pack`).
//!
//! libgit2 writes every object through its object database, which first looks for it and,
//! not finding it (a new object never is there), rescans the pack folder; that rescan and
//! its "not found" error were a fifth of a small commit's cost. Here nothing touches the
//! object database but reads of what the repository already holds. Only the trees on a
//! changed path are rewritten, as with libgit2's `TreeUpdateBuilder`; the tests check
//! that both give the same ids.

use std::cmp::Ordering;
use std::collections::HashMap;

use git2::{ObjectType, Oid, Repository};

use super::commit::{Change, CommitRequest};
use super::pack::PackObject;
use super::{Identity, StoreError};
use crate::post::Slug;

/// Git's file modes for the entries the writer creates.
const BLOB_MODE: i32 = 0o100644;
const TREE_MODE: i32 = 0o040000;

/// The objects a group wrote, in memory, in the order written.
#[derive(Default)]
pub(crate) struct Pending {
    objects: HashMap<Oid, (ObjectType, Vec<u8>)>,
    order: Vec<Oid>,
    /// The previous group's objects, read instead of the repository: the next group usually
    /// builds on its commit, which the repository would first have to find on disk.
    earlier: HashMap<Oid, (ObjectType, Vec<u8>)>,
}

/// The most bytes of a group's objects kept for the next group to read.
const EARLIER_BYTES: usize = 8 << 20;

/// One entry of a tree: raw mode, name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    mode: i32,
    pub name: Vec<u8>,
    pub id: Oid,
}

impl Entry {
    pub(super) fn is_tree(&self) -> bool {
        self.mode & 0o170000 == TREE_MODE
    }

    /// A file or a symbolic link: what git stores as a blob (not a submodule's commit).
    pub(super) fn is_blob(&self) -> bool {
        matches!(self.mode & 0o170000, 0o100000 | 0o120000)
    }
}

impl Pending {
    /// A group after `previous`, reading its objects from memory when they are not too big.
    pub(crate) fn after(previous: Pending) -> Pending {
        let bytes: usize = previous.objects.values().map(|(_, data)| data.len()).sum();
        Pending {
            earlier: if bytes <= EARLIER_BYTES {
                previous.objects
            } else {
                HashMap::new()
            },
            ..Pending::default()
        }
    }

    fn get(&self, id: &Oid) -> Option<&(ObjectType, Vec<u8>)> {
        self.objects.get(id).or_else(|| self.earlier.get(id))
    }

    /// The group's objects for its pack.
    pub(crate) fn objects(&self) -> Vec<PackObject<'_>> {
        self.order
            .iter()
            .map(|id| {
                let (kind, data) = &self.objects[id];
                PackObject {
                    id: *id,
                    kind: *kind,
                    data,
                }
            })
            .collect()
    }

    fn add(&mut self, kind: ObjectType, data: Vec<u8>) -> Result<Oid, StoreError> {
        let id = Oid::hash_object(kind, &data)?;
        if self.objects.insert(id, (kind, data)).is_none() {
            self.order.push(id);
        }
        Ok(id)
    }

    /// Writes a commit on top of `parent` with the request's changes; nothing reaches the
    /// disk until the group's pack is written.
    ///
    /// # Errors
    /// Git errors reading the parent's trees; `Io` (invalid data) when a changed path runs
    /// through a file, or for a name or email git cannot record.
    pub(crate) fn write_commit(
        &mut self,
        repo: &Repository,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        let mut root = Folder::default();
        if let Some(parent) = parent {
            let tree = self.commit_tree(repo, parent)?;
            root.entries = self.tree_entries(repo, tree)?;
        }
        for change in &request.changes {
            let (path, blob) = match change {
                Change::Upsert { path, content } => {
                    (path, Some(self.add(ObjectType::Blob, content.clone())?))
                }
                Change::Delete { path } => (path, None),
            };
            let parts: Vec<&[u8]> = path.as_bytes().split(|b| *b == b'/').collect();
            root.set(self, repo, &parts, blob)?;
        }
        let root = self.write_folder(root)?;
        let tree = match root {
            Some(tree) => tree,
            None => self.add(ObjectType::Tree, Vec::new())?,
        };
        let mut text = format!("tree {tree}\n");
        if let Some(parent) = parent {
            text.push_str(&format!("parent {parent}\n"));
        }
        let time = request.time;
        let mut bytes = text.into_bytes();
        signature_line(&mut bytes, "author", &request.author, time)?;
        signature_line(&mut bytes, "committer", &request.committer, time)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(request.message.as_bytes());
        self.add(ObjectType::Commit, bytes)
    }

    /// Writes a folder's changed subfolders, then the folder itself; `None` when it is
    /// empty, since git stores no empty folder.
    fn write_folder(&mut self, folder: Folder) -> Result<Option<Oid>, StoreError> {
        let Folder {
            mut entries,
            changed,
        } = folder;
        for (name, inner) in changed {
            let found = entries.iter().position(|entry| entry.name == name);
            let id = self.write_folder(inner)?;
            match (found, id) {
                (Some(at), Some(id)) => {
                    entries[at] = Entry {
                        mode: TREE_MODE,
                        name,
                        id,
                    };
                }
                (Some(at), None) => {
                    entries.remove(at);
                }
                (None, Some(id)) => insert_in_order(
                    &mut entries,
                    Entry {
                        mode: TREE_MODE,
                        name,
                        id,
                    },
                ),
                (None, None) => {}
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(entries.len() * 48);
        for entry in &entries {
            bytes.extend_from_slice(format!("{:o} ", entry.mode).as_bytes());
            bytes.extend_from_slice(&entry.name);
            bytes.push(0);
            bytes.extend_from_slice(entry.id.as_bytes());
        }
        self.add(ObjectType::Tree, bytes).map(Some)
    }

    /// A tree's entries, from this group's objects or the repository.
    fn tree_entries(&self, repo: &Repository, tree: Oid) -> Result<Vec<Entry>, StoreError> {
        if let Some((_, bytes)) = self.get(&tree) {
            return parse_tree(bytes);
        }
        Ok(repo
            .find_tree(tree)?
            .iter()
            .map(|entry| Entry {
                mode: entry.filemode_raw(),
                name: entry.name_bytes().to_vec(),
                id: entry.id(),
            })
            .collect())
    }

    /// The tree a commit records, from this group's objects or the repository.
    fn commit_tree(&self, repo: &Repository, commit: Oid) -> Result<Oid, StoreError> {
        match self.get(&commit) {
            Some((_, bytes)) => {
                recorded_id(bytes, "tree").ok_or_else(|| invalid("a commit without a tree"))
            }
            None => Ok(repo.find_commit(commit)?.tree_id()),
        }
    }

    /// The post's blob and bytes as of `commit`, `None` when it has no such post.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub(crate) fn post_at(
        &self,
        repo: &Repository,
        commit: Oid,
        slug: &Slug,
    ) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        let mut tree = self.commit_tree(repo, commit)?;
        let path = slug.path();
        let mut parts = path.split('/').peekable();
        while let Some(name) = parts.next() {
            let entries = self.tree_entries(repo, tree)?;
            let Some(entry) = entries.into_iter().find(|e| e.name == name.as_bytes()) else {
                return Ok(None);
            };
            if parts.peek().is_some() {
                if !entry.is_tree() {
                    return Ok(None);
                }
                tree = entry.id;
            } else if entry.is_blob() {
                return Ok(self.blob(repo, entry.id)?.map(|bytes| (entry.id, bytes)));
            }
        }
        Ok(None)
    }

    /// A blob's bytes, `None` when neither the group nor the repository holds it.
    ///
    /// # Errors
    /// Git errors reading the object database.
    pub(crate) fn blob(&self, repo: &Repository, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
        match self.get(&blob) {
            Some((ObjectType::Blob, bytes)) => Ok(Some(bytes.clone())),
            Some(_) => Ok(None),
            None => super::read::blob_in(repo, blob),
        }
    }
}

/// A folder being changed: its entries, and the subfolders changed under it (written
/// first, since their ids go into its entries).
#[derive(Default)]
struct Folder {
    entries: Vec<Entry>,
    changed: Vec<(Vec<u8>, Folder)>,
}

impl Folder {
    /// Sets the file at `path` (under this folder) to `blob`, or removes it.
    fn set(
        &mut self,
        pending: &Pending,
        repo: &Repository,
        path: &[&[u8]],
        blob: Option<Oid>,
    ) -> Result<(), StoreError> {
        let Some((name, rest)) = path.split_first() else {
            return Err(invalid("an empty path"));
        };
        let found = self.entries.iter().position(|entry| entry.name == *name);
        if rest.is_empty() {
            match (found, blob) {
                (Some(at), Some(id)) => {
                    self.entries[at] = Entry {
                        mode: BLOB_MODE,
                        name: name.to_vec(),
                        id,
                    };
                }
                (Some(at), None) => {
                    self.entries.remove(at);
                }
                (None, Some(id)) => insert_in_order(
                    &mut self.entries,
                    Entry {
                        mode: BLOB_MODE,
                        name: name.to_vec(),
                        id,
                    },
                ),
                (None, None) => return Err(invalid("a deleted file is not in the tree")),
            }
            return Ok(());
        }
        let at = match self.changed.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                let entries = match found.map(|at| &self.entries[at]) {
                    Some(entry) if entry.is_tree() => pending.tree_entries(repo, entry.id)?,
                    Some(_) => return Err(invalid("a changed path runs through a file")),
                    None => Vec::new(),
                };
                self.changed.push((
                    name.to_vec(),
                    Folder {
                        entries,
                        changed: Vec::new(),
                    },
                ));
                self.changed.len() - 1
            }
        };
        self.changed[at].1.set(pending, repo, rest, blob)
    }
}

/// Inserts an entry where git's order puts it.
fn insert_in_order(entries: &mut Vec<Entry>, entry: Entry) {
    let at = entries
        .iter()
        .position(|other| git_order(other, &entry) == Ordering::Greater)
        .unwrap_or(entries.len());
    entries.insert(at, entry);
}

/// Git's order of tree entries: by name, a folder's name compared as if it ended in `/`.
fn git_order(a: &Entry, b: &Entry) -> Ordering {
    let key = |entry: &Entry, at: usize| -> u8 {
        match entry.name.get(at) {
            Some(byte) => *byte,
            None if entry.is_tree() => b'/',
            None => 0,
        }
    };
    let common = a.name.len().min(b.name.len());
    match a.name[..common].cmp(&b.name[..common]) {
        Ordering::Equal => key(a, common)
            .cmp(&key(b, common))
            .then(a.name.len().cmp(&b.name.len())),
        other => other,
    }
}

/// A tree object's entries: `<octal mode> <name>\0<20-byte id>` each.
pub(super) fn parse_tree(mut bytes: &[u8]) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|b| *b == b' ');
        let nul = bytes.iter().position(|b| *b == 0);
        let (Some(space), Some(nul)) = (space, nul) else {
            return Err(invalid("a malformed tree"));
        };
        let mode = std::str::from_utf8(&bytes[..space])
            .ok()
            .and_then(|octal| i32::from_str_radix(octal, 8).ok())
            .ok_or_else(|| invalid("a malformed tree mode"))?;
        let id = bytes
            .get(nul + 1..nul + 21)
            .ok_or_else(|| invalid("a truncated tree"))?;
        entries.push(Entry {
            mode,
            name: bytes[space + 1..nul].to_vec(),
            id: Oid::from_bytes(id)?,
        });
        bytes = &bytes[nul + 21..];
    }
    Ok(entries)
}

/// The first id a commit's headers give `field` (`tree`, `parent`), if any.
pub(super) fn recorded_id(commit: &[u8], field: &str) -> Option<Oid> {
    commit
        .split(|byte| *byte == b'\n')
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(field.as_bytes())?.strip_prefix(b" "))
        .and_then(|hex| std::str::from_utf8(hex).ok())
        .and_then(|hex| Oid::from_str(hex).ok())
}

/// `<header> Name <email> <seconds> <±hhmm>\n`, as libgit2 writes it; the name and email
/// go through libgit2's checks (no `<`, `>` or newline).
fn signature_line(
    bytes: &mut Vec<u8>,
    header: &str,
    who: &Identity,
    time: Option<git2::Time>,
) -> Result<(), StoreError> {
    let signature = who.signature(time)?;
    let when = signature.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 || when.sign() == '-' {
        '-'
    } else {
        '+'
    };
    let offset = offset.unsigned_abs();
    bytes.extend_from_slice(format!("{header} ").as_bytes());
    bytes.extend_from_slice(signature.name_bytes());
    bytes.extend_from_slice(b" <");
    bytes.extend_from_slice(signature.email_bytes());
    bytes.extend_from_slice(
        format!(
            "> {} {sign}{:02}{:02}\n",
            when.seconds(),
            offset / 60,
            offset % 60
        )
        .as_bytes(),
    );
    Ok(())
}

fn invalid(why: &str) -> StoreError {
    StoreError::Io {
        context: "composing a commit".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn request(changes: Vec<Change>, time: git2::Time, message: &str) -> CommitRequest {
        CommitRequest {
            author: Identity::parse("Mira Okafor <mira@example.org>").unwrap(),
            committer: Identity::parse("Palimpsest Server <server@example.org>").unwrap(),
            message: message.into(),
            time: Some(time),
            changes,
        }
    }

    fn upsert(path: &str, content: &str) -> Change {
        Change::Upsert {
            path: path.into(),
            content: content.as_bytes().to_vec(),
        }
    }

    fn delete(path: &str) -> Change {
        Change::Delete { path: path.into() }
    }

    /// Writes every request in turn both ways (each on its own previous commit) and checks
    /// that they give the same commit ids.
    fn same_ids_as_libgit2(requests: &[CommitRequest]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.git");
        let repo = Repository::init_bare(&path).unwrap();
        let store = Store::open(&path, "main").unwrap();
        let mut pending = Pending::default();
        let (mut ours, mut theirs) = (None, None);
        for request in requests {
            let next = pending.write_commit(&repo, ours, request).unwrap();
            let reference = store.write_commit(&repo, theirs, request).unwrap();
            assert_eq!(next, reference, "{:?}", request.changes);
            (ours, theirs) = (Some(next), Some(reference));
        }
        // What was written reads back through the group's own objects.
        let odb = repo.odb().unwrap();
        for object in pending.objects() {
            let stored = odb.read(object.id).unwrap();
            assert_eq!((stored.kind(), stored.data()), (object.kind, object.data));
        }
    }

    #[test]
    fn commits_are_the_ones_libgit2_writes() {
        let utc = git2::Time::new(1_764_400_000, 0);
        let behind = git2::Time::new(1_764_400_100, -330);
        let ahead = git2::Time::new(1_764_400_200, 545);
        same_ids_as_libgit2(&[
            request(vec![upsert("posts/b.md", "b")], utc, "Create post b"),
            // Inserted before, after and between, in folders and at the top.
            request(vec![upsert("posts/a.md", "a")], behind, "two\n\nlines\n"),
            request(
                vec![upsert("posts/c.md", "c"), upsert("README", "r")],
                ahead,
                "é",
            ),
            // `posts.md` and `posts-x` sort before the folder `posts`, compared as `posts/`.
            request(
                vec![upsert("posts.md", "x"), upsert("posts-x/y.md", "y")],
                utc,
                "m",
            ),
            request(vec![upsert("assets/img/plot.svg", "<svg/>")], utc, "deep"),
            request(vec![upsert("posts/b.md", "b2")], utc, "modify"),
            // A rename, then folders emptied by deletions disappear.
            request(
                vec![delete("posts/a.md"), upsert("posts/z.md", "a")],
                utc,
                "mv",
            ),
            request(vec![delete("assets/img/plot.svg")], utc, "rm deep"),
            request(
                vec![
                    delete("posts/b.md"),
                    delete("posts/c.md"),
                    delete("posts/z.md"),
                ],
                utc,
                "rm all",
            ),
        ]);
    }

    /// A root commit holding `posts/a.md` (`A`), composed in `pending`.
    fn first_post(pending: &mut Pending, repo: &Repository, time: git2::Time) -> Oid {
        let request = request(vec![upsert("posts/a.md", "A")], time, "m");
        pending.write_commit(repo, None, &request).unwrap()
    }

    #[test]
    fn posts_and_blobs_read_through_the_groups_objects() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path().join("r.git")).unwrap();
        let mut pending = Pending::default();
        let time = git2::Time::new(1_764_400_000, 60);
        let first = first_post(&mut pending, &repo, time);
        let slug = Slug::parse("a").unwrap();
        let (blob, bytes) = pending.post_at(&repo, first, &slug).unwrap().unwrap();
        assert_eq!(bytes, b"A");
        assert_eq!(pending.blob(&repo, blob).unwrap().unwrap(), b"A");
        let missing = Slug::parse("b").unwrap();
        assert_eq!(pending.post_at(&repo, first, &missing).unwrap(), None);
        assert!(
            pending
                .write_commit(
                    &repo,
                    Some(first),
                    &request(vec![upsert("posts/a.md/x", "")], time, "m")
                )
                .is_err(),
            "a path through a file"
        );
    }

    #[test]
    fn a_group_reads_the_previous_groups_objects_but_writes_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path().join("r.git")).unwrap();
        let time = git2::Time::new(1_764_400_000, 0);
        let mut first = Pending::default();
        let one = first_post(&mut first, &repo, time);
        let mut next = Pending::after(first);
        // Nothing of the first group is on disk: it is read from memory.
        let slug = Slug::parse("a").unwrap();
        let (blob, _) = next.post_at(&repo, one, &slug).unwrap().unwrap();
        let same = request(vec![upsert("posts/b.md", "A")], time, "m");
        next.write_commit(&repo, Some(one), &same).unwrap();
        let written: Vec<Oid> = next.objects().iter().map(|o| o.id).collect();
        assert!(
            written.contains(&blob),
            "a blob the previous group wrote too"
        );
        assert!(!written.contains(&one));
    }

    #[test]
    fn a_post_reads_as_the_repository_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path().join("r.git")).unwrap();
        let blob = repo.blob(b"---\ntitle: T\n---\n").unwrap();
        let mut posts = repo.treebuilder(None).unwrap();
        posts.insert("file.md", blob, 0o100644).unwrap();
        posts.insert("link.md", blob, 0o120000).unwrap();
        posts
            .insert(
                "folder.md",
                repo.treebuilder(None).unwrap().write().unwrap(),
                0o040000,
            )
            .unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("posts", posts.write().unwrap(), 0o040000)
            .unwrap();
        let root = repo.find_tree(root.write().unwrap()).unwrap();
        let who = git2::Signature::now("A", "a@example.org").unwrap();
        let commit = repo.commit(None, &who, &who, "m", &root, &[]).unwrap();
        for slug in ["file", "link", "folder", "none"] {
            let slug = Slug::parse(slug).unwrap();
            assert_eq!(
                Pending::default().post_at(&repo, commit, &slug).unwrap(),
                super::super::read::post_at_in(&repo, commit, &slug).unwrap(),
                "{slug}"
            );
        }
    }

    #[test]
    fn folders_sort_as_if_their_name_ended_in_a_slash() {
        let entry = |name: &str, mode| Entry {
            mode,
            name: name.as_bytes().to_vec(),
            id: Oid::ZERO_SHA1,
        };
        let folder = entry("posts", TREE_MODE);
        let order = |name, mode| git_order(&entry(name, mode), &folder);
        assert_eq!(order("posts.md", BLOB_MODE), Ordering::Less);
        assert_eq!(order("posts-x", TREE_MODE), Ordering::Less);
        assert_eq!(order("posts0", BLOB_MODE), Ordering::Greater);
        assert_eq!(order("posts", BLOB_MODE), Ordering::Less);
    }
}
