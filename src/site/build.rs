//! Building a snapshot: reading a branch tip's posts and parsing them, reusing from the
//! previous snapshot every post, history and record a new commit did not touch, so a write
//! costs the posts it changed rather than the whole blog.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::snapshot::{Audience, ParsedPost, PostRecord, Snapshot};
use crate::history::{HistoryIndex, PostHistory};
use crate::post::{Addresses, Post, Slug, Status};
use crate::store::{HistoryReader, Oid, PostFile, Store, StoreError, read_threads};

/// Past this many posts touched since the previous snapshot, or an eighth of the posts,
/// listing the tip's posts costs less than looking each touched one up (a lookup reads two
/// trees; a listing reads one entry per post).
const MAX_CHANGED_POSTS: usize = 64;

/// The fewest posts worth a thread of their own when parsing a tip's posts.
const MIN_POSTS_PER_THREAD: usize = 100;

/// Building.
impl Snapshot {
    /// Reads the branch tip and parses its posts, reusing those of `previous` whose blob is
    /// unchanged.
    ///
    /// # Errors
    /// Git errors reading the tip, its trees or blobs.
    pub fn build(store: &Store, previous: Option<&Snapshot>) -> Result<Snapshot, StoreError> {
        let reader = store.history_reader()?;
        let tip = reader.tip(store)?;
        Snapshot::build_at(
            &reader,
            tip,
            previous,
            Arc::default(),
            &Addresses::default(),
        )
    }

    /// Builds the snapshot of `tip` with `history` (an index as of that same tip), reusing
    /// the parsed posts of `previous` whose blob is unchanged; reads through `reader`.
    /// Links in the posts' HTML point where `addresses` say (the same for every snapshot
    /// of a site, so reused posts agree).
    ///
    /// # Errors
    /// Git errors reading the tip's trees or blobs.
    pub fn build_at(
        reader: &HistoryReader,
        tip: Option<Oid>,
        previous: Option<&Snapshot>,
        history: Arc<HistoryIndex>,
        addresses: &Addresses,
    ) -> Result<Snapshot, StoreError> {
        let change_stats = previous.map(|p| p.change_stats.clone()).unwrap_or_default();
        let Some(tip) = tip else {
            return Ok(Snapshot {
                history,
                change_stats,
                ..Snapshot::default()
            });
        };
        let touched = previous.and_then(|previous| Touched::since(previous, &history));
        let few_touched = touched.as_ref().filter(|touched| {
            touched.slugs.len() <= MAX_CHANGED_POSTS.min(touched.previous.posts.len() / 8)
        });
        let Parsed { posts, broken } = Parsed::at(reader, tip, previous, few_touched, addresses)?;
        let posts = resolve_links(
            posts,
            |slug| history_of(&history, touched.as_ref(), slug),
            previous,
        );
        let backlinks = backlinks_of(&posts);
        Ok(Snapshot {
            tip: Some(tip),
            posts,
            backlinks,
            broken,
            listings: Default::default(),
            history,
            change_stats,
            logs: Default::default(),
            assets: OnceLock::new(),
        })
    }
}

/// The previous snapshot and the posts whose files the commits since its tip touched
/// (both ends of a rename); `None` when its tip is not in the history (a rewritten branch).
struct Touched<'a> {
    previous: &'a Snapshot,
    /// The previous tip's position in the history.
    since: u32,
    slugs: HashSet<&'a Slug>,
}

impl<'a> Touched<'a> {
    fn since(previous: &'a Snapshot, history: &'a HistoryIndex) -> Option<Touched<'a>> {
        let tip = previous.tip?;
        Some(Touched {
            previous,
            since: history.position(tip)?,
            slugs: history.slugs_changed_after(tip)?,
        })
    }
}

/// The posts of a tip, parsed, and the files under `posts/` that do not parse.
struct Parsed {
    posts: BTreeMap<Slug, Arc<ParsedPost>>,
    broken: Vec<(Slug, String)>,
}

