//! List pages answered once per snapshot: the body, ETag and `Link` header of a page of
//! `GET /api/v1/posts` depend only on the snapshot, the query and the kind of viewer, and
//! frontends ask for the same few pages (the first one, a tag's) on every visit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use actix_web::http::header::HeaderValue;

use crate::site::{Audience, Snapshot};

/// At most this many pages per snapshot; past it pages are built per request, so odd
/// queries cannot make the cache grow.
const MAX_PAGES: usize = 64;

/// One answered page.
#[derive(Debug)]
pub struct ListPage {
    pub etag: String,
    pub body: bytes::Bytes,
    pub link: Option<HeaderValue>,
}

/// The pages of the current snapshot, shared by every worker.
#[derive(Debug, Default)]
pub struct ListPages {
    current: RwLock<Pages>,
}

#[derive(Debug, Default)]
struct Pages {
    /// The snapshot these pages were built from; held so that its address is not reused.
    snapshot: Option<Arc<Snapshot>>,
    pages: HashMap<(Audience, String), Arc<ListPage>>,
}

impl ListPages {
    /// The page of `snapshot` for `query` and `audience`, built with `build` when it is not
    /// known yet.
    pub fn get_or_build(
        &self,
        snapshot: &Arc<Snapshot>,
        audience: Audience,
        query: &str,
        build: impl FnOnce() -> ListPage,
    ) -> Arc<ListPage> {
        let key = (audience, query.to_string());
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            if current.is_of(snapshot)
                && let Some(page) = current.pages.get(&key)
            {
                return page.clone();
            }
        }
        let page = Arc::new(build());
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !current.is_of(snapshot) {
            *current = Pages {
                snapshot: Some(snapshot.clone()),
                pages: HashMap::new(),
            };
        }
        if current.pages.len() < MAX_PAGES {
            current.pages.insert(key, page.clone());
        }
        page
    }
}

impl Pages {
    fn is_of(&self, snapshot: &Arc<Snapshot>) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|ours| Arc::ptr_eq(ours, snapshot))
    }
}
