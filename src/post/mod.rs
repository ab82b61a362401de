//! Posts as the blog defines them: slug, front matter, rendered body, sections, links.
//!
//! Pure domain code: no I/O, no git, no HTTP.

pub mod addresses;
pub mod asset;
mod file;
pub mod front_matter;
mod headings;
pub mod limits;
pub mod links;
pub mod render;
mod sanitize;
pub mod searchable;
pub mod sections;
pub mod slug;
pub mod structure;
mod text;
mod yaml;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use addresses::Addresses;
pub use asset::{AssetPath, AssetPathError};
pub use file::{compose, split_front_matter};
pub use front_matter::{FrontMatter, Status};
pub use render::{Rendered, TocEntry};
pub use searchable::SearchableText;
pub use sections::{Section, SectionKind};
pub use slug::{Slug, SlugError};

/// Length of a summary derived from the Question section, in characters.
const SUMMARY_CHARS: usize = 280;

/// A parsed, rendered post: everything the API serves that comes from the file alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Post {
    pub slug: Slug,
    #[schema(example = "Why does LayerNorm come before attention?")]
    pub title: String,
    /// First published, as written: `YYYY-MM-DD` or RFC 3339.
    #[schema(example = "2026-11-02")]
    pub date: Option<String>,
    pub tags: Vec<String>,
    pub status: Status,
    /// The front matter `summary`, else the start of the Question section's first paragraph.
    pub summary: Option<String>,
    /// Every front matter key, in file order, unknown keys included.
    #[schema(value_type = Object)]
    pub front_matter: Map<String, Value>,
    /// The body: the file after the front matter.
    pub markdown: String,
    /// The body as sanitized HTML.
    pub html: String,
    pub toc: Vec<TocEntry>,
    pub sections: Vec<Section>,
    /// The top-level items of the Open Questions section.
    pub open_questions: Vec<String>,
    /// Problems with the post's structure or front matter that do not make it invalid.
    pub warnings: Vec<String>,
    /// Other posts this one links to, distinct and sorted; not checked for existence.
    pub links_to: Vec<Slug>,
    /// The assets its images and links refer to, distinct and sorted; not checked for
    /// existence.
    #[serde(skip)]
    pub assets: Vec<AssetPath>,
    /// Prose words of the body (code blocks, math and raw HTML excluded).
    pub word_count: usize,
    /// `ceil(word_count / 220)`.
    pub reading_minutes: u32,
    /// Why the body is shown as plain text instead of rendered (see [`limits`]), if it is.
    #[serde(skip)]
    pub not_rendered: Option<String>,
}

impl Post {
    /// Parses a whole file (front matter + body).
    ///
    /// # Errors
    /// [`PostError::NoFrontMatter`] without a complete `---` block, and any front matter
    /// error. Problems with the body are never errors: they become `warnings`.
    pub fn parse(slug: Slug, source: &str) -> Result<Post, PostError> {
        Post::parse_with(slug, source, &Addresses::default())
    }

    /// [`Post::parse`], with links to posts and assets in the HTML pointing where
    /// `addresses` say.
    ///
    /// # Errors
    /// As [`Post::parse`].
    pub fn parse_with(slug: Slug, source: &str, addresses: &Addresses) -> Result<Post, PostError> {
        let front_matter = Post::front_matter(source)?;
        let (_, body) = split_front_matter(source);
        Ok(Post::assemble(slug, front_matter, body, addresses))
    }

    /// Reads a file's front matter: all that can keep it from reading as a post (the body
    /// always renders), so a file is checked without rendering it.
    ///
    /// # Errors
    /// As [`Post::parse`].
    pub fn front_matter(source: &str) -> Result<FrontMatter, PostError> {
        let (yaml, _) = split_front_matter(source);
        FrontMatter::parse(yaml.ok_or(PostError::NoFrontMatter)?)
    }

    fn assemble(
        slug: Slug,
        front_matter: FrontMatter,
        markdown: &str,
        addresses: &Addresses,
    ) -> Post {
        if let Some(warning) = limits::body_over_limit(markdown) {
            return Post::as_plain_text(slug, front_matter, markdown, warning);
        }
        let document = render::Document::parse_with(markdown, addresses);
        let spans = sections::spans(&document, markdown);
        let sections: Vec<Section> = spans
            .iter()
            .map(|span| span.to_section(&document, markdown))
            .collect();
        let (html, references) = document.html_and_references(&document.events);
        let html_bytes = html.len() + sections.iter().map(|s| s.html.len()).sum::<usize>();
        if html_bytes > limits::MAX_HTML_BYTES {
            let warning = limits::html_over_limit(html_bytes);
            return Post::as_plain_text(slug, front_matter, markdown, warning);
        }
        let summary = front_matter
            .summary
            .filter(|summary| !summary.trim().is_empty())
            .or_else(|| {
                sections::question_lead(&document, &spans)
                    .map(|lead| text::truncate_at_word(&lead, SUMMARY_CHARS))
            });
        let mut warnings = front_matter.warnings;
        warnings.extend(document.warnings.iter().cloned());
        warnings.extend(structure::warnings(&sections, &document.toc));
        let mut links_to: Vec<Slug> = references.posts.into_iter().collect();
        // A link to one's own section is not a backlink.
        links_to.retain(|target| *target != slug);
        let assets = references.assets.into_iter().collect();
        let word_count = text::word_count(&document.events);
        Post {
            slug,
            title: front_matter.title,
            date: front_matter.date,
            tags: front_matter.tags,
            status: front_matter.status,
            summary,
            front_matter: front_matter.fields,
            markdown: markdown.to_owned(),
            html,
            open_questions: sections::open_questions(&sections),
            toc: document.toc,
            sections,
            warnings,
            links_to,
            assets,
            word_count,
            reading_minutes: text::reading_minutes(word_count),
            not_rendered: None,
        }
    }
}

impl Post {
    /// A post whose body is too costly to render: its body as escaped plain text, no
    /// sections, and `warning` saying why.
    fn as_plain_text(
        slug: Slug,
        front_matter: FrontMatter,
        markdown: &str,
        warning: String,
    ) -> Post {
        let mut warnings = front_matter.warnings;
        warnings.push(warning.clone());
        Post {
            slug,
            title: front_matter.title,
            date: front_matter.date,
            tags: front_matter.tags,
            status: front_matter.status,
            summary: front_matter.summary,
            front_matter: front_matter.fields,
            markdown: markdown.to_owned(),
            html: limits::plain_text(markdown),
            toc: Vec::new(),
            sections: Vec::new(),
            open_questions: Vec::new(),
            warnings,
            links_to: Vec::new(),
            assets: Vec::new(),
            word_count: 0,
            reading_minutes: 0,
            not_rendered: Some(warning),
        }
    }
}

/// Why a post file (or a front matter mapping) was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PostError {
    #[error("front matter is not valid YAML: {0}")]
    InvalidYaml(String),
    #[error("front matter must be a mapping of keys to values")]
    NotAMapping,
    #[error("front matter is larger than {0} bytes")]
    FrontMatterTooLarge(usize),
    #[error("the post has no title")]
    MissingTitle,
    #[error("`{field}` {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the post has no front matter; it needs at least a title")]
    NoFrontMatter,
}

impl PostError {
    /// The front matter field at fault, for problem+json `errors` lists.
    pub fn field(&self) -> &str {
        match self {
            PostError::MissingTitle => "title",
            PostError::InvalidField { field, .. } => field,
            PostError::InvalidYaml(_)
            | PostError::NotAMapping
            | PostError::FrontMatterTooLarge(_)
            | PostError::NoFrontMatter => "front_matter",
        }
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
