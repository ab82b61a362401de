//! Log lines to stderr, filtered by `RUST_LOG`, as text or JSON.
//!
//! Lines are written in batches by a thread of their own (see [`batches`]): a request's
//! log line costs its handler a copy into a buffer, not a write to stderr. No line is lost.

mod batches;
mod text_line;

use tracing_subscriber::EnvFilter;

use batches::BatchGuard;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Keeps the thread writing log lines; dropping it (at the end of `main`) writes the lines
/// still queued and stops the thread.
#[must_use = "dropping the guard stops writing log lines"]
pub struct LogGuard {
    _writer: Option<BatchGuard>,
}

/// Installs the global subscriber; later calls (tests) are ignored. Lines are plain text
/// ([`text_line`]) or JSON, never coloured, so files and log collectors get them as they are.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = batches::start(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.event_format(text_line::TextLine).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init(),
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}
