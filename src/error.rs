//! The API's one error type and its single mapping to HTTP: RFC 9457 problem details.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

use crate::post::{PostError, SlugError};
use crate::store::{LOCK_WAIT, StoreError, WriteFailure};

/// One offending input, named so a client can point at the field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"field": "title", "message": "`title` is required"}))]
pub struct FieldError {
    /// The field at fault: a front matter key, a body key, a query parameter or a header.
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document, as every error response carries it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "/problems/invalid-slug",
    "title": "The slug is invalid",
    "status": 400,
    "detail": "invalid slug: `Bad_Slug` may contain only lowercase letters, digits and single hyphens",
    "errors": [{"field": "slug", "message": "`Bad_Slug` may contain only lowercase letters, digits and single hyphens"}]
}))]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/invalid-slug`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 412: the post as it is now, so the client can rebase its change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Value>,
}

/// Everything a request can fail with. Handlers return it; `ResponseError` turns it into
/// problem+json, so no handler builds an error response by hand.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("invalid slug: {0}")]
    InvalidSlug(#[from] SlugError),
    #[error("invalid post: {0}")]
    InvalidPost(#[from] PostError),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    PreconditionFailed {
        detail: String,
        current: Option<Value>,
    },
    #[error(
        "this request needs an If-Match header with the post's ETag (or base_revision in the body)"
    )]
    PreconditionRequired,
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the server is not ready: {0}")]
    Unavailable(String),
    /// A client asked for more than its share; it may ask again after `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// The server is serving all it will of something to everyone; `retry_after` seconds.
    #[error("{detail}")]
    Busy { detail: String, retry_after: u64 },
    #[error("the disk holding the repository is full; nothing was committed")]
    InsufficientStorage,
    #[error(
        "the repository cannot be written (a read-only filesystem, or no permission); nothing was committed"
    )]
    ReadOnly,
    #[error(
        "another process (a git command, or another server) holds the branch's lock; nothing was committed"
    )]
    Locked,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 400 naming one offending field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            detail: message.clone(),
            errors: vec![FieldError {
                field: field.into(),
                message,
            }],
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    /// The answer to a write the repository refused; `detail` (the store's own words, which
    /// name files) is logged by the writer and not passed on.
    pub fn not_committed(failure: WriteFailure, detail: String) -> Self {
        match failure {
            WriteFailure::DiskFull => ApiError::InsufficientStorage,
            WriteFailure::ReadOnly => ApiError::ReadOnly,
            WriteFailure::Locked => ApiError::Locked,
            WriteFailure::Other => ApiError::Unavailable(detail),
        }
    }

    /// Seconds a client should wait before trying again, for the answers that say so.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Locked => Some(LOCK_WAIT.as_secs().max(1)),
            ApiError::Unavailable(_) => Some(5),
            ApiError::TooManyRequests { retry_after, .. } | ApiError::Busy { retry_after, .. } => {
                Some(*retry_after)
            }
            ApiError::ReadOnly => Some(30),
            _ => None,
        }
    }

    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => ("invalid-request", "The request is invalid"),
            ApiError::InvalidSlug(_) => ("invalid-slug", "The slug is invalid"),
            ApiError::InvalidPost(_) => ("invalid-post", "The post is invalid"),
            ApiError::Unauthorized(_) => ("unauthorized", "Authentication is required"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::PreconditionFailed { .. } => {
                ("stale-revision", "The post changed since you read it")
            }
            ApiError::PreconditionRequired => ("precondition-required", "If-Match is required"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "The request body is too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported content type")
            }
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            ApiError::Busy { .. } => ("busy", "The server is busy"),
            ApiError::InsufficientStorage => ("insufficient-storage", "The disk is full"),
            ApiError::ReadOnly => ("read-only", "The repository is read-only"),
            ApiError::Locked => ("locked", "The branch is locked"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (kind, title) = self.kind_and_title();
        let errors = match self {
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::InvalidSlug(e) => vec![FieldError {
                field: "slug".into(),
                message: e.to_string(),
            }],
            ApiError::InvalidPost(e) => vec![FieldError {
                field: e.field().to_string(),
                message: e.to_string(),
            }],
            _ => Vec::new(),
        };
        let current = match self {
            ApiError::PreconditionFailed { current, .. } => current.clone(),
            _ => None,
        };
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.to_string(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            errors,
            current,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownRevision(rev) => {
                ApiError::NotFound(format!("no revision {rev} on this branch"))
            }
            StoreError::InvalidRevision(rev) => ApiError::invalid_field(
                "rev",
                format!("`{rev}` is not a commit id (4 to 40 hexadecimal digits)"),
            ),
            StoreError::AmbiguousRevision(rev) => {
                ApiError::invalid_field("rev", format!("`{rev}` matches several commits"))
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::InvalidSlug(_) | ApiError::InvalidPost(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_)
            | ApiError::Busy { .. }
            | ApiError::ReadOnly
            | ApiError::Locked => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(source) = self {
            tracing::error!(error = format!("{source:#}"), "request failed");
        }
        let mut response = problem_response(self.status_code());
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"palimpsest\""),
            ));
        }
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}

/// The problem+json answer for an error that did not come from an [`ApiError`]: the
/// framework's own (a method not allowed, a body an extractor could not read), so that every
/// error a client sees has the same shape. 5xx details are not passed on: they may describe
/// the server's insides.
pub fn framework_problem(status: StatusCode, detail: &str) -> HttpResponse {
    let kind = match status {
        StatusCode::BAD_REQUEST => "invalid-request",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        _ if status.is_server_error() => "internal",
        _ => "http-error",
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let detail = if status.is_server_error() || detail.is_empty() {
        title.to_string()
    } else {
        detail.to_string()
    };
    let problem = Problem {
        kind: format!("/problems/{kind}"),
        title: title.to_string(),
        status: status.as_u16(),
        detail,
        errors: Vec::new(),
        current: None,
    };
    problem_response(status).body(serde_json::to_vec(&problem).unwrap_or_default())
}

/// The headers of every problem answer. An error depends on who asks (a draft is a 404 to
/// anonymous readers only) and on the moment (a 404 until the post is pushed), so it is
/// never stored by a cache, and says that it varies with `Authorization` besides.
fn problem_response(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, "application/problem+json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Authorization"));
    response
}
