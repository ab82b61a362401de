//! Past versions of posts and diffs between them, computed once: anyone may ask for any
//! version (`?rev=`, `/revisions/{rev}`) or any pair (`/diff?from=&to=`), so each is
//! computed at most once while it stays in a cache bounded in bytes, and only a few are
//! computed at a time; the rest wait briefly, then are told to come back (503 with
//! `Retry-After`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use lru::LruCache;
use tokio::sync::Semaphore;

use super::Audience;
use crate::post::{Addresses, Post, PostError, Slug};
use crate::store::Oid;

/// How much rendered past versions may hold, counted as the bytes of their text and HTML;
/// diffs may hold as much again.
const BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// How many past versions and diffs are computed at once, at most.
const CONCURRENT_RENDERS: usize = 2;

/// How long a render waits for its turn before the client is asked to retry.
const RENDER_WAIT: Duration = Duration::from_secs(2);

/// The cache of rendered past versions and the turns to render one.
pub struct PastPosts {
    cache: Mutex<Cache>,
    diffs: Mutex<DiffCache>,
    renders: Semaphore,
}

/// A response body kept once computed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyKey {
    /// A diff: the post, and the commits it goes from (none: an empty file) and to.
    Diff(Slug, Option<Oid>, Oid),
    /// A past version as served to `audience` while the branch is at `tip` (its links to
    /// other posts depend on which are visible then).
    Version {
        slug: Slug,
        commit: Oid,
        tip: Option<Oid>,
        audience: Audience,
    },
}

/// Serialised diffs and past versions, least recently used first out.
struct DiffCache {
    bodies: LruCache<BodyKey, Bytes>,
    bytes: usize,
}

/// Rendered versions by file and slug (the slug is part of the post: its links to itself are
/// left out), least recently used first out.
struct Cache {
    posts: LruCache<(Oid, Slug), Arc<Post>>,
    bytes: usize,
}

/// Why a past version was not rendered.
#[derive(Debug, thiserror::Error)]
pub enum PastPostError {
    #[error(transparent)]
    Invalid(#[from] PostError),
    #[error("too many past versions and diffs are being computed; try again in a moment")]
    Busy,
}

impl Default for PastPosts {
    fn default() -> Self {
        PastPosts {
            cache: Mutex::new(Cache {
                posts: LruCache::unbounded(),
                bytes: 0,
            }),
            diffs: Mutex::new(DiffCache {
                bodies: LruCache::unbounded(),
                bytes: 0,
            }),
            renders: Semaphore::new(CONCURRENT_RENDERS),
        }
    }
}

impl PastPosts {
    /// The version of `slug` whose file is `blob`, rendered from `text` with its links
    /// pointing at `addresses`, unless cached.
    ///
    /// # Errors
    /// `Invalid` for a file that is not a post; `Busy` when no turn to render came in time.
    pub async fn get(
        &self,
        blob: Oid,
        slug: Slug,
        text: String,
        addresses: Addresses,
    ) -> Result<Arc<Post>, PastPostError> {
        let key = (blob, slug);
        if let Some(post) = self.lock().posts.get(&key) {
            return Ok(post.clone());
        }
        let _turn = self.turn().await?;
        // Another request may have rendered it while this one waited.
        if let Some(post) = self.lock().posts.get(&key) {
            return Ok(post.clone());
        }
        let slug = key.1.clone();
        let post = tokio::task::spawn_blocking(move || Post::parse_with(slug, &text, &addresses))
            .await
            .map_err(|_| PastPostError::Busy)??;
        let post = Arc::new(post);
        self.insert(key, post.clone());
        Ok(post)
    }