impl Parsed {
    /// Parses the posts at `tip`, reusing those of `previous` whose blob is unchanged. With
    /// `touched` (few enough posts touched since `previous`), only those are looked up at
    /// the tip; the others are taken as they were, without listing the tip's posts.
    fn at(
        reader: &HistoryReader,
        tip: Oid,
        previous: Option<&Snapshot>,
        touched: Option<&Touched<'_>>,
        addresses: &Addresses,
    ) -> Result<Parsed, StoreError> {
        let mut parsed = Parsed {
            posts: BTreeMap::new(),
            broken: Vec::new(),
        };
        let files = match touched {
            Some(touched) => {
                parsed.carry_over(touched);
                let mut files = Vec::with_capacity(touched.slugs.len());
                for &slug in &touched.slugs {
                    if let Some(blob) = reader.post_blob_at(tip, slug)? {
                        let slug = slug.clone();
                        files.push(PostFile { slug, blob });
                    }
                }
                files
            }
            None => reader.post_files(tip)?,
        };
        let per_thread = files
            .len()
            .div_ceil(read_threads())
            .max(MIN_POSTS_PER_THREAD);
        let outcomes = parse_all(reader, &files, previous, addresses, per_thread)?;
        for (file, outcome) in files.iter().zip(outcomes) {
            match outcome {
                Ok(post) => {
                    parsed.posts.insert(file.slug.clone(), post);
                }
                Err(reason) => {
                    tracing::warn!(slug = %file.slug, %reason, "post skipped: it does not parse");
                    parsed.broken.push((file.slug.clone(), reason));
                }
            }
        }
        parsed.broken.sort();
        Ok(parsed)
    }

    /// Takes the previous snapshot's posts (and broken files) that no commit touched since.
    fn carry_over(&mut self, touched: &Touched<'_>) {
        let untouched = |slug: &Slug| !touched.slugs.contains(slug);
        let previous = touched.previous;
        self.posts = previous
            .posts
            .iter()
            .filter(|(slug, _)| untouched(slug))
            .map(|(slug, record)| (slug.clone(), record.parsed.clone()))
            .collect();
        self.broken = previous
            .broken
            .iter()
            .filter(|(slug, _)| untouched(slug))
            .cloned()
            .collect();
    }
}

/// Parses `files`, `per_thread` on each thread ([`HistoryReader::in_parallel`]); the
/// outcomes in the files' order.
fn parse_all(
    reader: &HistoryReader,
    files: &[PostFile],
    previous: Option<&Snapshot>,
    addresses: &Addresses,
    per_thread: usize,
) -> Result<Vec<Result<Arc<ParsedPost>, String>>, StoreError> {
    let parts: Vec<&[PostFile]> = files.chunks(per_thread.max(1)).collect();
    let outcomes = reader.in_parallel(parts.len(), |reader, n| {
        parts[n]
            .iter()
            .map(|file| parse(reader, file, previous, addresses))
            .collect::<Result<Vec<_>, StoreError>>()
    })?;
    Ok(outcomes.into_iter().flatten().collect())
}

/// Parses one post file, or reuses the previous snapshot's parse of the same blob; the
/// reason it is no post when it does not parse.
pub(super) fn parse(
    reader: &HistoryReader,
    file: &PostFile,
    previous: Option<&Snapshot>,
    addresses: &Addresses,
) -> Result<Result<Arc<ParsedPost>, String>, StoreError> {
    let reused = previous
        .and_then(|p| p.posts.get(&file.slug))
        .filter(|record| record.blob() == file.blob);
    if let Some(record) = reused {
        return Ok(Ok(record.parsed.clone()));
    }
    let bytes = reader.blob(file.blob)?;
    Ok(String::from_utf8(bytes)
        .map_err(|_| "the file is not UTF-8".to_string())
        .and_then(|text| {
            Post::parse_with(file.slug.clone(), &text, addresses).map_err(|e| e.to_string())
        })
        .map(|post| Arc::new(ParsedPost::new(post, file.blob))))
}

/// The history of `slug` at the tip of `history`: a post's history changes only with a
/// commit that touches it, so the previous snapshot's is reused for the others and
/// extended for the touched ones.
fn history_of(
    history: &HistoryIndex,
    touched: Option<&Touched<'_>>,
    slug: &Slug,
) -> Option<Arc<PostHistory>> {
    let earlier = touched.and_then(|touched| {
        let record = touched.previous.posts.get(slug)?;
        Some((touched, record.history.as_ref()?))
    });
    match earlier {
        Some((touched, earlier)) if !touched.slugs.contains(slug) => Some(earlier.clone()),
        Some((touched, earlier)) => history
            .post_history_since(slug, earlier, touched.since)
            .map(Arc::new),
        None => history.post_history(slug, None).map(Arc::new),
    }
}

