//! Upstream mode: the served branch as a mirror of a remote's branch (`--upstream`), so that
//! several instances on one remote are one site. The remote is fetched at start, every
//! `--fetch-interval` and at once on a forge's push webhook; the served branch follows it
//! with a compare-and-swap. The writer publishes a group of commits by pushing it with a
//! lease first and moving the served branch only once the remote accepted it.
//!
//! Fetching-and-following and pushing-and-moving take turns (one lock), so the served branch
//! only ever moves to what the remote holds.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::history::rfc3339;
use crate::site::Site;
use crate::store::{Oid, Pushed, Remote, StoreError};

/// Where the served branch comes from.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// A path, `file://`, `git://`, `http://` or `https://` URL.
    pub url: String,
    /// Credentials for HTTP(S) remotes, sent as the password (GitHub, Gitea and GitLab take
    /// tokens).
    pub token: Option<String>,
    /// How often the remote is fetched.
    pub fetch_interval: Duration,
}

/// The remote and how this instance stands with it.
pub struct Upstream {
    remote: Remote,
    site: Arc<Site>,
    /// Taken by a fetch while it makes the served branch follow, and by the writer while it
    /// pushes and then moves the served branch.
    turn: Mutex<()>,
    state: Mutex<Contact>,
    /// Set when a fetch is wanted before the interval is up (a push webhook).
    wanted: (Mutex<bool>, Condvar),
}

/// The last contact with the remote.
#[derive(Debug, Default, Clone)]
struct Contact {
    last_fetch: Option<DateTime<Utc>>,
    fetched_tip: Option<Oid>,
    /// `false` after a fetch or push could not reach the remote, until one can.
    reachable: bool,
    error: Option<String>,
}

/// The upstream as `/readyz` reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamStatus {
    #[schema(example = "https://github.com/mira/blog.git")]
    pub url: String,
    /// Whether the last fetch or push reached the remote. While it is `false`, writes are
    /// 503 and reads are served from the last fetched tip.
    pub reachable: bool,
    /// When the remote was last fetched successfully (RFC 3339, UTC).
    pub last_fetch_at: Option<String>,
    /// The remote branch's tip at that fetch.
    pub fetched_tip: Option<String>,
    /// Why the remote could not be reached, when it could not.
    pub error: Option<String>,
}

impl Upstream {
    pub fn new(site: Arc<Site>, settings: &UpstreamSettings) -> Arc<Upstream> {
        Arc::new(Upstream {
            remote: Remote::new(&settings.url, settings.token.clone()),
            site,
            turn: Mutex::new(()),
            state: Mutex::new(Contact::default()),
            wanted: (Mutex::new(false), Condvar::new()),
        })
    }

    /// Fetches the remote, makes the served branch follow it and the site show it. Blocking.
    ///
    /// # Errors
    /// Git errors fetching or moving the served branch; the site keeps serving what it had.
    pub fn fetch(&self) -> Result<Option<Oid>, StoreError> {
        let turn = self.take_turn();
        let fetched = self.fetch_and_follow();
        drop(turn);
        if let Err(error) = self.site.refresh() {
            tracing::warn!(%error, "could not refresh after a fetch");
        }
        fetched
    }

    /// Asks the fetcher thread for a fetch now.
    pub fn request_fetch(&self) {
        let (wanted, signal) = &self.wanted;
        *wanted.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.notify_one();
    }

