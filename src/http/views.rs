//! The JSON shapes the API answers with, serialised once per post per snapshot.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::ToSchema;

use crate::history::{PostHistory, RevisionStamp};
use crate::post::{Post, Section, Slug, Status, TocEntry};
use crate::site::{Assets, Audience, PostRecord, Snapshot};

/// A whole post, as `GET /api/v1/posts/{slug}` returns it: its list entry plus the body,
/// rendered HTML, table of contents and sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostView<'a> {
    #[serde(flatten)]
    pub summary: PostSummary<'a>,
    pub markdown: &'a str,
    pub html: &'a str,
    pub toc: &'a [TocEntry],
    pub sections: &'a [Section],
}

impl<'a> PostView<'a> {
    /// `links_to` is the post's links that resolve for the viewer (see [`PostSummary::of`]).
    pub fn of(post: &'a Post, links_to: &'a [Slug]) -> PostView<'a> {
        PostView {
            summary: PostSummary::of(post, links_to),
            markdown: &post.markdown,
            html: &post.html,
            toc: &post.toc,
            sections: &post.sections,
        }
    }

    /// Adds the post's place in history (see [`PostSummary::with_history`]).
    pub fn with_history(mut self, history: Option<&'a PostHistory>) -> PostView<'a> {
        self.summary = self.summary.with_history(history);
        self
    }
}

/// A post in a list: the post without its body, HTML, table of contents and sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostSummary<'a> {
    pub slug: &'a Slug,
    #[schema(example = "Why does attention divide by the square root of d_k?")]
    pub title: &'a str,
    /// First published, as written: `YYYY-MM-DD` or RFC 3339.
    #[schema(example = "2026-09-01")]
    pub date: Option<&'a str>,
    pub tags: &'a [String],
    pub status: Status,
    pub summary: Option<&'a str>,
    /// Every front matter key, unknown ones included, in file order.
    #[schema(value_type = Object)]
    pub front_matter: &'a serde_json::Map<String, serde_json::Value>,
    /// The top-level items of the Open Questions section.
    pub open_questions: &'a [String],
    /// Structure problems that do not make the post invalid.
    pub warnings: &'a [String],
    /// Posts this one links to that exist and the viewer may see.
    pub links_to: &'a [Slug],
    pub word_count: usize,
    pub reading_minutes: u32,
    /// The commit that last changed the post.
    pub revision: Option<&'a RevisionStamp>,
    /// When the post's first revision was committed (RFC 3339, UTC).
    #[schema(example = "2026-09-01T08:00:00Z")]
    pub created_at: Option<&'a str>,
    /// When its latest revision was committed (RFC 3339, UTC).
    #[schema(example = "2026-11-02T09:30:00Z")]
    pub updated_at: Option<&'a str>,
    /// How many revisions the post has, across renames.
    #[schema(example = 7)]
    pub revision_count: usize,
}

impl<'a> PostSummary<'a> {
    /// `links_to` replaces the post's raw links: only those that resolve for the viewer, so
    /// a draft's slug never reaches an anonymous client through a link.
    pub fn of(post: &'a Post, links_to: &'a [Slug]) -> PostSummary<'a> {
        PostSummary {
            slug: &post.slug,
            title: &post.title,
            date: post.date.as_deref(),
            tags: &post.tags,
            status: post.status,
            summary: post.summary.as_deref(),
            front_matter: &post.front_matter,
            open_questions: &post.open_questions,
            warnings: &post.warnings,
            links_to,
            word_count: post.word_count,
            reading_minutes: post.reading_minutes,
            revision: None,
            created_at: None,
            updated_at: None,
            revision_count: 0,
        }
    }

    /// Adds the post's latest revision, creation and update times and revision count.
    pub fn with_history(mut self, history: Option<&'a PostHistory>) -> PostSummary<'a> {
        if let Some(history) = history {
            self.revision = Some(&history.revision);
            self.created_at = Some(&history.created_at);
            self.updated_at = Some(&history.updated_at);
            self.revision_count = history.revision_count;
        }
        self
    }
}

/// Where a page sits in a paginated list.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(example = json!({"page": 1, "per_page": 20, "total": 8, "pages": 1}))]
pub struct PageMeta {
    pub page: usize,
    pub per_page: usize,
    pub total: usize,
    pub pages: usize,
}

/// A page of posts (the shape of `GET /api/v1/posts`; backlinks leave out `meta`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PostList<'a> {
    pub posts: Vec<PostSummary<'a>>,
    pub meta: PageMeta,
}

/// The posts linking to one post.
#[derive(Debug, Serialize, ToSchema)]
pub struct Backlinks<'a> {
    pub posts: Vec<PostSummary<'a>>,
}

/// One tag and how many visible posts carry it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"tag": "transformers", "count": 5}))]
pub struct TagCount {
    pub tag: String,
    pub count: usize,
}

/// `GET /api/v1/tags`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<TagCount>,
}

/// The serialised post for `audience` as `snapshot` shows it, with what is wrong with its
/// references there (links to posts that do not exist, images of assets that do not, these
/// checked against `assets`, the snapshot's listing, when given), and its ETag.
///
/// Cached in the record with the warnings about links, so that a warm read does no work:
/// they depend only on which slugs exist, and a record is kept by the next snapshot only
/// when the same slugs exist (see `site::build`). Warnings about assets can change while no
/// post does (an asset pushed or deleted), so a post that has them is serialised each time.
pub fn post_body<'a>(
    snapshot: &Snapshot,
    record: &'a PostRecord,
    audience: Audience,
    assets: Option<&Assets>,
) -> Cow<'a, (bytes::Bytes, String)> {
    let missing_assets = snapshot.asset_warnings(record.post(), assets);
    if missing_assets.is_empty() {
        // Borrowed: a warm read copies neither the body nor its ETag.
        return Cow::Borrowed(record.body[audience as usize].get_or_init(|| {
            serialise_post(record, audience, &snapshot.link_warnings(record.post()))
        }));
    }
    let mut more = snapshot.link_warnings(record.post());
    more.extend(missing_assets);
    Cow::Owned(serialise_post(record, audience, &more))
}

/// The post with `more` warnings than its own, and its ETag.
fn serialise_post(
    record: &PostRecord,
    audience: Audience,
    more: &[String],
) -> (bytes::Bytes, String) {
    let warnings: Vec<String>;
    let mut view =
        PostView::of(record.post(), record.links_to(audience)).with_history(record.history());
    if !more.is_empty() {
        warnings = record.post().warnings.iter().chain(more).cloned().collect();
        view.summary.warnings = &warnings;
    }
    let body = to_bytes(&view);
    let etag = super::caching::post_etag(record.blob(), &body);
    (body, etag)
}

/// The serialised list entry for `audience`, cached in its record.
pub fn summary_body(record: &PostRecord, audience: Audience) -> bytes::Bytes {
    record.summary[audience as usize]
        .get_or_init(|| {
            to_bytes(
                &PostSummary::of(record.post(), record.links_to(audience))
                    .with_history(record.history()),
            )
        })
        .clone()
}

pub fn to_bytes(value: &impl Serialize) -> bytes::Bytes {
    serde_json::to_vec(value)
        .expect("API views serialise to JSON")
        .into()
}
