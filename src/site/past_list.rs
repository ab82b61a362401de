//! A page of the post list as of a past time, chosen from the list keys of the versions the
//! branch had then ([`VersionKeys`], kept with the open-questions ledger): which posts the
//! list holds and in what order needs their front matter only, so a time not asked before
//! costs the page's posts rather than a parse of every post of that commit.
//!
//! It answers what [`Site::as_of`]'s snapshot would list, with the same visibility rules;
//! the orders and filters that need more than front matter (the time of each post's latest
//! revision, the text of every post) are left to that snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::build::parse;
use super::order::{PostOrder, Rank, StatusSelection, sort_ranked};
use super::snapshot::{ParsedPost, PostRecord};
use super::{Audience, Site, Snapshot};
use crate::history::{ListKeys, VersionKeys};
use crate::post::{Slug, Status};
use crate::store::{HistoryReader, Oid, PostFile, StoreError};

/// How many posts of past lists stay parsed: a reader who cites a date tends to turn its
/// pages and come back to them.
const KEPT_POSTS: usize = 256;

/// What a list as of a past time asks for.
#[derive(Debug, Clone)]
pub struct PastListQuery {
    pub selection: StatusSelection,
    /// Any order but [`PostOrder::RecentlyUpdated`], which needs every post's history.
    pub order: PostOrder,
    /// Only posts with every one of these tags.
    pub tags: Vec<String>,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

/// What [`Site::past_list`] found.
#[derive(Debug)]
pub enum PastList {
    /// Every commit is later than the time.
    BeforeFirstCommit,
    /// The page's posts, and how many the whole list holds.
    Page {
        posts: Vec<Arc<PostRecord>>,
        total: usize,
    },
    /// Not known from the keys: the order needs more than front matter, or the keys are not
    /// all there yet (the ledger is being built). The snapshot of that time answers.
    Unknown,
}

/// Posts of past lists, parsed, by blob and slug (a post's slug is part of it).
#[derive(Debug)]
pub struct PastParses(Mutex<LruCache<(Oid, Slug), Arc<ParsedPost>>>);

impl Default for PastParses {
    fn default() -> Self {
        let size = std::num::NonZeroUsize::new(KEPT_POSTS).expect("not zero");
        PastParses(Mutex::new(LruCache::new(size)))
    }
}

/// A post file at the past commit and its keys.
struct Listed<'k> {
    file: PostFile,
    keys: &'k ListKeys,
}

impl Site {
    /// The page `query` asks for of the list `audience` would read as of `time` (seconds
    /// since the epoch), as [`Site::as_of`]'s snapshot would list it. Blocking: reads one
    /// tree and the page's posts.
    ///
    /// # Errors
    /// Git errors reading that commit's tree or the page's posts.
    pub fn past_list(
        &self,
        time: i64,
        audience: Audience,
        query: &PastListQuery,
    ) -> Result<PastList, StoreError> {
        if query.order == PostOrder::RecentlyUpdated {
            return Ok(PastList::Unknown);
        }
        let now = self.snapshot();
        let Some(position) = now.history.last_at_or_before(time) else {
            return Ok(PastList::BeforeFirstCommit);
        };
        let commit = now.history.commit(position).facts.id;
        let attempt = |reader: &HistoryReader| {
            let files = reader.post_files(commit)?;
            self.list_from(reader, &now, position, files, audience, query)
        };
        let kept = self
            .past_reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // A kept reader may fail where a fresh one would not (a `git gc` removed a pack it
        // had open): a fresh one decides.
        let (reader, listed) = match kept.map(|reader| (attempt(&reader), reader)) {
            Some((Ok(listed), reader)) => (reader, listed),
            failed => {
                if let Some((_, stale)) = failed {
                    crate::store::close_in_background(stale);
                }
                let reader = self.store.history_reader()?;
                let listed = attempt(&reader)?;
                (reader, listed)
            }
        };
        self.past_reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(reader);
        Ok(listed)
    }

