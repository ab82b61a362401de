//! Reading the branch's history for the revision index: a first-parent walk, and a tree
//! diff that finds the post files each commit changed.
//!
//! The diff is written over git2 trees rather than with `git2::Diff`: it compares entries
//! and descends only into subtrees whose ids differ, so a commit that edits one post costs
//! a few tree reads and merge-joins, with none of libgit2's generic diff machinery.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use git2::{ObjectType, Oid, Repository, Tree};

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

/// The fewest commits worth a thread of their own when diffing a chain.
const MIN_STRETCH: usize = 2_000;

/// The most threads one long read uses at once: past this they mostly wait for each
/// other's reads of the same pack.
const MAX_THREADS: usize = 4;

/// How many threads one long read ([`HistoryReader::in_parallel`]) is worth on this
/// machine.
pub fn read_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

/// The general read handle: a repository opened for one long read (an index build, a
/// snapshot's posts, a page of history), so that its reads share libgit2's caches and the
/// repository is opened once.
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

    /// Every post file (`posts/<slug>.md`) in the tree of `commit`; other files are ignored.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_files(&self, commit: Oid) -> Result<Vec<super::PostFile>, StoreError> {
        super::read::post_files_in(&self.repo, commit)
    }

    /// The ids of the first-parent chain from `tip`, newest first, stopping before the
    /// first commit for which `known` holds; that commit is returned alongside (`None`: the
    /// walk reached the root). Read through libgit2's revision walk: it takes parents from
    /// the commit-graph file when it can read it, but libgit2 1.9 rejects the files git
    /// writes since 2.37 (their `GDA2` chunk), so in practice it parses each commit.
    ///
    /// # Errors
    /// Git errors reading commits.
    pub fn first_parent_chain(
        &self,
        tip: Oid,
        known: impl Fn(Oid) -> bool,
    ) -> Result<(Vec<Oid>, Option<Oid>), StoreError> {
        let mut walk = self.repo.revwalk()?;
        walk.simplify_first_parent()?;
        walk.push(tip)?;
        let mut chain = Vec::new();
        for id in walk {
            let id = id?;
            if known(id) {
                return Ok((chain, Some(id)));
            }
            chain.push(id);
        }
        Ok((chain, None))
    }

    /// For each commit of `commits` (oldest first, each the first parent of the next; the
    /// first one's first parent is `base`), its facts and the post files it changed, passed
    /// to `each` with a reader to look further (a rename's blobs); the answers come back in
    /// the commits' order.
    ///
    /// A long chain is cut into stretches diffed at once ([`HistoryReader::in_parallel`]):
    /// a stretch starts from the tree of the commit before it, so the answers are those of
    /// one walk. A short chain is diffed on this thread.
    ///
    /// # Errors
    /// Git errors reading commits and trees, and any error of `each`.
    pub fn post_changes_along<T: Send, E: From<StoreError> + Send>(
        &self,
        base: Option<Oid>,
        commits: &[Oid],
        each: impl Fn(&HistoryReader, CommitFacts, Vec<PostFileChange>) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, E> {
        let stretch = commits.len().div_ceil(read_threads()).max(MIN_STRETCH);
        self.changes_in_stretches(base, commits, stretch, each)
    }

    /// [`HistoryReader::post_changes_along`], `stretch` commits per thread.
    fn changes_in_stretches<T: Send, E: From<StoreError> + Send>(
        &self,
        base: Option<Oid>,
        commits: &[Oid],
        stretch: usize,
        each: impl Fn(&HistoryReader, CommitFacts, Vec<PostFileChange>) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, E> {
        let stretches: Vec<&[Oid]> = commits.chunks(stretch.max(1)).collect();
        let answers = self.in_parallel(stretches.len(), |reader, n| {
            let base = match n {
                0 => base,
                _ => Some(commits[n * stretch - 1]),
            };
            reader.changes_in_stretch(base, stretches[n], &each)
        })?;
        Ok(answers.into_iter().flatten().collect())
    }

    /// Runs `work` on parts `0..parts` at once and gives their answers in that order: part
    /// 0 on this thread with this reader, each other part on a thread of its own with a
    /// reader of its own, since a libgit2 repository handle is not for two threads at once.
    ///
    /// # Errors
    /// The first part's error, in the parts' order; `NotARepository` when a reader cannot
    /// be opened.
    pub fn in_parallel<T: Send, E: From<StoreError> + Send>(
        &self,
        parts: usize,
        work: impl Fn(&HistoryReader, usize) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, E> {
        let path = self.repo.path();
        std::thread::scope(|scope| {
            let work = &work;
            let others: Vec<_> = (1..parts)
                .map(|n| {
                    scope.spawn(move || {
                        let reader = HistoryReader {
                            repo: Repository::open(path).map_err(|source| {
                                E::from(StoreError::NotARepository {
                                    path: path.to_path_buf(),
                                    source,
                                })
                            })?,
                        };
                        work(&reader, n)
                    })
                })
                .collect();
            let mut answers = Vec::with_capacity(parts);
            if parts > 0 {
                answers.push(work(self, 0));
            }
            for other in others {
                answers.push(
                    other
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                );
            }
            answers.into_iter().collect()
        })
    }

    fn changes_in_stretch<T, E: From<StoreError>>(
        &self,
        base: Option<Oid>,
        commits: &[Oid],
        each: &impl Fn(&HistoryReader, CommitFacts, Vec<PostFileChange>) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let mut trees = TreeCache::new(&self.repo);
        let mut previous = match base {
            Some(id) => Some(self.root_tree_id(id).map_err(E::from)?),
            None => None,
        };
        let mut answers = Vec::with_capacity(commits.len());
        for &id in commits {
            let commit = self.repo.find_commit(id).map_err(|e| E::from(e.into()))?;
            let root = commit.tree_id();
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
            answers.push(each(self, facts_of(&commit), posts)?);
            previous = Some(root);
        }
        Ok(answers)
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
        super::read::post_blob_in(&self.repo, commit, slug)
    }

    /// The commit a client names, on `store`'s branch: see [`super::read::resolve_revision_in`]
    /// for the rules on `rev`; `on_branch` may vouch for a commit without a graph walk.
    ///
    /// # Errors
    /// `InvalidRevision`, `UnknownRevision` or `AmbiguousRevision`.
    pub fn resolve_revision(
        &self,
        store: &Store,
        rev: &str,
        on_branch: impl Fn(Oid) -> bool,
    ) -> Result<Oid, StoreError> {
        super::read::resolve_revision_in(store, &self.repo, rev, on_branch)
    }

    fn root_tree_id(&self, commit: Oid) -> Result<Oid, StoreError> {
        Ok(self.repo.find_commit(commit)?.tree_id())
    }
}

fn facts_of(commit: &git2::Commit<'_>) -> CommitFacts {
    let author = commit.author();
    CommitFacts {
        id: commit.id(),
        parents: commit.parent_ids().collect(),
        author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        committed_at: commit.committer().when().seconds(),
        message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
    }
}

/// Trees read while diffing one commit, kept for the next commit: there the new side of
/// this step is the old side, so each tree is read once per walk.
struct TreeCache<'repo> {
    repo: &'repo Repository,
    current: HashMap<Oid, Rc<Tree<'repo>>>,
    previous: HashMap<Oid, Rc<Tree<'repo>>>,
}

impl<'repo> TreeCache<'repo> {
    fn new(repo: &'repo Repository) -> TreeCache<'repo> {
        TreeCache {
            repo,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn get(&mut self, id: Oid) -> Result<Rc<Tree<'repo>>, git2::Error> {
        if let Some(tree) = self.current.get(&id) {
            return Ok(tree.clone());
        }
        let tree = match self.previous.remove(&id) {
            Some(tree) => tree,
            None => Rc::new(self.repo.find_tree(id)?),
        };
        self.current.insert(id, tree.clone());
        Ok(tree)
    }

    fn next_step(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// Appends to `out` every blob path that differs between the trees `old` and `new` (either
/// may be absent), descending only into subtrees whose ids differ and for which `descend`
/// holds.
///
/// # Performance
/// A merge-join over the two trees' entries in git's order: an unchanged entry costs a
/// comparison of ids and names, with no allocation; only changed paths allocate.
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
    let (old_len, new_len) = (
        old.as_ref().map_or(0, |t| t.len()),
        new.as_ref().map_or(0, |t| t.len()),
    );
    let (mut i, mut j) = (0, 0);
    while i < old_len || j < new_len {
        let left = old.as_ref().and_then(|t| t.get(i));
        let right = new.as_ref().and_then(|t| t.get(j));
        let order = match (&left, &right) {
            (Some(a), Some(b)) => {
                // Modes are not compared: a mode change alone changes no blob id, and an
                // id names one kind of object.
                if a.id() == b.id() && a.name_bytes() == b.name_bytes() {
                    i += 1;
                    j += 1;
                    continue;
                }
                a.cmp(b)
            }
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let left = left.filter(|_| order != Ordering::Greater);
        let right = right.filter(|_| order != Ordering::Less);
        i += usize::from(left.is_some());
        j += usize::from(right.is_some());
        let of_kind = |side: &Option<git2::TreeEntry<'_>>, kind: ObjectType| {
            side.as_ref()
                .filter(|e| e.kind() == Some(kind))
                .map(|e| e.id())
        };
        let named = left
            .as_ref()
            .or(right.as_ref())
            .map(|e| e.name_bytes())
            .unwrap_or_default();
        let path = format!("{prefix}{}", String::from_utf8_lossy(named));
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
            diff_trees(trees, old_tree, new_tree, &format!("{path}/"), descend, out)?;
        }
    }
    Ok(())
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
        let mut out = Vec::new();
        let mut trees = TreeCache::new(&repo);
        diff_trees(&mut trees, Some(old), Some(new), "", &|_| true, &mut out).unwrap();
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
    fn a_chain_diffed_in_stretches_on_several_threads_gives_the_answers_of_one_walk() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let who = git2::Signature::new("Ada", "ada@example.org", &git2::Time::new(0, 0)).unwrap();
        let mut files: Vec<(String, String)> = vec![("README".into(), "r".into())];
        let (mut parent, mut chain) = (None, Vec::new());
        for n in 0..23 {
            match n % 4 {
                0 => files.push((format!("posts/p{n}.md"), format!("new {n}"))),
                1 => files[0].1 = format!("readme {n}"),
                2 if files.len() > 2 => drop(files.remove(1)),
                _ => {
                    let last = files.len() - 1;
                    files[last].1.push_str(" edited");
                }
            }
            let named: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            let tree = repo.find_tree(tree_with(&repo, &named)).unwrap();
            let parents: Vec<git2::Commit<'_>> = parent
                .iter()
                .map(|id| repo.find_commit(*id).unwrap())
                .collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            let id = repo.commit(None, &who, &who, "c", &tree, &parents).unwrap();
            parent = Some(id);
            chain.push(id);
        }
        let reader = HistoryReader { repo };
        let walk = |base: Option<Oid>, commits: &[Oid], stretch| {
            reader
                .changes_in_stretches(base, commits, stretch, |_, facts, changes| {
                    Ok::<_, StoreError>((facts.id, changes))
                })
                .unwrap()
        };
        let whole = walk(None, &chain, chain.len());
        assert_eq!(whole.len(), chain.len());
        assert!(
            whole.iter().any(|(_, changes)| changes.is_empty()),
            "README only"
        );
        assert!(
            whole.iter().any(|(_, c)| c.iter().any(|c| c.new.is_none())),
            "a deletion"
        );
        for stretch in [1, 2, 5, 22] {
            assert_eq!(walk(None, &chain, stretch), whole, "{stretch} per thread");
        }
        // From a base, as an incremental update walks.
        assert_eq!(walk(Some(chain[9]), &chain[10..], 4), whole[10..]);
    }

    #[test]
    fn the_tree_diff_orders_entries_as_git_does() {
        // `a.md` sorts before the folder `a` (as `a/`), which sorts before `a0`.
        let old = [("a.md", "1"), ("a/x", "2"), ("a0", "3")];
        let new = [("a.md", "1"), ("a/x", "2b"), ("a0", "3")];
        assert_eq!(changes(&old, &new), [("a/x".to_string(), true, true)]);
    }
}
