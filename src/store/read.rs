//! Reading the served branch: its tip, the posts in a commit's tree, blobs and revisions.

use git2::{ErrorCode, ObjectType, Oid, Repository};

use super::{Store, StoreError};
use crate::post::Slug;

/// One post file in a tree: its slug and the blob holding its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFile {
    pub slug: Slug,
    pub blob: Oid,
}

/// Reading the branch and its objects.
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

    /// Every post file (`posts/<slug>.md`) in the tree of `commit`; other files are ignored.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_files(&self, commit: Oid) -> Result<Vec<PostFile>, StoreError> {
        let repo = self.repository()?;
        post_files_in(&repo, commit)
    }

    /// The bytes of a blob.
    ///
    /// # Errors
    /// Git errors, including an unknown blob.
    pub fn blob(&self, blob: Oid) -> Result<Vec<u8>, StoreError> {
        let repo = self.repository()?;
        Ok(repo.find_blob(blob)?.content().to_vec())
    }

    /// The post file for `slug` in the tree of `commit`, with its bytes; `None` when absent.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        let repo = self.repository()?;
        post_at_in(&repo, commit, slug)
    }

    /// Resolves a client-supplied revision to a commit on the served branch.
    ///
    /// Only hexadecimal commit ids (or unambiguous prefixes of at least 4 digits) are accepted:
    /// rev-parse syntax such as `HEAD~1:../x` or `--all` never reaches libgit2. The commit must
    /// be the tip or one of its ancestors, so other branches and unreachable objects stay hidden.
    ///
    /// # Errors
    /// `InvalidRevision` for anything that is not hex, `UnknownRevision` for a commit that is
    /// not on the branch, `AmbiguousRevision` for a short prefix matching several objects.
    ///
    /// # Performance
    /// The reachability check walks history back from the tip; it is bounded by the distance
    /// between the tip and the revision.
    pub fn resolve_revision(&self, rev: &str) -> Result<Oid, StoreError> {
        let repo = self.repository()?;
        let commit = lookup_commit_in(&repo, rev)?;
        let unknown = || StoreError::UnknownRevision(rev.to_string());
        let tip = self.tip_in(&repo)?.ok_or_else(unknown)?;
        if commit == tip || repo.graph_descendant_of(tip, commit)? {
            Ok(commit)
        } else {
            Err(unknown())
        }
    }
}

/// The commit `rev` names (a full id or an unambiguous prefix of 4 to 40 hexadecimal
/// digits), wherever it is in the repository; reachability is the caller's check.
///
/// # Errors
/// `InvalidRevision` for anything that is not hex, `UnknownRevision` when no commit matches,
/// `AmbiguousRevision` for a prefix matching several objects.
pub(crate) fn lookup_commit_in(repo: &Repository, rev: &str) -> Result<Oid, StoreError> {
    let is_hex = rev.bytes().all(|b| b.is_ascii_hexdigit());
    if !(4..=40).contains(&rev.len()) || !is_hex {
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
    Ok(object.id())
}

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

pub(crate) fn post_at_in(
    repo: &Repository,
    commit: Oid,
    slug: &Slug,
) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
    let tree = repo.find_commit(commit)?.tree()?;
    let entry = match tree.get_path(std::path::Path::new(&slug.path())) {
        Ok(entry) => entry,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Ok(None);
    }
    let blob = repo.find_blob(entry.id())?;
    Ok(Some((blob.id(), blob.content().to_vec())))
}

/// A blob's bytes, `None` when the repository holds no blob with that id.
pub(crate) fn blob_in(repo: &Repository, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
    match repo.find_blob(blob) {
        Ok(blob) => Ok(Some(blob.content().to_vec())),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}
