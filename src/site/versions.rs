//! Finding a post as of a past commit: resolving a client's revision on the branch, and
//! following the post's file back across renames with the history index.

use super::Snapshot;
use crate::post::Slug;
use crate::store::{HistoryReader, Oid, Store, StoreError};

/// Past versions of posts.
impl Snapshot {
    /// Resolves a client-supplied revision to a commit the branch reaches, with its position
    /// on the first-parent chain (`None` for a commit reached only through a merge).
    ///
    /// # Errors
    /// `InvalidRevision`, `AmbiguousRevision`, or `UnknownRevision` for a commit the branch
    /// does not reach.
    pub fn resolve_revision(
        &self,
        reader: &HistoryReader,
        store: &Store,
        rev: &str,
    ) -> Result<(Oid, Option<u32>), StoreError> {
        let commit = reader
            .resolve_revision(store, rev, |commit| self.history.position(commit).is_some())?;
        Ok((commit, self.history.position(commit)))
    }

    /// The post's file as of `commit` (its slug then, and its blob), following the post
    /// named `slug` at the tip back across renames; `None` when it did not exist then.
    ///
    /// # Errors
    /// Git errors reading a commit off the first-parent chain.
    pub fn version_at(
        &self,
        reader: &HistoryReader,
        slug: &Slug,
        commit: Oid,
        position: Option<u32>,
    ) -> Result<Option<(Slug, Oid)>, StoreError> {
        let history = &self.history;
        Ok(match position {
            Some(position) => history
                .revisions(slug, Some(position))
                .first()
                .and_then(|&at| {
                    let (_, change) = history.change(at);
                    Some((history.slug(change.path).clone(), change.new_blob?))
                }),
            None => reader
                .post_blob_at(commit, slug)?
                .map(|blob| (slug.clone(), blob)),
        })
    }
}
