//! The assets at a snapshot's tip, listed once per snapshot on first use: serving one
//! looks its blob up here, and a post's references to assets are checked against it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Snapshot;
use crate::post::{AssetPath, Post};
use crate::store::{AssetFile, Store, StoreError};

/// Every asset at one tip, by path.
#[derive(Debug, Default)]
pub struct Assets {
    files: BTreeMap<AssetPath, AssetFile>,
}

impl Assets {
    pub fn get(&self, path: &AssetPath) -> Option<&AssetFile> {
        self.files.get(path)
    }

    /// Every asset, in path order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &AssetFile> {
        self.files.values()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl Snapshot {
    /// The assets at the snapshot's tip. Blocking the first time (it reads the `assets/`
    /// tree); later calls return the same list.
    ///
    /// # Errors
    /// Git errors reading the tree.
    pub fn assets(&self, store: &Store) -> Result<Arc<Assets>, StoreError> {
        if let Some(assets) = self.assets.get() {
            return Ok(assets.clone());
        }
        let files = match self.tip {
            Some(tip) => store.asset_files(tip)?,
            None => Vec::new(),
        };
        let assets = Arc::new(Assets {
            files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
        });
        Ok(self.assets.get_or_init(|| assets).clone())
    }

    /// The assets, if already listed: for callers that must not touch git.
    pub fn listed_assets(&self) -> Option<&Arc<Assets>> {
        self.assets.get()
    }
}

impl Snapshot {
    /// What is wrong with a post's references at this tip: links to posts that do not exist
    /// and images or links to assets that do not (checked against `assets`, the listing of
    /// this snapshot; see [`Snapshot::assets`]).
    pub fn reference_warnings(&self, post: &Post, assets: Option<&Assets>) -> Vec<String> {
        let mut warnings = self.link_warnings(post);
        warnings.extend(self.asset_warnings(post, assets));
        warnings
    }

    /// The links of a post to posts that do not exist at this tip. They depend only on
    /// which slugs exist, which a record kept from the previous snapshot shares with it
    /// (see `build::resolve_links`), so they can be served with the record's cached body.
    pub fn link_warnings(&self, post: &Post) -> Vec<String> {
        post.links_to
            .iter()
            .filter(|slug| self.get(slug).is_none())
            .map(|slug| format!("links to post `{slug}`, which does not exist"))
            .collect()
    }

    /// The assets a post refers to that `assets` (this tip's listing) does not hold; none
    /// when the listing is not known.
    pub fn asset_warnings(&self, post: &Post, assets: Option<&Assets>) -> Vec<String> {
        post.assets
            .iter()
            .filter(|path| assets.is_some_and(|assets| assets.get(path).is_none()))
            .map(|path| format!("refers to `assets/{path}`, which does not exist"))
            .collect()
    }
}
