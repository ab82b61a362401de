//! Answering a query: the matches of each index grouped into posts, the posts a viewer may
//! see kept, ranked, paginated, and each result's best section and snippet.

use std::collections::HashMap;

use tantivy::query::{Query, QueryParser};
use tantivy::schema::Value;
use tantivy::snippet::{Snippet, SnippetGenerator, collapse_overlapped_ranges};
use tantivy::{DocAddress, TantivyDocument};

use super::collector::{BestSection, MatchesPerPost, PostMatch};
use super::schema::kind_of;
use super::{Part, Search};
use crate::post::{SectionKind, Slug};
use crate::site::{Audience, PostRecord};

/// A match in the title counts this many times one in a section.
const TITLE_BOOST: f32 = 2.0;

/// Characters of a snippet, about two lines.
const SNIPPET_CHARS: usize = 180;

/// What a client asked for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub q: String,
    /// Search every past version too.
    pub history: bool,
    /// Only posts carrying every one of these tags (at the tip).
    pub tags: Vec<String>,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
    pub audience: Audience,
}

/// One post that matched.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub slug: Slug,
    /// The post's title at the tip.
    pub title: String,
    /// The section that matched best.
    pub section: SectionKind,
    /// HTML-escaped text of that section with the matches in `<mark>`.
    pub snippet: String,
    pub score: f32,
    /// The post's latest revision when the post matches as it is now; else the earliest
    /// revision where the matching text appears.
    pub commit: Option<String>,
    /// Whether the post matches as it is now (else only an old version does).
    pub current: bool,
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// How many posts matched.
    pub total: usize,
    /// With `history`: whether the history index had reached the tip (until its first
    /// build is done, only current posts are searched).
    pub history_indexed: bool,
}

/// A post that matched, before its page is cut.
struct Candidate<'a> {
    record: &'a PostRecord,
    /// The best score of any matching version.
    score: f32,
    /// The section to show: the best of the earliest matching version.
    best: BestSection,
    /// Which index `best` is in.
    current: bool,
    commit: Option<String>,
}

impl Search {
    /// Runs `request`. Blocking: reads the indexes.
    ///
    /// # Errors
    /// tantivy errors reading the indexes.
    pub fn search(&self, request: &SearchRequest) -> tantivy::Result<SearchResults> {
        let current = self.current.load_full();
        let snapshot = &current.snapshot;
        let visible = |slug: &Slug| {
            snapshot
                .visible(slug, request.audience)
                .filter(|record| {
                    let tags = &record.post().tags;
                    request.tags.iter().all(|tag| tags.contains(tag))
                })
                .map(|record| record.as_ref())
        };
        let current_query = current.parse(&request.q);
        let mut candidates: HashMap<&Slug, Candidate> = HashMap::new();
        for (post, found) in current.matches(&*current_query)? {
            if let Some(record) = visible(&current.catalog.slugs[post]) {
                let commit = record.history().map(|h| h.revision.commit.clone());
                let candidate = Candidate {
                    record,
                    score: found.score,
                    best: found.best,
                    current: true,
                    commit,
                };
                candidates.insert(&record.post().slug, candidate);
            }
        }
        let history = self.history.load_full().filter(|_| request.history);
        let history_query = history.as_ref().map(|part| part.parse(&request.q));
        if let (Some(part), Some(query)) = (&history, &history_query) {
            for (post, found) in part.matches(&**query)? {
                let slug = &part.catalog.slugs[post];
                // Current matches are in already: what remains matched only in the past.
                if candidates.contains_key(slug) {
                    continue;
                }
                let Some(record) = visible(slug) else {
                    continue;
                };
                let commit = part.snapshot.history.commit(found.earliest).facts.id;
                let candidate = Candidate {
                    record,
                    score: found.score,
                    best: found.best,
                    current: false,
                    commit: Some(commit.to_string()),
                };
                candidates.insert(&record.post().slug, candidate);
            }
        }
        let mut ranked: Vec<Candidate> = candidates.into_values().collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.record.post().slug.cmp(&b.record.post().slug))
        });
        let total = ranked.len();
        let skip = (request.page - 1).saturating_mul(request.per_page);
        let mut snippets = Snippets::default();
        let hits = ranked
            .into_iter()
            .skip(skip)
            .take(request.per_page)
            .map(|candidate| {
                let (part, query) = match (candidate.current, &history, &history_query) {
                    (false, Some(part), Some(query)) => (part, query),
                    _ => (&current, &current_query),
                };
                let (section, snippet) =
                    snippets.of(part, &**query, candidate.best.doc, candidate.current)?;
                Ok(SearchHit {
                    slug: candidate.record.post().slug.clone(),
                    title: candidate.record.post().title.clone(),
                    section,
                    snippet,
                    score: candidate.score,
                    commit: candidate.commit,
                    current: candidate.current,
                })
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SearchResults {
            hits,
            total,
            history_indexed: history.is_some_and(|part| part.snapshot.tip == snapshot.tip),
        })
    }
}

