//! Who may see which parts of history: the site-wide log per audience, and whether a
//! post's revisions are visible. Visibility follows a post's status at the branch tip;
//! a post no longer there (deleted) keeps the status of its last version.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Audience, Snapshot};
use serde::Serialize;
use utoipa::ToSchema;

use crate::history::{ChangeKind, ChangeRef, HistoryIndex, PathId};
use crate::post::{FrontMatter, Slug, Status, split_front_matter};
use crate::store::{HistoryReader, Oid, Store, StoreError};

/// A post a commit touched, as the site-wide log names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TouchedPost {
    /// The post's slug after the commit (before it, for a deletion).
    #[schema(example = "attention-scaling")]
    pub slug: String,
    pub change: ChangeKind,
}

/// The first-parent log as one audience sees it.
#[derive(Debug, Default)]
pub struct Log {
    /// Positions in the history index of the commits shown, newest first.
    pub commits: Vec<u32>,
    /// Post changes that must not be named (they belong to drafts).
    hidden: HashSet<ChangeRef>,
}

impl Log {
    pub fn is_hidden(&self, change: ChangeRef) -> bool {
        self.hidden.contains(&change)
    }

    /// The posts the commit at `position` of `history` changed that this log may name.
    pub fn touched_posts(&self, history: &HistoryIndex, position: u32) -> Vec<TouchedPost> {
        history
            .commit(position)
            .changes
            .iter()
            .enumerate()
            .filter(|(number, _)| {
                !self.is_hidden(ChangeRef {
                    position,
                    change: *number as u32,
                })
            })
            .map(|(_, change)| TouchedPost {
                slug: history.slug(change.path).to_string(),
                change: change.kind,
            })
            .collect()
    }
}

impl Snapshot {
    /// The site-wide log for `audience`, computed once per snapshot. Authors see every
    /// commit; anonymous readers see no change to a draft, no commit whose post changes
    /// were all to drafts, and a commit that touched no post only when its message names
    /// no hidden post (neither the slug of a post whose changes are hidden nor the title of
    /// a draft): such a commit's message is usually one generated for a draft.
    ///
    /// # Errors
    /// Git errors reading the last version of deleted posts.
    ///
    /// # Performance
    /// The first call for anonymous readers visits every indexed change once.
    pub fn log(&self, audience: Audience, store: &Store) -> Result<Arc<Log>, StoreError> {
        let cell = &self.logs[audience as usize];
        if let Some(log) = cell.get() {
            return Ok(log.clone());
        }
        let log = Arc::new(match audience {
            Audience::Authors => Log {
                commits: (0..self.history.len() as u32).rev().collect(),
                hidden: HashSet::new(),
            },
            Audience::Public => self.public_log(store)?,
        });
        Ok(cell.get_or_init(|| log).clone())
    }

    fn public_log(&self, store: &Store) -> Result<Log, StoreError> {
        let history = &self.history;
        let mut hidden = HashSet::new();
        let mut shown = HashSet::new();
        let mut secret_names = HashSet::new();
        for record in self.posts() {
            let side = if record.is_published() {
                &mut shown
            } else {
                secret_names.insert(record.post().title.to_lowercase());
                &mut hidden
            };
            side.extend(history.revisions(&record.post().slug, None));
        }
        let reader = store.history_reader()?;
        let mut statuses = HashMap::new();
        let mut gone: HashMap<PathId, bool> = HashMap::new();
        let mut commits = Vec::new();
        for position in (0..history.len() as u32).rev() {
            let changes = &history.commit(position).changes;
            let mut any_shown = changes.is_empty();
            for (number, change) in changes.iter().enumerate() {
                let at = ChangeRef {
                    position,
                    change: number as u32,
                };
                let visible = if shown.contains(&at) {
                    true
                } else if hidden.contains(&at) {
                    false
                } else {
                    // A deleted post's change: shown when its last version, met first going
                    // back, was published, as its revisions are. Its status carries back to
                    // the path it was renamed from and ends where its file was added.
                    let published = match gone.get(&change.path) {
                        Some(&published) => published,
                        None => change
                            .new_blob
                            .or(change.old_blob)
                            .map(|blob| is_published(&reader, blob, &mut statuses))
                            .transpose()?
                            .unwrap_or(false),
                    };
                    gone.remove(&change.path);
                    match (change.kind, change.previous) {
                        (ChangeKind::Added, _) => {}
                        (ChangeKind::Renamed, Some(previous)) => {
                            gone.insert(previous, published);
                        }
                        _ => {
                            gone.insert(change.path, published);
                        }
                    }
                    published
                };
                if visible {
                    any_shown = true;
                } else {
                    hidden.insert(at);
                    secret_names.insert(history.slug(change.path).to_string());
                }
            }
            if any_shown {
                commits.push(position);
            }
        }
        // Only now are all hidden posts known: a commit that touched no post is often newer
        // than the draft its message names.
        commits.retain(|&position| {
            let commit = history.commit(position);
            !commit.changes.is_empty()
                || !secret_names
                    .iter()
                    .any(|name| names(&commit.facts.message, name))
        });
        Ok(Log { commits, hidden })
    }

