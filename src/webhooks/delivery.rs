//! Delivering to one webhook: the signed `POST`, its outcome, and the loop that keeps a
//! receiver told about every branch move, at least once, retrying with exponential backoff.
//!
//! The loop runs on the webhooks' own thread, never on a write's path: a write only moves
//! the branch, and the loop notices. A receiver that fell behind gets one event from the tip
//! it acknowledged to the newest, so a burst of moves during an outage is one delivery.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::Hook;
use super::event::{BRANCH_MOVED, BranchMoved};
use super::signature;
use crate::history::rfc3339;
use crate::site::Site;
use crate::store::Oid;

/// How one attempt to deliver ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The receiver answered 2xx: the tip is acknowledged.
    Delivered,
    /// A timeout, a connection error or a non-2xx answer: retried later.
    Failed,
}

/// The last attempt to deliver to a webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryReport {
    /// The `X-Palimpsest-Delivery` id; retries of the same event keep it.
    #[schema(example = "6f1c1f4f0b6a4c1e9a1d2f3b4c5d6e7f")]
    pub id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// When the attempt ended, RFC 3339 in UTC.
    pub at: String,
    pub outcome: Outcome,
    /// The receiver's status code, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Which attempt at this event it was (1 for the first).
    pub attempt: u32,
}

/// How deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct Retry {
    /// How long a receiver may take to answer before the attempt counts as failed.
    pub timeout: Duration,
    /// The pause after a first failure; each further failure doubles it.
    pub first: Duration,
    /// The longest pause between two attempts.
    pub longest: Duration,
}

impl Retry {
    /// The pause after `failures` failures in a row: doubling from `first` up to `longest`,
    /// with up to a fifth added at random so that receivers back from an outage are not hit
    /// by every sender at once.
    fn pause(&self, failures: u32) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1 << failures.saturating_sub(1).min(20));
        doubled
            .min(self.longest)
            .mul_f64(1.0 + rand::random_range(0.0..0.2))
    }
}

/// One event ready to send; kept across retries so its id and body stay the same.
struct Pending {
    id: String,
    before: Option<Oid>,
    after: Option<Oid>,
    body: Vec<u8>,
    attempts: u32,
}

/// Keeps `hook` told about the branch of `site` until the site is gone.
pub async fn keep_told(
    hook: Arc<Hook>,
    site: Weak<Site>,
    mut moves: tokio::sync::watch::Receiver<Option<Oid>>,
    client: reqwest::Client,
    secret: Option<String>,
    retry: Retry,
) {
    let mut pending: Option<Pending> = None;
    let mut failures = 0;
    loop {
        moves.borrow_and_update();
        let Some(live) = site.upgrade() else { return };
        let snapshot = live.snapshot();
        let acknowledged = hook.acknowledged();
        if snapshot.tip == acknowledged {
            drop((live, snapshot));
            if moves.changed().await.is_err() {
                return;
            }
            continue;
        }
        let current = pending
            .take()
            .filter(|p| p.before == acknowledged && p.after == snapshot.tip);
        let mut next = match current {
            Some(pending) => pending,
            None => match BranchMoved::between(acknowledged, &snapshot, live.store()) {
                Ok(event) => Pending {
                    id: delivery_id(),
                    before: acknowledged,
                    after: snapshot.tip,
                    body: serde_json::to_vec(&event).expect("an event serialises"),
                    attempts: 0,
                },
                Err(error) => {
                    tracing::warn!(%error, url = %hook.url, "could not describe the branch move");
                    failures += 1;
                    drop((live, snapshot));
                    tokio::time::sleep(retry.pause(failures)).await;
                    continue;
                }
            },
        };
        drop((live, snapshot));
        next.attempts += 1;
        let report = send(&client, &hook.url, secret.as_deref(), &next).await;
        let delivered = report.outcome == Outcome::Delivered;
        if delivered {
            failures = 0;
            hook.acknowledge(next.after, report);
        } else {
            failures += 1;
            let pause = retry.pause(failures);
            tracing::warn!(
                url = %hook.url,
                delivery = %next.id,
                attempt = next.attempts,
                error = report.error.as_deref().unwrap_or_default(),
                retry_in_ms = pause.as_millis() as u64,
                "webhook delivery failed"
            );
            hook.failed(report, pause);
            pending = Some(next);
            tokio::time::sleep(pause).await;
        }
    }
}

/// One attempt: `POST` the event, signed when there is a secret.
async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    pending: &Pending,
) -> DeliveryReport {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Palimpsest-Event", BRANCH_MOVED)
        .header("X-Palimpsest-Delivery", &pending.id);
    if let Some(secret) = secret {
        let signature = format!("sha256={}", signature::sign(secret, &pending.body));
        request = request.header("X-Palimpsest-Signature-256", signature);
    }
    let answer = request.body(pending.body.clone()).send().await;
    let (http_status, error) = match answer {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("the receiver answered {}", response.status())),
        ),
        Err(error) if error.is_timeout() => {
            (None, Some("the receiver did not answer in time".into()))
        }
        Err(error) => (None, Some(describe(&error))),
    };
    DeliveryReport {
        id: pending.id.clone(),
        before: pending.before.map(|t| t.to_string()),
        after: pending.after.map(|t| t.to_string()),
        at: rfc3339(chrono::Utc::now().timestamp()),
        outcome: if error.is_none() {
            Outcome::Delivered
        } else {
            Outcome::Failed
        },
        http_status,
        error,
        attempt: pending.attempts,
    }
}

/// A client error with its causes ("error sending request: connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A fresh delivery id: 128 random bits in hex.
fn delivery_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_the_first_up_to_the_longest() {
        let retry = Retry {
            timeout: Duration::from_secs(1),
            first: Duration::from_secs(1),
            longest: Duration::from_secs(60),
        };
        let within = |failures, secs: f64| {
            let pause = retry.pause(failures).as_secs_f64();
            assert!(
                (secs..=secs * 1.2).contains(&pause),
                "{failures} failures: {pause}s"
            );
        };
        within(1, 1.0);
        within(2, 2.0);
        within(3, 4.0);
        within(7, 60.0);
        within(500, 60.0);
    }
}
