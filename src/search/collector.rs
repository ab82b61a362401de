//! A tantivy collector that groups matches by post as it goes: results are posts, not
//! sections, so every match counts (not only a top few), and a dense array per post is
//! what keeps a query that matches most of a long history cheap.

use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::catalog::{Catalog, Owner};
use super::schema::section_boost;

/// A matching section: its score with the section's boost, and where it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct BestSection {
    pub score: Score,
    pub doc: DocAddress,
}

/// How one post matched: its best score over every matching version, and the best section
/// of its earliest matching version.
#[derive(Debug, Clone, Copy)]
pub(super) struct PostMatch {
    pub score: Score,
    /// The position of the earliest matching version (see [`Owner::position`]).
    pub earliest: u32,
    pub best: BestSection,
}

/// Collects a [`PostMatch`] per post of a catalog (indexed like [`Catalog::slugs`]).
pub(super) struct MatchesPerPost(pub Arc<Catalog>);

pub(super) struct SegmentMatches {
    catalog: Arc<Catalog>,
    segment: SegmentOrdinal,
    blob_keys: Column<u64>,
    sections: Column<u64>,
    posts: Vec<Option<PostMatch>>,
}

impl Collector for MatchesPerPost {
    type Fruit = Vec<Option<PostMatch>>;
    type Child = SegmentMatches;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentMatches> {
        Ok(SegmentMatches {
            catalog: self.0.clone(),
            segment,
            blob_keys: reader.fast_fields().u64("blob_key")?,
            sections: reader.fast_fields().u64("section")?,
            posts: vec![None; self.0.slugs.len()],
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<Option<PostMatch>>>,
    ) -> tantivy::Result<Vec<Option<PostMatch>>> {
        let mut fruits = fruits.into_iter();
        let mut merged = fruits
            .next()
            .unwrap_or_else(|| vec![None; self.0.slugs.len()]);
        for fruit in fruits {
            for (known, found) in merged.iter_mut().zip(fruit) {
                if let Some(found) = found {
                    merge(known, found.score, found.earliest, found.best);
                }
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentMatches {
    type Fruit = Vec<Option<PostMatch>>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let Some(key) = self.blob_keys.first(doc) else {
            return;
        };
        let boost = self.sections.first(doc).map_or(1.0, section_boost);
        let best = BestSection {
            score: score * boost,
            doc: DocAddress::new(self.segment, doc),
        };
        for &Owner { post, position } in self.catalog.owners(key) {
            if let Some(known) = self.posts.get_mut(post as usize) {
                merge(known, best.score, position, best);
            }
        }
    }

    fn harvest(self) -> Vec<Option<PostMatch>> {
        self.posts
    }
}

/// Folds one match into what is known of its post.
fn merge(known: &mut Option<PostMatch>, score: Score, position: u32, best: BestSection) {
    let Some(known) = known else {
        *known = Some(PostMatch {
            score,
            earliest: position,
            best,
        });
        return;
    };
    known.score = known.score.max(score);
    if position < known.earliest || (position == known.earliest && best.score > known.best.score) {
        known.earliest = position;
        known.best = best;
    }
}