    /// Whether `audience` may see the revisions of `slug`: the post's status at the tip, or
    /// for a post no longer there, the status of its last version. `false` when the post
    /// has no history at all.
    ///
    /// # Errors
    /// Git errors reading a deleted post's last version.
    pub fn history_visible(
        &self,
        slug: &Slug,
        audience: Audience,
        store: &Store,
    ) -> Result<bool, StoreError> {
        if let Some(record) = self.get(slug) {
            return Ok(audience.sees(record));
        }
        if self.history.revisions(slug, None).is_empty() {
            return Ok(false);
        }
        if audience == Audience::Authors {
            return Ok(true);
        }
        let reader = store.history_reader()?;
        last_version_published(&self.history, slug, &reader, &mut HashMap::new())
    }
}

/// Whether `message` names `name` (a slug or a lower-cased title) as a word of its own:
/// not as part of a longer slug or word, so `kv` is not named by `kv-cache`.
fn names(message: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let message = message.to_lowercase();
    let part_of_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    message.match_indices(name).any(|(start, _)| {
        let before = message[..start].chars().next_back();
        let after = message[start + name.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

/// Whether the last version of `slug` in `history` (a post no longer at the tip) was
/// published: what decides whether its revisions are public (the log walks back to the same
/// answer).
fn last_version_published(
    history: &HistoryIndex,
    slug: &Slug,
    reader: &HistoryReader,
    known: &mut HashMap<Oid, bool>,
) -> Result<bool, StoreError> {
    let Some(&newest) = history.revisions(slug, None).first() else {
        return Ok(false);
    };
    let (_, change) = history.change(newest);
    let Some(blob) = change.new_blob.or(change.old_blob) else {
        return Ok(false);
    };
    is_published(reader, blob, known)
}

/// Whether the post file in `blob` is published; a file whose front matter does not parse
/// counts as unpublished, so nothing of uncertain status is shown.
fn is_published(
    reader: &HistoryReader,
    blob: Oid,
    known: &mut HashMap<Oid, bool>,
) -> Result<bool, StoreError> {
    if let Some(&published) = known.get(&blob) {
        return Ok(published);
    }
    let bytes = reader.blob(blob)?;
    let published = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| split_front_matter(text).0)
        .and_then(|yaml| FrontMatter::parse(yaml).ok())
        .is_some_and(|front_matter| front_matter.status == Status::Published);
    known.insert(blob, published);
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn a_name_counts_only_as_a_word_of_its_own() {
        assert!(names("Update post secret-plan", "secret-plan"));
        assert!(names("Publish post Secret-Plan.", "secret-plan"));
        assert!(names("notes on my secret plan", "my secret plan"));
        assert!(!names("Update post kv-cache", "kv"));
        assert!(!names("Update post kv-cache", "cache"));
        assert!(!names("anything", ""));
    }
}