    /// The serialised diff `key` names, computed by `compute` unless cached.
    ///
    /// # Errors
    /// `Busy` when no turn to compute came in time; `compute`'s own error as the inner one.
    pub async fn diff<E: Send + 'static>(
        &self,
        key: BodyKey,
        compute: impl FnOnce() -> Result<Bytes, E> + Send + 'static,
    ) -> Result<Result<Bytes, E>, PastPostError> {
        if let Some(body) = self.lock_diffs().bodies.get(&key) {
            return Ok(Ok(body.clone()));
        }
        let _turn = self.turn().await?;
        if let Some(body) = self.lock_diffs().bodies.get(&key) {
            return Ok(Ok(body.clone()));
        }
        let body = match tokio::task::spawn_blocking(compute).await {
            Ok(Ok(body)) => body,
            Ok(Err(error)) => return Ok(Err(error)),
            Err(_) => return Err(PastPostError::Busy),
        };
        self.remember(key, body.clone());
        Ok(Ok(body))
    }

    /// The body kept under `key`, if any.
    pub fn cached(&self, key: &BodyKey) -> Option<Bytes> {
        self.lock_diffs().bodies.get(key).cloned()
    }

    /// Keeps `body` under `key`, within the budget.
    pub fn remember(&self, key: BodyKey, body: Bytes) {
        if body.len() > BUDGET_BYTES {
            return;
        }
        let mut cache = self.lock_diffs();
        if let Some(replaced) = cache.bodies.put(key, body.clone()) {
            cache.bytes -= replaced.len();
        }
        cache.bytes += body.len();
        while cache.bytes > BUDGET_BYTES {
            match cache.bodies.pop_lru() {
                Some((_, evicted)) => cache.bytes -= evicted.len(),
                None => break,
            }
        }
    }

    /// A turn to compute, waited for at most [`RENDER_WAIT`].
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PastPostError> {
        tokio::time::timeout(RENDER_WAIT, self.renders.acquire())
            .await
            .map_err(|_| PastPostError::Busy)?
            .map_err(|_| PastPostError::Busy)
    }

    fn lock_diffs(&self) -> std::sync::MutexGuard<'_, DiffCache> {
        self.diffs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, key: (Oid, Slug), post: Arc<Post>) {
        let added = weight(&post);
        if added > BUDGET_BYTES {
            return;
        }
        let mut cache = self.lock();
        if let Some(replaced) = cache.posts.put(key, post) {
            cache.bytes -= weight(&replaced);
        }
        cache.bytes += added;
        while cache.bytes > BUDGET_BYTES {
            match cache.posts.pop_lru() {
                Some((_, evicted)) => cache.bytes -= weight(&evicted),
                None => break,
            }
        }
    }

    /// How many versions are cached and their weight in bytes.
    pub fn usage(&self) -> (usize, usize) {
        let cache = self.lock();
        (cache.posts.len(), cache.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a rendered post holds, roughly: its text and HTML, whole and by section.
fn weight(post: &Post) -> usize {
    let sections: usize = post
        .sections
        .iter()
        .map(|s| s.markdown.len() + s.html.len())
        .sum();
    post.markdown.len() + post.html.len() + sections + 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> String {
        format!("---\ntitle: T\n---\n\n{}\n", "word ".repeat(n))
    }

    #[tokio::test]
    async fn versions_are_rendered_once_and_the_cache_stays_within_its_budget() {
        let past = PastPosts::default();
        let slug = Slug::parse("p").unwrap();
        let blob = |n: u8| Oid::from_bytes(&[n; 20]).unwrap();
        let first = past
            .get(blob(1), slug.clone(), text(10), Addresses::default())
            .await
            .unwrap();
        let again = past
            .get(blob(1), slug.clone(), String::new(), Addresses::default())
            .await
            .unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second read is the cached one"
        );
        // Each about 120 KiB of text and as much HTML: the budget holds a few hundred.
        for n in 0..255u8 {
            past.get(blob(n), slug.clone(), text(24_000), Addresses::default())
                .await
                .unwrap();
        }
        let (count, bytes) = past.usage();
        assert!(
            bytes <= BUDGET_BYTES && count < 255,
            "{count} posts, {bytes} bytes"
        );
    }
}
