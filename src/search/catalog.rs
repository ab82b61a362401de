//! Which posts a matched version belongs to: from a blob to the posts at the tip whose
//! file was that blob, now (the current index) or at some revision (the history index).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::schema::blob_key;
use crate::post::Slug;
use crate::site::Snapshot;

/// One post whose file was a blob: the post (an index into [`Catalog::slugs`]) and the
/// position on the first-parent chain of its earliest revision with that blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    pub post: u32,
    pub position: u32,
}

type ByKey<T> = HashMap<u64, T, BuildHasherDefault<KeyHasher>>;

/// Blob keys to the posts at the tip that had them.
#[derive(Default)]
pub(super) struct Catalog {
    pub slugs: Vec<Slug>,
    /// The first post found with each blob: nearly every blob belongs to one post only.
    first: ByKey<Owner>,
    /// The other posts with the same blob (identical files).
    others: ByKey<Vec<Owner>>,
}

impl Catalog {
    /// The posts at `snapshot`'s tip, by their current blob.
    pub fn current(snapshot: &Snapshot) -> Catalog {
        let mut catalog = Catalog::default();
        for record in snapshot.posts() {
            let post = catalog.slugs.len() as u32;
            catalog.slugs.push(record.post().slug.clone());
            // The position is not used: a current match names the post's latest revision.
            catalog.add(blob_key(record.blob()), Owner { post, position: 0 });
        }
        catalog
    }

    /// Every revision of every post at `snapshot`'s tip, across renames, by blob; a blob
    /// the post had at several revisions (a reverted edit) names the earliest.
    pub fn history(snapshot: &Snapshot) -> Catalog {
        let history = &snapshot.history;
        let mut catalog = Catalog::default();
        for record in snapshot.posts() {
            let slug = &record.post().slug;
            let post = catalog.slugs.len() as u32;
            catalog.slugs.push(slug.clone());
            // Newest first: a blob seen again further back moves to its earlier position.
            for at in history.revisions(slug, None) {
                let (_, change) = history.change(at);
                if let Some(blob) = change.new_blob {
                    catalog.add(
                        blob_key(blob),
                        Owner {
                            post,
                            position: at.position,
                        },
                    );
                }
            }
        }
        catalog
    }

    fn add(&mut self, key: u64, owner: Owner) {
        let first = self.first.entry(key).or_insert(owner);
        let known = if first.post == owner.post {
            Some(first)
        } else {
            let others = self.others.entry(key).or_default();
            let known = others.iter().position(|o| o.post == owner.post);
            match known {
                Some(at) => Some(&mut others[at]),
                None => {
                    others.push(owner);
                    None
                }
            }
        };
        if let Some(known) = known {
            known.position = known.position.min(owner.position);
        }
    }

    /// The posts that had the blob with this key.
    pub fn owners(&self, key: u64) -> impl Iterator<Item = &Owner> {
        let others = self.others.get(&key).map_or(&[][..], Vec::as_slice);
        self.first.get(&key).into_iter().chain(others)
    }
}

/// Blob keys are already uniformly distributed (they are hash bits): hashing them again
/// would only cost time on the query path, which looks one up per matching document.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}
