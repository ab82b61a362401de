//! A writer's own handle on the repository: one open `Repository` reused across many
//! commits, so a busy writer does not reopen the repository for every write.

use git2::Repository;

use super::read::{blob_in, post_at_in};
use super::{CommitRequest, Oid, Store, StoreError};
use crate::post::Slug;

/// Reads at any commit and writes commits; not `Sync`, so it lives on one thread.
pub struct WriteSession {
    store: Store,
    repo: Repository,
}

impl Store {
    /// Opens a handle for a writer thread.
    ///
    /// # Errors
    /// `NotARepository` when the repository is gone or unreadable.
    pub fn write_session(&self) -> Result<WriteSession, StoreError> {
        Ok(WriteSession {
            store: self.clone(),
            repo: self.repository()?,
        })
    }
}

/// Reading and writing through one handle.
impl WriteSession {
    /// The id git gives a blob holding `bytes` (a post's ETag), without writing it.
    ///
    /// # Errors
    /// Git errors hashing.
    pub fn blob_id(bytes: &[u8]) -> Result<Oid, StoreError> {
        Ok(Oid::hash_object(git2::ObjectType::Blob, bytes)?)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The branch tip, read afresh (never cached: another process may have pushed).
    ///
    /// # Errors
    /// Git errors other than a missing branch.
    pub fn tip(&self) -> Result<Option<Oid>, StoreError> {
        self.store.tip_in(&self.repo)
    }

    /// The post's blob and bytes as of `commit`, `None` when it has no such post.
    ///
    /// # Errors
    /// Git errors reading the commit or its trees.
    pub fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, StoreError> {
        post_at_in(&self.repo, commit, slug)
    }

    /// A blob's bytes, `None` when the repository holds no such blob.
    ///
    /// # Errors
    /// Git errors reading the object database.
    pub fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, StoreError> {
        blob_in(&self.repo, blob)
    }

    /// See [`Store::write_commit`].
    ///
    /// # Errors
    /// Git errors writing blobs, trees or the commit.
    pub fn write_commit(
        &self,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        self.store.write_commit(&self.repo, parent, request)
    }

    /// See [`Store::move_branch`]: a compare-and-swap that fails if the branch moved.
    ///
    /// # Errors
    /// `BranchMoved`, `BranchLocked`, other git errors.
    pub fn move_branch(
        &self,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        self.store
            .move_branch(&self.repo, new, expected, log_message)
    }
}
