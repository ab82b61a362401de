//! Webhooks: telling other systems (static-site builds, caches) that the branch moved,
//! however it moved, with a signed `branch.moved` event per configured URL.
//!
//! Delivery is at least once: each webhook's acknowledged tip is kept on disk
//! ([`acknowledged`]), and a delivery loop per webhook ([`delivery`]) on a thread of its own
//! sends what the receiver has not acknowledged yet, retrying failures with exponential
//! backoff. Writes never wait for a receiver.

mod acknowledged;
mod delivery;
mod event;
pub mod signature;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use utoipa::ToSchema;

use crate::history::rfc3339;
use crate::site::Site;
use crate::store::Oid;
use acknowledged::Acknowledged;
pub use delivery::{DeliveryReport, Outcome, Retry};
pub use event::{BranchMoved, MovedCommit};

/// The webhooks to tell, and how.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Receivers' URLs (`http` or `https`).
    pub urls: Vec<String>,
    /// The HMAC-SHA256 key for `X-Palimpsest-Signature-256` (and for verifying forges' push
    /// webhooks); `None`: deliveries are unsigned.
    pub secret: Option<String>,
    pub retry: Retry,
}

impl Default for WebhookSettings {
    fn default() -> WebhookSettings {
        WebhookSettings {
            urls: Vec::new(),
            secret: None,
            retry: Retry {
                timeout: Duration::from_secs(10),
                first: Duration::from_secs(1),
                longest: Duration::from_secs(300),
            },
        }
    }
}

/// Every configured webhook and how its deliveries are going.
pub struct Webhooks {
    hooks: Vec<Arc<Hook>>,
}

/// One webhook: its URL and the state of its deliveries.
pub struct Hook {
    url: String,
    acknowledged: Arc<Acknowledged>,
    state: Mutex<HookState>,
}

#[derive(Default)]
struct HookState {
    last: Option<DeliveryReport>,
    failures: u32,
    next_attempt: Option<chrono::DateTime<chrono::Utc>>,
}

/// One webhook as `GET /api/v1/webhooks` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatus {
    #[schema(example = "https://builds.example.org/hooks/palimpsest")]
    pub url: String,
    /// The tip the receiver last acknowledged.
    pub acknowledged: Option<String>,
    /// First-parent commits on the branch the receiver has not acknowledged yet; `null`
    /// when its acknowledged tip is no longer on the branch (a rewrite).
    #[schema(example = 0)]
    pub backlog: Option<usize>,
    /// Failed attempts in a row (0 once one succeeds).
    pub failures: u32,
    /// When the next attempt is due, after a failure (RFC 3339 in UTC).
    pub next_attempt_at: Option<String>,
    /// The last attempt, if any since the server started.
    pub last_delivery: Option<DeliveryReport>,
}

impl Webhooks {
    /// Starts telling every webhook of `settings` about the branch of `site`, on a thread of
    /// its own that ends when the site is dropped. A webhook new to this repository starts
    /// from the tip served now; a known one from the tip it last acknowledged, so what it
    /// missed while the server was down is delivered at once.
    ///
    /// # Errors
    /// A URL that is not `http(s)`, or a git directory that cannot be found.
    pub fn start(site: &Arc<Site>, settings: &WebhookSettings) -> anyhow::Result<Webhooks> {
        for url in &settings.urls {
            let parsed = reqwest::Url::parse(url)
                .with_context(|| format!("webhook URL `{url}` does not parse"))?;
            anyhow::ensure!(
                matches!(parsed.scheme(), "http" | "https"),
                "webhook URL `{url}` is not http or https"
            );
        }
        if settings.urls.is_empty() {
            return Ok(Webhooks { hooks: Vec::new() });
        }
        let git_dir = site.store().git_dir()?;
        let acknowledged = Arc::new(Acknowledged::load(acknowledged::file(&git_dir)));
        let tip = site.snapshot().tip;
        let mut hooks = Vec::new();
        for url in &settings.urls {
            if acknowledged.get(url).is_none() {
                acknowledged
                    .set(url, tip)
                    .context("recording a new webhook's starting tip")?;
            }
            hooks.push(Arc::new(Hook {
                url: url.clone(),
                acknowledged: acknowledged.clone(),
                state: Mutex::new(HookState::default()),
            }));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.retry.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("palimpsest/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the webhooks' HTTP client")?;
        // Every move the site shows wakes the delivery loops, which then read the site's
        // snapshot themselves: a burst of moves wakes them once. The sender lives in the
        // site's observers, so the loops end when the site is dropped.
        let (moved, moves) = tokio::sync::watch::channel(tip);
        site.on_move(Box::new(move |snapshot| {
            moved.send_replace(snapshot.tip);
        }));
        let loops: Vec<_> = hooks
            .iter()
            .map(|hook| {
                delivery::keep_told(
                    hook.clone(),
                    Arc::downgrade(site),
                    moves.clone(),
                    client.clone(),
                    settings.secret.clone(),
                    settings.retry.clone(),
                )
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the webhooks' runtime")?;
        std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let running: Vec<_> = loops.into_iter().map(tokio::spawn).collect();
                    for handle in running {
                        let _ = handle.await;
                    }
                });
            })
            .context("starting the webhooks' thread")?;
        Ok(Webhooks { hooks })
    }

    /// Every webhook's deliveries, their backlog counted on `site`'s served tip.
    pub fn status(&self, site: &Site) -> Vec<WebhookStatus> {
        let snapshot = site.snapshot();
        self.hooks
            .iter()
            .map(|hook| {
                let acknowledged = hook.acknowledged();
                let state = hook.lock();
                WebhookStatus {
                    url: hook.url.clone(),
                    acknowledged: acknowledged.map(|t| t.to_string()),
                    backlog: event::backlog(acknowledged, &snapshot),
                    failures: state.failures,
                    next_attempt_at: state.next_attempt.map(|at| rfc3339(at.timestamp())),
                    last_delivery: state.last.clone(),
                }
            })
            .collect()
    }
}

impl Hook {
    fn acknowledged(&self) -> Option<Oid> {
        self.acknowledged.get(&self.url).flatten()
    }

    fn acknowledge(&self, tip: Option<Oid>, report: DeliveryReport) {
        if let Err(error) = self.acknowledged.set(&self.url, tip) {
            // Remembered in memory all the same: after a restart it is delivered again.
            tracing::warn!(%error, url = %self.url, "could not record an acknowledged tip");
        }
        let mut state = self.lock();
        state.last = Some(report);
        state.failures = 0;
        state.next_attempt = None;
    }

    fn failed(&self, report: DeliveryReport, pause: Duration) {
        let mut state = self.lock();
        state.last = Some(report);
        state.failures += 1;
        state.next_attempt = chrono::Duration::from_std(pause)
            .ok()
            .map(|pause| chrono::Utc::now() + pause);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