    /// The page `query` asks for among `files`, the posts at `position` of `now`'s history,
    /// read through `reader`.
    fn list_from(
        &self,
        reader: &HistoryReader,
        now: &Snapshot,
        position: u32,
        files: Vec<PostFile>,
        audience: Audience,
        query: &PastListQuery,
    ) -> Result<PastList, StoreError> {
        // A draft now stays hidden from the public, whatever it was then.
        let hidden_now = |slug: &Slug| {
            audience == Audience::Public && now.get(slug).is_some_and(|r| !r.is_published())
        };
        let chosen = self.with_ledger(|ledger| choose(ledger.keys(), files, &hidden_now, query));
        let Ok(Some(Chosen {
            page,
            total,
            published,
        })) = chosen
        else {
            return Ok(PastList::Unknown);
        };
        let mut posts = Vec::with_capacity(page.len());
        for file in &page {
            let Some(parsed) = self.past_parse(reader, now, file)? else {
                return Ok(PastList::Unknown);
            };
            let links = |keep: &dyn Fn(&Slug) -> bool| -> Vec<Slug> {
                let links = parsed.post.links_to.iter();
                links.filter(|s| keep(s)).cloned().collect()
            };
            let links_to = [
                links(&|slug| published.get(slug) == Some(&true)),
                links(&|slug| published.contains_key(slug)),
            ];
            let history = now.history.post_history_as_of(&file.slug, position);
            posts.push(Arc::new(PostRecord {
                history: history.map(Arc::new),
                parsed,
                links_to,
                body: Default::default(),
                summary: Default::default(),
            }));
        }
        Ok(PastList::Page { posts, total })
    }

    /// The post in `file` parsed: the current snapshot's when its blob is the same, one
    /// parsed lately, or parsed now. `None` when it does not parse.
    fn past_parse(
        &self,
        reader: &HistoryReader,
        now: &Snapshot,
        file: &PostFile,
    ) -> Result<Option<Arc<ParsedPost>>, StoreError> {
        let key = (file.blob, file.slug.clone());
        let mut kept = self.past_parses.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(parsed) = kept.get(&key) {
            return Ok(Some(parsed.clone()));
        }
        drop(kept);
        let Ok(parsed) = parse(reader, file, Some(now), &self.addresses)? else {
            return Ok(None);
        };
        let mut kept = self.past_parses.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.put(key, parsed.clone());
        Ok(Some(parsed))
    }
}

/// The page a list query chose, before its posts are parsed.
struct Chosen {
    page: Vec<PostFile>,
    /// How many posts the whole list holds.
    total: usize,
    /// Every post there (but those hidden), and whether it was published: what the page's
    /// links resolve against.
    published: HashMap<Slug, bool>,
}

/// Chooses the page `query` asks for among `files` by their keys, leaving out those
/// `hidden`; `None` when a file's keys are not known.
fn choose(
    keys: &VersionKeys,
    files: Vec<PostFile>,
    hidden: &dyn Fn(&Slug) -> bool,
    query: &PastListQuery,
) -> Option<Chosen> {
    let listed = listed(keys, files, hidden)?;
    let published = listed
        .iter()
        .map(|l| (l.file.slug.clone(), l.keys.status == Status::Published))
        .collect();
    let mut ranked: Vec<(Rank, &Listed)> = listed
        .iter()
        .filter(|l| query.selection.holds(l.keys.status))
        .filter(|l| query.tags.iter().all(|tag| l.keys.tags.contains(tag)))
        .map(|l| {
            let keys = l.keys;
            (query.order.rank(&keys.title, keys.date.as_deref(), None), l)
        })
        .collect();
    sort_ranked(&mut ranked, |l| &l.file.slug);
    let page = ranked
        .iter()
        .skip((query.page - 1).saturating_mul(query.per_page))
        .take(query.per_page)
        .map(|(_, l)| l.file.clone())
        .collect();
    Some(Chosen {
        page,
        total: ranked.len(),
        published,
    })
}

