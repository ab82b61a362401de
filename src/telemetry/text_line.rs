//! The text log line: `2026-12-04T19:44:06.289321Z  INFO target: message key=value …`, the
//! layout of tracing-subscriber's default format (spans, when enabled, before the target).
//!
//! Written here rather than with that format because at `info` every request writes a line,
//! and the default format spends more on it than a warm read costs: it converts the clock
//! into a calendar date for every line, passes every value through `Debug`, and wraps each
//! part in (disabled) colour styles. This one formats the date once a second per thread and
//! copies plain values as they are. Values are quoted and escaped only when they hold
//! something that could break the line (spaces, quotes, control characters), and messages
//! only when they hold control characters, so nothing logged can forge a line or a field.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format (`fmt().event_format(TextLine)`).
pub struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The line is put together in this thread's line text, by plain appends, and
        // handed to the writer whole. A line logged while formatting another (by a
        // value's `Debug`) finds the text taken and gets one of its own.
        let written = LINE.try_with(|line| {
            let mut line = line.try_borrow_mut().ok()?;
            line.clear();
            Some(format_line(ctx, &mut line, event).and_then(|()| writer.write_str(&line)))
        });
        if let Ok(Some(result)) = written {
            return result;
        }
        let mut line = String::new();
        format_line(ctx, &mut line, event)?;
        writer.write_str(&line)
    }
}

/// Appends `event`'s line to `line`.
fn format_line<S, N>(
    ctx: &FmtContext<'_, S, N>,
    line: &mut String,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    write_time(line, SystemTime::now());
    let metadata = event.metadata();
    line.push_str(level_label(metadata.level()));
    if let Some(scope) = ctx.event_scope() {
        for span in scope.from_root() {
            line.push_str(span.name());
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<N>>()
                && !fields.is_empty()
            {
                write!(line, "{{{fields}}}")?;
            }
            line.push(':');
        }
        line.push(' ');
    }
    line.push_str(metadata.target());
    line.push(':');
    // The message is written first. Events name it first (tracing's macros put it
    // there), so one pass over the values usually writes the line in order.
    let message_first = metadata
        .fields()
        .iter()
        .position(|field| field.name() == "message")
        .is_none_or(|at| at == 0);
    let passes: &[Part] = if message_first {
        &[Part::All]
    } else {
        &[Part::Message, Part::Fields]
    };
    for &part in passes {
        let mut values = Values::new(line, part);
        event.record(&mut values);
        values.result?;
    }
    line.push('\n');
    Ok(())
}

/// The level, padded to one width as the default format pads it.
fn level_label(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => " ERROR ",
        Level::WARN => "  WARN ",
        Level::INFO => "  INFO ",
        Level::DEBUG => " DEBUG ",
        Level::TRACE => " TRACE ",
    }
}

thread_local! {
    /// Where this thread puts its lines together.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    /// Where this thread formats the values that come as `Debug` (messages among them).
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    /// The last second this thread wrote, and its date and time up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-12-04T19:44:06.289321Z`, in UTC with microseconds.
fn write_time(line: &mut String, now: SystemTime) {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            *second = seconds;
            text.clear();
            let date = chrono::DateTime::<chrono::Utc>::from(now);
            // Infallible into a String.
            let _ = write!(text, "{}", date.format("%Y-%m-%dT%H:%M:%S"));
        }
        line.push_str(text);
    });
    let mut digits = itoa::Buffer::new();
    // Under a million, so at most six digits.
    let micros = digits.format(since_epoch.subsec_micros());
    line.push('.');
    line.push_str(&"000000"[micros.len().min(6)..]);
    line.push_str(micros);
    line.push('Z');
}

/// Which of an event's values a pass writes: its message first, then the other fields;
/// or all of them in one pass, when the message comes first anyway.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Message,
    Fields,
    All,
}

struct Values<'w> {
    line: &'w mut String,
    part: Part,
    /// Whether the value being written is the message.
    in_message: bool,
    result: fmt::Result,
}

impl<'w> Values<'w> {
    fn new(line: &'w mut String, part: Part) -> Self {
        Values {
            line,
            part,
            in_message: false,
            result: Ok(()),
        }
    }

    /// Writes `value`: a message as it is unless it would break the line, any other value
    /// by [`write_plain`].
    fn text(&mut self, value: &str) {
        if self.in_message && !has_control(value) {
            self.line.push_str(value);
        } else {
            self.result = write_plain(self.line, value);
        }
    }

    /// Whether this pass writes `field`; if so, writes the separator and its name.
    fn begin(&mut self, field: &Field) -> bool {
        let is_message = field.name() == "message";
        let wanted = match self.part {
            Part::Message => is_message,
            Part::Fields => !is_message,
            Part::All => true,
        };
        if !wanted || self.result.is_err() {
            return false;
        }
        self.in_message = is_message;
        self.line.push(' ');
        if !is_message {
            self.line.push_str(field.name());
            self.line.push('=');
        }
        true
    }
}

