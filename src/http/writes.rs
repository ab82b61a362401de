//! Writing posts: create, replace, patch the front matter, delete, rename and restore. Each
//! success is exactly one commit by the token's author, answered with the post as `GET`
//! returns it plus the new `commit` (see `write_responses`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, patch, post, put, web};
use serde_json::Value;

use super::AppState;
use super::write_requests::{
    Author, FrontMatterPatch, NewPost, NewSlug, ReplacedPost, RestoredRevision, check_message,
    if_match,
};
use super::write_responses::{WrittenPost, refusal, respond};
use crate::error::{ApiError, Problem};
use crate::post::Slug;
use crate::store::StoreError;
use crate::writing::{self, Edit, Expected, PostBody, PostFile, WriteError, WriteRequest, Written};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_post)
        .service(replace_post)
        .service(patch_post)
        .service(delete_post)
        .service(rename_post)
        .service(restore_post);
}

/// Create a post: `{front_matter, markdown}` or `{raw}`, one commit.
#[utoipa::path(
    tag = "writing",
    request_body(content = NewPost, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `Location` names the post, `ETag` is its version", body = WrittenPost),
        (status = 400, description = "Invalid JSON, slug, YAML or front matter; `errors` names the field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A post with this slug exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/posts")]
pub async fn create_post(
    Author(author): Author,
    state: web::Data<AppState>,
    body: web::Json<NewPost>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_message(body.message.as_deref())?;
    let file = prepare_file(body.slug, body.front_matter, body.markdown, body.raw).await?;
    let edit = Edit::Create {
        slug: file.slug,
        text: file.text,
    };
    write(&state, edit, author, body.message, StatusCode::CREATED).await
}

/// Replace a post. Needs `If-Match` with its ETag (or `base_revision`); a stale base is
/// merged with the changes since when they touch different lines, else 412.
#[utoipa::path(
    tag = "writing",
    params(
        ("slug" = String, Path, description = "The post's slug"),
        ("If-Match" = Option<String>, Header, description = "The post's ETag as last read (a list holds when one of its ETags is current)"),
    ),
    request_body(content = ReplacedPost, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced (or merged: see `merged`); `ETag` is the new version", body = WrittenPost),
        (status = 400, description = "Invalid JSON, slug, YAML or front matter; `errors` names the field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post, or `base_revision` is not on the branch", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The post changed since its base and the changes overlap; `current` holds the post now", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "Neither If-Match nor base_revision given", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/posts/{slug}")]
pub async fn replace_post(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Json<ReplacedPost>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let body = body.into_inner();
    check_message(body.message.as_deref())?;
    if body.slug.as_deref().is_some_and(|s| s != slug.as_str()) {
        return Err(ApiError::invalid_field(
            "slug",
            "the slug differs from the one in the path; rename the post instead",
        ));
    }
    if let Some(revision) = &body.base_revision {
        check_revision("base_revision", revision)?;
    }
    let file = prepare_file(
        Some(slug.to_string()),
        body.front_matter,
        body.markdown,
        body.raw,
    )
    .await?;
    let expected = match (if_match(&request)?, body.base_revision) {
        (Some(expected), _) => expected,
        (None, Some(revision)) => {
            Expected::Revision(resolve(&state, revision, "base_revision").await?)
        }
        (None, None) => return Err(ApiError::PreconditionRequired),
    };
    let edit = Edit::Replace {
        slug,
        text: file.text,
        expected,
    };
    write(&state, edit, author, body.message, StatusCode::OK).await
}

