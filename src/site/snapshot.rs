//! One branch tip's posts, parsed and rendered once, with the indexes that listing needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::build::backlinks_of;
use crate::history::{HistoryIndex, PostHistory, StatsCache};
use crate::post::{Post, Slug, Status};
use crate::store::Oid;

/// Who a response is for: the public sees published posts only, authors see drafts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Public = 0,
    Authors = 1,
}

impl Audience {
    pub fn sees(self, record: &PostRecord) -> bool {
        self == Audience::Authors || record.is_published()
    }
}

/// A post parsed and rendered from one blob; shared by every snapshot in which the blob is
/// unchanged, so a push re-parses only the posts it touched.
#[derive(Debug)]
pub struct ParsedPost {
    pub post: Post,
    /// The blob holding the file: the post's identity for caching (its ETag).
    pub blob: Oid,
    /// Lower-cased title, summary, tags and body, for `?q=` search.
    search_text: String,
}

impl ParsedPost {
    pub(super) fn new(post: Post, blob: Oid) -> ParsedPost {
        let search_text = [
            post.title.as_str(),
            post.summary.as_deref().unwrap_or_default(),
            &post.tags.join(" "),
            &post.markdown,
        ]
        .join("\n")
        .to_lowercase();
        ParsedPost {
            post,
            blob,
            search_text,
        }
    }
}

/// A post as of the snapshot's tip: the parsed post plus what depends on the rest of the
/// site (which links resolve, for whom), and the serialised responses, filled lazily by the
/// first request that needs them.
#[derive(Debug)]
pub struct PostRecord {
    pub(super) parsed: Arc<ParsedPost>,
    /// Per audience: the linked posts that exist and that audience may see.
    pub(super) links_to: [Vec<Slug>; 2],
    /// Per audience: the serialised post and its ETag.
    pub body: [OnceLock<(bytes::Bytes, String)>; 2],
    /// Per audience: the serialised list entry.
    pub summary: [OnceLock<bytes::Bytes>; 2],
    /// The post's revisions as of the snapshot's tip; `None` without a history index.
    /// Shared with the previous snapshot when no new commit touched the post.
    pub(super) history: Option<Arc<PostHistory>>,
}

impl PostRecord {
    pub fn post(&self) -> &Post {
        &self.parsed.post
    }

    pub fn blob(&self) -> Oid {
        self.parsed.blob
    }

    pub fn is_published(&self) -> bool {
        self.parsed.post.status == Status::Published
    }

    /// The posts this one links to that exist and `audience` may see.
    pub fn links_to(&self, audience: Audience) -> &[Slug] {
        &self.links_to[audience as usize]
    }

    /// When the post last changed (its latest revision's commit time, RFC 3339 in UTC, or
    /// without history its `date`), for `sort=-updated`.
    pub fn updated_at(&self) -> Option<&str> {
        match &self.history {
            Some(history) => Some(&history.updated_at),
            None => self.parsed.post.date.as_deref(),
        }
    }

    /// Its latest revision, first revision time and revision count.
    pub fn history(&self) -> Option<&PostHistory> {
        self.history.as_deref()
    }

    /// This record, with no link to a post for which `hidden` holds.
    fn without_links_to(self: &Arc<Self>, hidden: &impl Fn(&Slug) -> bool) -> Arc<PostRecord> {
        if !self.links_to.iter().flatten().any(hidden) {
            return self.clone();
        }
        let kept = |links: &[Slug]| links.iter().filter(|s| !hidden(s)).cloned().collect();
        Arc::new(PostRecord {
            parsed: self.parsed.clone(),
            links_to: [kept(&self.links_to[0]), kept(&self.links_to[1])],
            body: Default::default(),
            summary: Default::default(),
            history: self.history.clone(),
        })
    }

    /// Whether every word of the (lower-cased) query occurs in the post.
    pub fn matches(&self, lowercase_words: &[String]) -> bool {
        lowercase_words
            .iter()
            .all(|word| self.parsed.search_text.contains(word.as_str()))
    }
}

/// Every post at one branch tip.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The commit this snapshot shows; `None` for a branch with no commits yet.
    pub tip: Option<Oid>,
    pub(super) posts: BTreeMap<Slug, Arc<PostRecord>>,
    /// For each post, the posts that link to it, sorted.
    pub(super) backlinks: HashMap<Slug, Vec<Slug>>,
    /// Files under `posts/` that could not be parsed, with the reason; served nowhere.
    pub broken: Vec<(Slug, String)>,
    /// The posts in each list order, sorted once per snapshot (see `Snapshot::listing`).
    pub(super) listings: super::order::Listings,
    /// The branch's history as of `tip`.
    pub history: Arc<HistoryIndex>,
    /// Lines and sections changed by revisions already listed; shared with later snapshots.
    pub change_stats: Arc<StatsCache>,
    /// Per audience, the site-wide log, computed on first use.
    pub(super) logs: [OnceLock<Arc<super::log::Log>>; 2],
    /// The assets at `tip`, listed on first use (see `Snapshot::assets`).
    pub(super) assets: OnceLock<Arc<super::Assets>>,
}

impl Snapshot {
    /// This snapshot without the posts for which `hidden` holds (links to them and
    /// backlinks from them gone with them).
    pub(super) fn without(&self, hidden: impl Fn(&Slug) -> bool) -> Snapshot {
        let posts: BTreeMap<Slug, Arc<PostRecord>> = self
            .posts
            .iter()
            .filter(|(slug, _)| !hidden(slug))
            .map(|(slug, record)| (slug.clone(), record.without_links_to(&hidden)))
            .collect();
        Snapshot {
            tip: self.tip,
            backlinks: backlinks_of(&posts),
            posts,
            broken: self.broken.clone(),
            listings: Default::default(),
            history: self.history.clone(),
            change_stats: self.change_stats.clone(),
            logs: Default::default(),
            assets: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.posts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    pub fn get(&self, slug: &Slug) -> Option<&Arc<PostRecord>> {
        self.posts.get(slug)
    }

    /// Every post, in slug order.
    pub fn posts(&self) -> impl Iterator<Item = &Arc<PostRecord>> {
        self.posts.values()
    }

    /// The post if `audience` may see it: drafts exist only for authors.
    pub fn visible(&self, slug: &Slug, audience: Audience) -> Option<&Arc<PostRecord>> {
        self.posts.get(slug).filter(|record| audience.sees(record))
    }

    /// The posts linking to `slug`, in slug order.
    pub fn backlinks(&self, slug: &Slug) -> impl Iterator<Item = &Arc<PostRecord>> {
        self.backlinks
            .get(slug)
            .into_iter()
            .flatten()
            .filter_map(|source| self.posts.get(source))
    }
}
