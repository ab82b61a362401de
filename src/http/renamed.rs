//! The old slug of a renamed post: `GET` of the post, or of anything under it
//! (`/revisions`, `/diff`, `/blame`, ...), answers 301 at the same URL under the new slug,
//! query kept, until a post takes the old slug. A viewer who may not see the post under
//! its new slug (a draft, to anonymous readers) gets a 404, so a redirect never tells a
//! draft's slug. Writes to an old slug are not redirected.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{Error, FromRequest, HttpRequest, HttpResponse, web};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk};

use super::{API_PREFIX, AppState, Viewer, methods};
use crate::error::ApiError;
use crate::post::Slug;
use crate::site::{Audience, Snapshot};

/// Where the post once at `slug` is now, for a viewer who finds no post there: `None` when
/// no post was renamed away from it (or one has taken it since).
///
/// # Errors
/// 404 when the viewer may not see the post under its new slug.
pub(super) fn new_slug(
    snapshot: &Snapshot,
    audience: Audience,
    slug: &Slug,
) -> Result<Option<Slug>, ApiError> {
    let Some(new) = snapshot.history.renamed_to(slug) else {
        return Ok(None);
    };
    if snapshot.visible(&new, audience).is_none() {
        return Err(ApiError::not_found(format!("no post `{slug}`")));
    }
    Ok(Some(new))
}

/// A 301 to `path`, with the request's query string.
pub(super) fn moved_permanently(request: &HttpRequest, path: &str) -> HttpResponse {
    let location = match request.query_string() {
        "" => path.to_owned(),
        query => format!("{path}?{query}"),
    };
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "public, max-age=0, must-revalidate"))
        .finish()
}

/// The middleware around the API's routes, for the routes under a post
/// (`/posts/{slug}/...`) that take `GET`; the post itself redirects in its own handler,
/// which also reads it as of a time. Its own `Transform` rather than `from_fn`, so that the
/// requests it lets through (nearly all) cost it no box and no shared handle.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedirectOldSlugs;

impl<S, B> Transform<S, ServiceRequest> for RedirectOldSlugs
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = RedirectOldSlugsService<S>;
    type InitError = ();
    type Future = Ready<Result<RedirectOldSlugsService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RedirectOldSlugsService { service }))
    }
}

/// [`RedirectOldSlugs`] around the API's routes in one worker.
pub struct RedirectOldSlugsService<S> {
    service: S,
}

type Boxed<B> = fn(ServiceResponse<B>) -> ServiceResponse<BoxBody>;
type Redirected = Pin<Box<dyn Future<Output = Result<ServiceResponse<BoxBody>, Error>>>>;

impl<S, B> Service<ServiceRequest> for RedirectOldSlugsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    /// Passes on the inner service's errors unchanged.
    type Future = Either<MapOk<S::Future, Boxed<B>>, Redirected>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let Some(answer) = old_slug_answer(&request) else {
            return Either::Left(
                self.service
                    .call(request)
                    .map_ok(ServiceResponse::map_into_boxed_body as Boxed<B>),
            );
        };
        // The route checks its parameters first, as the post's own route does before it
        // redirects: a request it refuses as bad is refused, not sent on to the new slug.
        let routed = self.service.call(request);
        Either::Right(Box::pin(async move {
            let routed = routed.await?;
            if routed.status() == StatusCode::BAD_REQUEST {
                return Ok(routed.map_into_boxed_body());
            }
            Ok(routed.into_response(answer))
        }))
    }
}

/// The 301 (or 404) for a `GET` under an old slug; `None` lets the route answer.
fn old_slug_answer(request: &ServiceRequest) -> Option<HttpResponse> {
    if request.method() != Method::GET {
        return None;
    }
    let under_posts = request
        .path()
        .strip_prefix(API_PREFIX)?
        .strip_prefix("/posts/")?;
    let (slug, rest) = under_posts.split_once('/')?;
    let pattern = request.resource_map().match_pattern(request.path())?;
    if !pattern.starts_with(&format!("{API_PREFIX}/posts/{{slug}}/"))
        || !methods::allows(&pattern, "GET")
    {
        return None;
    }
    // A bad slug or token is the route's to refuse.
    let slug = Slug::parse(slug).ok()?;
    let viewer = Viewer::from_request(request.request(), &mut Payload::None)
        .into_inner()
        .ok()?;
    let snapshot = request.app_data::<web::Data<AppState>>()?.site.snapshot();
    if snapshot.visible(&slug, viewer.audience()).is_some() {
        return None;
    }
    let answer = match new_slug(&snapshot, viewer.audience(), &slug) {
        Ok(new) => moved_permanently(
            request.request(),
            &format!("{API_PREFIX}/posts/{}/{rest}", new?),
        ),
        Err(hidden) => actix_web::ResponseError::error_response(&hidden),
    };
    Some(answer)
}
