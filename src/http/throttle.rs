//! A fair share of the past for anonymous clients. Reads of the past (a post `?rev=` or
//! `/revisions/{rev}`, a diff, a blame, anything `?as_of=`) can each answer megabytes, and
//! once computed they come from a cache, so nothing else stops one client from asking for
//! them in a loop and taking the cores that every other reader needs. Each anonymous client
//! (by address) may make a burst of such reads, then a steady few a second; a read over
//! that share is answered 429 with `Retry-After`. The refusal is sent when the client's
//! next read would have been let in (at most a second later): a client that ignores
//! `Retry-After` and asks again at once would otherwise turn its refusals into a load of
//! their own.
//! Many addresses together could still take the cores, each within its share, so all
//! anonymous clients also share one budget of bytes of the past a second: while it is
//! spent, reads of the past are answered 503 with `Retry-After`, held back the same way.
//! Authors, who review a post's history with their token, are never throttled, and nor are
//! reads of the present.
//!
//! The per-client rate limiting (GCRA, one state per client) is `governor`'s; this module
//! says which requests count, who the client is, and keeps the shared budget.

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{Error, ResponseError};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::time::sleep;

use super::{API_PREFIX, auth};
use crate::error::ApiError;

/// How anonymous clients' reads of the past are limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastReadLimit {
    /// Reads of the past each anonymous client may make per minute, evenly spread, once
    /// its burst is spent; 0: no limit.
    pub per_minute: u32,
    /// How many it may make at once before the rate applies.
    pub burst: u32,
    /// Take the client's address from the last entry of `X-Forwarded-For` (the one the
    /// reverse proxy in front added) rather than from the connection.
    pub trust_forwarded_for: bool,
    /// Bytes of the past that all anonymous clients together may be sent per second; 0: no
    /// limit.
    pub bytes_per_second: u64,
}

/// The default steady rate, four a second: a reader stepping through versions and diffs by
/// hand, with a frontend fetching a few things per step, stays well under it.
pub const DEFAULT_PER_MINUTE: u32 = 240;
/// The default burst: a page that loads a post's whole recent history at once.
pub const DEFAULT_BURST: u32 = 40;
/// The default budget of all anonymous clients together, 16 MiB a second: hundreds of
/// ordinary past versions and diffs (tens of kilobytes each) a second, but only a handful
/// of megabyte-sized ones.
pub const DEFAULT_BYTES_PER_SECOND: u64 = 16 * 1024 * 1024;

impl Default for PastReadLimit {
    fn default() -> Self {
        PastReadLimit {
            per_minute: DEFAULT_PER_MINUTE,
            burst: DEFAULT_BURST,
            trust_forwarded_for: false,
            bytes_per_second: DEFAULT_BYTES_PER_SECOND,
        }
    }
}

/// How often, in reads of the past, clients whose share is whole again are forgotten, so
/// that the state stays as small as the set of clients that are being limited.
const FORGET_EVERY: u64 = 1024;

/// The longest a refusal is held back.
const MOST_PAUSE: Duration = Duration::from_secs(1);

/// How many refusals may be held back at once; past that they are sent at once, so that
/// holding them never keeps more than this many connections waiting.
const MOST_PAUSED: usize = 1024;

/// The middleware: wrap the application in it.
#[derive(Clone)]
pub struct Throttle(Arc<Shares>);

/// The clients' shares.
struct Shares {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    budget: Option<Budget>,
    trust_forwarded_for: bool,
    clock: DefaultClock,
    checks: AtomicU64,
    paused: Arc<AtomicUsize>,
}

/// What to do with a request.
enum Verdict {
    /// Not a read of the past by an anonymous client: nothing to count.
    Pass,
    /// An anonymous read of the past that is let in: its answer's bytes are charged to the
    /// shared budget.
    Charge,
    Refuse(Refusal),
}

/// A request over its client's share or the shared budget: the answer, and how long to
/// hold it back.
struct Refusal {
    error: ApiError,
    pause: Duration,
}