impl Visit for Values<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.begin(field) {
            self.text(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.begin(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.begin(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.begin(field) {
            self.line.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.begin(field) {
            return;
        }
        // Display values (`%x`) and messages arrive here too: format once, then write
        // the text as any other string. Formatted into this thread's scratch text, whose
        // room is kept from line to line; a value whose `Debug` logs (and so would find
        // the scratch text taken) gets a text of its own.
        let mut format = |text: &mut String| {
            text.clear();
            self.result = write!(text, "{value:?}");
            if self.result.is_ok() {
                self.text(text);
            }
        };
        let scratch = SCRATCH.try_with(|scratch| {
            scratch
                .try_borrow_mut()
                .map(|mut text| format(&mut text))
                .is_ok()
        });
        if scratch != Ok(true) {
            format(&mut String::new());
        }
    }
}

/// Whether `text` holds a control character (`char::is_control`: C0, DEL or C1).
fn has_control(text: &str) -> bool {
    // Printable ASCII throughout is the common case, decided without decoding.
    !text.bytes().all(|b| (b' '..=b'~').contains(&b)) && text.chars().any(char::is_control)
}

/// Bytes that stand for themselves in a value: visible ASCII but quotes and backslashes.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        plain[b] = byte.is_ascii_graphic() && byte != b'"' && byte != b'\\';
        b += 1;
    }
    plain
};

/// `value` as it is when nothing in it could be mistaken for the line's own structure,
/// else quoted with Rust's escapes.
fn write_plain(line: &mut String, value: &str) -> fmt::Result {
    // Bytes first: most values are ASCII, and a table lookup per byte is much cheaper
    // than decoding characters.
    let plain = !value.is_empty()
        && (value.bytes().all(|b| PLAIN[usize::from(b)])
            || value.chars().all(|c| {
                if c.is_ascii() {
                    c.is_ascii_graphic() && c != '"' && c != '\\'
                } else {
                    !c.is_control() && !c.is_whitespace()
                }
            }));
    if plain {
        line.push_str(value);
        Ok(())
    } else {
        write!(line, "{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    fn logged(log: impl FnOnce()) -> String {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .with_ansi(false)
            .event_format(TextLine)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_line_has_the_time_level_target_message_and_fields() {
        let line = logged(|| {
            let path = "/api/v1/posts/a";
            tracing::info!(path, status = 200u64, took = %"3ms", "answered");
        });
        let (time, rest) = line.split_once("  INFO ").unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{line}");
        assert_eq!(time.len(), "2026-12-04T19:44:06.289321Z".len());
        assert_eq!(
            rest,
            "palimpsest::telemetry::text_line::tests: answered path=/api/v1/posts/a \
             status=200 took=3ms\n"
        );
    }

    #[test]
    fn the_time_has_six_digits_of_microseconds() {
        let text = |nanos: u32| {
            let mut line = String::new();
            let at = UNIX_EPOCH + std::time::Duration::new(1_796_000_000, nanos);
            write_time(&mut line, at);
            line
        };
        assert_eq!(text(5_000), "2026-11-30T00:53:20.000005Z");
        assert_eq!(text(999_999_999), "2026-11-30T00:53:20.999999Z");
        assert_eq!(text(0), "2026-11-30T00:53:20.000000Z");
    }

    #[test]
    fn values_that_could_forge_a_line_or_a_field_are_quoted() {
        let line = logged(|| {
            tracing::warn!(
                error = "two\nlines",
                said = %"a\nb",
                name = "a b",
                quote = "say \"hi\"",
                empty = "",
                word = "ünïcode",
                "x"
            );
        });
        let expected = concat!(
            r#": x error="two\nlines" said="a\nb" name="a b" quote="say \"hi\"" empty="" word=ünïcode"#,
            "\n"
        );
        assert!(line.ends_with(expected), "{line}");
        assert_eq!(line.lines().count(), 1);
        let message = logged(|| tracing::warn!("{}", "free text\nand a forged line"));
        assert!(
            message.ends_with(concat!(r#": "free text\nand a forged line""#, "\n")),
            "{message}"
        );
        let message = logged(|| tracing::warn!("free text, as it is"));
        assert!(message.ends_with(": free text, as it is\n"), "{message}");
    }

    #[test]
    fn the_message_comes_first_wherever_the_event_names_it() {
        let line = logged(|| tracing::info!(status = 200u64, message = "answered"));
        assert!(line.ends_with(": answered status=200\n"), "{line}");
        let line = logged(|| tracing::info!(status = 200u64, "answered"));
        assert!(line.ends_with(": answered status=200\n"), "{line}");
        let line = logged(|| tracing::info!(status = 200u64));
        assert!(line.ends_with(": status=200\n"), "{line}");
    }

    #[test]
    fn spans_are_named_before_the_target() {
        let line = logged(|| {
            let span = tracing::debug_span!("request", request_id = "abc");
            let _entered = span.enter();
            tracing::debug!("inside");
        });
        assert!(
            line.contains(" DEBUG request{request_id=\"abc\"}: palimpsest::"),
            "{line}"
        );
    }
}
