//! The command line: `serve`, `init`, `check`, `openapi`, `healthcheck`, `token new`. Every
//! flag also reads an environment variable.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::authors::{self, Authors};
use crate::config::{self, Settings};
use crate::http::throttle::{self, PastReadLimit};
use crate::store::{self, Identity, Store};
use crate::telemetry::LogFormat;
use crate::upstream::UpstreamSettings;

/// The repository `serve` uses when given none; created from the sample blog on first start.
const DEFAULT_REPO: &str = "data/content.git";

#[derive(Debug, Parser)]
#[command(
    name = "palimpsest",
    version,
    about = "A git-backed headless CMS for a learning blog",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Log lines as text or JSON (to stderr; RUST_LOG filters them).
    #[arg(
        long,
        global = true,
        env = "PALIMPSEST_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
    /// With no subcommand, `serve` (with these flags: `palimpsest --listen 0.0.0.0:8080`
    /// works as `palimpsest serve --listen 0.0.0.0:8080` does), so that `cargo run
    /// --release` alone serves the blog.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the blog over HTTP.
    Serve(Box<ServeArgs>),
    /// Create a new repository from a folder of posts (and its history.yaml, if any).
    Init {
        #[arg(long, env = "PALIMPSEST_REPO")]
        repo: PathBuf,
        #[arg(long, env = "PALIMPSEST_FROM", default_value = "content-repo")]
        from: PathBuf,
        #[arg(long, env = "PALIMPSEST_BRANCH", default_value = "main")]
        branch: String,
    },
    /// Lint every post on the branch; exits non-zero when a post has errors.
    Check {
        #[arg(long, env = "PALIMPSEST_REPO", default_value = DEFAULT_REPO)]
        repo: PathBuf,
        #[arg(long, env = "PALIMPSEST_BRANCH", default_value = "main")]
        branch: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the server on --listen answers /readyz with 200 (for container health
    /// checks).
    Healthcheck {
        #[arg(long, env = "PALIMPSEST_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Manage author tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new token, and the line that admits it in a tokens file.
    New {
        #[arg(long)]
        author: String,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The content repository (bare or not). Default: ./data/content.git, created from the
    /// sample blog in content-repo/ on first start.
    #[arg(long, env = "PALIMPSEST_REPO")]
    repo: Option<PathBuf>,
    /// The branch the blog is served from.
    #[arg(long, env = "PALIMPSEST_BRANCH", default_value = "main")]
    branch: String,
    /// Create the repository from this folder of posts when it does not exist yet (as
    /// `init --from` would). Without --repo, the sample blog is used.
    #[arg(long, env = "PALIMPSEST_SEED_FROM")]
    seed_from: Option<PathBuf>,
    /// The URL clients reach the server at, for the feed's absolute links. Default: the
    /// host each request was sent to.
    #[arg(long, env = "PALIMPSEST_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seconds a stopping server (SIGTERM, SIGINT) gives in-flight requests to finish.
    #[arg(long, env = "PALIMPSEST_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    shutdown_timeout: u64,
    /// Address to listen on.
    #[arg(long, env = "PALIMPSEST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// One author's bearer token (with --author).
    #[arg(long, env = "PALIMPSEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The author the token belongs to, `Name <email>`.
    #[arg(
        long,
        env = "PALIMPSEST_AUTHOR",
        default_value = "Author <author@localhost>"
    )]
    author: String,
    /// A file of `sha256:<hex> Name <email>` lines, one per author (see `token new`).
    #[arg(long, env = "PALIMPSEST_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "PALIMPSEST_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// How often to look for commits pushed from outside, in milliseconds.
    #[arg(long, env = "PALIMPSEST_POLL_MS", default_value_t = 250)]
    poll_ms: u64,
    /// Origins whose browser pages may write through the API, comma-separated
    /// (`https://editor.example.org`); pages on any origin may read.
    #[arg(long, env = "PALIMPSEST_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// The largest asset accepted by `PUT /api/v1/assets/{path}`, in bytes.
    #[arg(long, env = "PALIMPSEST_MAX_ASSET_BYTES", default_value_t = 10 * 1024 * 1024)]
    max_asset_bytes: usize,
    /// Where a post lives on the frontend, `{slug}` standing for its slug: links between
    /// posts in a post's `html` point there.
    #[arg(long, env = "PALIMPSEST_POST_URL", default_value = config::DEFAULT_POST_URL)]
    post_url: String,
    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "PALIMPSEST_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Reads of the past (a post at a revision, a diff, a blame, anything `as_of`) each
    /// anonymous client address may make per minute once its burst is spent; above it, 429.
    /// 0: no limit. Authors (with a token) are never limited.
    #[arg(long, env = "PALIMPSEST_PAST_READS_PER_MINUTE", default_value_t = throttle::DEFAULT_PER_MINUTE)]
    past_reads_per_minute: u32,
    /// Reads of the past an anonymous client address may make at once before the rate applies.
    #[arg(long, env = "PALIMPSEST_PAST_READS_BURST", default_value_t = throttle::DEFAULT_BURST)]
    past_reads_burst: u32,
    /// Bytes of past versions, diffs and blames all anonymous clients together may be sent
    /// per second; above it, 503 with Retry-After. 0: no limit. Authors are never limited.
    #[arg(long, env = "PALIMPSEST_PAST_BYTES_PER_SECOND", default_value_t = throttle::DEFAULT_BYTES_PER_SECOND)]
    past_bytes_per_second: u64,
    /// Behind a reverse proxy: take the client's address from the last `X-Forwarded-For`
    /// entry (the one the proxy added), for the limit on reads of the past.
    #[arg(long, env = "PALIMPSEST_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// A URL told (`POST`, a `branch.moved` event) every time the branch moves; repeat the
    /// flag for several, or separate them with commas in the environment variable.
    #[arg(long = "webhook", env = "PALIMPSEST_WEBHOOKS", value_delimiter = ',')]
    webhooks: Vec<String>,
    /// The key webhook deliveries are signed with (`X-Palimpsest-Signature-256`).
    #[arg(long, env = "PALIMPSEST_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Seconds a webhook receiver may take to answer before the delivery is retried.
    #[arg(long, env = "PALIMPSEST_WEBHOOK_TIMEOUT", default_value_t = 10)]
    webhook_timeout: u64,
    /// Mirror this remote's branch (a path, `file://`, `git://`, `http://` or `https://` URL;
    /// not ssh): cloned when --repo does not exist, fetched on an interval, and every write
    /// pushed there first.
    #[arg(long, env = "PALIMPSEST_UPSTREAM")]
    upstream: Option<String>,
    /// The token for an http(s) upstream, sent as the password (user name: the URL's, or
    /// `x-access-token`).
    #[arg(long, env = "PALIMPSEST_UPSTREAM_TOKEN", hide_env_values = true)]
    upstream_token: Option<String>,
    /// Seconds between two fetches of the upstream.
    #[arg(long, env = "PALIMPSEST_FETCH_INTERVAL", default_value_t = 10)]
    fetch_interval: u64,
}

/// Runs one subcommand to completion.
///
/// # Errors
/// Whatever stops the subcommand; `main` prints it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(cli.serve)));
    match command {
        Command::Serve(args) => serve(*args),
        Command::Init { repo, from, branch } => {
            let report = store::seed_repository(&repo, &from, &branch, &importer())?;
            println!(
                "created {} with {} commit(s) on {branch}; tip {}",
                repo.display(),
                report.commits,
                report.tip
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { repo, branch } => check(&repo, &branch),
        Command::Openapi => {
            println!("{}", crate::http::openapi::document_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { listen } => {
            crate::healthcheck::check(&listen)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::New { author }) => {
            let identity = Identity::parse(&author).map_err(anyhow::Error::msg)?;
            let (token, line) = authors::new_token(&identity);
            println!(
                "token (give it to {}; it is shown only once):\n  {token}",
                identity.name
            );
            println!("line for the tokens file:\n  {line}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let seed_from = args
        .seed_from
        .or_else(|| args.repo.is_none().then(config::sample_content_dir));
    let mut settings = Settings::for_repo(args.repo.unwrap_or_else(|| DEFAULT_REPO.into()));
    settings.branch = args.branch;
    settings.listen = args.listen;
    settings.seed_from = seed_from;
    settings.max_body_bytes = args.max_body_bytes;
    settings.poll_interval = Duration::from_millis(args.poll_ms.max(10));
    settings.workers = args.workers;
    settings.public_url = args.public_url;
    settings.shutdown_timeout = Duration::from_secs(args.shutdown_timeout);
    settings.webhooks.urls = args
        .webhooks
        .into_iter()
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .collect();
    settings.webhooks.secret = args.webhook_secret.filter(|secret| !secret.is_empty());
    settings.webhooks.retry.timeout = Duration::from_secs(args.webhook_timeout.max(1));
    settings.upstream = args
        .upstream
        .filter(|url| !url.is_empty())
        .map(|url| UpstreamSettings {
            url,
            token: args.upstream_token,
            fetch_interval: Duration::from_secs(args.fetch_interval.max(1)),
        });
    settings.cors_origins = args.cors_origins;
    settings.max_asset_bytes = args.max_asset_bytes;
    settings.past_read_limit = PastReadLimit {
        per_minute: args.past_reads_per_minute,
        burst: args.past_reads_burst,
        trust_forwarded_for: args.trust_forwarded_for,
        bytes_per_second: args.past_bytes_per_second,
    };
    if !args.post_url.contains("{slug}") {
        anyhow::bail!("--post-url must contain `{{slug}}`, e.g. `/posts/{{slug}}`");
    }
    settings.post_url = args.post_url;
    settings.authors = match (&args.tokens_file, &args.token) {
        (Some(file), _) => Authors::from_file(file)?,
        (None, Some(token)) if !token.is_empty() => {
            let author = Identity::parse(&args.author)
                .map_err(|e| anyhow::anyhow!("PALIMPSEST_AUTHOR: {e}"))?;
            Authors::single(token, author)
        }
        _ => Authors::default(),
    };
    if settings.authors.is_empty() {
        tracing::warn!("no author tokens configured: the API is read-only and drafts are hidden");
    }
    actix_web::rt::System::new().block_on(async move {
        let app = crate::startup::Application::build(settings).await?;
        app.run_until_stopped().await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn check(repo: &std::path::Path, branch: &str) -> anyhow::Result<ExitCode> {
    let store = Store::open(repo, branch)?;
    let snapshot = crate::site::Snapshot::build(&store, None)
        .with_context(|| format!("reading {branch} in {}", repo.display()))?;
    let assets = snapshot.assets(&store)?;
    for record in snapshot.posts() {
        let post = record.post();
        let references = snapshot.reference_warnings(post, Some(&assets));
        for warning in post.warnings.iter().chain(&references) {
            println!("warning: {}: {warning}", post.slug);
        }
    }
    for (slug, reason) in &snapshot.broken {
        println!("error: {slug}: {reason}");
    }
    println!(
        "{} post(s) checked, {} with errors",
        snapshot.len() + snapshot.broken.len(),
        snapshot.broken.len()
    );
    Ok(if snapshot.broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Who `init` records as the author of the import commit.
fn importer() -> Identity {
    Identity::parse(&std::env::var("PALIMPSEST_AUTHOR").unwrap_or_default())
        .unwrap_or_else(|_| Settings::for_repo(PathBuf::new()).committer())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bare_palimpsest_serves_so_that_cargo_run_alone_starts_the_blog() {
        let cli = Cli::try_parse_from(["palimpsest"]).expect("no subcommand is accepted");
        assert!(cli.command.is_none());
        let expected = std::env::var("PALIMPSEST_LISTEN").unwrap_or("127.0.0.1:8080".into());
        assert_eq!(cli.serve.listen, expected);
    }

    #[test]
    fn serve_flags_work_without_the_subcommand_too() {
        let cli = Cli::try_parse_from(["palimpsest", "--listen", "0.0.0.0:9000", "--workers", "3"])
            .expect("serve flags at the top level");
        assert!(cli.command.is_none());
        assert_eq!(
            (cli.serve.listen.as_str(), cli.serve.workers),
            ("0.0.0.0:9000", 3)
        );
        let init = Cli::try_parse_from(["palimpsest", "init", "--repo", "x.git"]).unwrap();
        assert!(matches!(init.command, Some(Command::Init { .. })));
        assert!(Cli::try_parse_from(["palimpsest", "--listen", "0.0.0.0:9000", "init"]).is_err());
    }

    /// The README's configuration table is the operator's reference: every `serve` flag and
    /// its environment variable must be in it.
    #[test]
    fn every_serve_flag_is_in_the_readme_configuration_table() {
        let readme = include_str!("../README.md");
        let command = Cli::command();
        let serve = command.find_subcommand("serve").unwrap();
        let mut checked = 0;
        for arg in serve.get_arguments().chain(command.get_arguments()) {
            let (Some(flag), Some(env)) = (arg.get_long(), arg.get_env()) else {
                continue;
            };
            let row = format!("| `--{flag}` | `{}` |", env.to_string_lossy());
            assert!(readme.contains(&row), "README lacks the row starting {row}");
            checked += 1;
        }
        assert!(checked >= 12, "only {checked} flags found");
    }
}