/// The bytes of the past all anonymous clients share: a token bucket refilled at a steady
/// rate up to one second's worth. An answer's size is known only once it is computed, so
/// it is charged afterwards and may overdraw the bucket; while the bucket is overdrawn,
/// reads are refused until the rate has paid the debt back. (`governor` charges a cost up
/// front and never below zero, which cannot express a cost learnt afterwards.)
struct Budget {
    per_second: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    /// Bytes that may still be sent; negative while overdrawn.
    level: f64,
    at: Instant,
}

impl Budget {
    fn new(per_second: u64) -> Option<Budget> {
        (per_second > 0).then(|| Budget {
            per_second: per_second as f64,
            bucket: Mutex::new(Bucket {
                level: per_second as f64,
                at: Instant::now(),
            }),
        })
    }

    /// The bucket brought up to now.
    fn refilled(&self) -> std::sync::MutexGuard<'_, Bucket> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let earned = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.level = (bucket.level + earned).min(self.per_second);
        bucket.at = now;
        bucket
    }

    /// How long until the bucket is no longer overdrawn; `None` if it is not.
    fn wait(&self) -> Option<Duration> {
        let level = self.refilled().level;
        (level < 0.0).then(|| Duration::from_secs_f64(-level / self.per_second))
    }

    fn charge(&self, bytes: u64) {
        self.refilled().level -= bytes as f64;
    }
}

impl Throttle {
    pub fn new(limit: &PastReadLimit) -> Throttle {
        let limiter = NonZeroU32::new(limit.per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        Throttle(Arc::new(Shares {
            limiter,
            budget: Budget::new(limit.bytes_per_second),
            trust_forwarded_for: limit.trust_forwarded_for,
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            paused: Arc::default(),
        }))
    }
}

impl Shares {
    /// What to do with `request`. The shared budget is asked first, so that a read it
    /// refuses does not also spend the client's own share.
    fn verdict(&self, request: &ServiceRequest) -> Verdict {
        if (self.limiter.is_none() && self.budget.is_none())
            || !reads_the_past(request)
            || is_author(request)
        {
            return Verdict::Pass;
        }
        if let Some(wait) = self.budget.as_ref().and_then(Budget::wait) {
            let retry_after = whole_seconds(wait);
            return Verdict::Refuse(Refusal {
                error: ApiError::Busy {
                    detail: format!(
                        "anonymous clients together are reading more of the past than the \
                         server serves; try again in {retry_after} s, or authenticate"
                    ),
                    retry_after,
                },
                pause: wait.min(MOST_PAUSE),
            });
        }
        let Some(limiter) = self.limiter.as_ref() else {
            return Verdict::Charge;
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            limiter.retain_recent();
        }
        let Err(refused) = limiter.check_key(&self.client(request)) else {
            return Verdict::Charge;
        };
        let wait = refused.wait_time_from(self.clock.now());
        let retry_after = whole_seconds(wait);
        Verdict::Refuse(Refusal {
            error: ApiError::TooManyRequests {
                detail: format!(
                    "too many reads of past versions, diffs and blames from this address; \
                     try again in {retry_after} s, or authenticate"
                ),
                retry_after,
            },
            pause: wait.min(MOST_PAUSE),
        })
    }

    /// Charges an answer's body to the shared budget. A body whose size is not known up
    /// front (none of the past's are) is not charged.
    fn charge<B: MessageBody>(&self, response: &ServiceResponse<B>) {
        if let (Some(budget), BodySize::Sized(bytes)) =
            (self.budget.as_ref(), response.response().body().size())
        {
            budget.charge(bytes);
        }
    }

    /// Who is asking: the connection's address, or the one the proxy in front reports. An
    /// IPv6 client is its /64, since one host commonly holds a whole /64.
    fn client(&self, request: &ServiceRequest) -> IpAddr {
        let forwarded = self
            .trust_forwarded_for
            .then(|| forwarded_for(request))
            .flatten();
        let address = forwarded
            .or_else(|| request.peer_addr().map(|peer| peer.ip()))
            .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        match address {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
            },
            v4 @ IpAddr::V4(_) => v4,
        }
    }
}

