//! What a search document is (one section of one version of a post), how its text is
//! analysed, and where the indexes live on disk, with the format they are written in.

use std::path::{Path, PathBuf};

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::post::SectionKind;
use crate::store::Oid;

/// Bumped whenever documents, fields or analysis change: an index written in another
/// format is deleted and built again.
pub const FORMAT: &str = "palimpsest search index, format 1\n";

/// English words, lower-cased and stemmed ("normalizing" finds "normalization").
const ANALYZER: &str = "palimpsest_english";

/// Memory the writer may fill before it writes a segment; tantivy wants 15 MB at least.
const WRITER_BUDGET: usize = 32 << 20;

/// The fields of a search document.
#[derive(Clone, Copy)]
pub(super) struct Fields {
    /// The post's file name at that version (the current index deletes a post's documents
    /// by it).
    pub slug: Field,
    /// The version's blob id, as hex.
    pub blob: Field,
    /// The blob id's first 8 bytes: what results are grouped by (a fast field).
    pub blob_key: Field,
    /// The section's kind ([`kind_code`]), fast for its boost.
    pub section: Field,
    pub title: Field,
    /// The section's text as a reader sees it; stored, for snippets.
    pub body: Field,
}

impl Fields {
    fn build() -> (Schema, Fields) {
        let mut schema = Schema::builder();
        let text = |stored: bool| {
            let indexing = TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions);
            let options = TextOptions::default().set_indexing_options(indexing);
            if stored {
                options.set_stored()
            } else {
                options
            }
        };
        let fields = Fields {
            slug: schema.add_text_field("slug", STRING | STORED),
            blob: schema.add_text_field("blob", STRING | STORED),
            blob_key: schema.add_u64_field("blob_key", FAST),
            section: schema.add_u64_field("section", FAST | STORED | INDEXED),
            title: schema.add_text_field("title", text(false)),
            body: schema.add_text_field("body", text(true)),
        };
        (schema.build(), fields)
    }

    /// The documents of one version: one per section, each with the version's title.
    pub fn documents<'t>(
        &self,
        slug: &str,
        blob: Oid,
        title: &'t str,
        sections: impl Iterator<Item = &'t (SectionKind, String)>,
    ) -> impl Iterator<Item = TantivyDocument> {
        let (fields, hex, key) = (*self, blob.to_string(), blob_key(blob));
        let slug = slug.to_string();
        sections.map(move |(kind, text)| {
            let mut document = TantivyDocument::default();
            document.add_text(fields.slug, &slug);
            document.add_text(fields.blob, &hex);
            document.add_u64(fields.blob_key, key);
            document.add_u64(fields.section, kind_code(*kind));
            document.add_text(fields.title, title);
            document.add_text(fields.body, text);
            document
        })
    }
}

/// What results are grouped by: a blob id's first 8 bytes. Two of a repository's blobs
/// share them with a chance of about n²/2⁶⁵ (1 in 10⁹ at 100,000 versions).
pub(super) fn blob_key(blob: Oid) -> u64 {
    let bytes = blob.as_bytes();
    u64::from_le_bytes(bytes[..8].try_into().expect("an object id has 20 bytes"))
}

pub(super) fn kind_code(kind: SectionKind) -> u64 {
    match kind {
        SectionKind::Question => 0,
        SectionKind::Background => 1,
        SectionKind::Exploration => 2,
        SectionKind::Takeaways => 3,
        SectionKind::OpenQuestions => 4,
        SectionKind::Other => 5,
    }
}

pub(super) fn kind_of(code: u64) -> SectionKind {
    match code {
        0 => SectionKind::Question,
        1 => SectionKind::Background,
        2 => SectionKind::Exploration,
        3 => SectionKind::Takeaways,
        4 => SectionKind::OpenQuestions,
        _ => SectionKind::Other,
    }
}

/// How much a match in a section counts: the question a post asks and what it concluded
/// say what it is about; text outside the five sections says least.
pub(super) fn section_boost(code: u64) -> f32 {
    match kind_of(code) {
        SectionKind::Question => 1.5,
        SectionKind::Takeaways => 1.3,
        SectionKind::OpenQuestions => 1.2,
        SectionKind::Background | SectionKind::Exploration => 1.0,
        SectionKind::Other => 0.8,
    }
}

/// The folder holding the search indexes of the repository at `git_dir`: beside the
/// history index (`palimpsest/history-v1.bin`).
pub fn search_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("palimpsest").join("search")
}

/// An index, its fields and its one writer.
pub(super) struct OpenIndex {
    pub index: Index,
    pub fields: Fields,
    pub writer: IndexWriter,
}

