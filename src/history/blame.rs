//! Blame by section: which revision last changed each line of a post, and which revisions
//! shaped each of its sections.
//!
//! Built over the history index rather than libgit2's blame: the post's revisions are
//! already known (renames followed, first parent on merges), so blame is one line diff
//! between consecutive versions of the post, O(its own revisions), where libgit2 walks
//! every commit of the branch looking for the ones that touched the file.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use super::index::{ChangeRef, HistoryIndex};
use super::lines::line_hunks;
use super::outline::headings;
use super::{Author, rfc3339};
use crate::post::{SectionKind, split_front_matter};
use crate::store::{Oid, StoreError};

/// Which part of a post file a line is in: the front matter or one of its sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilePart {
    FrontMatter,
    Question,
    Background,
    Exploration,
    Takeaways,
    OpenQuestions,
    Other,
}

impl From<SectionKind> for FilePart {
    fn from(kind: SectionKind) -> FilePart {
        match kind {
            SectionKind::Question => FilePart::Question,
            SectionKind::Background => FilePart::Background,
            SectionKind::Exploration => FilePart::Exploration,
            SectionKind::Takeaways => FilePart::Takeaways,
            SectionKind::OpenQuestions => FilePart::OpenQuestions,
            SectionKind::Other => FilePart::Other,
        }
    }
}

/// A post's blame, as `GET /api/v1/posts/{slug}/blame` answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Blame {
    /// The revision blamed: the post's latest change at or before the requested commit.
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: String,
    /// Every line of the file, front matter included, numbered from 1.
    pub lines: Vec<BlameLine>,
    /// The file's parts in order, each with the revisions that changed it.
    pub sections: Vec<BlameSection>,
    /// Every commit named above, by id.
    pub revisions: BTreeMap<String, BlameRevision>,
}

/// One line and the revision that last changed it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlameLine {
    #[schema(example = 12)]
    pub number: usize,
    /// The line without its line ending.
    #[schema(example = "- Does QK-norm remove the need for warmup?")]
    pub text: String,
    pub section: FilePart,
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: String,
}

/// One part of the file and the revisions that changed it (added, edited or removed one
/// of its lines), oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlameSection {
    pub kind: FilePart,
    /// The heading's text (empty for the front matter and text before the first heading).
    #[schema(example = "Open Questions")]
    pub title: String,
    pub commits: Vec<String>,
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub last_changed: String,
}

/// Who made a revision, when and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlameRevision {
    pub author: Author,
    #[schema(example = "2026-11-02T09:30:00Z")]
    pub committed_at: String,
    #[schema(example = "Settle the QK-norm question")]
    pub message: String,
}

/// Where a part sits in one version: its kind and title (parts of the same kind and title
/// in two versions are the same part).
type PartKey = (FilePart, String);

/// One version of the file cut into its parts: each part's key and each line's part.
struct Layout {
    parts: Vec<PartKey>,
    line_part: Vec<u32>,
}

impl Layout {
    fn of(text: &str) -> Layout {
        let body = split_front_matter(text).1;
        let body_start = text.len() - body.len();
        let mut parts: Vec<PartKey> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        if body_start > 0 {
            parts.push((FilePart::FrontMatter, String::new()));
            starts.push(0);
        }
        let headings = headings(body);
        if headings.first().is_none_or(|h| h.0 > 0) && !body.is_empty() {
            parts.push((FilePart::Other, String::new()));
            starts.push(body_start);
        }
        for (start, _, title) in headings {
            parts.push((SectionKind::from_title(&title).into(), title));
            starts.push(body_start + start);
        }
        let mut line_part = Vec::new();
        let mut part = 0usize;
        let mut offset = 0usize;
        for line in text.split_inclusive('\n') {
            while part + 1 < starts.len() && starts[part + 1] <= offset {
                part += 1;
            }
            line_part.push(part as u32);
            offset += line.len();
        }
        Layout { parts, line_part }
    }

