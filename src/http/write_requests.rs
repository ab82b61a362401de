//! What write requests carry: the author behind the token, the JSON bodies (size, content
//! type and unknown fields checked before a handler runs), and `If-Match`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::header::{self, Header, IfMatch};
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Viewer;
use crate::error::{ApiError, FieldError};
use crate::store::{Identity, Oid};
use crate::writing::{Expected, Rejection};

/// The longest commit message accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// The authenticated author of a write; anonymous requests are refused with 401 before the
/// body is even read.
pub struct Author(pub Identity);

impl FromRequest for Author {
    type Error = ApiError;
    type Future = Ready<Result<Author, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let author = match Viewer::from_request(request, payload).into_inner() {
            Ok(viewer) => viewer.author().cloned().map(Author),
            Err(error) => Err(error),
        };
        ready(author)
    }
}

/// How JSON bodies are read: at most `limit` bytes (413), `application/json` or a `+json`
/// type (415), well-formed (400) and without unknown fields (400 naming the field).
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type(|mime| mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        .error_handler(move |error, _| json_error(error, limit).into())
}

fn json_error(error: JsonPayloadError, limit: usize) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Overflow { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as `Content-Type: application/json`".into(),
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => {
            let message = error.to_string();
            let field = unknown_field(&message).unwrap_or("body").to_string();
            ApiError::BadRequest {
                detail: format!("invalid request body: {message}"),
                errors: vec![FieldError { field, message }],
            }
        }
        other => ApiError::bad_request(format!("the body is not valid JSON: {other}")),
    }
}

/// serde names an unknown or missing field between backticks: ``unknown field `x` ``.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next()
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        ApiError::invalid_field(rejection.field, rejection.message)
    }
}

/// What `If-Match` says the client last saw: `None` without the header, `*` for any
/// current version, else the post's ETags (a list, usually of one): each its blob id, alone
/// or followed by `-` and the hash of a representation (`caching::post_etag`), which a
/// precondition ignores. Weak tags and tags that are not a post's are left out: `If-Match`
/// compares strongly (RFC 9110, 13.1.1), and they can never match. actix's typed header
/// parses the list; elements that are not entity tags are skipped.
///
/// # Errors
/// 412 when no listed tag can be any post's ETag: the precondition can never hold.
pub fn if_match(request: &HttpRequest) -> Result<Option<Expected>, ApiError> {
    if !request.headers().contains_key(header::IF_MATCH) {
        return Ok(None);
    }
    let never = || ApiError::PreconditionFailed {
        detail: "If-Match does not name a version of this post (expected `\"<ETag>\"`)".into(),
        current: None,
    };
    let tags = match IfMatch::parse(request).map_err(|_| never())? {
        IfMatch::Any => return Ok(Some(Expected::Current)),
        IfMatch::Items(tags) => tags,
    };
    let blobs: Vec<Oid> = tags
        .iter()
        .filter(|tag| !tag.weak)
        .filter_map(|tag| post_blob(tag.tag()))
        .collect();
    if blobs.is_empty() {
        return Err(never());
    }
    Ok(Some(Expected::Blobs(blobs)))
}

/// The blob a post ETag names (`<blob>` or `<blob>-<representation>`).
fn post_blob(tag: &str) -> Option<Oid> {
    let blob = tag.split_once('-').map_or(tag, |(blob, _)| blob);
    (blob.len() == 40)
        .then(|| Oid::from_str(blob).ok())
        .flatten()
}

/// Checks an author's commit message.
///
/// # Errors
/// 400 naming `message` when it is too long or holds control characters git would mangle.
pub fn check_message(message: Option<&str>) -> Result<(), ApiError> {
    let Some(message) = message else {
        return Ok(());
    };
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid_field(
            "message",
            format!("the message is longer than {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    if message
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid_field(
            "message",
            "the message may not contain control characters",
        ));
    }
    Ok(())
}

