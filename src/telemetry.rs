//! Log lines to stderr, filtered by `RUST_LOG`, as text or JSON.
//!
//! Lines are written in batches by a thread of their own (see [`batches`]): a request's
//! log line costs its handler a copy into a buffer, not a write to stderr. No line is lost.

mod batches;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

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

/// Installs the global subscriber; later calls (tests) are ignored. Colours only when
/// stderr is a terminal, so files and log collectors get plain text.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = batches::start(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(LineTime)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
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

/// The time of a line in UTC, to the microsecond (`2026-11-02T09:30:00.123456Z`, as
/// tracing-subscriber's own timer writes it). The date and time of day are formatted once
/// per second per thread and reused: at `info` every request writes a line, and calendar
/// arithmetic for each would be a visible part of a cheap read's cost.
struct LineTime;

thread_local! {
    /// The second last formatted on this thread, and its text up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for LineTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = since_epoch.as_secs();
        SECOND.with_borrow_mut(|(second, text)| {
            if *second != seconds {
                let utc = chrono::DateTime::<chrono::Utc>::from(UNIX_EPOCH + since_epoch);
                text.clear();
                write!(text, "{}", utc.format("%Y-%m-%dT%H:%M:%S"))?;
                *second = seconds;
            }
            write!(w, "{text}.{:06}Z", since_epoch.subsec_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_times_are_rfc3339_utc_to_the_microsecond() {
        let mut line = String::new();
        LineTime.format_time(&mut Writer::new(&mut line)).unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(&line).expect(&line);
        let now = chrono::Utc::now();
        assert!((now - parsed.to_utc()).num_seconds().abs() < 60, "{line}");
        assert_eq!(line.len(), "2026-11-02T09:30:00.123456Z".len(), "{line}");
        assert!(line.ends_with('Z'));
    }
}
