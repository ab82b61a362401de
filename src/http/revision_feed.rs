//! `GET /api/v1/history.atom` and `GET /api/v1/posts/{slug}/revisions.atom`: revisions to
//! published posts as Atom feeds, newest first, one entry per revision, each saying which
//! sections changed and which open questions were raised or settled, and linking to its
//! diff. Feeds are public: drafts never appear, whoever asks.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use atom_syndication::{Entry, Feed, Link, Person, Text};
use chrono::DateTime;

use super::history::revision_entry;
use super::{AppState, caching, feed::base_url};
use crate::error::ApiError;
use crate::history::{ChangeRef, open_questions_change};
use crate::post::Slug;
use crate::site::{Audience, Snapshot, VersionTexts};

/// How many revisions a feed carries; readers keep what they have already seen.
pub const REVISION_FEED_ENTRIES: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(site_revisions_feed)
        .service(post_revisions_feed);
}

/// Revisions to published posts, site-wide, newest first, as an Atom feed.
///
/// Each entry names the sections the revision changed and the open questions it raised or
/// settled, and links to its diff. Query parameters are ignored.
#[utoipa::path(
    tag = "history",
    responses(
        (status = 200, description = "An Atom 1.0 feed of the newest 50 revisions; `ETag` follows the branch tip", body = String, content_type = "application/atom+xml"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
    )
)]
#[get("/history.atom")]
pub async fn site_revisions_feed(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    respond(request, state, None).await
}

/// One published post's revisions, newest first, as an Atom feed; a draft is a 404.
#[utoipa::path(
    tag = "history",
    params(("slug" = String, Path, description = "The post's slug")),
    responses(
        (status = 200, description = "An Atom 1.0 feed of the post's newest 50 revisions; `ETag` follows the branch tip", body = String, content_type = "application/atom+xml"),
        (status = 301, description = "The post was renamed: `Location` is this URL under the new slug, query kept"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid slug", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post, or a draft", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/posts/{slug}/revisions.atom")]
pub async fn post_revisions_feed(
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    respond(request, state, Some(slug)).await
}

async fn respond(
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: Option<Slug>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.site.snapshot();
    let store = state.site.store().clone();
    let base = base_url(&request, state.public_url.as_deref());
    // The feed changes exactly when the branch tip does, or when it is asked for under
    // another base URL (its links are absolute).
    let etag = caching::feed_etag("revisions", &snapshot, &[&base, request.path()]);
    let fresh = caching::is_fresh(&request, &etag);
    let body = web::block(move || -> Result<Option<String>, ApiError> {
        let history = &snapshot.history;
        let (revisions, self_path) = match &slug {
            Some(slug) => {
                if !snapshot.history_visible(slug, Audience::Public, &store)? {
                    return Err(ApiError::NotFound(format!("no post {slug}")));
                }
                (
                    history.revisions(slug, None),
                    format!("/api/v1/posts/{slug}/revisions.atom"),
                )
            }
            None => (
                public_revisions(&snapshot, &store)?,
                "/api/v1/history.atom".to_string(),
            ),
        };
        if fresh {
            return Ok(None);
        }
        let mut files = VersionTexts::new(store.clone());
        let mut entries = Vec::new();
        for &at in revisions.iter().take(REVISION_FEED_ENTRIES) {
            entries.push(revision_as_entry(&snapshot, at, &mut files, &base)?);
        }
        let mut feed = Feed::default();
        feed.set_title(match &slug {
            Some(slug) => format!("Palimpsest: revisions of {slug}"),
            None => "Palimpsest: revisions".to_string(),
        });
        feed.set_id(format!("{base}{self_path}"));
        let mut link = Link::default();
        link.set_rel("self");
        link.set_mime_type(Some("application/atom+xml".to_string()));
        link.set_href(format!("{base}{self_path}"));
        feed.set_links(vec![link]);
        if let Some(newest) = entries.first() {
            feed.set_updated(*newest.updated());
        }
        feed.set_entries(entries);
        Ok(Some(feed.to_string()))
    })
    .await??;
    let mut response = match body {
        None => HttpResponse::NotModified(),
        Some(_) => HttpResponse::Ok(),
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.insert_header((header::ETAG, value));
    }
    response.insert_header((header::CACHE_CONTROL, "public, max-age=0, must-revalidate"));
    Ok(match body {
        None => response.finish(),
        Some(xml) => response
            .content_type("application/atom+xml; charset=utf-8")
            .body(xml),
    })
}

/// Every post change the public may see, newest first: the anonymous site log's commits,
/// less the changes it hides (drafts').
fn public_revisions(
    snapshot: &Snapshot,
    store: &crate::store::Store,
) -> Result<Vec<ChangeRef>, ApiError> {
    let log = snapshot.log(Audience::Public, store)?;
    let mut revisions = Vec::new();
    for &position in &log.commits {
        let commit = snapshot.history.commit(position);
        for change in 0..commit.changes.len() as u32 {
            let at = ChangeRef { position, change };
            if !log.is_hidden(at) {
                revisions.push(at);
            }
        }
        if revisions.len() >= REVISION_FEED_ENTRIES {
            break;
        }
    }
    Ok(revisions)
}

/// One revision as a feed entry: the sections it changed and the open questions it raised
/// or settled, from the same computations as the revision list and the diff.
fn revision_as_entry(
    snapshot: &Snapshot,
    at: ChangeRef,
    files: &mut VersionTexts,
    base: &str,
) -> Result<Entry, ApiError> {
    let history = &snapshot.history;
    let entry = revision_entry(snapshot, at, files)?;
    let revision = &entry.summary;
    let (_, change) = history.change(at);
    let old = change.old_blob.map(|b| files.text(b)).transpose()?;
    let new = change.new_blob.map(|b| files.text(b)).transpose()?;
    let questions = open_questions_change(
        old.as_deref().map(String::as_str),
        new.as_deref().map(String::as_str),
    );
    let slug = history.slug(change.path).to_string();
    let diff = match revision.parents.first() {
        Some(parent) => format!(
            "{base}/api/v1/posts/{slug}/diff?from={parent}&to={}",
            revision.commit
        ),
        None => format!("{base}/api/v1/posts/{slug}/diff?to={}", revision.commit),
    };
    let mut summary = Vec::new();
    let sections: Vec<&str> = entry
        .sections_changed
        .iter()
        .map(|kind| kind.title())
        .collect();
    if !sections.is_empty() {
        summary.push(format!("Sections changed: {}.", sections.join(", ")));
    }
    if !questions.added.is_empty() {
        summary.push(format!("Questions raised: {}", questions.added.join(" ")));
    }
    if !questions.removed.is_empty() {
        summary.push(format!(
            "Questions settled: {}",
            questions.removed.join(" ")
        ));
    }
    let mut entry = Entry::default();
    entry.set_id(format!(
        "{base}/api/v1/posts/{slug}/revisions/{}",
        revision.commit
    ));
    let first_line = revision.message.lines().next().unwrap_or("").to_string();
    entry.set_title(format!("{slug}: {first_line}"));
    if let Ok(time) = DateTime::parse_from_rfc3339(&revision.committed_at) {
        entry.set_updated(time);
    }
    let mut link = Link::default();
    link.set_rel("alternate");
    link.set_mime_type(Some("application/json".to_string()));
    link.set_href(diff);
    entry.set_links(vec![link]);
    entry.set_summary(Some(Text::plain(summary.join("\n"))));
    // Atom requires an author for every entry: the revision's commit author.
    entry.set_authors(vec![Person {
        name: revision.author.name.clone(),
        ..Person::default()
    }]);
    Ok(entry)
}
