//! What the post list needs of every version of every post (its title, date, tags and
//! status, or that it is no post), by blob: the list of the blog as of any past commit is
//! chosen and ordered from these, so only the posts on the page asked for are rendered.
//!
//! Kept with the open-questions ledger, whose build already reads every version's front
//! matter, and saved in its file.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::post::{FrontMatter, Status};
use crate::store::Oid;

/// A version's front matter as the list reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListKeys {
    pub title: String,
    /// As written: `YYYY-MM-DD` or RFC 3339.
    pub date: Option<String>,
    pub tags: Vec<String>,
    pub status: Status,
}

impl ListKeys {
    /// The keys of a version made of `bytes`, whose front matter read as `front_matter`;
    /// `None` when the version is no post as a snapshot's build decides: not UTF-8, or
    /// front matter that does not read.
    pub fn of(bytes: &[u8], front_matter: Option<&FrontMatter>) -> Option<ListKeys> {
        let utf8 = std::str::from_utf8(bytes).is_ok();
        front_matter.filter(|_| utf8).map(ListKeys::from)
    }
}

impl From<&FrontMatter> for ListKeys {
    fn from(front_matter: &FrontMatter) -> ListKeys {
        ListKeys {
            title: front_matter.title.clone(),
            date: front_matter.date.clone(),
            tags: front_matter.tags.clone(),
            status: front_matter.status,
        }
    }
}

/// The list keys of every version read, by blob. Most edits change a post's body and not
/// its front matter, so each distinct set of keys is kept once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionKeys {
    /// Each distinct set of keys (`None`: no post), once.
    distinct: Vec<Option<ListKeys>>,
    /// Where each set is in `distinct`.
    numbers: HashMap<Option<ListKeys>, u32>,
    by_blob: HashMap<Oid, u32>,
}

/// [`VersionKeys`] as saved: the distinct sets, and each blob with its set's number.
#[derive(Serialize, Deserialize)]
pub struct SavedKeys {
    distinct: Vec<Option<ListKeys>>,
    by_blob: Vec<BlobKeys>,
}

/// A blob and the number of its keys in [`SavedKeys::distinct`].
#[derive(Serialize, Deserialize)]
struct BlobKeys {
    #[serde(with = "super::ledger_file::oid")]
    blob: Oid,
    number: u32,
}

impl VersionKeys {
    /// Records `keys` as those of the version in `blob` (`None`: it is no post).
    pub fn record(&mut self, blob: Oid, keys: Option<ListKeys>) {
        if self.by_blob.contains_key(&blob) {
            return;
        }
        let number = match self.numbers.get(&keys) {
            Some(&number) => number,
            None => {
                let number = self.distinct.len() as u32;
                self.distinct.push(keys.clone());
                self.numbers.insert(keys, number);
                number
            }
        };
        self.by_blob.insert(blob, number);
    }

    /// The keys of the version in `blob`: `None` when it was never recorded, `Some(None)`
    /// when it is no post.
    pub fn get(&self, blob: Oid) -> Option<Option<&ListKeys>> {
        let &number = self.by_blob.get(&blob)?;
        Some(self.distinct[number as usize].as_ref())
    }

    pub fn len(&self) -> usize {
        self.by_blob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_blob.is_empty()
    }

    pub(super) fn saved(&self) -> SavedKeys {
        SavedKeys {
            distinct: self.distinct.clone(),
            by_blob: self
                .by_blob
                .iter()
                .map(|(&blob, &number)| BlobKeys { blob, number })
                .collect(),
        }
    }

    /// The table from its saved form; `None` when a number points nowhere.
    pub(super) fn from_saved(saved: SavedKeys) -> Option<VersionKeys> {
        let count = saved.distinct.len();
        if saved.by_blob.iter().any(|b| b.number as usize >= count) {
            return None;
        }
        let numbers = saved
            .distinct
            .iter()
            .enumerate()
            .map(|(n, keys)| (keys.clone(), n as u32))
            .collect();
        Some(VersionKeys {
            distinct: saved.distinct,
            numbers,
            by_blob: saved
                .by_blob
                .into_iter()
                .map(|b| (b.blob, b.number))
                .collect(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::post::Post;

    /// The keys of a file's bytes, read as the ledger reads them.
    pub(in crate::history) fn keys_of(bytes: &[u8]) -> Option<ListKeys> {
        let text = String::from_utf8_lossy(bytes);
        ListKeys::of(bytes, Post::front_matter(&text).ok().as_ref())
    }

    #[test]
    fn versions_with_the_same_front_matter_share_their_keys() {
        let mut keys = VersionKeys::default();
        let one = Oid::from_bytes(&[1; 20]).unwrap();
        let two = Oid::from_bytes(&[2; 20]).unwrap();
        let broken = Oid::from_bytes(&[3; 20]).unwrap();
        let text = "---\ntitle: A\ndate: 2026-01-02\ntags: [x, y]\nstatus: draft\n---\n\nBody.\n";
        keys.record(one, keys_of(text.as_bytes()));
        keys.record(two, keys_of(format!("{text}More.\n").as_bytes()));
        keys.record(broken, keys_of(b"no front matter"));
        let a = keys.get(one).unwrap().unwrap();
        assert_eq!(
            (a.title.as_str(), a.date.as_deref(), &a.tags[..], a.status),
            (
                "A",
                Some("2026-01-02"),
                &["x".to_string(), "y".to_string()][..],
                Status::Draft
            )
        );
        assert_eq!(keys.get(two), keys.get(one));
        assert_eq!(keys.get(broken), Some(None));
        assert_eq!(keys.get(Oid::ZERO_SHA1), None);
        assert_eq!(keys.distinct.len(), 2);
        assert_eq!(VersionKeys::from_saved(keys.saved()), Some(keys));
        assert_eq!(keys_of(b"---\ntitle: \xff\n---\n"), None, "not UTF-8");
    }
}
