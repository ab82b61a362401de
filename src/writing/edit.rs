//! The edits an author can make, and how each becomes a change to the tree at the branch
//! tip, checked against what the author last saw.

use serde_json::{Map, Value};

use super::merge;
use super::submission::{self, Rejection};
use crate::post::{self, AssetPath, FrontMatter, Post, PostError, Slug};
use crate::store::{Change, Identity, Oid, WriteFailure};

/// What the author's edit was based on, so a change made meanwhile is never overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No precondition: apply to the post as it is now.
    Current,
    /// The post's file was one of these blobs (the ETags listed in `If-Match`, usually one).
    Blobs(Vec<Oid>),
    /// The post as of this commit (`base_revision`).
    Revision(Oid),
}

/// One edit of one post.
#[derive(Debug, Clone)]
pub enum Edit {
    Create {
        slug: Slug,
        text: String,
    },
    Replace {
        slug: Slug,
        text: String,
        expected: Expected,
    },
    /// Sets front matter keys (`null` removes one); the body is untouched.
    Patch {
        slug: Slug,
        front_matter: Map<String, Value>,
        expected: Expected,
    },
    Delete {
        slug: Slug,
        expected: Expected,
    },
    Rename {
        from: Slug,
        to: Slug,
        expected: Expected,
    },
    /// Makes the file equal to `text`, its content as of `revision`.
    Restore {
        slug: Slug,
        revision: Oid,
        text: Vec<u8>,
        expected: Expected,
    },
    /// Sets an asset's bytes, adding it when absent.
    PutAsset {
        path: AssetPath,
        bytes: Vec<u8>,
        expected: Expected,
    },
    DeleteAsset {
        path: AssetPath,
        expected: Expected,
    },
}

/// What an edit is about: a post or an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Post(Slug),
    Asset(AssetPath),
}

impl Edit {
    /// The post the edit is about (after a rename: the new slug), or the asset.
    pub fn subject(&self) -> Subject {
        match self {
            Edit::Create { slug, .. }
            | Edit::Replace { slug, .. }
            | Edit::Patch { slug, .. }
            | Edit::Delete { slug, .. }
            | Edit::Restore { slug, .. } => Subject::Post(slug.clone()),
            Edit::Rename { to, .. } => Subject::Post(to.clone()),
            Edit::PutAsset { path, .. } | Edit::DeleteAsset { path, .. } => {
                Subject::Asset(path.clone())
            }
        }
    }

    /// The commit message when the author gives none.
    pub fn default_message(&self) -> String {
        match self {
            Edit::Create { slug, .. } => format!("Create post {slug}"),
            Edit::Replace { slug, .. } => format!("Update post {slug}"),
            Edit::Patch {
                slug, front_matter, ..
            } if publishes(front_matter) => format!("Publish post {slug}"),
            Edit::Patch { slug, .. } => format!("Update post {slug}"),
            Edit::Delete { slug, .. } => format!("Delete post {slug}"),
            Edit::Rename { from, to, .. } => format!("Rename post {from} to {to}"),
            Edit::Restore { slug, revision, .. } => {
                let short = revision.to_string();
                format!("Restore post {slug} to {}", &short[..7])
            }
            Edit::PutAsset { path, .. } => format!("Upload asset {path}"),
            Edit::DeleteAsset { path, .. } => format!("Delete asset {path}"),
        }
    }
}

fn publishes(front_matter: &Map<String, Value>) -> bool {
    front_matter.get("status") == Some(&Value::String("published".into()))
        || front_matter.get("draft") == Some(&Value::Bool(false))
}

/// An edit with its author and message, as the writer receives it.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub edit: Edit,
    pub author: Identity,
    pub message: Option<String>,
}

impl WriteRequest {
    pub fn message(&self) -> String {
        self.message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map_or_else(|| self.edit.default_message(), str::to_owned)
    }
}

/// A write on the branch: the commit that made it and the post's file after it.
#[derive(Debug, Clone)]
pub struct Written {
    pub commit: Oid,
    pub subject: Subject,
    /// The post's blob and text; `None` after a delete, and for an asset.
    pub file: Option<(Oid, String)>,
    /// Whether the edit was three-way merged with a change made since its base.
    pub merged: bool,
    /// Whether the file was there before the edit (a replaced asset, not a new one).
    pub existed: bool,
    /// Whether a commit was made: an edit that leaves the post as it is makes none, so
    /// `commit` is then the tip the edit was compared with.
    pub committed: bool,
}

/// Why an edit was not committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("no post `{0}`")]
    NotFound(Slug),
    #[error("a post `{0}` already exists")]
    Exists(Slug),
    #[error("post `{0}` changed since the version your edit is based on, and the changes overlap")]
    Stale(Slug),
    #[error("no asset `{0}`")]
    AssetNotFound(AssetPath),
    #[error("asset `{0}` changed since the version your edit is based on")]
    AssetStale(AssetPath),
    #[error("{0}")]
    Invalid(Rejection),
    #[error("the writer is unavailable: {0}")]
    Unavailable(String),
    /// The repository refused the write (see [`WriteFailure`]); nothing was committed.
    #[error("nothing was committed: {detail}")]
    NotCommitted {
        failure: WriteFailure,
        detail: String,
    },
}

