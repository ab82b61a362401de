//! Where a renamed post went: old links to a post keep working after a rename.

use super::index::{ChangeKind, HistoryIndex};
use crate::post::Slug;

/// Renames followed from an old slug at most; a longer chain is taken for a loop.
const MAX_RENAMES: usize = 64;

impl HistoryIndex {
    /// The slug the post once at `slug` has now, when its file was renamed away (and then
    /// perhaps renamed again) and nothing has been at `slug` since; `None` otherwise. The
    /// caller checks that the post is still there under its new slug.
    pub fn renamed_to(&self, slug: &Slug) -> Option<Slug> {
        let mut current = slug.clone();
        for _ in 0..MAX_RENAMES {
            let last = *self.changes_to(&current, 0).last()?;
            let (_, change) = self.change(last);
            let renamed_away = change.kind == ChangeKind::Renamed
                && change
                    .previous
                    .is_some_and(|previous| *self.slug(previous) == current);
            if !renamed_away {
                return (current != *slug).then_some(current);
            }
            current = self.slug(change.path).clone();
        }
        None
    }
}
