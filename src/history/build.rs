//! Bringing the index up to a branch tip: from scratch, or incrementally from the commit
//! where the indexed chain and the branch's chain meet.

use std::sync::Arc;

use super::index::{ChangeKind, ClassifiedChange, HistoryIndex};
use super::renames::pair_renames;
use crate::store::{HistoryReader, Oid, PostFileChange, StoreError};

/// The index as of `tip`, reusing `previous` as far as the branch still agrees with it.
///
/// Walks first parents back from `tip` until a commit `previous` already holds: a
/// fast-forward indexes only the new commits; a force push drops the indexed commits
/// after the last shared one and indexes the new chain from there; a history sharing
/// nothing with `previous` is indexed from the root.
///
/// # Errors
/// Git errors reading commits, trees or blobs.
#[tracing::instrument(skip_all, fields(tip = ?tip))]
pub fn update(
    previous: &Arc<HistoryIndex>,
    reader: &HistoryReader,
    tip: Option<Oid>,
) -> Result<Arc<HistoryIndex>, StoreError> {
    if tip == previous.tip() {
        return Ok(previous.clone());
    }
    let Some(tip) = tip else {
        return Ok(Arc::new(HistoryIndex::default()));
    };
    let walk = std::time::Instant::now();
    let (mut chain, shared) =
        reader.first_parent_chain(tip, |id| previous.position(id).is_some())?;
    let mut index = match shared.and_then(|id| previous.position(id)) {
        Some(position) => {
            let mut index = (**previous).clone();
            index.truncate(position as usize + 1);
            index
        }
        None => HistoryIndex::default(),
    };
    let reused = index.len();
    let started = std::time::Instant::now();
    chain.reverse();
    let commits = reader.post_changes_along(shared, &chain, |reader, facts, changes| {
        Ok::<_, StoreError>((facts, classify(reader, changes)?))
    })?;
    for (facts, classified) in commits {
        index.push(facts, classified);
    }
    index.tip = Some(tip);
    tracing::info!(
        commits = index.len(),
        reused,
        walk_ms = (started - walk).as_millis() as u64,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "history index updated"
    );
    Ok(Arc::new(index))
}

