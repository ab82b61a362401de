//! The index of the posts at the branch tip: one document per section of each post,
//! updated by the posts whose blob changed since the last update.

use std::collections::HashMap;
use std::path::Path;

use tantivy::schema::Value;
use tantivy::{IndexReader, Searcher, TantivyDocument, Term};

use super::schema::{OpenIndex, open_index};
use crate::post::{SearchableText, Slug};
use crate::site::Snapshot;
use crate::store::Oid;

/// The current index and the post versions it holds.
pub(super) struct CurrentIndex {
    open: OpenIndex,
    reader: IndexReader,
    /// The blob indexed for each post, as the index says (read back at start).
    indexed: HashMap<String, Oid>,
}

impl CurrentIndex {
    /// Opens (or creates) the index in `dir` (in memory without one) and reads which version of each post it holds.
    ///
    /// # Errors
    /// tantivy errors opening or reading the index.
    pub fn open(dir: Option<&Path>) -> tantivy::Result<CurrentIndex> {
        let open = open_index(dir)?;
        let reader = open.reader()?;
        let indexed = indexed_versions(&reader.searcher(), &open)?;
        Ok(CurrentIndex {
            open,
            reader,
            indexed,
        })
    }

    /// Brings the index to `snapshot`'s posts: the documents of every post whose blob
    /// changed (or that was added or removed) are replaced, then committed.
    ///
    /// # Errors
    /// tantivy errors writing or committing.
    pub fn update(&mut self, snapshot: &Snapshot) -> tantivy::Result<()> {
        let fields = self.open.fields;
        let writer = &mut self.open.writer;
        let mut changed = false;
        for record in snapshot.posts() {
            let post = record.post();
            if self.indexed.get(post.slug.as_str()) == Some(&record.blob()) {
                continue;
            }
            writer.delete_term(Term::from_field_text(fields.slug, post.slug.as_str()));
            let text = SearchableText::of_body(post.title.clone(), &post.markdown);
            for document in fields.documents(
                post.slug.as_str(),
                record.blob(),
                &text.title,
                text.sections.iter(),
            ) {
                writer.add_document(document)?;
            }
            self.indexed.insert(post.slug.to_string(), record.blob());
            changed = true;
        }
        let gone: Vec<String> = self
            .indexed
            .keys()
            .filter(|slug| Slug::parse(slug).map_or(true, |slug| snapshot.get(&slug).is_none()))
            .cloned()
            .collect();
        for slug in gone {
            writer.delete_term(Term::from_field_text(fields.slug, &slug));
            self.indexed.remove(&slug);
            changed = true;
        }
        if changed {
            writer.commit()?;
            self.reader.reload()?;
        }
        Ok(())
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub fn open_index(&self) -> &OpenIndex {
        &self.open
    }
}

/// The blob of each post in the index, from its stored fields.
fn indexed_versions(
    searcher: &Searcher,
    open: &OpenIndex,
) -> tantivy::Result<HashMap<String, Oid>> {
    let mut indexed = HashMap::new();
    for segment in searcher.segment_readers() {
        let store = segment.get_store_reader(1)?;
        for doc in segment.doc_ids_alive() {
            let document: TantivyDocument = store.get(doc)?;
            let text = |field| {
                document
                    .get_first(field)
                    .and_then(|value| value.as_str())
                    .map(str::to_string)
            };
            if let (Some(slug), Some(blob)) = (text(open.fields.slug), text(open.fields.blob))
                && let Ok(blob) = blob.parse::<Oid>()
            {
                indexed.insert(slug, blob);
            }
        }
    }
    Ok(indexed)
}