/// Merge keys into a post's front matter (`null` removes one), e.g. publish a draft with
/// `{"front_matter": {"status": "published"}}`. The body is untouched; `If-Match` optional.
#[utoipa::path(
    tag = "writing",
    params(
        ("slug" = String, Path, description = "The post's slug"),
        ("If-Match" = Option<String>, Header, description = "The post's ETag as last read (a list holds when one of its ETags is current)"),
    ),
    request_body(content = FrontMatterPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "Patched; `ETag` is the new version", body = WrittenPost),
        (status = 400, description = "Invalid JSON or a front matter that would be invalid (e.g. no title)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale and the patched keys changed since", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/posts/{slug}")]
pub async fn patch_post(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Json<FrontMatterPatch>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let body = body.into_inner();
    check_message(body.message.as_deref())?;
    let Value::Object(front_matter) = body.front_matter else {
        return Err(ApiError::invalid_field(
            "front_matter",
            "front_matter must be an object of keys to values (null removes a key)",
        ));
    };
    let edit = Edit::Patch {
        slug,
        front_matter,
        expected: if_match(&request)?.unwrap_or(Expected::Current),
    };
    write(&state, edit, author, body.message, StatusCode::OK).await
}

/// Delete a post (a commit; its history stays). Needs `If-Match`.
#[utoipa::path(
    tag = "writing",
    params(
        ("slug" = String, Path, description = "The post's slug"),
        ("If-Match" = String, Header, description = "The post's ETag as last read (a list holds when one of its ETags is current)"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The post changed since the ETag in If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/posts/{slug}")]
pub async fn delete_post(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let expected = if_match(&request)?.ok_or(ApiError::PreconditionRequired)?;
    let edit = Edit::Delete { slug, expected };
    write(&state, edit, author, None, StatusCode::NO_CONTENT).await
}

/// Rename a post; its history follows it. `If-Match` optional.
#[utoipa::path(
    tag = "writing",
    params(
        ("slug" = String, Path, description = "The post's current slug"),
        ("If-Match" = Option<String>, Header, description = "The post's ETag as last read (a list holds when one of its ETags is current)"),
    ),
    request_body(content = NewSlug, content_type = "application/json"),
    responses(
        (status = 200, description = "Renamed; `Location` names the post's new URL", body = WrittenPost),
        (status = 400, description = "Invalid JSON or slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A post with the new slug exists (this post included)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The post changed since the ETag in If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/posts/{slug}/rename")]
pub async fn rename_post(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Json<NewSlug>,
) -> Result<HttpResponse, ApiError> {
    let from = Slug::parse(&slug)?;
    let body = body.into_inner();
    check_message(body.message.as_deref())?;
    let to = Slug::parse(&body.new_slug)
        .map_err(|e| ApiError::invalid_field("new_slug", e.to_string()))?;
    if to == from {
        // The slug is taken, by this very post.
        return Err(ApiError::Conflict(format!("the post is already at `{to}`")));
    }
    let edit = Edit::Rename {
        from,
        to,
        expected: if_match(&request)?.unwrap_or(Expected::Current),
    };
    write(&state, edit, author, body.message, StatusCode::OK).await
}

/// Restore a post to its content as of a revision: a new commit, history kept.
#[utoipa::path(
    tag = "writing",
    params(
        ("slug" = String, Path, description = "The post's slug"),
        ("If-Match" = Option<String>, Header, description = "The post's ETag as last read (a list holds when one of its ETags is current)"),
    ),
    request_body(content = RestoredRevision, content_type = "application/json"),
    responses(
        (status = 200, description = "Restored; `ETag` is the new version", body = WrittenPost),
        (status = 400, description = "Invalid JSON, slug or revision", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown revision, or the post did not exist at it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The post changed since the ETag in If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Nothing was committed: another process holds the branch's lock, or the repository cannot be written; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Nothing was committed: the disk holding the repository is full", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/posts/{slug}/restore")]
pub async fn restore_post(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Json<RestoredRevision>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug)?;
    let body = body.into_inner();
    check_message(body.message.as_deref())?;
    check_revision("revision", &body.revision)?;
    let expected = if_match(&request)?.unwrap_or(Expected::Current);
    // The post is followed back across renames: its file then may have had another name.
    let snapshot = state.site.snapshot();
    let store = state.site.store().clone();
    let wanted = slug.clone();
    let (revision, text) = web::block(move || -> Result<_, StoreError> {
        let reader = store.history_reader()?;
        let (commit, position) = snapshot.resolve_revision(&reader, &store, &body.revision)?;
        let file = snapshot.version_at(&reader, &wanted, commit, position)?;
        Ok((commit, file.map(|(_, blob)| reader.blob(blob)).transpose()?))
    })
    .await?
    .map_err(|error| revision_error(error, "revision"))?;
    let text = text.ok_or_else(|| {
        ApiError::not_found(format!(
            "post `{slug}` did not exist at revision {revision}"
        ))
    })?;
    let edit = Edit::Restore {
        slug,
        revision,
        text,
        expected,
    };
    write(&state, edit, author, body.message, StatusCode::OK).await
}

/// Checks and composes the post a create, replace or preview carries, on a blocking thread: the
/// check renders it (see [`writing::prepare`]).
pub(super) async fn prepare_file(
    slug: Option<String>,
    front_matter: Option<Value>,
    markdown: Option<String>,
    raw: Option<String>,
) -> Result<PostFile, ApiError> {
    web::block(move || {
        let submitted = post_body(front_matter.as_ref(), markdown.as_deref(), raw.as_deref())?;
        Ok(writing::prepare(slug.as_deref(), submitted)?)
    })
    .await?
}

/// The whole post a create, replace or preview carries: exactly one of the two forms.
fn post_body<'a>(
    front_matter: Option<&'a Value>,
    markdown: Option<&'a str>,
    raw: Option<&'a str>,
) -> Result<PostBody<'a>, ApiError> {
    match (front_matter, markdown, raw) {
        (None, None, Some(raw)) => Ok(PostBody::Raw(raw)),
        (Some(front_matter), markdown, None) => Ok(PostBody::Structured {
            front_matter,
            markdown: markdown.unwrap_or_default(),
        }),
        (_, _, Some(_)) => Err(ApiError::invalid_field(
            "raw",
            "send either `raw` or `front_matter` and `markdown`, not both",
        )),
        (None, _, None) => Err(ApiError::invalid_field(
            "front_matter",
            "send `front_matter` (with a title) and `markdown`, or the whole file as `raw`",
        )),
    }
}

/// A client's revision resolved to a commit on the branch; errors name `field`.
async fn resolve(
    state: &AppState,
    revision: String,
    field: &str,
) -> Result<crate::store::Oid, ApiError> {
    let store = state.site.store().clone();
    web::block(move || {
        let reader = store.history_reader()?;
        reader.resolve_revision(&store, &revision, |_| false)
    })
    .await?
    .map_err(|error| revision_error(error, field))
}

/// A revision in the body field `field` must be written as one before any header is
/// looked at, so a malformed request is a 400 whatever its `If-Match`.
fn check_revision(field: &str, revision: &str) -> Result<(), ApiError> {
    if crate::store::is_revision(revision) {
        Ok(())
    } else {
        Err(revision_error(
            StoreError::InvalidRevision(revision.to_string()),
            field,
        ))
    }
}

/// A revision the client sent in the body field `field` that names no usable commit.
fn revision_error(error: StoreError, field: &str) -> ApiError {
    match error {
        StoreError::InvalidRevision(rev) => ApiError::invalid_field(
            field,
            format!("`{rev}` is not a commit id (4 to 40 hexadecimal digits)"),
        ),
        StoreError::AmbiguousRevision(rev) => {
            ApiError::invalid_field(field, format!("`{rev}` matches several commits"))
        }
        other => other.into(),
    }
}

/// Hands the edit to the writer and answers with the post as written.
async fn write(
    state: &AppState,
    edit: Edit,
    author: crate::store::Identity,
    message: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let written = commit(state, edit, author, message).await?;
    Ok(respond(state, &written, status))
}

/// Hands an edit (of a post or an asset) to the writer, counting commits and conflicts.
///
/// # Errors
/// The refusal as HTTP (404, 409, 412...), see [`refusal`].
pub(super) async fn commit(
    state: &AppState,
    edit: Edit,
    author: crate::store::Identity,
    message: Option<String>,
) -> Result<Written, ApiError> {
    let request = WriteRequest {
        edit,
        author,
        message,
    };
    match state.writer.write(request).await {
        Ok(written) => {
            if written.committed {
                state.metrics.commit_made();
            }
            Ok(written)
        }
        Err(refused) => {
            if matches!(
                refused,
                WriteError::Stale(_) | WriteError::Exists(_) | WriteError::AssetStale(_)
            ) {
                state.metrics.conflict();
            }
            Err(refusal(state, refused).await)
        }
    }
}