impl WriteError {
    /// Whether the repository failed the write, rather than the edit being refused.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            WriteError::Unavailable(_) | WriteError::NotCommitted { .. }
        )
    }
}

/// The post files an edit reads at the commit it is applied to.
pub trait Tree {
    /// The post's blob and bytes at the tip being written on.
    fn post(&self, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, WriteError>;
    /// The post's blob and bytes as of `commit`.
    fn post_at(&self, commit: Oid, slug: &Slug) -> Result<Option<(Oid, Vec<u8>)>, WriteError>;
    /// A blob's bytes, `None` if the repository has no such blob.
    fn blob(&self, blob: Oid) -> Result<Option<Vec<u8>>, WriteError>;
    /// The asset's blob at the tip being written on.
    fn asset(&self, path: &AssetPath) -> Result<Option<Oid>, WriteError>;
}

/// An edit turned into file changes against one tip.
#[derive(Debug)]
pub struct Prepared {
    /// Empty when the edit leaves the tree as it is: nothing to commit.
    pub changes: Vec<Change>,
    /// The post's new text, `None` after a delete.
    pub text: Option<String>,
    pub merged: bool,
    /// Whether the file the edit writes was there before it.
    pub existed: bool,
}

/// Applies `edit` to the posts in `tree`.
///
/// # Errors
/// `NotFound` and `Exists` for the slugs involved, `Stale` when the post changed since the
/// edit's base and the changes cannot be merged, `Invalid` when a patch leaves an invalid
/// post.
pub fn apply(edit: &Edit, tree: &dyn Tree) -> Result<Prepared, WriteError> {
    match edit {
        Edit::Create { slug, text } => {
            if tree.post(slug)?.is_some() {
                return Err(WriteError::Exists(slug.clone()));
            }
            Ok(Prepared {
                existed: false,
                ..upsert(slug, text.clone(), false, None)
            })
        }
        Edit::Replace {
            slug,
            text,
            expected,
        } => {
            let (blob, current) = existing(tree, slug)?;
            match base_of(tree, slug, expected, blob)? {
                None => Ok(upsert(slug, text.clone(), false, Some(&current))),
                Some(base) => {
                    let merged = merge::lines(&utf8(&base), &utf8(&current), text)
                        .filter(|merged| Post::front_matter(merged).is_ok())
                        .ok_or_else(|| WriteError::Stale(slug.clone()))?;
                    Ok(upsert(slug, merged, true, Some(&current)))
                }
            }
        }
        Edit::Patch {
            slug,
            front_matter,
            expected,
        } => {
            let (blob, bytes) = existing(tree, slug)?;
            let current = utf8(&bytes);
            let merged = match base_of(tree, slug, expected, blob)? {
                None => false,
                Some(base) if merge::keys_unchanged(&utf8(&base), &current, front_matter) => true,
                Some(_) => return Err(WriteError::Stale(slug.clone())),
            };
            let invalid =
                |e: PostError| WriteError::Invalid(Rejection::new(e.field(), e.to_string()));
            let text = patch(&current, front_matter).map_err(invalid)?;
            let patched = Post::front_matter(&text).map_err(invalid)?;
            submission::check_front_matter_slug(&patched.fields, slug)
                .and_then(|()| submission::check_characters(front_matter, "", false))
                .map_err(WriteError::Invalid)?;
            Ok(upsert(slug, text, merged, Some(&bytes)))
        }
        Edit::Delete { slug, expected } => {
            let (blob, _) = existing(tree, slug)?;
            if base_of(tree, slug, expected, blob)?.is_some() {
                return Err(WriteError::Stale(slug.clone()));
            }
            Ok(Prepared {
                changes: vec![Change::Delete { path: slug.path() }],
                text: None,
                merged: false,
                existed: true,
            })
        }
        Edit::Rename { from, to, expected } => {
            let (blob, current) = existing(tree, from)?;
            if base_of(tree, from, expected, blob)?.is_some() {
                return Err(WriteError::Stale(from.clone()));
            }
            if tree.post(to)?.is_some() {
                return Err(WriteError::Exists(to.clone()));
            }
            Ok(Prepared {
                changes: vec![
                    Change::Delete { path: from.path() },
                    Change::Upsert {
                        path: to.path(),
                        content: current.clone(),
                    },
                ],
                text: Some(utf8(&current)),
                merged: false,
                existed: true,
            })
        }
        Edit::Restore {
            slug,
            text,
            expected,
            ..
        } => {
            let current = tree.post(slug)?;
            let stale = match (expected, &current) {
                (Expected::Current, _) => false,
                (_, None) => true,
                (expected, Some((blob, _))) => base_of(tree, slug, expected, *blob)?.is_some(),
            };
            if stale {
                return Err(WriteError::Stale(slug.clone()));
            }
            let current = current.map(|(_, bytes)| bytes);
            Ok(upsert(slug, utf8(text), false, current.as_deref()))
        }
        Edit::PutAsset {
            path,
            bytes,
            expected,
        } => {
            let current = tree.asset(path)?;
            asset_base_holds(path, expected, current)?;
            Ok(Prepared {
                changes: vec![Change::Upsert {
                    path: path.repo_path(),
                    content: bytes.clone(),
                }],
                text: None,
                merged: false,
                existed: current.is_some(),
            })
        }
        Edit::DeleteAsset { path, expected } => {
            let current = tree.asset(path)?;
            if current.is_none() {
                return Err(WriteError::AssetNotFound(path.clone()));
            }
            asset_base_holds(path, expected, current)?;
            Ok(Prepared {
                changes: vec![Change::Delete {
                    path: path.repo_path(),
                }],
                text: None,
                merged: false,
                existed: true,
            })
        }
    }
}

/// An asset is never merged: its base must be the current blob (or no precondition).
fn asset_base_holds(
    path: &AssetPath,
    expected: &Expected,
    current: Option<Oid>,
) -> Result<(), WriteError> {
    let holds = match (expected, current) {
        (Expected::Current, _) => true,
        (Expected::Blobs(blobs), Some(current)) => blobs.contains(&current),
        _ => false,
    };
    if holds {
        Ok(())
    } else {
        Err(WriteError::AssetStale(path.clone()))
    }
}

/// The post's file set to `text`; no change at all when that is its `current` content, so
/// that a write which changes nothing makes no commit (an empty commit would name the post
/// in the site's log, a draft's too).
fn upsert(slug: &Slug, text: String, merged: bool, current: Option<&[u8]>) -> Prepared {
    let changes = if current == Some(text.as_bytes()) {
        Vec::new()
    } else {
        vec![Change::Upsert {
            path: slug.path(),
            content: text.clone().into_bytes(),
        }]
    };
    Prepared {
        changes,
        text: Some(text),
        merged,
        existed: true,
    }
}

fn existing(tree: &dyn Tree, slug: &Slug) -> Result<(Oid, Vec<u8>), WriteError> {
    tree.post(slug)?
        .ok_or_else(|| WriteError::NotFound(slug.clone()))
}

/// `None` when the edit's base is the current file; otherwise the base's bytes, for a
/// merge. A base the repository does not hold (a made-up ETag, a revision without the
/// post) cannot be merged from, so it is stale; so is a list of ETags none of which is
/// current (which of them would the merge start from?).
fn base_of(
    tree: &dyn Tree,
    slug: &Slug,
    expected: &Expected,
    current: Oid,
) -> Result<Option<Vec<u8>>, WriteError> {
    let stale = || WriteError::Stale(slug.clone());
    let base = match expected {
        Expected::Current => return Ok(None),
        Expected::Blobs(blobs) if blobs.contains(&current) => return Ok(None),
        Expected::Blobs(blobs) => match blobs.as_slice() {
            [blob] => *blob,
            _ => return Err(stale()),
        },
        Expected::Revision(commit) => tree.post_at(*commit, slug)?.ok_or_else(stale)?.0,
    };
    if base == current {
        return Ok(None);
    }
    tree.blob(base)?.map(Some).ok_or_else(stale)
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Merges `changes` into the front matter of `text` (`null` removes a key; new keys go
/// last, existing ones keep their place) and leaves the body as it is.
///
/// # Errors
/// The post's own front matter errors, and any the patch introduces (a removed title).
pub fn patch(text: &str, changes: &Map<String, Value>) -> Result<String, PostError> {
    let (yaml, body) = post::split_front_matter(text);
    let mut fields = FrontMatter::parse(yaml.ok_or(PostError::NoFrontMatter)?)?.fields;
    for (key, value) in changes {
        if value.is_null() {
            fields.shift_remove(key);
        } else {
            fields.insert(key.clone(), value.clone());
        }
    }
    FrontMatter::from_map(fields.clone())?;
    post::compose(&fields, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_sets_and_removes_keys_and_keeps_the_body() {
        let text = "---\ntitle: T\nstatus: draft\nseries: s\n---\n\n## Question\n\nWhy?\n";
        let changes = json!({"status": "published", "series": null, "new": 1});
        let patched = patch(text, changes.as_object().unwrap()).unwrap();
        assert_eq!(
            patched,
            "---\ntitle: T\nstatus: published\nnew: 1\n---\n\n## Question\n\nWhy?\n"
        );
    }

    #[test]
    fn a_patch_cannot_remove_the_title() {
        let changes = json!({"title": null});
        let error = patch("---\ntitle: T\n---\n", changes.as_object().unwrap()).unwrap_err();
        assert_eq!(error, PostError::MissingTitle);
    }

    #[test]
    fn generated_messages_say_what_happened() {
        let slug = Slug::parse("kv-cache").unwrap();
        let publish = Edit::Patch {
            slug: slug.clone(),
            front_matter: json!({"status": "published"}).as_object().unwrap().clone(),
            expected: Expected::Current,
        };
        assert_eq!(publish.default_message(), "Publish post kv-cache");
        let rename = Edit::Rename {
            from: slug,
            to: Slug::parse("kv").unwrap(),
            expected: Expected::Current,
        };
        assert_eq!(rename.default_message(), "Rename post kv-cache to kv");
    }
}