impl Part {
    /// The posts of this part's catalog that `query` matches, by their index in it.
    fn matches(&self, query: &dyn Query) -> tantivy::Result<Vec<(usize, PostMatch)>> {
        let found = self
            .searcher
            .search(query, &MatchesPerPost(self.catalog.clone()))?;
        Ok(found
            .into_iter()
            .enumerate()
            .filter_map(|(post, found)| Some((post, found?)))
            .collect())
    }

    /// The query `q` over titles and sections; syntax errors are forgiven (a stray quote or
    /// colon is read as text), so any text a reader types is a query.
    fn parse(&self, q: &str) -> Box<dyn Query> {
        let mut parser =
            QueryParser::for_index(&self.index, vec![self.fields.title, self.fields.body]);
        parser.set_field_boost(self.fields.title, TITLE_BOOST);
        parser.parse_query_lenient(q).0
    }
}

/// Snippet generators, one per index, made on first use.
#[derive(Default)]
struct Snippets {
    generators: [Option<SnippetGenerator>; 2],
}

impl Snippets {
    /// The section kind and snippet of the document at `doc` in `part`.
    fn of(
        &mut self,
        part: &Part,
        query: &dyn Query,
        doc: DocAddress,
        current: bool,
    ) -> tantivy::Result<(SectionKind, String)> {
        let generator = match &mut self.generators[usize::from(current)] {
            Some(generator) => generator,
            empty => {
                let mut generator =
                    SnippetGenerator::create(&part.searcher, query, part.fields.body)?;
                generator.set_max_num_chars(SNIPPET_CHARS);
                empty.insert(generator)
            }
        };
        let document: TantivyDocument = part.searcher.doc(doc)?;
        let section = document
            .get_first(part.fields.section)
            .and_then(|value| value.as_u64())
            .map_or(SectionKind::Other, kind_of);
        let body = document
            .get_first(part.fields.body)
            .and_then(|value| value.as_str())
            .unwrap_or_default();
        let snippet = generator.snippet(body);
        if snippet.is_empty() {
            // Only the title matched: the section's opening stands for it.
            let mut html = String::new();
            escape_into(&mut html, &opening(body, SNIPPET_CHARS));
            return Ok((section, html));
        }
        Ok((section, marked(body, &snippet)))
    }
}

/// The snippet as HTML, widened to whole words: tantivy cuts a fragment at the edges of its
/// first and last tokens, which drops the punctuation after the last word ("stable" for
/// "stable?").
fn marked(body: &str, snippet: &Snippet) -> String {
    let fragment = snippet.fragment();
    let mut html = String::with_capacity(fragment.len() + 64);
    let Some(start) = body.find(fragment) else {
        escape_into(&mut html, fragment);
        return html;
    };
    let end = start + fragment.len();
    let begin = body[..start]
        .rfind(char::is_whitespace)
        .map_or(0, |space| space + 1)
        .min(start);
    let finish = body[end..]
        .find(char::is_whitespace)
        .map_or(body.len(), |space| end + space);
    escape_into(&mut html, &body[begin..start]);
    let mut at = 0;
    for range in collapse_overlapped_ranges(snippet.highlighted()) {
        escape_into(&mut html, &fragment[at..range.start]);
        html.push_str("<mark>");
        escape_into(&mut html, &fragment[range.clone()]);
        html.push_str("</mark>");
        at = range.end;
    }
    escape_into(&mut html, &fragment[at..]);
    escape_into(&mut html, &body[end..finish]);
    html
}

/// The first `chars` characters of `text`, cut at a word boundary.
fn opening(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        None => text.to_string(),
        Some((cut, _)) => {
            let head = &text[..cut];
            head.rfind(char::is_whitespace)
                .map_or(head, |space| &head[..space])
                .to_string()
        }
    }
}

/// `text` as HTML text (`<`, `>`, `&`, `"` and `'` escaped), appended to `html`.
fn escape_into(html: &mut String, text: &str) {
    pulldown_cmark_escape::escape_html(html, text).expect("writing to a string cannot fail");
}