/// Wraps each parsed post with the links that resolve in this snapshot, for each audience,
/// and its history.
///
/// A record depends on its post, its history and which posts exist and are published (its
/// links). When the same posts exist with the same statuses as in `previous`, a post whose
/// parse and history are unchanged keeps its record, serialised responses included: a
/// write rebuilds the records of the posts it touched, not of the whole blog.
fn resolve_links(
    parsed: BTreeMap<Slug, Arc<ParsedPost>>,
    history_of: impl Fn(&Slug) -> Option<Arc<PostHistory>>,
    previous: Option<&Snapshot>,
) -> BTreeMap<Slug, Arc<PostRecord>> {
    let published = |slug: &Slug| {
        parsed
            .get(slug)
            .is_some_and(|p| p.post.status == Status::Published)
    };
    let same_posts = previous.filter(|previous| {
        previous.posts.len() == parsed.len()
            && previous
                .posts
                .iter()
                .zip(&parsed)
                .all(|((was, record), (is, p))| {
                    was == is && record.is_published() == (p.post.status == Status::Published)
                })
    });
    let same = |a: &Option<Arc<PostHistory>>, b: &Option<Arc<PostHistory>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    let resolve = |post: &Post, keep: &dyn Fn(&Slug) -> bool| -> Vec<Slug> {
        post.links_to.iter().filter(|s| keep(s)).cloned().collect()
    };
    parsed
        .iter()
        .map(|(slug, p)| {
            let history = history_of(slug);
            let kept = same_posts
                .and_then(|previous| previous.posts.get(slug))
                .filter(|record| Arc::ptr_eq(&record.parsed, p) && same(&record.history, &history));
            if let Some(record) = kept {
                return (slug.clone(), record.clone());
            }
            let links_to = [
                resolve(&p.post, &published),
                resolve(&p.post, &|s| parsed.contains_key(s)),
            ];
            let record = PostRecord {
                parsed: p.clone(),
                links_to,
                body: Default::default(),
                summary: Default::default(),
                history,
            };
            (slug.clone(), Arc::new(record))
        })
        .collect()
}