/// The posts among `files` with their keys, leaving out files that are no post and those
/// `hidden`; `None` when a file's keys are not known.
fn listed<'k>(
    keys: &'k VersionKeys,
    files: Vec<PostFile>,
    hidden: &dyn Fn(&Slug) -> bool,
) -> Option<Vec<Listed<'k>>> {
    let mut listed = Vec::with_capacity(files.len());
    for file in files {
        let Some(found) = keys.get(file.blob)? else {
            continue;
        };
        if !hidden(&file.slug) {
            listed.push(Listed { file, keys: found });
        }
    }
    Some(listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Snapshot;
    use crate::store::{Change, CommitRequest, Store};

    const START: i64 = 1_780_000_000;

    fn post(title: &str, status: &str, date: &str, tags: &str, body: &str) -> Change {
        let date = if date.is_empty() {
            String::new()
        } else {
            format!("date: \"{date}\"\n")
        };
        let text = format!(
            "---\ntitle: {title}\nstatus: {status}\n{date}tags: [{tags}]\n---\n\n## Question\n\n{body}\n"
        );
        upsert(title_slug(title), text.into_bytes())
    }

    fn title_slug(title: &str) -> &str {
        title.split(' ').next().unwrap()
    }

    fn upsert(slug: &str, content: Vec<u8>) -> Change {
        Change::Upsert {
            path: format!("posts/{slug}.md"),
            content,
        }
    }

    fn delete(slug: &str) -> Change {
        Change::Delete {
            path: format!("posts/{slug}.md"),
        }
    }

    /// Commits `changes` at `START + step * 100` seconds.
    fn commit(store: &Store, step: i64, changes: Vec<Change>) {
        let repo = store.repository().unwrap();
        let tip = store.tip().unwrap();
        let mut request = CommitRequest::upserts(&format!("step {step}"), &[]);
        request.changes = changes;
        request.time = Some(git2::Time::new(START + step * 100, 0));
        let commit = store.write_commit(&repo, tip, &request).unwrap();
        store.move_branch(&repo, commit, tip, "step").unwrap();
    }

    /// A history with drafts published and unpublished, renames, deletions, a slug taken
    /// again, files that are no post, ties and dates that do not parse.
    fn history(store: &Store) {
        let a = "a Attention, published, 2026-01-03";
        commit(
            store,
            0,
            vec![
                post(
                    a,
                    "published",
                    "2026-01-03",
                    "x",
                    "See [b](b), [c](c), [h](h).",
                ),
                post(
                    "b Beam",
                    "published",
                    "2026-01-01T10:00:00+02:00",
                    "x, y",
                    "B.",
                ),
                post("c Cache", "draft", "", "y", "See [a](a)."),
                upsert("d", b"no front matter".to_vec()),
                post("e apple", "published", "soon", "", "E."),
            ],
        );
        commit(
            store,
            1,
            vec![
                post("b Zebra", "published", "2026-01-01", "x, y", "B, renamed."),
                post("c Cache", "published", "", "y", "See [a](a)."),
                upsert("h", b"---\ntitle: \xff\n---\n".to_vec()),
            ],
        );
        let moved = post(
            a,
            "published",
            "2026-01-03",
            "x",
            "See [b](b), [c](c), [h](h).",
        );
        let Change::Upsert { content, .. } = moved else {
            unreachable!()
        };
        commit(store, 2, vec![delete("a"), upsert("f", content)]);
        commit(
            store,
            3,
            vec![
                delete("b"),
                post(
                    "g Gain",
                    "published",
                    "2026-01-03",
                    "x",
                    "See [f](f), [c](c).",
                ),
                post("h Heads", "published", "2025-06-01", "x, y", "H."),
            ],
        );
        commit(
            store,
            4,
            vec![
                post("c Cache", "draft", "", "y", "Back to a draft."),
                post("e apple", "draft", "soon", "", "E."),
            ],
        );
        commit(
            store,
            5,
            vec![post("a Again", "published", "2025-12-31", "x, y", "New.")],
        );
    }

    /// What a list serves of a record, to compare two ways of choosing it.
    fn served(record: &PostRecord) -> String {
        let history = record.history().map(|h| {
            (
                h.revision.commit.clone(),
                h.created_at.clone(),
                h.updated_at.clone(),
                h.revision_count,
            )
        });
        format!(
            "{} {} {} {:?} {:?} {:?}",
            record.post().slug,
            record.blob(),
            record.post().title,
            record.links_to(Audience::Public),
            record.links_to(Audience::Authors),
            history,
        )
    }

    /// The page of `snapshot`'s list that `query` asks for, as the list endpoint chooses it.
    fn from_snapshot(snapshot: &Snapshot, query: &PastListQuery) -> (Vec<String>, usize) {
        let matching: Vec<&Arc<PostRecord>> = snapshot
            .listing(query.selection, query.order)
            .iter()
            .filter(|r| query.tags.iter().all(|t| r.post().tags.contains(t)))
            .collect();
        let page = matching
            .iter()
            .skip((query.page - 1) * query.per_page)
            .take(query.per_page)
            .map(|r| served(r))
            .collect();
        (page, matching.len())
    }

    #[test]
    fn a_past_list_from_the_keys_is_the_list_of_the_snapshot_of_that_time() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        history(&store);
        let site = Site::load(store).unwrap();
        let query = |selection, order, tags: &[&str], page, per_page| PastListQuery {
            selection,
            order,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            page,
            per_page,
        };
        let everything = query(StatusSelection::All, PostOrder::Title, &[], 1, 20);
        let unknown = site
            .past_list(START, Audience::Authors, &everything)
            .unwrap();
        assert!(matches!(unknown, PastList::Unknown), "no ledger yet");
        site.tend_ledger(&mut None);
        let before = site.past_list(START - 1, Audience::Authors, &everything);
        assert!(matches!(before.unwrap(), PastList::BeforeFirstCommit));
        let by_update = query(StatusSelection::All, PostOrder::RecentlyUpdated, &[], 1, 20);
        let unknown = site
            .past_list(START, Audience::Authors, &by_update)
            .unwrap();
        assert!(matches!(unknown, PastList::Unknown), "needs every history");

        let mut compared = 0;
        for step in 0..6 {
            for time in [START + step * 100, START + step * 100 + 99] {
                for audience in [Audience::Public, Audience::Authors] {
                    let snapshot = site.as_of(time, audience).unwrap().unwrap();
                    for selection in [
                        StatusSelection::Published,
                        StatusSelection::Drafts,
                        StatusSelection::All,
                    ] {
                        for order in [
                            PostOrder::NewestFirst,
                            PostOrder::OldestFirst,
                            PostOrder::Title,
                        ] {
                            for tags in [&[][..], &["x"], &["x", "y"]] {
                                for (page, per_page) in [(1, 20), (1, 2), (2, 2), (3, 2), (9, 2)] {
                                    let query = query(selection, order, tags, page, per_page);
                                    let PastList::Page { posts, total } =
                                        site.past_list(time, audience, &query).unwrap()
                                    else {
                                        panic!("step {step}: not listed from the keys");
                                    };
                                    let fast: Vec<String> =
                                        posts.iter().map(|r| served(r)).collect();
                                    let expected = from_snapshot(&snapshot, &query);
                                    assert_eq!(
                                        (fast, total),
                                        expected,
                                        "step {step}, {audience:?}, {query:?}"
                                    );
                                    compared += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 6 * 2 * 2 * 3 * 3 * 3 * 5);

        // c was published when g linked to it, and is a draft now: the public never
        // learns its slug through a link.
        let published = query(StatusSelection::Published, PostOrder::Title, &[], 1, 20);
        let PastList::Page { posts, .. } = site
            .past_list(START + 300, Audience::Public, &published)
            .unwrap()
        else {
            panic!("listed");
        };
        let g = posts
            .iter()
            .find(|r| r.post().slug.as_str() == "g")
            .unwrap();
        assert_eq!(g.links_to(Audience::Public), [Slug::parse("f").unwrap()]);
        let slugs: Vec<&str> = posts.iter().map(|r| r.post().slug.as_str()).collect();
        assert_eq!(
            slugs,
            ["f", "g", "h"],
            "c and e are drafts now; b was deleted"
        );

        // git's maintenance repacks under the kept repository handle: a list of a time not
        // asked before (its posts parsed anew) is still read.
        site.past_parses.0.lock().unwrap().clear();
        let repack = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir.path())
            .args(["repack", "-a", "-d", "-q"])
            .status()
            .unwrap();
        assert!(repack.success());
        let listed = site.past_list(START + 250, Audience::Authors, &everything);
        let PastList::Page { posts, .. } = listed.unwrap() else {
            panic!("listed");
        };
        let slugs: Vec<&str> = posts.iter().map(|r| r.post().slug.as_str()).collect();
        assert_eq!(
            slugs,
            ["f", "b", "c", "e"],
            "by title, each led by its first slug"
        );
    }
}