/// Names each change of one commit, pairing deleted and added posts into renames.
fn classify(
    reader: &HistoryReader,
    changes: Vec<PostFileChange>,
) -> Result<Vec<ClassifiedChange>, StoreError> {
    let deleted: Vec<&PostFileChange> = changes.iter().filter(|c| c.new.is_none()).collect();
    let added: Vec<&PostFileChange> = changes.iter().filter(|c| c.old.is_none()).collect();
    let pairs = if deleted.is_empty() || added.is_empty() {
        Vec::new()
    } else {
        let deleted_blobs: Vec<Oid> = deleted.iter().filter_map(|c| c.old).collect();
        let added_blobs: Vec<Oid> = added.iter().filter_map(|c| c.new).collect();
        pair_renames(&deleted_blobs, &added_blobs, |blob| reader.blob(blob))?
    };
    let renamed_from = |change: &PostFileChange| {
        let a = added.iter().position(|c| std::ptr::eq(*c, change))?;
        let (d, _) = pairs.iter().find(|(_, paired)| *paired == a)?;
        Some(deleted[*d])
    };
    let is_renamed_away = |change: &PostFileChange| {
        let d = deleted.iter().position(|c| std::ptr::eq(*c, change));
        d.is_some_and(|d| pairs.iter().any(|(paired, _)| *paired == d))
    };
    let mut classified = Vec::with_capacity(changes.len());
    for change in &changes {
        if is_renamed_away(change) {
            continue;
        }
        let (kind, previous, old_blob) = match (change.old, change.new, renamed_from(change)) {
            (None, Some(_), Some(source)) => {
                (ChangeKind::Renamed, Some(source.slug.clone()), source.old)
            }
            (None, _, _) => (ChangeKind::Added, None, None),
            (Some(_), None, _) => (ChangeKind::Deleted, None, change.old),
            (Some(_), Some(_), _) => (ChangeKind::Modified, None, change.old),
        };
        classified.push(ClassifiedChange {
            slug: change.slug.clone(),
            previous,
            kind,
            old_blob,
            new_blob: change.new,
        });
    }
    Ok(classified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{load, save};
    use crate::post::Slug;
    use crate::store::{Change, CommitRequest, Identity, Store};

    /// A bare repository and a way to commit file changes onto its branch.
    struct Repo {
        _dir: tempfile::TempDir,
        store: Store,
    }

    impl Repo {
        fn new() -> Repo {
            let dir = tempfile::tempdir().unwrap();
            git2::Repository::init_bare(dir.path()).unwrap();
            let store = Store::open(dir.path(), "main").unwrap();
            Repo { _dir: dir, store }
        }

        /// Commits on top of `parent` (default: the tip) and moves the branch there.
        fn commit(&self, parent: Option<Option<Oid>>, files: &[(&str, Option<&str>)]) -> Oid {
            let repo = self.store.repository().unwrap();
            let tip = self.store.tip().unwrap();
            let who = Identity::parse("Ada <ada@example.org>").unwrap();
            let changes = files
                .iter()
                .map(|(path, text)| match text {
                    Some(text) => Change::Upsert {
                        path: path.to_string(),
                        content: text.as_bytes().to_vec(),
                    },
                    None => Change::Delete {
                        path: path.to_string(),
                    },
                })
                .collect();
            let request = CommitRequest {
                author: who.clone(),
                committer: who,
                message: "change".into(),
                time: None,
                changes,
            };
            let commit = self
                .store
                .write_commit(&repo, parent.unwrap_or(tip), &request)
                .unwrap();
            let name = self.store.branch_ref();
            repo.reference(&name, commit, true, "test").unwrap();
            commit
        }

        fn index(&self, from: &Arc<HistoryIndex>) -> Arc<HistoryIndex> {
            let reader = self.store.history_reader().unwrap();
            update(from, &reader, self.store.tip().unwrap()).unwrap()
        }

        fn fresh_index(&self) -> Arc<HistoryIndex> {
            self.index(&Arc::default())
        }
    }

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    const LONG: &str = "---\ntitle: A\n---\n\n## Question\n\nWhy?\n\n## Background\n\nSome.\n\n## Takeaways\n\nT.\n";

    #[test]
    fn the_posts_changed_after_a_commit_include_both_ends_of_a_rename() {
        let repo = Repo::new();
        let first = repo.commit(
            None,
            &[("posts/a.md", Some(LONG)), ("posts/b.md", Some("b\n"))],
        );
        repo.commit(None, &[("README", Some("r"))]);
        let renamed = LONG.replace("Some.", "Some more.");
        repo.commit(
            None,
            &[("posts/a.md", None), ("posts/c.md", Some(&renamed))],
        );
        let index = repo.fresh_index();
        let changed = index.slugs_changed_after(first).unwrap();
        let mut changed: Vec<&str> = changed.iter().map(|s| s.as_str()).collect();
        changed.sort_unstable();
        assert_eq!(changed, ["a", "c"]);
        let tip = repo.store.tip().unwrap().unwrap();
        assert!(index.slugs_changed_after(tip).unwrap().is_empty());
        assert_eq!(
            index.slugs_changed_after(Oid::ZERO_SHA1),
            None,
            "not in the index"
        );
    }

    #[test]
    fn a_fast_forward_indexes_only_the_new_commits() {
        let repo = Repo::new();
        let first = repo.commit(
            None,
            &[("posts/a.md", Some("one\n")), ("README", Some("r"))],
        );
        repo.commit(None, &[("posts/a.md", Some("two\n"))]);
        let before = repo.fresh_index();
        repo.commit(None, &[("README", Some("r2"))]);
        repo.commit(None, &[("posts/b.md", Some("b\n")), ("posts/a.md", None)]);
        let after = repo.index(&before);
        assert_eq!(after, repo.fresh_index());
        assert!(Arc::ptr_eq(&before.commits[0], &after.commits[0]), "reused");
        assert_eq!(after.position(first), Some(0));
        assert_eq!(after.revisions(&slug("a"), None).len(), 3);
        let (_, deleted) = after.change(after.revisions(&slug("a"), None)[0]);
        assert_eq!(deleted.kind, ChangeKind::Deleted);
        assert!(
            after.commit(2).changes.is_empty(),
            "a commit touching no post"
        );
    }

    #[test]
    fn a_rewritten_branch_drops_the_commits_it_no_longer_has() {
        let repo = Repo::new();
        let first = repo.commit(None, &[("posts/a.md", Some("one\n"))]);
        let dropped = repo.commit(None, &[("posts/a.md", Some("two\n"))]);
        let before = repo.fresh_index();
        repo.commit(Some(Some(first)), &[("posts/a.md", Some("three\n"))]);
        let after = repo.index(&before);
        assert_eq!(after, repo.fresh_index());
        assert_eq!(after.position(dropped), None);
        assert_eq!(after.revisions(&slug("a"), None).len(), 2);
        // A history sharing nothing with the index is indexed from its root.
        let unrelated = repo.commit(Some(None), &[("posts/z.md", Some("z\n"))]);
        let rebuilt = repo.index(&after);
        assert_eq!(rebuilt.len(), 1);
        assert_eq!(rebuilt.tip(), Some(unrelated));
    }

    #[test]
    fn a_move_with_a_small_edit_is_indexed_as_a_rename() {
        let repo = Repo::new();
        repo.commit(None, &[("posts/old.md", Some(LONG))]);
        let edited = LONG.replace("Some.", "Some more.");
        repo.commit(
            None,
            &[("posts/old.md", None), ("posts/new.md", Some(&edited))],
        );
        let index = repo.fresh_index();
        let revisions = index.revisions(&slug("new"), None);
        assert_eq!(revisions.len(), 2);
        let (_, rename) = index.change(revisions[0]);
        assert_eq!(rename.kind, ChangeKind::Renamed);
        assert_eq!(index.slug(rename.previous.unwrap()), &slug("old"));
        assert!(rename.old_blob.is_some() && rename.new_blob.is_some());
        let (_, added) = index.change(revisions[1]);
        assert_eq!(
            (added.kind, index.slug(added.path)),
            (ChangeKind::Added, &slug("old"))
        );
    }

    #[test]
    fn a_post_history_extended_from_an_earlier_one_equals_one_worked_out_anew() {
        let repo = Repo::new();
        repo.commit(
            None,
            &[("posts/a.md", Some(LONG)), ("posts/b.md", Some("b\n"))],
        );
        let moved = LONG.replace("Some.", "Some more.");
        let steps: Vec<Vec<(&str, Option<&str>)>> = vec![
            vec![("posts/a.md", Some("edited\n"))],
            vec![("posts/b.md", Some("b2\n"))],
            vec![("posts/a.md", Some("again\n")), ("README", Some("r"))],
            vec![("posts/a.md", Some(LONG))],
            // Renamed to c, then a new post at a: neither extends a's history.
            vec![("posts/a.md", None), ("posts/c.md", Some(&moved))],
            vec![("posts/a.md", Some("a new post\n"))],
            vec![("posts/c.md", None)],
            vec![("posts/c.md", Some("c is back\n"))],
        ];
        let mut index = repo.fresh_index();
        for step in &steps {
            let before = index.clone();
            let since = before.position(before.tip().unwrap()).unwrap();
            repo.commit(None, step);
            index = repo.index(&before);
            for name in ["a", "b", "c"] {
                let anew = index.post_history(&slug(name), None);
                let Some(earlier) = before.post_history(&slug(name), None) else {
                    continue;
                };
                let extended = index.post_history_since(&slug(name), &earlier, since);
                assert_eq!(extended, anew, "{name} after {step:?}");
            }
        }
        let a = index.post_history(&slug("a"), None).unwrap();
        assert_eq!(
            a.revision_count, 1,
            "the new post at a has a past of its own"
        );
    }

    #[test]
    fn a_saved_index_loads_equal_and_a_restart_walks_nothing() {
        let repo = Repo::new();
        repo.commit(None, &[("posts/a.md", Some(LONG))]);
        repo.commit(None, &[("posts/a.md", None), ("posts/b.md", Some(LONG))]);
        let index = repo.fresh_index();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("palimpsest/history-v1.bin");
        save(&index, &file).unwrap();
        let loaded = Arc::new(load(&file).expect("the saved index loads"));
        assert_eq!(*loaded, *index);
        assert!(
            Arc::ptr_eq(&repo.index(&loaded), &loaded),
            "same tip: reused as is"
        );
        repo.commit(None, &[("posts/b.md", Some("changed\n"))]);
        assert_eq!(repo.index(&loaded), repo.fresh_index());
    }

    #[test]
    fn saving_into_a_repository_deleted_meanwhile_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("content.git");
        let file = gone.join("palimpsest/history-v1.bin");
        assert!(save(&HistoryIndex::default(), &file).is_err());
        assert!(!gone.exists(), "the repository folder is not created again");
    }

    #[test]
    fn a_damaged_index_file_is_ignored() {
        let repo = Repo::new();
        repo.commit(None, &[("posts/a.md", Some("a\n"))]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history-v1.bin");
        save(&repo.fresh_index(), &file).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(load(&file), None);
        std::fs::write(&file, b"not an index").unwrap();
        assert_eq!(load(&file), None);
        assert_eq!(load(&dir.path().join("missing")), None);
    }
}
