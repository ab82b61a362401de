//! A tantivy collector that keeps, for every matched version (blob), its best section:
//! results are posts, not sections, so every match counts, not only a top few.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::section_boost;

/// A version's best-scoring section: its score with the section's boost, and where it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct BestSection {
    pub score: Score,
    pub doc: DocAddress,
}

/// Collects [`BestSection`]s by blob key.
pub(super) struct BestPerBlob;

pub(super) struct SegmentBest {
    segment: SegmentOrdinal,
    blob_keys: Column<u64>,
    sections: Column<u64>,
    best: HashMap<u64, BestSection>,
}

impl Collector for BestPerBlob {
    type Fruit = HashMap<u64, BestSection>;
    type Child = SegmentBest;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentBest> {
        Ok(SegmentBest {
            segment,
            blob_keys: reader.fast_fields().u64("blob_key")?,
            sections: reader.fast_fields().u64("section")?,
            best: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<HashMap<u64, BestSection>>,
    ) -> tantivy::Result<HashMap<u64, BestSection>> {
        let mut fruits = fruits.into_iter();
        let mut merged = fruits.next().unwrap_or_default();
        for fruit in fruits {
            for (key, found) in fruit {
                keep_best(&mut merged, key, found);
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentBest {
    type Fruit = HashMap<u64, BestSection>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let Some(key) = self.blob_keys.first(doc) else {
            return;
        };
        let boost = self.sections.first(doc).map_or(1.0, section_boost);
        let found = BestSection {
            score: score * boost,
            doc: DocAddress::new(self.segment, doc),
        };
        keep_best(&mut self.best, key, found);
    }

    fn harvest(self) -> HashMap<u64, BestSection> {
        self.best
    }
}

fn keep_best(best: &mut HashMap<u64, BestSection>, key: u64, found: BestSection) {
    best.entry(key)
        .and_modify(|known| {
            if found.score > known.score {
                *known = found;
            }
        })
        .or_insert(found);
}
