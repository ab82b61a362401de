//! `GET /api/v1/feed.atom`: the published posts as an Atom feed (RFC 4287), most recently
//! updated first, for feed readers. Drafts never appear, whoever asks.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, NaiveDate};

use super::{AppState, caching};
use crate::site::{PostRecord, Snapshot};

/// How many entries the feed carries; readers keep what they have already seen.
pub const FEED_ENTRIES: usize = 50;
const FEED_TITLE: &str = "Palimpsest";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(feed);
}

/// The Atom feed of published posts, most recently updated first.
///
/// Each entry carries the post's summary, its rendered HTML and when it was last updated.
/// Links and ids are absolute, built from `--public-url` (else the request's host).
#[utoipa::path(
    tag = "posts",
    responses(
        (status = 200, description = "An Atom 1.0 feed; `ETag` follows the branch tip", body = String, content_type = "application/atom+xml",
            example = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">...</feed>"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "A query parameter (the feed takes none)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/feed.atom")]
pub async fn feed(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.site.snapshot();
    let base = base_url(&request, state.public_url.as_deref());
    // The feed changes exactly when the branch tip does, or when it is asked for under
    // another base URL (its links are absolute).
    let etag = caching::feed_etag("feed", &snapshot, &[&base]);
    let fresh = caching::is_fresh(&request, &etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.insert_header((header::ETAG, value));
    }
    response.insert_header((header::CACHE_CONTROL, "public, max-age=0, must-revalidate"));
    if fresh {
        return response.finish();
    }
    response
        .content_type("application/atom+xml; charset=utf-8")
        .body(render(&snapshot, &base))
}

/// `https://blog.example.org` (no trailing slash): the configured public URL, else what the
/// request says it was sent to.
pub(super) fn base_url(request: &HttpRequest, public_url: Option<&str>) -> String {
    match public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let connection = request.connection_info();
            format!("{}://{}", connection.scheme(), connection.host())
        }
    }
}

/// The whole document, written by `atom_syndication`.
fn render(snapshot: &Snapshot, base: &str) -> String {
    let mut posts: Vec<(&Arc<PostRecord>, FixedDateTime)> = snapshot
        .posts()
        .filter(|record| record.is_published())
        .map(|record| {
            // Atom requires a time: a post without a readable one gets the epoch, which
            // sorts it last rather than pretending it is new.
            let updated = record.updated_at().and_then(atom_time).unwrap_or_default();
            (record, updated)
        })
        .collect();
    // By instant (offsets differ); ties fall back to the slug for a stable order.
    posts.sort_by(|(a, a_time), (b, b_time)| {
        b_time
            .cmp(a_time)
            .then_with(|| a.post().slug.cmp(&b.post().slug))
    });
    posts.truncate(FEED_ENTRIES);
    let self_url = format!("{base}/api/v1/feed.atom");
    let mut document = Feed::default();
    // xml:base lets readers resolve the posts' relative links (`/assets/...`).
    document.set_base(Some(xml_text(&format!("{base}/"))));
    document.set_id(xml_text(&self_url));
    document.set_title(FEED_TITLE);
    let updated = posts.iter().map(|(_, time)| *time).max();
    document.set_updated(updated.unwrap_or_default());
    document.set_links(vec![link("self", "application/atom+xml", &self_url)]);
    document.set_authors(vec![Person {
        name: FEED_TITLE.to_string(),
        ..Person::default()
    }]);
    document.set_generator(Some(Generator {
        value: "Palimpsest".to_string(),
        ..Generator::default()
    }));
    document.set_entries(
        posts
            .into_iter()
            .map(|(record, updated)| entry(record, updated, base))
            .collect::<Vec<_>>(),
    );
    document.to_string()
}

fn entry(record: &PostRecord, updated: FixedDateTime, base: &str) -> Entry {
    let post = record.post();
    let url = format!("{base}/api/v1/posts/{}", post.slug);
    let mut entry = Entry::default();
    entry.set_id(xml_text(&url));
    entry.set_title(Text::plain(xml_text(&post.title)));
    entry.set_links(vec![link("alternate", "application/json", &url)]);
    entry.set_published(post.date.as_deref().and_then(atom_time));
    entry.set_updated(updated);
    entry.set_categories(
        post.tags
            .iter()
            .map(|tag| Category {
                term: xml_text(tag),
                ..Category::default()
            })
            .collect::<Vec<_>>(),
    );
    entry.set_summary(post.summary.as_deref().map(|s| Text::plain(xml_text(s))));
    let mut content = Content::default();
    content.set_content_type(Some("html".to_string()));
    content.set_value(Some(xml_text(&post.html)));
    entry.set_content(Some(content));
    entry
}

fn link(rel: &str, mime_type: &str, href: &str) -> Link {
    let mut link = Link::default();
    link.set_rel(rel);
    link.set_mime_type(Some(mime_type.to_string()));
    link.set_href(xml_text(href));
    link
}

/// `text` without the control characters XML 1.0 cannot carry at all, which the writer
/// would pass through: a stray one in a post must not break the feed.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || !((c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}')
        })
        .collect()
}

/// A front matter date (`YYYY-MM-DD`, midnight UTC) or RFC 3339 time as an Atom date-time.
fn atom_time(text: &str) -> Option<FixedDateTime> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time);
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_use_the_public_url_when_configured_else_the_requests_host() {
        let request = actix_web::test::TestRequest::default()
            .insert_header((header::HOST, "blog.internal:8080"))
            .to_http_request();
        assert_eq!(
            base_url(&request, Some("https://blog.example.org/")),
            "https://blog.example.org"
        );
        assert_eq!(base_url(&request, None), "http://blog.internal:8080");
    }

    #[test]
    fn control_characters_xml_cannot_carry_are_dropped() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td\n"), "abc\td\n");
    }

    #[test]
    fn dates_become_midnight_utc_and_times_keep_their_offset() {
        let text = |time: &str| atom_time(time).map(|t| t.to_rfc3339());
        assert_eq!(
            text("2026-11-02").as_deref(),
            Some("2026-11-02T00:00:00+00:00")
        );
        assert_eq!(
            text("2026-11-02T10:30:00+01:00").as_deref(),
            Some("2026-11-02T10:30:00+01:00")
        );
        assert_eq!(atom_time("next tuesday"), None);
    }
}
