//! `?as_of=` on the reads of the blog: which snapshot a request reads.

use std::sync::Arc;

use actix_web::web;

use super::{AppState, Viewer};
use crate::error::ApiError;
use crate::history::parse_as_of;
use crate::site::Snapshot;

/// The snapshot a read answers from: the current one, or the blog as of `as_of`.
///
/// # Errors
/// 400 for a value that is neither an RFC 3339 time nor a date, 404 for a time before the
/// branch's first commit, and git errors building the past snapshot.
pub async fn snapshot_for(
    state: &web::Data<AppState>,
    viewer: &Viewer,
    as_of: Option<&str>,
) -> Result<Arc<Snapshot>, ApiError> {
    let Some(value) = as_of else {
        return Ok(state.site.snapshot());
    };
    let time = time_of(value)?;
    let site = state.site.clone();
    let audience = viewer.audience();
    web::block(move || site.as_of(time, audience))
        .await??
        .ok_or_else(|| no_commit_at(value))
}

/// The time `as_of` names, in seconds since the epoch.
///
/// # Errors
/// 400 for a value that is neither an RFC 3339 time nor a date.
pub fn time_of(as_of: &str) -> Result<i64, ApiError> {
    parse_as_of(as_of).ok_or_else(|| {
        ApiError::invalid_field(
            "as_of",
            "as_of must be an RFC 3339 time (2026-11-02T09:30:00Z) or a date (2026-11-02)",
        )
    })
}

/// The 404 for a time before the branch's first commit.
pub fn no_commit_at(as_of: &str) -> ApiError {
    ApiError::not_found(format!("the blog has no commit at or before {as_of}"))
}
