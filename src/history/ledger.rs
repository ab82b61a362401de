//! The open-questions ledger: every question the blog's posts have listed under Open
//! Questions, the revision that raised it, the one that settled it (removed it), and its
//! earlier wordings.
//!
//! Extended with the history index: a new commit costs the posts it changed (their new
//! versions are read and compared with the last ones), never the whole history. A question
//! once settled cannot be unsettled, so a rewritten branch (the index truncated) rebuilds
//! it. Saved beside the history index by [`super::ledger_file`].

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::post::sections::top_level_items;
use crate::post::{FrontMatter, Post, SectionKind, Slug, Status, split_front_matter};
use crate::store::{CommitFacts, Oid, StoreError};

use super::index::{ChangeKind, HistoryIndex, PostChange};
use super::list_keys::{ListKeys, VersionKeys};
use super::outline::outline;

/// A revision that raised or settled a question: what the ledger says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    #[serde(with = "super::ledger_file::oid")]
    pub commit: Oid,
    pub committed_at: i64,
    pub message: Arc<str>,
}

impl Mark {
    fn of(facts: &CommitFacts) -> Mark {
        Mark {
            commit: facts.id,
            committed_at: facts.committed_at,
            message: facts.message.as_str().into(),
        }
    }
}

/// One question of one post, through its rewordings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerQuestion {
    /// Its wording now (or when it was settled).
    pub text: String,
    pub raised: Mark,
    /// The revision that removed it from Open Questions (deleting the post included).
    pub settled: Option<Mark>,
    /// Earlier wordings, oldest first.
    pub reworded_from: Vec<String>,
}

/// One post's questions and what decides who sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPost {
    /// Its slug now (or, for a deleted post, its last one).
    #[serde(with = "super::ledger_file::slug")]
    pub slug: Slug,
    /// Its status and tags in its latest version.
    pub status: Status,
    pub tags: Vec<String>,
    /// Every question it ever raised, in the order they were raised.
    pub questions: Vec<LedgerQuestion>,
}

/// The ledger as of one position of the history index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// The last commit of the first-parent chain it covers (`None`: none yet).
    pub(super) tip: Option<Oid>,
    /// How many commits of the chain it covers: `tip` is at position `covered - 1`.
    pub(super) covered: usize,
    /// Posts at the tip, by slug.
    pub(super) live: HashMap<Slug, LedgerPost>,
    /// Posts deleted since (or whose slug was taken by a new post).
    pub(super) gone: Vec<LedgerPost>,
    /// The list keys of every version read on the way.
    pub(super) keys: VersionKeys,
}

impl Ledger {
    /// The last commit it covers.
    pub fn tip(&self) -> Option<Oid> {
        self.tip
    }

    /// Whether `history` is the chain it covers, perhaps with commits after: whether
    /// [`Ledger::extend`] costs only the commits since, rather than starting over.
    pub fn follows(&self, history: &HistoryIndex) -> bool {
        match self.tip {
            None => self.covered == 0,
            Some(tip) => history.position(tip).map(|p| p as usize + 1) == Some(self.covered),
        }
    }

    /// The list keys of every version of every post it read.
    pub fn keys(&self) -> &VersionKeys {
        &self.keys
    }

    /// Every post that ever raised a question (deleted ones included), in no fixed order.
    pub fn posts(&self) -> impl Iterator<Item = &LedgerPost> {
        self.live.values().chain(&self.gone)
    }

    /// Extends the ledger to `history`'s tip, reading each new version of a changed post
    /// with `read`; starts over when `history` does not [follow](Ledger::follows) it (the
    /// branch was rewritten, or `history` is older than the ledger).
    ///
    /// # Errors
    /// Whatever `read` fails with; the ledger is then left part-way through a commit, fit
    /// only to be built again.
    pub fn extend(
        &mut self,
        history: &HistoryIndex,
        mut read: impl FnMut(Oid) -> Result<Vec<u8>, StoreError>,
    ) -> Result<(), StoreError> {
        if !self.follows(history) {
            *self = Ledger::default();
        }
        for position in self.covered..history.len() {
            let commit = history.commit(position as u32);
            let mark = Mark::of(&commit.facts);
            // Moves first: a commit may rename a post away and add a new one at its slug.
            let moves = |change: &&PostChange| {
                matches!(change.kind, ChangeKind::Renamed | ChangeKind::Deleted)
            };
            let changes = commit.changes.iter();
            for change in changes
                .clone()
                .filter(moves)
                .chain(changes.filter(|c| !moves(c)))
            {
                let slug = history.slug(change.path).clone();
                let post = match change.kind {
                    ChangeKind::Added => None,
                    ChangeKind::Renamed => change
                        .previous
                        .and_then(|previous| self.live.remove(history.slug(previous))),
                    ChangeKind::Modified | ChangeKind::Deleted => self.live.remove(&slug),
                };
                if let Some(taken) = self.live.remove(&slug) {
                    // A post added (or renamed) onto the slug of one still listed: that one
                    // is gone, whatever this commit did to it.
                    self.gone.push(settle_all(taken, &mark));
                }
                let Some(blob) = change.new_blob else {
                    if let Some(post) = post {
                        self.gone.push(settle_all(post, &mark));
                    }
                    continue;
                };
                let bytes = read(blob)?;
                let text = String::from_utf8_lossy(&bytes);
                let front_matter = Post::front_matter(&text).ok();
                // A snapshot refuses a file that is not UTF-8 (no list keys); the ledger
                // reads its questions anyway.
                self.keys
                    .record(blob, ListKeys::of(&bytes, front_matter.as_ref()));
                let Some(version) = front_matter.map(|f| Version::read(f, &text)) else {
                    // A file that does not read as a post keeps its last questions.
                    if let Some(mut post) = post {
                        post.slug = slug.clone();
                        self.live.insert(slug, post);
                    }
                    continue;
                };
                let mut post = post.unwrap_or_else(|| LedgerPost {
                    slug: slug.clone(),
                    status: version.status,
                    tags: Vec::new(),
                    questions: Vec::new(),
                });
                post.slug = slug.clone();
                post.status = version.status;
                post.tags = version.tags;
                revise(&mut post, &version.open_questions, &mark);
                self.live.insert(slug, post);
            }
            self.tip = Some(commit.facts.id);
            self.covered = position + 1;
        }
        Ok(())
    }
}

