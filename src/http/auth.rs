//! Who is asking: an anonymous reader or an authenticated author, from the bearer token.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use crate::error::ApiError;
use crate::site::Audience;
use crate::store::Identity;

/// The client behind a request. Anonymous readers see published posts only.
#[derive(Debug, Clone)]
pub enum Viewer {
    Anonymous,
    Author(Identity),
}

impl Viewer {
    pub fn is_author(&self) -> bool {
        matches!(self, Viewer::Author(_))
    }

    /// Which posts this viewer may see.
    pub fn audience(&self) -> Audience {
        match self {
            Viewer::Author(_) => Audience::Authors,
            Viewer::Anonymous => Audience::Public,
        }
    }

    /// The author, or 401 for anonymous clients.
    ///
    /// # Errors
    /// `Unauthorized` for anonymous clients.
    pub fn author(&self) -> Result<&Identity, ApiError> {
        match self {
            Viewer::Author(identity) => Ok(identity),
            Viewer::Anonymous => Err(ApiError::Unauthorized(
                "this needs an author's bearer token".into(),
            )),
        }
    }
}

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = Ready<Result<Viewer, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(viewer_of(request))
    }
}

/// A request without `Authorization` is anonymous; one with a wrong or malformed token is a
/// 401, so a misconfigured client learns at once rather than silently seeing less.
pub(super) fn viewer_of(request: &HttpRequest) -> Result<Viewer, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(Viewer::Anonymous);
    };
    let unauthorized = |why: &str| ApiError::Unauthorized(why.to_string());
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    // The scheme is case-insensitive (RFC 9110, section 11.1).
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("use `Authorization: Bearer <token>`"))?;
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
    state
        .authors
        .authenticate(token)
        .map(|identity| Viewer::Author(identity.clone()))
        .ok_or_else(|| unauthorized("the token is not valid"))
}