pub(super) fn backlinks_of(posts: &BTreeMap<Slug, Arc<PostRecord>>) -> HashMap<Slug, Vec<Slug>> {
    let mut backlinks: HashMap<Slug, Vec<Slug>> = HashMap::new();
    for (source, record) in posts {
        for target in record.links_to(Audience::Authors) {
            if target != source && posts.contains_key(target) {
                backlinks
                    .entry(target.clone())
                    .or_default()
                    .push(source.clone());
            }
        }
    }
    backlinks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history;
    use crate::store::{Change, CommitRequest};

    fn post(title: &str, status: &str, body: &str) -> String {
        format!("---\ntitle: {title}\nstatus: {status}\n---\n\n## Question\n\n{body}\n")
    }

    fn commit(store: &Store, files: &[(&str, String)]) {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(slug, text)| (format!("posts/{slug}.md"), text.clone().into_bytes()))
            .collect();
        store.commit_files("change", &files);
    }

    fn snapshot(store: &Store, previous: Option<&Snapshot>) -> Snapshot {
        let reader = store.history_reader().unwrap();
        let tip = reader.tip(store).unwrap();
        let from = previous.map(|p| p.history.clone()).unwrap_or_default();
        let index = history::update(&from, &reader, tip).unwrap();
        Snapshot::build_at(&reader, tip, previous, index, &Addresses::default()).unwrap()
    }

    fn record<'s>(snapshot: &'s Snapshot, slug: &str) -> &'s Arc<PostRecord> {
        snapshot.get(&Slug::parse(slug).unwrap()).unwrap()
    }

    /// Everything a snapshot serves about its posts, to compare two builds.
    fn served(snapshot: &Snapshot) -> Vec<String> {
        let mut served: Vec<String> = snapshot
            .posts()
            .map(|record| {
                let post = record.post();
                format!(
                    "{} {} {} {:?} {:?} {:?} {:?} {:?}",
                    post.slug,
                    record.blob(),
                    post.title,
                    record.links_to(Audience::Public),
                    record.links_to(Audience::Authors),
                    snapshot.backlinks.get(&post.slug),
                    record.history().map(|h| h.revision_count),
                    record.updated_at(),
                )
            })
            .collect();
        served.extend(
            snapshot
                .broken
                .iter()
                .map(|(slug, why)| format!("broken {slug}: {why}")),
        );
        served
    }

    #[test]
    fn a_snapshot_built_from_the_posts_a_write_touched_serves_what_a_full_build_does() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        // Enough others that a step touches few enough posts to be read alone.
        let others: Vec<(String, String)> = (0..16)
            .map(|n| {
                (
                    format!("other-{n}"),
                    post("Other", "published", "See [a](a)."),
                )
            })
            .collect();
        let mut files: Vec<(&str, String)> = vec![
            ("a", post("A", "published", "See [b](b) and [c](c).")),
            ("b", post("B", "published", "B.")),
            ("c", post("C", "draft", "See [a](a).")),
        ];
        files.extend(
            others
                .iter()
                .map(|(slug, text)| (slug.as_str(), text.clone())),
        );
        commit(&store, &files);
        let mut current = snapshot(&store, None);
        let steps: [fn(&Store); 6] = [
            |s| commit(s, &[("b", post("B", "published", "B, edited."))]),
            |s| commit(s, &[("d", "no front matter".to_string())]),
            |s| commit(s, &[("c", post("C", "published", "See [d](d)."))]),
            |s| commit(s, &[("d", post("D", "published", "Fixed."))]),
            |s| rename(s, "b", "e"),
            |s| remove(s, "a"),
        ];
        for (n, step) in steps.iter().enumerate() {
            step(&store);
            let next = snapshot(&store, Some(&current));
            assert_eq!(served(&next), served(&snapshot(&store, None)), "step {n}");
            current = next;
        }
    }

    #[test]
    fn posts_parsed_on_several_threads_are_those_parsed_on_one() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        let mut files: Vec<(String, String)> = (0..7)
            .map(|n| {
                (
                    format!("p{n}"),
                    post(&format!("P{n}"), "published", "See [p1](p1)."),
                )
            })
            .collect();
        files.push(("broken".into(), "no front matter".into()));
        let named: Vec<(&str, String)> =
            files.iter().map(|(s, t)| (s.as_str(), t.clone())).collect();
        commit(&store, &named);
        let reader = store.history_reader().unwrap();
        let tip = reader.tip(&store).unwrap().unwrap();
        let files = reader.post_files(tip).unwrap();
        let parsed = |per_thread| -> Vec<String> {
            parse_all(&reader, &files, None, &Addresses::default(), per_thread)
                .unwrap()
                .iter()
                .map(|outcome| match outcome {
                    Ok(parsed) => {
                        format!("{} {} {}", parsed.post.slug, parsed.blob, parsed.post.html)
                    }
                    Err(reason) => reason.clone(),
                })
                .collect()
        };
        let one = parsed(files.len());
        assert_eq!(one.len(), 8);
        assert!(
            one.iter().any(|o| !o.starts_with('p')),
            "the broken file's reason"
        );
        for per_thread in [1, 3] {
            assert_eq!(parsed(per_thread), one, "{per_thread} per thread");
        }
    }

    /// Commits the removal of `slug`'s file.
    fn remove(store: &Store, slug: &str) {
        change(
            store,
            vec![Change::Delete {
                path: format!("posts/{slug}.md"),
            }],
        );
    }

    /// Commits the move of `from`'s file to `to`.
    fn rename(store: &Store, from: &str, to: &str) {
        let repo = store.repository().unwrap();
        let tip = store.tip().unwrap().unwrap();
        let blob = store
            .history_reader()
            .unwrap()
            .post_blob_at(tip, &Slug::parse(from).unwrap());
        let content = repo
            .find_blob(blob.unwrap().unwrap())
            .unwrap()
            .content()
            .to_vec();
        change(
            store,
            vec![
                Change::Delete {
                    path: format!("posts/{from}.md"),
                },
                Change::Upsert {
                    path: format!("posts/{to}.md"),
                    content,
                },
            ],
        );
    }

    fn change(store: &Store, changes: Vec<Change>) {
        let repo = store.repository().unwrap();
        let tip = store.tip().unwrap();
        let mut request = CommitRequest::upserts("change", &[]);
        request.changes = changes;
        let commit = store.write_commit(&repo, tip, &request).unwrap();
        store.move_branch(&repo, commit, tip, "change").unwrap();
    }

    #[test]
    fn a_write_rebuilds_the_records_it_touched_and_all_of_them_when_a_status_changes() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let store = Store::open(dir.path(), "main").unwrap();
        commit(
            &store,
            &[
                ("a", post("A", "published", "See [b](b) and [c](c).")),
                ("b", post("B", "published", "B.")),
                ("c", post("C", "draft", "C.")),
            ],
        );
        let first = snapshot(&store, None);
        let a_links = |s: &Snapshot| record(s, "a").links_to(Audience::Public).to_vec();
        assert_eq!(a_links(&first), [Slug::parse("b").unwrap()]);

        commit(&store, &[("b", post("B", "published", "B, edited."))]);
        let second = snapshot(&store, Some(&first));
        assert!(
            Arc::ptr_eq(record(&first, "a"), record(&second, "a")),
            "kept"
        );
        assert!(
            !Arc::ptr_eq(record(&first, "b"), record(&second, "b")),
            "edited"
        );
        assert_eq!(record(&second, "b").history().unwrap().revision_count, 2);

        // Publishing c changes what a's links resolve to, though a did not change.
        commit(&store, &[("c", post("C", "published", "C."))]);
        let third = snapshot(&store, Some(&second));
        assert!(!Arc::ptr_eq(record(&second, "a"), record(&third, "a")));
        assert_eq!(a_links(&third).len(), 2);
        assert!(
            Arc::ptr_eq(&record(&second, "a").parsed, &record(&third, "a").parsed),
            "the parse is still shared"
        );
    }
}
