//! What changed in a post between two versions: the whole file as `git diff` shows it, and
//! the same change read the blog's way: front matter keys, sections, open questions.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::lines::{line_counts, unified_hunks};
use super::outline::{SectionSource, matched, outline, sections_changed};
use crate::post::{FrontMatter, SectionKind, sections, split_front_matter};
use crate::store::Oid;

/// One version of a post file: its repository path, text and blob id.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub blob: Oid,
}

/// A post diff, as `GET /api/v1/posts/{slug}/diff` answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostDiff {
    /// The older revision (a commit id); `null` when diffing the post's first revision
    /// against nothing.
    #[schema(example = "4b825dc642cb6eb9a060e54bf8d69288fbee4904")]
    pub from: Option<String>,
    /// The newer revision (a commit id).
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub to: String,
    /// The whole file's unified diff (front matter included), with git's added and removed
    /// lines.
    #[schema(
        example = "diff --git a/posts/kv-cache.md b/posts/kv-cache.md\n--- a/posts/kv-cache.md\n+++ b/posts/kv-cache.md\n@@ -12 +12 @@\n-Old takeaway.\n+New takeaway.\n"
    )]
    pub unified: String,
    pub front_matter: FrontMatterDiff,
    pub sections: Vec<SectionDiff>,
    pub open_questions: OpenQuestionsDiff,
}

/// What changed between two versions of a post: the whole file's line diff, and the same
/// change read the blog's way.
#[derive(Debug, Clone)]
pub struct VersionDiff {
    /// The unified diff with `git diff`'s headers.
    pub unified: String,
    pub front_matter: FrontMatterDiff,
    pub sections: Vec<SectionDiff>,
    pub open_questions: OpenQuestionsDiff,
}

/// Front matter keys added, removed and changed.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FrontMatterDiff {
    /// Keys only the newer version has, with their values.
    #[schema(value_type = Object, example = json!({"series": "scaling"}))]
    pub added: Map<String, Value>,
    /// Keys only the older version had, with their values.
    #[schema(value_type = Object, example = json!({"draft": true}))]
    pub removed: Map<String, Value>,
    pub changed: Vec<ValueChange>,
}

/// A front matter key whose value changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueChange {
    #[schema(example = "status")]
    pub key: String,
    #[schema(example = "draft")]
    pub old: Value,
    #[schema(example = "published")]
    pub new: Value,
}

/// What happened to one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SectionStatus {
    Added,
    Removed,
    Modified,
    Unchanged,
}

/// One section of either version, matched with its counterpart by kind (and title, for
/// `other` sections).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectionDiff {
    pub kind: SectionKind,
    #[schema(example = "Takeaways")]
    pub title: String,
    pub status: SectionStatus,
    /// The section's own diff: hunks only, empty when unchanged.
    #[schema(example = "@@ -1 +1 @@\n-Old takeaway.\n+New takeaway.\n")]
    pub unified: String,
}

/// Open questions raised (added) and settled or dropped (removed).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OpenQuestionsDiff {
    #[schema(example = json!(["Does it hold with QK-norm?"]))]
    pub added: Vec<String>,
    #[schema(example = json!(["Is re-centering ever needed?"]))]
    pub removed: Vec<String>,
}

/// The size of one revision's change, for the revision list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeStats {
    pub additions: usize,
    pub deletions: usize,
    pub sections_changed: Vec<SectionKind>,
}

/// Change stats already computed, by the pair of file versions they compare: versions are
/// content-addressed, so an entry never goes stale and survives every branch move.
#[derive(Debug, Default)]
pub struct StatsCache {
    known: std::sync::Mutex<StatsByVersions>,
}

/// Stats keyed by the (old, new) file versions they compare.
type StatsByVersions = HashMap<(Option<Oid>, Option<Oid>), ChangeStats>;

/// Entries kept before the cache starts over (about 100 bytes each).
const STATS_CACHE_LIMIT: usize = 500_000;

impl StatsCache {
    pub fn get(&self, old: Option<Oid>, new: Option<Oid>) -> Option<ChangeStats> {
        self.lock().get(&(old, new)).cloned()
    }