    fn key(&self, line: usize) -> &PartKey {
        &self.parts[self.line_part[line] as usize]
    }
}

/// The blame of the post whose revisions (newest first, as
/// [`HistoryIndex::revisions`] lists them) are `revisions`, reading each version with
/// `read`; `None` when the newest revision deleted the post.
///
/// # Errors
/// Whatever `read` fails with.
pub fn blame(
    history: &HistoryIndex,
    revisions: &[ChangeRef],
    mut read: impl FnMut(Oid) -> Result<Vec<u8>, StoreError>,
) -> Result<Option<Blame>, StoreError> {
    let Some(&newest) = revisions.first() else {
        return Ok(None);
    };
    if history.change(newest).1.new_blob.is_none() {
        return Ok(None);
    }
    let oldest_first: Vec<ChangeRef> = revisions.iter().rev().copied().collect();
    // Per line of the current version, the revision (an index into `oldest_first`) that
    // last changed it.
    let mut origins: Vec<u32> = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    let mut layout = Layout::of("");
    let mut changed: HashMap<PartKey, Vec<u32>> = HashMap::new();
    for (number, &at) in oldest_first.iter().enumerate() {
        let number = number as u32;
        let change = history.change(at).1;
        let new_text = match change.new_blob {
            Some(blob) if change.old_blob == Some(blob) => continue,
            Some(blob) => read(blob)?,
            None => Vec::new(),
        };
        let new_layout = Layout::of(&String::from_utf8_lossy(&new_text));
        let mut new_origins = Vec::with_capacity(new_layout.line_part.len());
        let mut note = |key: &PartKey| {
            let commits = changed.entry(key.clone()).or_default();
            if commits.last() != Some(&number) {
                commits.push(number);
            }
        };
        let mut old_line = 0usize;
        for hunk in line_hunks(&text, &new_text) {
            new_origins.extend_from_slice(&origins[old_line..hunk.old_start]);
            new_origins.extend(std::iter::repeat_n(number, hunk.new_lines));
            for line in hunk.old_start..hunk.old_start + hunk.old_lines {
                note(layout.key(line));
            }
            for line in hunk.new_start..hunk.new_start + hunk.new_lines {
                note(new_layout.key(line));
            }
            old_line = hunk.old_start + hunk.old_lines;
        }
        new_origins.extend_from_slice(&origins[old_line..]);
        (origins, text, layout) = (new_origins, new_text, new_layout);
    }
    let id = |number: u32| {
        let at = oldest_first[number as usize];
        history.commit(at.position).facts.id.to_string()
    };
    let mut named: Vec<u32> = Vec::new();
    let text = String::from_utf8_lossy(&text);
    let lines = text
        .split_inclusive('\n')
        .zip(&origins)
        .enumerate()
        .map(|(index, (line, &origin))| {
            named.push(origin);
            BlameLine {
                number: index + 1,
                text: line.strip_suffix('\n').unwrap_or(line).to_string(),
                section: layout.key(index).0,
                commit: id(origin),
            }
        })
        .collect();
    let sections = layout
        .parts
        .iter()
        .map(|key| {
            let commits = changed.get(key).cloned().unwrap_or_default();
            named.extend(&commits);
            BlameSection {
                kind: key.0,
                title: key.1.clone(),
                last_changed: commits.last().map(|&n| id(n)).unwrap_or_default(),
                commits: commits.into_iter().map(id).collect(),
            }
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    let revisions = named
        .into_iter()
        .map(|number| {
            let facts = &history.commit(oldest_first[number as usize].position).facts;
            let revision = BlameRevision {
                author: Author::of(facts),
                committed_at: rfc3339(facts.committed_at),
                message: facts.message.clone(),
            };
            (facts.id.to_string(), revision)
        })
        .collect();
    Ok(Some(Blame {
        commit: history.commit(newest.position).facts.id.to_string(),
        lines,
        sections,
        revisions,
    }))
}