    /// Fetches every `every`, and whenever [`Upstream::request_fetch`] asks, on a thread of
    /// its own that ends when the upstream is dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let upstream: Weak<Upstream> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("upstream-fetcher".into())
            .spawn(move || {
                loop {
                    let Some(live) = upstream.upgrade() else { return };
                    let (wanted, signal) = &live.wanted;
                    let mut asked = wanted.lock().unwrap_or_else(|e| e.into_inner());
                    if !*asked {
                        asked = signal
                            .wait_timeout(asked, every)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    *asked = false;
                    drop(asked);
                    if let Err(error) = live.fetch() {
                        tracing::warn!(%error, url = %live.remote.url(), "could not fetch the upstream");
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start the upstream fetcher");
        }
    }

    /// Publishes the commit `new`, built on `lease` (the served tip, which is where this
    /// instance last saw the remote branch): pushes it with that lease and, once the remote
    /// accepted it, moves the served branch with `move_served`. When the lease fails, the
    /// remote is fetched (the served branch follows), after a moment of random length so that
    /// instances racing for the branch do not keep colliding; the caller rebuilds its
    /// commits on the new tip.
    ///
    /// # Errors
    /// The remote unreachable (or last seen unreachable), git errors pushing, and the
    /// errors of `move_served` other than the branch having moved.
    pub fn publish(
        &self,
        new: Oid,
        lease: Option<Oid>,
        move_served: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<Pushed, StoreError> {
        let turn = self.take_turn();
        if let Some(error) = self.unreachable() {
            return Err(upstream_error(&format!(
                "the upstream is unreachable: {error}"
            )));
        }
        let pushed = self.site.store().push_to(&self.remote, new, lease);
        match &pushed {
            Ok(Pushed::Accepted) => {
                self.reached(|contact| contact.fetched_tip = Some(new));
                // The remote has the commit: from here on, no error may make the writer
                // rebuild the group and push its edits a second time.
                let followed = match move_served() {
                    Err(StoreError::BranchMoved { .. }) => self.fetch_and_follow().map(|_| ()),
                    other => other,
                };
                if let Err(error) = followed {
                    return Err(upstream_error(&format!(
                        "the upstream accepted the write, but the served branch could not follow: {error}"
                    )));
                }
            }
            Ok(Pushed::Refused(why)) => {
                tracing::info!(why, "the upstream moved; fetching and trying again");
                drop(turn);
                std::thread::sleep(Duration::from_millis(rand::random_range(0..50)));
                let _turn = self.take_turn();
                self.fetch_and_follow()?;
            }
            Err(error) => self.lost(error),
        }
        pushed
    }

    /// The upstream as `/readyz` shows it.
    pub fn status(&self) -> UpstreamStatus {
        let contact = self.contact().clone();
        UpstreamStatus {
            url: without_credentials(self.remote.url()),
            reachable: contact.reachable,
            last_fetch_at: contact.last_fetch.map(|at| rfc3339(at.timestamp())),
            fetched_tip: contact.fetched_tip.map(|t| t.to_string()),
            error: contact.error,
        }
    }

    /// Why the remote is taken for unreachable, if it is.
    pub fn unreachable(&self) -> Option<String> {
        let contact = self.contact();
        (!contact.reachable).then(|| {
            contact
                .error
                .clone()
                .unwrap_or_else(|| "not fetched yet".into())
        })
    }

    /// Fetches and moves the served branch to the remote's tip; the caller holds the turn.
    fn fetch_and_follow(&self) -> Result<Option<Oid>, StoreError> {
        let store = self.site.store();
        let fetched = match store.fetch_from(&self.remote) {
            Ok(fetched) => fetched,
            Err(error) => {
                self.lost(&error);
                return Err(error);
            }
        };
        self.reached(|contact| {
            contact.last_fetch = Some(Utc::now());
            contact.fetched_tip = fetched;
        });
        let served = store.tip()?;
        if let Some(tip) = fetched
            && Some(tip) != served
        {
            // The remote is the truth: the served branch never holds a commit the remote
            // did not accept, so following it loses nothing acknowledged.
            let repo = store.repository()?;
            store.move_branch(&repo, tip, served, "palimpsest: fetched from upstream")?;
        }
        Ok(fetched)
    }

    fn reached(&self, update: impl FnOnce(&mut Contact)) {
        let mut contact = self.contact();
        contact.reachable = true;
        contact.error = None;
        update(&mut contact);
    }

    fn lost(&self, error: &StoreError) {
        let mut contact = self.contact();
        contact.reachable = false;
        contact.error = Some(error.to_string());
    }

    fn take_turn(&self) -> MutexGuard<'_, ()> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn contact(&self) -> MutexGuard<'_, Contact> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn upstream_error(message: &str) -> StoreError {
    StoreError::Git(git2::Error::from_str(message))
}

/// `url` as `/readyz` may show it: without a user name or password written into it, since
/// a token is often given that way (`https://x-access-token:TOKEN@github.com/...`).
fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both succeed for the URLs that can carry credentials (those with a host).
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_written_into_the_url_are_not_shown() {
        assert_eq!(
            without_credentials("https://x-access-token:s3cret@github.com/mira/blog.git"),
            "https://github.com/mira/blog.git"
        );
        assert_eq!(
            without_credentials("https://s3cret@gitea.example.org/mira/blog.git"),
            "https://gitea.example.org/mira/blog.git"
        );
        assert_eq!(
            without_credentials("https://github.com/mira/blog.git"),
            "https://github.com/mira/blog.git"
        );
        assert_eq!(
            without_credentials("file:///srv/git/blog.git"),
            "file:///srv/git/blog.git"
        );
    }
}
