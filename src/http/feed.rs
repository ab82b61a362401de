//! `GET /api/v1/feed.atom`: the published posts as an Atom feed (RFC 4287), most recently
//! updated first, for feed readers. Drafts never appear, whoever asks.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};

use super::{AppState, caching};
use crate::site::{PostRecord, Snapshot};

/// How many entries the feed carries; readers keep what they have already seen.
pub const FEED_ENTRIES: usize = 50;
const FEED_TITLE: &str = "Palimpsest";
const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";
/// What an entry whose post has no readable date says it was updated: Atom requires a time,
/// and the epoch sorts such posts last rather than pretending they are new.
const UNKNOWN_TIME: &str = "1970-01-01T00:00:00Z";

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
    let etag = feed_etag(&snapshot, &base);
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

/// The feed changes exactly when the branch tip does, or when it is asked for under another
/// base URL (its links are absolute).
fn feed_etag(snapshot: &Snapshot, base: &str) -> String {
    let tip = snapshot.tip.map(|t| t.to_string()).unwrap_or_default();
    let hash = caching::stable_hash(&[base.as_bytes()]);
    format!("\"feed-{tip}-{hash}\"")
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

/// One post as the feed shows it.
struct Entry<'a> {
    record: &'a Arc<PostRecord>,
    updated: String,
}

/// The whole document. Hand-written: the format is small, and every text passes through
/// [`escape`].
fn render(snapshot: &Snapshot, base: &str) -> String {
    let mut entries: Vec<Entry> = snapshot
        .posts()
        .filter(|record| record.is_published())
        .map(|record| Entry {
            record,
            updated: record
                .updated_at()
                .and_then(atom_time)
                .unwrap_or_else(|| UNKNOWN_TIME.to_string()),
        })
        .collect();
    // By instant, not by text (offsets differ); ties fall back to the slug for a stable order.
    entries.sort_by(|a, b| {
        instant(&b.updated)
            .cmp(&instant(&a.updated))
            .then_with(|| a.record.post().slug.cmp(&b.record.post().slug))
    });
    entries.truncate(FEED_ENTRIES);
    let updated = entries
        .iter()
        .map(|e| e.updated.as_str())
        .max_by_key(|time| instant(time))
        .unwrap_or(UNKNOWN_TIME);
    let self_url = format!("{base}/api/v1/feed.atom");

    let mut xml = String::with_capacity(4096 + entries.len() * 8192);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    // xml:base lets readers resolve the posts' relative links (`/assets/...`).
    xml.push_str(&format!(
        "<feed xmlns=\"{ATOM_NAMESPACE}\" xml:base=\"{}/\">\n",
        escape(base)
    ));
    element(&mut xml, 1, "id", &self_url);
    element(&mut xml, 1, "title", FEED_TITLE);
    element(&mut xml, 1, "updated", updated);
    xml.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape(&self_url)
    ));
    xml.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        escape(FEED_TITLE)
    ));
    xml.push_str("  <generator>Palimpsest</generator>\n");
    for entry in &entries {
        render_entry(&mut xml, entry, base);
    }
    xml.push_str("</feed>\n");
    xml
}

fn render_entry(xml: &mut String, entry: &Entry, base: &str) {
    let post = entry.record.post();
    let url = format!("{base}/api/v1/posts/{}", post.slug);
    xml.push_str("  <entry>\n");
    element(xml, 2, "id", &url);
    element(xml, 2, "title", &post.title);
    xml.push_str(&format!(
        "    <link rel=\"alternate\" type=\"application/json\" href=\"{}\"/>\n",
        escape(&url)
    ));
    if let Some(published) = post.date.as_deref().and_then(atom_time) {
        element(xml, 2, "published", &published);
    }
    element(xml, 2, "updated", &entry.updated);
    for tag in &post.tags {
        xml.push_str(&format!("    <category term=\"{}\"/>\n", escape(tag)));
    }
    if let Some(summary) = &post.summary {
        xml.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            escape(summary)
        ));
    }
    xml.push_str(&format!(
        "    <content type=\"html\">{}</content>\n",
        escape(&post.html)
    ));
    xml.push_str("  </entry>\n");
}

fn element(xml: &mut String, depth: usize, name: &str, text: &str) {
    xml.push_str(&"  ".repeat(depth));
    xml.push_str(&format!("<{name}>{}</{name}>\n", escape(text)));
}

/// Escapes text for element content and double-quoted attributes, and drops the control
/// characters XML 1.0 cannot carry at all (a stray one in a post must not break the feed).
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A front matter date (`YYYY-MM-DD`, midnight UTC) or RFC 3339 time as an Atom date-time.
fn atom_time(text: &str) -> Option<String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|date| format!("{date}T00:00:00Z"))
}

/// The instant an Atom time names, for ordering times written with different offsets.
fn instant(time: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(time).ok()
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
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<p class="x">Q&A 'n'</p>"#),
            "&lt;p class=&quot;x&quot;&gt;Q&amp;A &apos;n&apos;&lt;/p&gt;"
        );
    }

    #[test]
    fn control_characters_xml_cannot_carry_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{1b}c\td\n"), "abc\td\n");
    }

    #[test]
    fn dates_become_midnight_utc_and_times_keep_their_offset() {
        assert_eq!(
            atom_time("2026-11-02").as_deref(),
            Some("2026-11-02T00:00:00Z")
        );
        assert_eq!(
            atom_time("2026-11-02T10:30:00+01:00").as_deref(),
            Some("2026-11-02T10:30:00+01:00")
        );
        assert_eq!(
            atom_time("2026-11-02T10:30:00Z").as_deref(),
            Some("2026-11-02T10:30:00Z")
        );
        assert_eq!(atom_time("next tuesday"), None);
    }
}
