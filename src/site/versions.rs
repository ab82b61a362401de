//! Finding a post as of a past commit: resolving a client's revision on the branch,
//! following the post's file back across renames with the history index, and choosing the
//! two revisions a diff compares.

use super::Snapshot;
use crate::history::Version;
use crate::post::Slug;
use crate::store::{HistoryReader, Oid, Store, StoreError};

/// A commit on the branch and its position on the first-parent chain (`None` for a commit
/// reached only through a merge).
pub type Revision = (Oid, Option<u32>);

/// The two revisions a diff of a post compares; `from` is `None` to diff the post's first
/// revision against nothing.
#[derive(Debug, Clone, Copy)]
pub struct DiffEnds {
    pub from: Option<Revision>,
    pub to: Revision,
}

/// A post's file as of a revision: its path then, its text and its blob.
#[derive(Debug, Clone)]
pub struct PastFile {
    pub path: String,
    pub text: String,
    pub blob: Oid,
}

impl PastFile {
    pub fn version(&self) -> Version<'_> {
        Version {
            path: &self.path,
            text: &self.text,
            blob: self.blob,
        }
    }
}

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
    ) -> Result<Revision, StoreError> {
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

    /// The post's file as of `commit`, text included, as [`Snapshot::version_at`] finds it;
    /// `None` when it did not exist then.
    ///
    /// # Errors
    /// Git errors reading the commit or the blob.
    pub fn past_file(
        &self,
        reader: &HistoryReader,
        slug: &Slug,
        (commit, position): Revision,
    ) -> Result<Option<PastFile>, StoreError> {
        let Some((path, blob)) = self.version_at(reader, slug, commit, position)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&reader.blob(blob)?).into_owned();
        Ok(Some(PastFile {
            path: path.path(),
            text,
            blob,
        }))
    }

    /// The revisions a diff of `slug` compares: those the client named (`from`, `to`, as
    /// [`Snapshot::resolve_revision`] takes them), else `to` is the post's latest revision
    /// and `from` the revision of the post before `to`. `None` when the post has no
    /// revision.
    ///
    /// # Errors
    /// As [`Snapshot::resolve_revision`].
    pub fn diff_ends(
        &self,
        reader: &HistoryReader,
        store: &Store,
        slug: &Slug,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Option<DiffEnds>, StoreError> {
        let history = &self.history;
        let Some(&latest) = history.revisions(slug, None).first() else {
            return Ok(None);
        };
        let to = match to {
            Some(rev) => self.resolve_revision(reader, store, rev)?,
            None => (history.change(latest).0.facts.id, Some(latest.position)),
        };
        let from = match from {
            Some(rev) => Some(self.resolve_revision(reader, store, rev)?),
            None => {
                to.1.and_then(|p| history.revisions(slug, Some(p)).get(1).copied())
                    .map(|before| {
                        let commit = history.commit(before.position).facts.id;
                        (commit, Some(before.position))
                    })
            }
        };
        Ok(Some(DiffEnds { from, to }))
    }
}
