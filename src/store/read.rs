//! Reading a repository: the branch tip, the posts in a commit's tree, blobs, and the one
//! place a client's revision is resolved. [`super::HistoryReader`] (readers) and
//! [`super::Batch`] (the writer) read through these, each on its own handle.

use git2::{ErrorCode, ObjectType, Oid, Repository};

use super::{Store, StoreError};
use crate::post::Slug;

/// One post file in a tree: its slug and the blob holding its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFile {
    pub slug: Slug,
    pub blob: Oid,
}

/// Reading the branch.
impl Store {
    /// The commit the served branch points at, or `None` while the branch has no commit.
    ///
    /// # Errors
    /// Git errors other than a missing branch.
    pub fn tip(&self) -> Result<Option<Oid>, StoreError> {
        let repo = self.repository()?;
        self.tip_in(&repo)
    }

    pub(crate) fn tip_in(&self, repo: &Repository) -> Result<Option<Oid>, StoreError> {
        match repo.refname_to_id(&self.branch_ref()) {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The best common ancestor of two commits, `None` when they share no history (or one
    /// of them is no longer in the repository).
    ///
    /// # Errors
    /// Git errors reading the graph.
    pub fn merge_base(&self, one: Oid, other: Oid) -> Result<Option<Oid>, StoreError> {
        let repo = self.repository()?;
        match repo.merge_base(one, other) {
            Ok(base) => Ok(Some(base)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether `rev` is written as a revision: a commit id or a prefix of one, 4 to 40
/// hexadecimal digits (what the OpenAPI document's pattern says).
pub fn is_revision(rev: &str) -> bool {
    (4..=40).contains(&rev.len()) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves a client-supplied revision to a commit on the served branch.
///
/// Only hexadecimal commit ids (or unambiguous prefixes of at least 4 digits) are accepted:
/// rev-parse syntax such as `HEAD~1:../x` or `--all` never reaches libgit2. The commit must
/// be the tip or one of its ancestors, so other branches and unreachable objects stay
/// hidden; `on_branch` may vouch for a commit first (the history index knows the
/// first-parent chain), else the graph is walked.
///
/// # Errors
/// `InvalidRevision` for anything that is not hex, `UnknownRevision` for a commit that is
/// not on the branch, `AmbiguousRevision` for a short prefix matching several objects.
///
/// # Performance
/// The reachability check walks history back from the tip; it is bounded by the distance
/// between the tip and the revision.
pub(crate) fn resolve_revision_in(
    store: &Store,
    repo: &Repository,
    rev: &str,
    on_branch: impl Fn(Oid) -> bool,
) -> Result<Oid, StoreError> {
    if !is_revision(rev) {
        return Err(StoreError::InvalidRevision(rev.to_string()));
    }
    let unknown = || StoreError::UnknownRevision(rev.to_string());
    let object = match repo.revparse_single(&rev.to_ascii_lowercase()) {
        Ok(object) => object,
        Err(e) if e.code() == ErrorCode::Ambiguous => {
            return Err(StoreError::AmbiguousRevision(rev.to_string()));
        }
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => {
            return Err(unknown());
        }
        Err(e) => return Err(e.into()),
    };
    if object.kind() != Some(ObjectType::Commit) {
        return Err(unknown());
    }
    let commit = object.id();
    if on_branch(commit) {
        return Ok(commit);
    }
    let tip = store.tip_in(repo)?.ok_or_else(unknown)?;
    if commit == tip || repo.graph_descendant_of(tip, commit)? {
        Ok(commit)
    } else {
        Err(unknown())
    }
}

/// Every post file (`posts/<slug>.md`) in the tree of `commit`; other files are ignored.
pub(crate) fn post_files_in(repo: &Repository, commit: Oid) -> Result<Vec<PostFile>, StoreError> {
    let tree = repo.find_commit(commit)?.tree()?;
    let Some(posts) = tree.get_name("posts") else {
        return Ok(Vec::new());
    };
    if posts.kind() != Some(ObjectType::Tree) {
        return Ok(Vec::new());
    }
    let posts = repo.find_tree(posts.id())?;
    let files = posts
        .iter()
        .filter(|entry| entry.kind() == Some(ObjectType::Blob))
        .filter_map(|entry| {
            let name = entry.name().ok()?;
            let slug = Slug::from_path(&format!("posts/{name}"))?;
            Some(PostFile {
                slug,
                blob: entry.id(),
            })
        })
        .collect();
    Ok(files)
}

/// The blob of the post file `slug` in the tree of `commit`, `None` when absent.
pub(crate) fn post_blob_in(
    repo: &Repository,
    commit: Oid,
    slug: &Slug,
) -> Result<Option<Oid>, StoreError> {
    let tree = repo.find_commit(commit)?.tree()?;
    match tree.get_path(std::path::Path::new(&slug.path())) {
        Ok(entry) if entry.kind() == Some(ObjectType::Blob) => Ok(Some(entry.id())),
        Ok(_) => Ok(None),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A blob's bytes, `None` when the repository holds no blob with that id.
pub(crate) fn blob_in(repo: &Repository, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
    match repo.find_blob(blob) {
        Ok(blob) => Ok(Some(blob.content().to_vec())),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod revision_properties {
    use proptest::prelude::*;

    use super::is_revision;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn a_revision_is_4_to_40_hexadecimal_digits(text in "[0-9a-fA-F]{0,45}|\\PC{0,12}") {
            let hex = text.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(is_revision(&text), hex && (4..=40).contains(&text.len()));
        }
    }
}
