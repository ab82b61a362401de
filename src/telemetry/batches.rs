//! Log lines written off the request path, in batches: a line costs the thread that logs it
//! a copy into a shared buffer; a thread of its own wakes when the first line of a batch
//! arrives, lets more gather for a few milliseconds, and writes them all with one `write`.
//!
//! Hand-written rather than tracing-appender's non-blocking writer, which hands each line
//! to its thread over a channel and wakes that thread for every line: at `info` (a line per
//! request) the wake-ups and the write per line cost more than a warm read itself. Here a
//! busy server wakes the thread at most once per [`LINGER`], and an idle one never.
//!
//! No line is dropped: when the buffer is full, the threads logging wait for the writer,
//! and stopping (dropping the [`BatchGuard`]) writes what is left. A crash loses at most the
//! lines of the last [`LINGER`].

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer lets lines gather after the first one of a batch.
pub const LINGER: Duration = Duration::from_millis(10);

/// Past this many bytes waiting, threads logging wait for the writer to catch up.
const CAPACITY: usize = 1 << 20;

/// Where the formatter writes lines ([`MakeWriter`]); cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keeps the writing thread; dropping it writes the lines still waiting and stops the thread.
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: the first line of a batch arrived, or stopping began.
    arrived: Condvar,
    /// Wakes threads waiting for room in a full buffer.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    writer_waiting: bool,
    loggers_waiting: usize,
    stopping: bool,
    /// The writer wrote its last batch and left: lines go straight to the output.
    stopped: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left the buffer whole (appends and
        // swaps do not panic halfway), so the lines in it are still worth writing.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts the writing thread over `out` (stderr, in the server).
///
/// # Panics
/// When the thread cannot be spawned, at start-up, before anything is served.
pub fn start<W: Write + Send + 'static>(out: W) -> (BatchWriter, BatchGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        arrived: Condvar::new(),
        drained: Condvar::new(),
    });
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn({
            let shared = shared.clone();
            move || write_batches(&shared, out)
        })
        .expect("spawning the thread that writes log lines");
    (
        BatchWriter {
            shared: shared.clone(),
        },
        BatchGuard {
            shared,
            thread: Some(thread),
        },
    )
}

/// The writing thread: waits for a first line, lets others gather, writes them all.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.lines.is_empty() && !state.stopping {
            state.writer_waiting = true;
            state = shared
                .arrived
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.writer_waiting = false;
        }
        if !state.stopping {
            drop(state);
            std::thread::sleep(LINGER);
            state = shared.lock();
        }
        std::mem::swap(&mut state.lines, &mut batch);
        if state.loggers_waiting > 0 {
            shared.drained.notify_all();
        }
        if batch.is_empty() {
            // Only when stopping: no line left, and none can arrive unseen from now on.
            state.stopped = true;
            return;
        }
        drop(state);
        // Nowhere to report a failed write of the log itself; the next batch tries again.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> LineSink<'a> {
        LineSink {
            shared: &self.shared,
        }
    }
}

/// One event's writer: the formatter writes its whole line with one `write_all`.
pub struct LineSink<'a> {
    shared: &'a Shared,
}

impl Write for LineSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.lock();
        while state.lines.len() >= CAPACITY && !state.stopped {
            state.loggers_waiting += 1;
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.loggers_waiting -= 1;
        }
        if state.stopped {
            drop(state);
            return io::stderr().write(buf);
        }
        let wake = state.lines.is_empty() && state.writer_waiting;
        state.lines.extend_from_slice(buf);
        drop(state);
        if wake {
            self.shared.arrived.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_time_the_guard_drops() {
        let out = Captured::default();
        let (writer, guard) = start(out.clone());
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let writer = &writer;
                scope.spawn(move || {
                    for line in 0..5_000 {
                        let text = format!("thread {thread} line {line} {}\n", "x".repeat(200));
                        writer.make_writer().write_all(text.as_bytes()).unwrap();
                    }
                });
            }
        });
        drop(guard);
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for thread in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("thread {thread} line ")))
                .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(mine, (0..5_000).collect::<Vec<_>>(), "thread {thread}");
        }
    }

    #[test]
    fn a_line_is_written_without_waiting_for_more() {
        let out = Captured::default();
        let (writer, _guard) = start(out.clone());
        writer.make_writer().write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().as_slice() != b"alone\n" {
            assert!(
                std::time::Instant::now() < deadline,
                "the line was not written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