/// A new post: `front_matter` and `markdown`, or the whole file as `raw`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(
    json!({"front_matter": {"title": "Why does the KV cache grow linearly?", "tags": ["inference"], "status": "draft"}, "markdown": "## Question\n\nWhy?\n", "message": "Start the KV cache post"}),
    json!({"raw": "---\ntitle: Sparse attention\n---\n\n## Question\n\nHow sparse?\n"})
))]
pub struct NewPost {
    /// The slug; default: the front matter's `slug`, else one made from the title.
    #[schema(example = "kv-cache-growth")]
    pub slug: Option<String>,
    /// Front matter as an object; `title` is required; each key at most once.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "super::unique_keys::optional")]
    pub front_matter: Option<Value>,
    /// The body, after the front matter.
    pub markdown: Option<String>,
    /// The whole file instead of `front_matter` and `markdown`.
    pub raw: Option<String>,
    /// The commit message; default `Create post <slug>`.
    #[schema(pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$")]
    pub message: Option<String>,
}

/// A post's new content, replacing the old; based on the version named by `If-Match` or
/// `base_revision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"front_matter": {"title": "Why does the KV cache grow linearly?", "status": "draft"}, "markdown": "## Question\n\nWhy, really?\n", "message": "Sharpen the question"}))]
pub struct ReplacedPost {
    /// Must equal the slug in the path if given (renaming is its own endpoint).
    pub slug: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "super::unique_keys::optional")]
    pub front_matter: Option<Value>,
    pub markdown: Option<String>,
    pub raw: Option<String>,
    /// The commit the edit is based on, instead of `If-Match`.
    #[schema(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub base_revision: Option<String>,
    /// The commit message; default `Update post <slug>`.
    #[schema(pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$")]
    pub message: Option<String>,
}

/// Front matter keys to set (`null` removes a key); the body is untouched.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"front_matter": {"status": "published", "date": "2026-11-29"}, "message": "Publish the KV cache post"}))]
pub struct FrontMatterPatch {
    #[schema(value_type = Object)]
    #[serde(deserialize_with = "super::unique_keys::required")]
    pub front_matter: Value,
    /// The commit message; default `Update post <slug>`, or `Publish post <slug>`.
    #[schema(pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$")]
    pub message: Option<String>,
}

/// A post's new slug.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"new_slug": "kv-cache", "message": "Shorter slug"}))]
pub struct NewSlug {
    /// A slug: lowercase letters and digits in hyphen-separated runs, at most 80 characters.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 80)]
    pub new_slug: String,
    /// The commit message; default `Rename post <old> to <new>`.
    #[schema(pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$")]
    pub message: Option<String>,
}

/// The revision whose content the post should have again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
// No example revision: an id made up here names no commit of the reader's repository,
// and the docs page would send it as it is.
#[schema(example = json!({"message": "Back to the first takeaway"}))]
pub struct RestoredRevision {
    /// A commit id (or an unambiguous prefix of at least 4 hexadecimal digits), as
    /// `GET /api/v1/posts/{slug}/revisions` lists them.
    #[schema(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub revision: String,
    /// The commit message; default `Restore post <slug> to <short revision>`.
    #[schema(pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_the_field() {
        assert_eq!(
            unknown_field("unknown field `titel`, expected one of `slug`"),
            Some("titel")
        );
        assert_eq!(
            unknown_field("missing field `new_slug` at line 1"),
            Some("new_slug")
        );
        assert_eq!(unknown_field("invalid type: string"), None);
    }

    fn if_match_of(value: &str) -> Result<Option<Expected>, ApiError> {
        let request = actix_web::test::TestRequest::default()
            .insert_header((header::IF_MATCH, value))
            .to_http_request();
        if_match(&request)
    }

    #[test]
    fn if_match_lists_keep_the_strong_tags_of_posts() {
        let a = "a".repeat(40);
        let b = format!("{}-0123abcd", "b".repeat(40));
        let list = format!(r#" "{a}" ,W/"{a}", "xy", junk, "{b}","short" "#);
        let blobs = vec![
            Oid::from_str(&a).unwrap(),
            Oid::from_str(&"b".repeat(40)).unwrap(),
        ];
        assert_eq!(if_match_of(&list).ok(), Some(Some(Expected::Blobs(blobs))));
        assert_eq!(if_match_of(" * ").ok(), Some(Some(Expected::Current)));
        assert!(if_match_of(&format!(r#"W/"{a}", nothing"#)).is_err());
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(if_match(&none).ok(), Some(None));
    }

    #[test]
    fn messages_with_control_characters_are_refused() {
        assert!(check_message(Some("Fix the\ntakeaway")).is_ok());
        assert!(check_message(Some("nul\0byte")).is_err());
        assert!(check_message(Some(&"x".repeat(MAX_MESSAGE_BYTES + 1))).is_err());
    }
}