/// Opens the index in `dir`, or creates it there when it is missing, unreadable or of
/// another schema: it is a cache of the repository, never the truth. Without a folder, when
/// the folder cannot be written (a read-only repository, a full disk), or when another
/// process holds its writer (two servers on one repository), the index is kept in memory.
///
/// # Errors
/// tantivy errors creating an index in memory.
pub(super) fn open_index(dir: Option<&Path>) -> tantivy::Result<OpenIndex> {
    let (schema, fields) = Fields::build();
    let on_disk =
        dir.map(|dir| on_disk(dir, &schema).and_then(|index| Ok((writer_of(&index)?, index))));
    let (writer, index) = match on_disk {
        Some(Ok(opened)) => opened,
        failed => {
            if let Some(Err(error)) = failed {
                tracing::warn!(%error, "search index kept in memory: its folder is not usable");
            }
            let index = Index::create_in_ram(schema);
            (writer_of(&index)?, index)
        }
    };
    Ok(OpenIndex {
        index,
        fields,
        writer,
    })
}

/// The index in `dir`, created afresh when it does not open or has another schema.
fn on_disk(dir: &Path, schema: &Schema) -> tantivy::Result<Index> {
    let opened = Index::open_in_dir(dir)
        .ok()
        .filter(|index| index.schema() == *schema);
    if let Some(index) = opened {
        return Ok(index);
    }
    if dir.exists() {
        tracing::warn!(dir = %dir.display(), "rebuilding an unreadable search index");
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Index::create_in_dir(dir, schema.clone())
}

impl OpenIndex {
    /// A reader that sees the index as of its last commit, reloaded by whoever commits.
    ///
    /// # Errors
    /// tantivy errors opening the segments.
    pub fn reader(&self) -> tantivy::Result<IndexReader> {
        self.index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
    }
}

fn writer_of(index: &Index) -> tantivy::Result<IndexWriter> {
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(tantivy::tokenizer::Language::English))
        .build();
    index.tokenizers().register(ANALYZER, analyzer);
    index.writer_with_num_threads(1, WRITER_BUDGET)
}

/// Clears `dir` when its format file names another format (or none), and writes ours.
///
/// # Errors
/// I/O errors removing the old indexes or writing the format file.
pub(super) fn check_format(dir: &Path) -> std::io::Result<()> {
    let file = dir.join("FORMAT");
    if std::fs::read_to_string(&file).ok().as_deref() == Some(FORMAT) {
        return Ok(());
    }
    if dir.exists() {
        tracing::info!(dir = %dir.display(), "search index of another format; rebuilding it");
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join("FORMAT.tmp");
    std::fs::write(&temporary, FORMAT)?;
    std::fs::rename(&temporary, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents_in(open: &OpenIndex) -> u64 {
        open.reader().unwrap().searcher().num_docs()
    }

    fn one_document(open: &mut OpenIndex) {
        let text = [(SectionKind::Question, "Why?".to_string())];
        for document in open.fields.documents("a", Oid::ZERO_SHA1, "A", text.iter()) {
            open.writer.add_document(document).unwrap();
        }
        open.writer.commit().unwrap();
    }

    #[test]
    fn an_index_that_does_not_open_is_created_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current");
        let mut open = open_index(Some(&path)).unwrap();
        one_document(&mut open);
        assert_eq!(documents_in(&open), 1);
        drop(open);
        assert_eq!(
            documents_in(&open_index(Some(&path)).unwrap()),
            1,
            "reopened"
        );

        std::fs::write(path.join("meta.json"), b"{ not json").unwrap();
        let mut open = open_index(Some(&path)).unwrap();
        assert_eq!(documents_in(&open), 0);
        one_document(&mut open);
        assert_eq!(documents_in(&open), 1);
    }

    #[test]
    fn indexes_of_another_format_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let search = dir.path().join("search");
        std::fs::create_dir_all(search.join("current")).unwrap();
        std::fs::write(search.join("FORMAT"), "palimpsest search index, format 0\n").unwrap();
        check_format(&search).unwrap();
        assert!(!search.join("current").exists());
        assert_eq!(
            std::fs::read_to_string(search.join("FORMAT")).unwrap(),
            FORMAT
        );

        std::fs::create_dir_all(search.join("current")).unwrap();
        check_format(&search).unwrap();
        assert!(search.join("current").exists(), "same format: kept");
    }

    #[test]
    fn a_folder_that_cannot_be_created_leaves_the_index_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"not a folder").unwrap();
        let mut open = open_index(Some(&file.join("current"))).unwrap();
        one_document(&mut open);
        assert_eq!(documents_in(&open), 1);
        assert!(check_format(&file.join("search")).is_err());
    }

    #[test]
    fn a_second_writer_on_the_same_folder_indexes_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current");
        let _first = open_index(Some(&path)).unwrap();
        let mut second = open_index(Some(&path)).unwrap();
        one_document(&mut second);
        assert_eq!(documents_in(&second), 1);
    }
}
