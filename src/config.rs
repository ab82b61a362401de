//! Server settings, resolved once from flags and environment into plain values.

use std::path::PathBuf;
use std::time::Duration;

use crate::authors::Authors;
use crate::http::throttle::PastReadLimit;
use crate::store::Identity;
use crate::upstream::UpstreamSettings;
use crate::webhooks::WebhookSettings;

/// The identity the server commits as (the committer; the author is the writer).
pub const SERVER_IDENTITY: (&str, &str) = ("Palimpsest", "palimpsest@localhost");

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub repo: PathBuf,
    pub branch: String,
    /// `host:port`; port 0 picks a free one (tests).
    pub listen: String,
    /// Seed an absent repository from this folder (the sample blog) before serving.
    pub seed_from: Option<PathBuf>,
    pub authors: Authors,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How often the branch is polled for commits made outside the server.
    pub poll_interval: Duration,
    /// Actix worker threads; 0 means one per core.
    pub workers: usize,
    /// The URL clients reach the server at (`https://blog.example.org`), for the feed's
    /// absolute links; `None` uses the host each request was sent to.
    pub public_url: Option<String>,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_timeout: Duration,
    /// Who is told when the branch moves.
    pub webhooks: WebhookSettings,
    /// The remote the served branch mirrors (upstream mode); `None`: the repository is the
    /// truth.
    pub upstream: Option<UpstreamSettings>,
    /// Origins whose browser pages may write (`https://editor.example.org`); any origin
    /// may read.
    pub cors_origins: Vec<String>,
    /// The largest asset accepted by `PUT /api/v1/assets/{path}`, in bytes.
    pub max_asset_bytes: usize,
    /// Where a post lives on the frontend, `{slug}` standing for its slug: links between
    /// posts in `html` point there.
    pub post_url: String,
    /// How many reads of the past (versions, diffs, blames, `as_of`) anonymous clients may
    /// make.
    pub past_read_limit: PastReadLimit,
}

/// The default `--post-url`.
pub const DEFAULT_POST_URL: &str = "/posts/{slug}";

impl Settings {
    /// Settings for a repository, with the defaults `serve` uses.
    pub fn for_repo(repo: PathBuf) -> Settings {
        Settings {
            repo,
            branch: "main".into(),
            listen: "127.0.0.1:8080".into(),
            seed_from: None,
            authors: Authors::default(),
            max_body_bytes: 1024 * 1024,
            poll_interval: Duration::from_millis(250),
            workers: 0,
            public_url: None,
            shutdown_timeout: Duration::from_secs(30),
            webhooks: WebhookSettings::default(),
            upstream: None,
            cors_origins: Vec::new(),
            max_asset_bytes: 10 * 1024 * 1024,
            post_url: DEFAULT_POST_URL.into(),
            past_read_limit: PastReadLimit::default(),
        }
    }

    pub fn committer(&self) -> Identity {
        Identity {
            name: SERVER_IDENTITY.0.into(),
            email: SERVER_IDENTITY.1.into(),
        }
    }
}

/// Where the sample blog is: `./content-repo` when run from a checkout, else the folder the
/// binary was built from.
pub fn sample_content_dir() -> PathBuf {
    let here = PathBuf::from("content-repo");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("content-repo")
    }
}
