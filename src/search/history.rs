//! The index of every past version of every post: each distinct blob read once, and of
//! each version only the sections it changed (with the title, all of them when the title
//! changed), so a document marks where its text first appeared and the index grows with
//! what was written, not with the number of commits.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use tantivy::{IndexReader, Searcher};

use super::schema::{OpenIndex, blob_key, open_index};
use crate::history::HistoryIndex;
use crate::post::{SearchableText, SectionKind};
use crate::store::{HistoryReader, Oid};

/// Commits walked between two commits of the index while it is built, so that a restart
/// resumes near where the last run stopped.
const COMMITS_PER_CHECKPOINT: u32 = 10_000;

/// The history index, and where its walk of the branch stopped.
pub(super) struct HistoryBuilder {
    open: OpenIndex,
    reader: IndexReader,
    /// Keys of the blobs already read.
    seen: HashSet<u64>,
    /// The last commit whose versions are indexed (the commit's payload).
    tip: Option<Oid>,
    /// For the latest version of each post file read, what its sections were, so that the
    /// next version is compared without reading this one again.
    latest: HashMap<Oid, Digest>,
}

/// Hashes of a version's title and sections.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Digest {
    title: u64,
    sections: Vec<(SectionKind, u64)>,
}

impl HistoryBuilder {
    /// Opens (or creates) the index in `dir` (in memory without one), with the commit it reached and its blobs.
    ///
    /// # Errors
    /// tantivy errors opening or reading the index.
    pub fn open(dir: Option<&Path>) -> tantivy::Result<HistoryBuilder> {
        let open = open_index(dir)?;
        let reader = open.reader()?;
        let tip = open
            .index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse().ok());
        let mut seen = HashSet::new();
        for segment in reader.searcher().segment_readers() {
            let keys = segment.fast_fields().u64("blob_key")?;
            seen.extend(segment.doc_ids_alive().filter_map(|doc| keys.first(doc)));
        }
        Ok(HistoryBuilder {
            open,
            reader,
            seen,
            tip,
            latest: HashMap::new(),
        })
    }

    /// Indexes the versions of the commits of `history` after the one it reached (all of
    /// them when that one is not on the chain: the branch was rewritten), reading blobs
    /// through `reader`, and commits.
    ///
    /// # Errors
    /// tantivy errors writing; a blob that cannot be read or parsed is skipped.
    pub fn extend(
        &mut self,
        history: &HistoryIndex,
        reader: &HistoryReader,
    ) -> tantivy::Result<()> {
        if history.tip() == self.tip {
            return Ok(());
        }
        let start = self
            .tip
            .and_then(|tip| history.position(tip))
            .map_or(0, |position| position + 1);
        let end = history.len() as u32;
        for position in start..end {
            let commit = history.commit(position);
            for change in &commit.changes {
                let Some(new) = change.new_blob else {
                    if let Some(old) = change.old_blob {
                        self.latest.remove(&old);
                    }
                    continue;
                };
                if !self.seen.insert(blob_key(new)) {
                    continue;
                }
                let Some(version) = read_version(reader, new) else {
                    continue;
                };
                let before = change.old_blob.and_then(|old| {
                    self.latest
                        .remove(&old)
                        .or_else(|| read_version(reader, old).map(|v| digest(&v)))
                });
                let after = digest(&version);
                let fields = self.open.fields;
                let changed = version
                    .sections
                    .iter()
                    .zip(&after.sections)
                    .filter(|(_, d)| {
                        before.as_ref().is_none_or(|before| {
                            before.title != after.title || !before.sections.contains(d)
                        })
                    });
                let slug = history.slug(change.path).as_str();
                for document in fields.documents(
                    slug,
                    new,
                    &version.title,
                    changed.map(|(section, _)| section),
                ) {
                    self.open.writer.add_document(document)?;
                }
                self.latest.insert(new, after);
            }
            let last = position + 1 == end;
            if last || (position + 1 - start).is_multiple_of(COMMITS_PER_CHECKPOINT) {
                self.checkpoint(commit.facts.id)?;
            }
        }
        if start == end {
            // The branch moved back to a commit already indexed: nothing to add.
            self.tip = history.tip();
        }
        Ok(())
    }

    /// Commits what was added, with the commit reached as the payload.
    fn checkpoint(&mut self, reached: Oid) -> tantivy::Result<()> {
        let mut prepared = self.open.writer.prepare_commit()?;
        prepared.set_payload(&reached.to_string());
        prepared.commit()?;
        self.reader.reload()?;
        self.tip = Some(reached);
        Ok(())
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub fn open_index(&self) -> &OpenIndex {
        &self.open
    }
}

fn read_version(reader: &HistoryReader, blob: Oid) -> Option<SearchableText> {
    let bytes = match reader.blob(blob) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%blob, %error, "a past version could not be read for search");
            return None;
        }
    };
    let text = String::from_utf8(bytes).ok()?;
    SearchableText::of_file(&text).ok()
}

fn digest(version: &SearchableText) -> Digest {
    let hash = |value: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        value(&mut hasher);
        hasher.finish()
    };
    Digest {
        title: hash(&|h| version.title.hash(h)),
        sections: version
            .sections
            .iter()
            .map(|(kind, text)| (*kind, hash(&|h| text.hash(h))))
            .collect(),
    }
}
