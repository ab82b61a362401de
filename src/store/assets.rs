//! Reading the assets of a commit (figures and other files under `assets/`): their list
//! with sizes, and one asset's bytes.

use git2::{ErrorCode, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::{Store, StoreError};
use crate::post::AssetPath;

/// One asset in a tree: its path below `assets/`, its blob and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFile {
    pub path: AssetPath,
    pub blob: Oid,
    pub bytes: usize,
}

/// Reading assets.
impl Store {
    /// Every file under `assets/` in the tree of `commit`, in path order; files whose path
    /// is not a valid [`AssetPath`] are left out (they could not be asked for).
    ///
    /// # Errors
    /// Git errors reading the commit, its trees or object headers.
    pub fn asset_files(&self, commit: Oid) -> Result<Vec<AssetFile>, StoreError> {
        let repo = self.repository()?;
        let tree = repo.find_commit(commit)?.tree()?;
        let Some(folder) = tree.get_name("assets") else {
            return Ok(Vec::new());
        };
        if folder.kind() != Some(ObjectType::Tree) {
            return Ok(Vec::new());
        }
        let folder = repo.find_tree(folder.id())?;
        let odb = repo.odb()?;
        let mut found = Vec::new();
        let mut failure = None;
        folder.walk(TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() != Some(ObjectType::Blob) {
                return TreeWalkResult::Ok;
            }
            let Some(path) = entry
                .name()
                .ok()
                .and_then(|name| AssetPath::parse(&format!("{parent}{name}")).ok())
            else {
                return TreeWalkResult::Ok;
            };
            match odb.read_header(entry.id()) {
                Ok((bytes, _)) => {
                    found.push(AssetFile {
                        path,
                        blob: entry.id(),
                        bytes,
                    });
                    TreeWalkResult::Ok
                }
                Err(error) => {
                    failure = Some(error);
                    TreeWalkResult::Abort
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error.into());
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    /// The asset's blob and bytes in the tree of `commit`; `None` when absent.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn asset_at(
        &self,
        commit: Oid,
        path: &AssetPath,
    ) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        let repo = self.repository()?;
        Ok(blob_at(&repo, commit, path)?.map(|blob| (blob.id(), blob.content().to_vec())))
    }

    /// The asset's blob id in the tree of `commit`; `None` when absent.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn asset_blob_at(&self, commit: Oid, path: &AssetPath) -> Result<Option<Oid>, StoreError> {
        let repo = self.repository()?;
        Ok(blob_at(&repo, commit, path)?.map(|blob| blob.id()))
    }
}

fn blob_at<'r>(
    repo: &'r Repository,
    commit: Oid,
    path: &AssetPath,
) -> Result<Option<git2::Blob<'r>>, StoreError> {
    let tree = repo.find_commit(commit)?.tree()?;
    let entry = match tree.get_path(std::path::Path::new(&path.repo_path())) {
        Ok(entry) => entry,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Ok(None);
    }
    Ok(Some(repo.find_blob(entry.id())?))
}
