//! Reading the branch's history for the revision index: a first-parent walk, and a tree
//! diff that finds the post files each commit changed.
//!
//! The diff is written over git2 trees rather than with `git2::Diff`: it compares entry ids
//! and descends only into subtrees whose ids differ, so a commit that edits one post costs
//! two tree reads and one merge-join, with none of libgit2's generic diff machinery.

use std::cmp::Ordering;
use std::collections::HashMap;

use git2::{ErrorCode, ObjectType, Oid, Repository, Tree};

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

/// A repository handle for one long read of history (an index build), so that the walk
/// and the tree diffs share libgit2's caches.
pub struct HistoryReader {
    repo: Repository,
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

/// Walking first parents and diffing trees.
impl HistoryReader {
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
        let mut trees = TreeCache::default();
        let mut previous = match base {
            Some(id) => Some(self.root_tree(id).map_err(E::from)?),
            None => None,
        };
        for id in commits {
            let root = self.root_tree(id).map_err(E::from)?;
            let mut changed = Vec::new();
            diff_trees(
                &self.repo,
                &mut trees,
                previous.as_ref(),
                Some(&root),
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
}

/// Subtrees loaded while diffing one commit, kept for the next commit: there the new side
/// of this step is the old side, so each tree is read once per walk.
#[derive(Default)]
struct TreeCache<'repo> {
    current: HashMap<Oid, Tree<'repo>>,
    previous: HashMap<Oid, Tree<'repo>>,
}

impl<'repo> TreeCache<'repo> {
    fn get(&mut self, repo: &'repo Repository, id: Oid) -> Result<Tree<'repo>, git2::Error> {
        if let Some(tree) = self.current.get(&id) {
            return Ok(tree.clone());
        }
        let tree = match self.previous.remove(&id) {
            Some(tree) => tree,
            None => repo.find_tree(id)?,
        };
        self.current.insert(id, tree.clone());
        Ok(tree)
    }

    fn next_step(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// Appends to `out` every blob path that differs between `old` and `new` (either may be
/// absent), descending only into subtrees whose ids differ and for which `descend` holds.
///
/// # Performance
/// A merge-join over the two sorted entry lists, comparing names in place: no allocation
/// per entry, one per changed path.
fn diff_trees<'repo>(
    repo: &'repo Repository,
    trees: &mut TreeCache<'repo>,
    old: Option<&Tree<'repo>>,
    new: Option<&Tree<'repo>>,
    prefix: &str,
    descend: &dyn Fn(&str) -> bool,
    out: &mut Vec<TreeChange>,
) -> Result<(), git2::Error> {
    let mut old_entries = old.map(|t| t.iter());
    let mut new_entries = new.map(|t| t.iter());
    let mut a = old_entries.as_mut().and_then(Iterator::next);
    let mut b = new_entries.as_mut().and_then(Iterator::next);
    while a.is_some() || b.is_some() {
        let order = match (&a, &b) {
            (Some(a), Some(b)) => git_order(a, b),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let (left, right) = match order {
            Ordering::Less => (a.take(), None),
            Ordering::Greater => (None, b.take()),
            Ordering::Equal => (a.take(), b.take()),
        };
        if a.is_none() {
            a = old_entries.as_mut().and_then(Iterator::next);
        }
        if b.is_none() {
            b = new_entries.as_mut().and_then(Iterator::next);
        }
        if let (Some(l), Some(r)) = (&left, &right)
            && l.id() == r.id()
        {
            continue;
        }
        let named = left.as_ref().or(right.as_ref()).map(|e| e.name_bytes());
        let path = format!(
            "{prefix}{}",
            String::from_utf8_lossy(named.unwrap_or_default())
        );
        let of_kind = |e: &Option<git2::TreeEntry<'_>>, kind: ObjectType| {
            e.as_ref()
                .filter(|e| e.kind() == Some(kind))
                .map(|e| e.id())
        };
        let (old_blob, new_blob) = (
            of_kind(&left, ObjectType::Blob),
            of_kind(&right, ObjectType::Blob),
        );
        if old_blob != new_blob {
            out.push(TreeChange {
                path: path.clone(),
                old: old_blob,
                new: new_blob,
            });
        }
        let (old_tree, new_tree) = (
            of_kind(&left, ObjectType::Tree),
            of_kind(&right, ObjectType::Tree),
        );
        if old_tree != new_tree && descend(&path) {
            let old_tree = old_tree.map(|id| trees.get(repo, id)).transpose()?;
            let new_tree = new_tree.map(|id| trees.get(repo, id)).transpose()?;
            let prefix = format!("{path}/");
            diff_trees(
                repo,
                trees,
                old_tree.as_ref(),
                new_tree.as_ref(),
                &prefix,
                descend,
                out,
            )?;
        }
    }
    Ok(())
}

fn is_tree(entry: &git2::TreeEntry<'_>) -> bool {
    entry.kind() == Some(ObjectType::Tree)
}

/// Git's order of tree entries: by name, a subtree sorting as if its name ended in `/`.
/// Entries with the same name and kind compare equal (the same path on both sides).
fn git_order(a: &git2::TreeEntry<'_>, b: &git2::TreeEntry<'_>) -> Ordering {
    let (x, y) = (a.name_bytes(), b.name_bytes());
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let next = |name: &[u8], tree: bool| match name.get(common) {
            Some(&byte) => Some(byte),
            None if tree => Some(b'/'),
            None => None,
        };
        match (next(x, is_tree(a)), next(y, is_tree(b))) {
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
        let (old, new) = (repo.find_tree(old).unwrap(), repo.find_tree(new).unwrap());
        let mut out = Vec::new();
        let mut trees = TreeCache::default();
        diff_trees(
            &repo,
            &mut trees,
            Some(&old),
            Some(&new),
            "",
            &|_| true,
            &mut out,
        )
        .unwrap();
        out.into_iter()
            .map(|c| (c.path, c.old.is_some(), c.new.is_some()))
            .collect()
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