    pub fn insert(&self, old: Option<Oid>, new: Option<Oid>, stats: ChangeStats) {
        let mut known = self.lock();
        if known.len() >= STATS_CACHE_LIMIT {
            known.clear();
        }
        known.insert((old, new), stats);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatsByVersions> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The diff from `old` to `new` (either may be absent: a post not yet created, or deleted).
pub fn diff_versions(old: Option<Version<'_>>, new: Option<Version<'_>>) -> VersionDiff {
    let (old_fields, old_body) = parts(old);
    let (new_fields, new_body) = parts(new);
    VersionDiff {
        unified: file_diff(old, new),
        front_matter: front_matter_diff(&old_fields, &new_fields),
        sections: section_diffs(&outline(old_body), &outline(new_body)),
        open_questions: open_questions_diff(old_body, new_body),
    }
}

/// Lines added and removed, and the sections touched, from `old` to `new`.
pub fn change_stats(old: Option<&str>, new: Option<&str>) -> ChangeStats {
    let (additions, deletions) = line_counts(old.unwrap_or_default(), new.unwrap_or_default());
    let old_body = old.map_or("", |t| split_front_matter(t).1);
    let new_body = new.map_or("", |t| split_front_matter(t).1);
    ChangeStats {
        additions,
        deletions,
        sections_changed: sections_changed(&outline(old_body), &outline(new_body)),
    }
}

/// The whole file's diff with the headers `git diff` prints: a missing side is an added or
/// deleted file (`/dev/null`, a zero id); empty when both sides hold the same text. Post
/// files are regular files, so the mode is always `100644`.
fn file_diff(old: Option<Version<'_>>, new: Option<Version<'_>>) -> String {
    let Some(either) = new.or(old) else {
        return String::new();
    };
    let hunks = unified_hunks(old.map_or("", |v| v.text), new.map_or("", |v| v.text));
    if hunks.is_empty() && old.is_some() && new.is_some() {
        return String::new();
    }
    let (a, b) = (old.unwrap_or(either).path, new.unwrap_or(either).path);
    let short = |side: Option<Version<'_>>| match side {
        Some(version) => version.blob.to_string()[..7].to_string(),
        None => "0".repeat(7),
    };
    let mut out = format!("diff --git a/{a} b/{b}\n");
    match (old, new) {
        (None, _) => out.push_str("new file mode 100644\n"),
        (_, None) => out.push_str("deleted file mode 100644\n"),
        _ => {}
    }
    let mode = if old.is_some() && new.is_some() {
        " 100644"
    } else {
        ""
    };
    out.push_str(&format!("index {}..{}{mode}\n", short(old), short(new)));
    if !hunks.is_empty() {
        let from = old.map_or("/dev/null".to_string(), |_| format!("a/{a}"));
        let to = new.map_or("/dev/null".to_string(), |_| format!("b/{b}"));
        out.push_str(&format!("--- {from}\n+++ {to}\n{hunks}"));
    }
    out
}

/// The open questions raised and settled from `old` to `new` (whole files, front matter
/// included), as the diff reports them.
pub fn open_questions_change(old: Option<&str>, new: Option<&str>) -> OpenQuestionsDiff {
    let old_body = old.map_or("", |t| split_front_matter(t).1);
    let new_body = new.map_or("", |t| split_front_matter(t).1);
    open_questions_diff(old_body, new_body)
}

/// The front matter mapping (empty when missing or invalid) and the body of a version.
fn parts(version: Option<Version<'_>>) -> (Map<String, Value>, &str) {
    let Some(version) = version else {
        return (Map::new(), "");
    };
    let (yaml, body) = split_front_matter(version.text);
    let fields = yaml
        .and_then(|yaml| FrontMatter::parse(yaml).ok())
        .map(|front_matter| front_matter.fields)
        .unwrap_or_default();
    (fields, body)
}

fn front_matter_diff(old: &Map<String, Value>, new: &Map<String, Value>) -> FrontMatterDiff {
    let mut diff = FrontMatterDiff::default();
    for (key, value) in new {
        match old.get(key) {
            None => {
                diff.added.insert(key.clone(), value.clone());
            }
            Some(before) if before != value => diff.changed.push(ValueChange {
                key: key.clone(),
                old: before.clone(),
                new: value.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, value) in old {
        if !new.contains_key(key) {
            diff.removed.insert(key.clone(), value.clone());
        }
    }
    diff
}

fn section_diffs(old: &[SectionSource<'_>], new: &[SectionSource<'_>]) -> Vec<SectionDiff> {
    matched(old, new)
        .into_iter()
        .map(|(unchanged, before, after)| {
            let status = match (before, after) {
                (None, _) => SectionStatus::Added,
                (_, None) => SectionStatus::Removed,
                _ if unchanged => SectionStatus::Unchanged,
                _ => SectionStatus::Modified,
            };
            let shown = after.or(before).expect("a matched pair has a side");
            let unified = if unchanged {
                String::new()
            } else {
                let text = |s: Option<&SectionSource<'_>>| {
                    s.map(|s| format!("{}\n", s.markdown)).unwrap_or_default()
                };
                unified_hunks(&text(before), &text(after))
            };
            SectionDiff {
                kind: shown.kind,
                title: shown.title.clone(),
                status,
                unified,
            }
        })
        .collect()
}

fn open_questions_diff(old_body: &str, new_body: &str) -> OpenQuestionsDiff {
    let questions = |body: &str| sections::open_questions(&sections::split(body));
    let (old, new) = (questions(old_body), questions(new_body));
    OpenQuestionsDiff {
        added: new.iter().filter(|q| !old.contains(q)).cloned().collect(),
        removed: old.iter().filter(|q| !new.contains(q)).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "---\ntitle: A\nstatus: draft\nseries: x\n---\n\n## Question\n\nWhy?\n\n## Takeaways\n\nOld.\n\n## Open Questions\n\n- First?\n- Second?\n";
    const AFTER: &str = "---\ntitle: A\nstatus: published\ntags: [t]\n---\n\n## Question\n\nWhy?\n\n## Takeaways\n\nNew.\n\n## Open Questions\n\n- Second?\n- Third?\n";

    fn diff() -> VersionDiff {
        let (path, blob) = ("posts/a.md", Oid::ZERO_SHA1);
        diff_versions(
            Some(Version {
                path,
                text: BEFORE,
                blob,
            }),
            Some(Version {
                path,
                text: AFTER,
                blob,
            }),
        )
    }

    #[test]
    fn front_matter_changes_name_keys_with_old_and_new_values() {
        let front_matter = diff().front_matter;
        assert_eq!(front_matter.added["tags"], serde_json::json!(["t"]));
        assert_eq!(front_matter.removed["series"], "x");
        assert_eq!(front_matter.changed.len(), 1);
        assert_eq!(front_matter.changed[0].key, "status");
        assert_eq!(
            (&front_matter.changed[0].old, &front_matter.changed[0].new),
            (&Value::from("draft"), &Value::from("published"))
        );
    }

    #[test]
    fn each_section_has_a_status_and_its_own_hunks() {
        let sections = diff().sections;
        let statuses: Vec<(SectionKind, SectionStatus)> =
            sections.iter().map(|s| (s.kind, s.status)).collect();
        assert_eq!(
            statuses,
            [
                (SectionKind::Question, SectionStatus::Unchanged),
                (SectionKind::Takeaways, SectionStatus::Modified),
                (SectionKind::OpenQuestions, SectionStatus::Modified),
            ]
        );
        assert_eq!(sections[1].unified, "@@ -1 +1 @@\n-Old.\n+New.\n");
        assert!(sections[0].unified.is_empty());
    }

    #[test]
    fn open_questions_raised_and_settled_are_listed() {
        let questions = diff().open_questions;
        assert_eq!(questions.added, ["Third?"]);
        assert_eq!(questions.removed, ["First?"]);
    }

    #[test]
    fn an_added_or_deleted_file_has_the_headers_git_diff_prints() {
        let (path, text) = ("posts/a.md", "one\n");
        let blob = Oid::hash_object(git2::ObjectType::Blob, text.as_bytes()).unwrap();
        let version = Some(Version { path, text, blob });
        assert_eq!(
            file_diff(None, version),
            "diff --git a/posts/a.md b/posts/a.md\nnew file mode 100644\nindex 0000000..5626abf\n\
             --- /dev/null\n+++ b/posts/a.md\n@@ -0,0 +1 @@\n+one\n"
        );
        assert_eq!(
            file_diff(version, None),
            "diff --git a/posts/a.md b/posts/a.md\ndeleted file mode 100644\nindex 5626abf..0000000\n\
             --- a/posts/a.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-one\n"
        );
        assert_eq!(file_diff(version, version), "");
    }

    #[test]
    fn change_stats_count_lines_and_name_sections() {
        let stats = change_stats(Some(BEFORE), Some(AFTER));
        assert_eq!((stats.additions, stats.deletions), (4, 4));
        assert_eq!(
            stats.sections_changed,
            [SectionKind::Takeaways, SectionKind::OpenQuestions]
        );
        let created = change_stats(None, Some(AFTER));
        assert_eq!(created.deletions, 0);
        assert_eq!(created.sections_changed.len(), 3);
    }
}