/// `wait` in whole seconds for `Retry-After`, rounded up and at least one.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The last address of `X-Forwarded-For`: the client as the nearest proxy saw it (earlier
/// entries are whatever the client claimed).
fn forwarded_for(request: &ServiceRequest) -> Option<IpAddr> {
    let header = request
        .headers()
        .get_all("x-forwarded-for")
        .last()?
        .to_str()
        .ok()?;
    header.rsplit(',').next()?.trim().parse().ok()
}

/// Whether the request reads a past version of the blog: a post at a revision, a diff, a
/// blame, or anything as of a date. The path is the one routing matches (percent-decoded
/// where routing decodes), so that no spelling of a route escapes.
fn reads_the_past(request: &ServiceRequest) -> bool {
    if request.method() != Method::GET {
        return false;
    }
    let Some(rest) = request
        .match_info()
        .as_str()
        .strip_prefix(API_PREFIX)
        .and_then(|rest| rest.strip_prefix("/posts/"))
    else {
        return asks_as_of(request.query_string(), &["as_of"]);
    };
    match rest.split_once('/') {
        Some((_, "diff" | "blame")) => true,
        Some((_, tail)) => tail.starts_with("revisions/"),
        None => asks_as_of(request.query_string(), &["rev", "as_of"]),
    }
}

/// Whether the query names any of `parameters` (decoded as the handlers decode it).
fn asks_as_of(query: &str, parameters: &[&str]) -> bool {
    if query.is_empty() {
        return false;
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map(|pairs| {
            pairs
                .iter()
                .any(|(key, _)| parameters.contains(&key.as_str()))
        })
        .unwrap_or(false)
}

/// Authors are not throttled; a request with a token that is not valid is let through to
/// be answered 401, which costs nothing.
fn is_author(request: &ServiceRequest) -> bool {
    request
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
        && !matches!(
            auth::viewer_of(request.request()),
            Ok(auth::Viewer::Anonymous)
        )
}

impl<S, B> Transform<S, ServiceRequest> for Throttle
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ThrottleService<S>;
    type InitError = ();
    type Future = Ready<Result<ThrottleService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ThrottleService {
            service,
            shares: self.0.clone(),
        }))
    }
}

/// [`Throttle`] around one worker's application.
pub struct ThrottleService<S> {
    service: S,
    shares: Arc<Shares>,
}

type Passed<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;
type Counted<B> = Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, Error>>>>;

impl<S, B> Service<ServiceRequest> for ThrottleService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Either<MapOk<S::Future, Passed<B>>, Counted<B>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        match self.shares.verdict(&request) {
            Verdict::Pass => Either::Left(
                self.service
                    .call(request)
                    .map_ok(ServiceResponse::map_into_left_body as Passed<B>),
            ),
            Verdict::Charge => {
                let shares = self.shares.clone();
                let answer = self.service.call(request);
                Either::Right(Box::pin(async move {
                    let response = answer.await?;
                    shares.charge(&response);
                    Ok(response.map_into_left_body())
                }))
            }
            Verdict::Refuse(Refusal { error, pause }) => {
                let response = request
                    .into_response(error.error_response())
                    .map_into_right_body();
                let paused = self.shares.paused.clone();
                if paused.fetch_add(1, Ordering::Relaxed) >= MOST_PAUSED {
                    paused.fetch_sub(1, Ordering::Relaxed);
                    return Either::Right(Box::pin(ready(Ok(response))));
                }
                Either::Right(Box::pin(async move {
                    let _held = Held(paused);
                    sleep(pause).await;
                    Ok(response)
                }))
            }
        }
    }
}

/// One refusal held back, counted until it is sent or its client goes away.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_a_past_version_however_it_is_spelled() {
        assert!(asks_as_of("rev=abcd", &["rev"]));
        assert!(asks_as_of("x=1&r%65v=abcd", &["rev"]));
        assert!(asks_as_of("as_of=2026-01-01", &["rev", "as_of"]));
        assert!(!asks_as_of("", &["rev"]));
        assert!(!asks_as_of("revision=1&page=2", &["rev", "as_of"]));
    }
}