/// What the ledger needs of one version of a post file, read without rendering it.
struct Version {
    status: Status,
    tags: Vec<String>,
    open_questions: Vec<String>,
}

impl Version {
    /// The version of a file whose front matter reads as `front_matter`.
    fn read(front_matter: FrontMatter, text: &str) -> Version {
        let open_questions = outline(split_front_matter(text).1)
            .iter()
            .filter(|section| section.kind == SectionKind::OpenQuestions)
            .flat_map(|section| top_level_items(section.markdown))
            .collect();
        Version {
            status: front_matter.status,
            tags: front_matter.tags,
            open_questions,
        }
    }
}

/// Settles every open question of a post that is gone.
fn settle_all(mut post: LedgerPost, mark: &Mark) -> LedgerPost {
    for question in &mut post.questions {
        if question.settled.is_none() {
            question.settled = Some(mark.clone());
        }
    }
    post
}

/// Applies one new version's open questions (`now`) to `post`: the questions no longer
/// listed are settled, unless one of the new ones shares at least half of their words (then
/// it is the same question reworded); the rest of the new ones are raised.
fn revise(post: &mut LedgerPost, now: &[String], mark: &Mark) {
    let mut added: Vec<&String> = Vec::new();
    let mut kept = vec![false; post.questions.len()];
    for text in now {
        let same = post
            .questions
            .iter()
            .enumerate()
            .position(|(n, q)| !kept[n] && q.settled.is_none() && &q.text == text);
        match same {
            Some(n) => kept[n] = true,
            None => added.push(text),
        }
    }
    let removed: Vec<usize> = (0..post.questions.len())
        .filter(|&n| !kept[n] && post.questions[n].settled.is_none())
        .collect();
    for n in removed {
        let question = &mut post.questions[n];
        let best = added
            .iter()
            .enumerate()
            .map(|(i, text)| (i, shared_words(&question.text, text)))
            .filter(|&(_, share)| share >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => {
                let text = added.remove(i).clone();
                let old = std::mem::replace(&mut question.text, text);
                question.reworded_from.push(old);
            }
            None => question.settled = Some(mark.clone()),
        }
    }
    post.questions
        .extend(added.into_iter().map(|text| LedgerQuestion {
            text: text.clone(),
            raised: mark.clone(),
            settled: None,
            reworded_from: Vec::new(),
        }));
}

/// The share of `old`'s distinct words (case-insensitive, punctuation dropped) that `new`
/// also has.
fn shared_words(old: &str, new: &str) -> f64 {
    let words = |text: &str| -> std::collections::HashSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (old, new) = (words(old), words(new));
    if old.is_empty() {
        return 0.0;
    }
    old.intersection(&new).count() as f64 / old.len() as f64
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A made-up revision, the `n`th.
    pub(in crate::history) fn mark(n: u8) -> Mark {
        Mark {
            commit: Oid::from_bytes(&[n; 20]).unwrap(),
            committed_at: i64::from(n),
            message: format!("commit {n}").into(),
        }
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_removed_question_is_settled_and_a_reworded_one_keeps_where_it_was_raised() {
        let mut post = LedgerPost {
            slug: Slug::parse("p").unwrap(),
            status: Status::Published,
            tags: Vec::new(),
            questions: Vec::new(),
        };
        revise(
            &mut post,
            &strings(&["Does it scale?", "Why warmup at all?"]),
            &mark(1),
        );
        revise(&mut post, &strings(&["Does it scale to 1B?"]), &mark(2));
        assert_eq!(post.questions.len(), 2);
        let scale = &post.questions[0];
        assert_eq!(scale.text, "Does it scale to 1B?");
        assert_eq!(scale.reworded_from, strings(&["Does it scale?"]));
        assert_eq!(scale.raised, mark(1));
        assert_eq!(scale.settled, None);
        assert_eq!(post.questions[1].settled, Some(mark(2)));
        assert!(shared_words("a b c d", "a b x y") >= 0.5);
    }

    #[test]
    fn a_version_reads_the_open_questions_a_parsed_post_lists() {
        let text = "---\ntitle: T\ntags: [a, b]\nstatus: draft\n---\n\n## Question\n\n- not this\n\n## Open Questions\n\n- One *emphasised*?\n  - a detail\n- [ ] Two?\n\nProse.\n";
        let version = Version::read(Post::front_matter(text).unwrap(), text);
        let post = Post::parse(Slug::parse("t").unwrap(), text).unwrap();
        assert_eq!(version.open_questions, post.open_questions);
        assert_eq!(version.open_questions.len(), 2);
        assert_eq!((version.status, version.tags), (post.status, post.tags));
        assert!(shared_words("a b c d", "a x y z") < 0.5);
    }
}
