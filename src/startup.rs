//! Building the application from settings: the repository (seeded on first start), the live
//! site and its branch watcher, and the HTTP server on its own listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::Settings;
use crate::http::{self, AppState};
use crate::post::Addresses;
use crate::search::Search;
use crate::site::Site;
use crate::store::{self, Store};
use crate::upstream::{Upstream, UpstreamSettings};
use crate::webhooks::Webhooks;

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    site: Arc<Site>,
}

impl Application {
    /// Opens (or seeds) the repository, loads the site and binds the listener.
    ///
    /// # Errors
    /// A repository that cannot be opened or seeded, or an address that cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        store::configure_libgit2();
        let store = web::block({
            let settings = settings.clone();
            move || open_or_seed(&settings)
        })
        .await??;
        let store = web::block(move || recover_dead_writers(store)).await??;
        let addresses = Addresses::new(&settings.post_url, settings.public_url.as_deref());
        let site = Arc::new(web::block(move || Site::load_with(store, addresses)).await??);
        let search = web::block({
            let site = site.clone();
            move || Search::start(&site)
        })
        .await??;
        site.watch(settings.poll_interval);
        let webhooks = Arc::new(Webhooks::start(&site, &settings.webhooks)?);
        let upstream = match &settings.upstream {
            Some(upstream) => Some(follow_upstream(&site, upstream).await?),
            None => None,
        };

        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState::new(
            site.clone(),
            search,
            webhooks,
            upstream,
            &settings,
        ));
        let json = http::json_config(settings.max_body_bytes);
        let max_body_bytes = settings.max_body_bytes;
        let throttle = http::throttle::Throttle::new(&settings.past_read_limit);
        let observe = http::observe::Observe::new(state.metrics.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                // Innermost: a plain read of a post is answered here, before the router.
                .wrap(http::warm_posts::WarmPostReads)
                .wrap(throttle.clone())
                // The last wrap is the outermost: Observe sees every final answer
                // (and narrows what actix-cors says, see `cors::Narrowing`).
                .wrap(http::problem_fallback::ProblemFallback)
                // Outside problem_fallback, so that errors carry the CORS headers too.
                .wrap(http::cors::middleware())
                .wrap(observe.clone())
                .app_data(state.clone())
                .app_data(json.clone())
                // Raw bodies (`Bytes`, `String`) obey the same limit as JSON ones; their
                // failures become problem+json in problem_fallback.
                .app_data(web::PayloadConfig::new(max_body_bytes))
                .configure(http::configure)
        })
        .listen(listener)?
        .shutdown_timeout(settings.shutdown_timeout.as_secs());
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        // Once everything readiness waits for is done: building it must not slow that.
        site.keep_ledger();
        tracing::info!(
            address = %settings.listen,
            port,
            repo = %settings.repo.display(),
            branch = %settings.branch,
            "serving"
        );
        Ok(Application {
            port,
            server: server.run(),
            site,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn site(&self) -> Arc<Site> {
        self.site.clone()
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    ///
    /// # Errors
    /// I/O errors from the server.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        Ok(())
    }
}

/// Removes the locks that server processes, now dead, left (see `store::lock`); a lock that
/// no dead server recorded is left alone, and reported, since a live `git` may hold it.
/// Writes look again whenever they meet a lock, so a failure here is only logged.
fn recover_dead_writers(store: Store) -> anyhow::Result<Store> {
    // A repository that cannot be written (read-only, say) is still served for reading.
    if let Err(error) = store.recover_dead_writers() {
        tracing::warn!(%error, "could not remove the locks of dead servers");
    }
    let lock = store.branch_lock_path(&store.repository()?);
    if lock.exists() {
        tracing::warn!(lock = %lock.display(),
            "the branch is locked by another process (git, or another server); if it stays \
             locked while no git command runs on the repository, a crash left the lock: \
             remove it by hand");
    }
    Ok(store)
}

/// Fetches the upstream once before serving (an unreachable one is reported, and the last
/// fetched tip served), then on its interval.
async fn follow_upstream(
    site: &Arc<Site>,
    settings: &UpstreamSettings,
) -> anyhow::Result<Arc<Upstream>> {
    let upstream = Upstream::new(site.clone(), settings);
    let first = upstream.clone();
    if let Err(error) = web::block(move || first.fetch()).await? {
        tracing::warn!(%error, url = %settings.url, "the upstream is unreachable; serving the last fetched tip");
    }
    upstream.watch(settings.fetch_interval);
    Ok(upstream)
}

fn open_or_seed(settings: &Settings) -> anyhow::Result<Store> {
    if let Some(upstream) = &settings.upstream {
        store::Remote::new(&upstream.url, None)
            .check_transport()
            .map_err(|why| anyhow::anyhow!("--upstream {}: {why}", upstream.url))?;
    }
    if let Some(upstream) = &settings.upstream
        && !settings.repo.exists()
    {
        let remote = store::Remote::new(&upstream.url, upstream.token.clone());
        store::clone_bare(&remote, &settings.repo, &settings.branch).with_context(|| {
            format!(
                "cloning {} from the upstream {}",
                settings.repo.display(),
                upstream.url
            )
        })?;
        tracing::info!(repo = %settings.repo.display(), url = %upstream.url, "cloned from the upstream");
    }
    if let Some(sample) = &settings.seed_from
        && !settings.repo.exists()
    {
        let report = store::seed_repository(
            &settings.repo,
            sample,
            &settings.branch,
            &settings.committer(),
        )
        .with_context(|| {
            format!(
                "creating {} from {}",
                settings.repo.display(),
                sample.display()
            )
        })?;
        tracing::info!(commits = report.commits, repo = %settings.repo.display(), "sample blog created");
    }
    Store::open(&settings.repo, &settings.branch).map_err(Into::into)
}
