//! Lines for standard error, written by a thread of their own, so that a pipe nobody reads
//! can never stall the server. A request hands its line to a bounded queue and goes on; when
//! the queue is full (the reader has stopped reading), the line is dropped and counted. The
//! next line that gets through is preceded by how many were dropped, and the total is in
//! the control API's `GET /__mock/server`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines waiting to be written; past this they are dropped.
pub(crate) const QUEUE_LINES: usize = 1024;

/// Longest line written, in bytes; a longer one is cut (at a character boundary) and ends
/// in `…`.
pub(crate) const LINE_MAX: usize = 4096;

/// The sending side: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    sender: SyncSender<Message>,
    counts: Arc<Counts>,
}

/// A line to write, or a request to say when every line before it is written.
#[derive(Debug)]
enum Message {
    Line(String),
    Flushed(Sender<()>),
}

#[derive(Debug, Default)]
struct Counts {
    /// Every line dropped since start.
    dropped: AtomicU64,
    /// Dropped lines not yet announced in the output.
    unannounced: AtomicU64,
}

impl Default for Log {
    fn default() -> Log {
        Log::stderr()
    }
}

impl Log {
    /// Lines go to standard error.
    pub(crate) fn stderr() -> Log {
        Log::to(std::io::stderr())
    }

    /// Lines go to `out`, written by a thread that lives as long as any `Log` clone does.
    pub(crate) fn to(out: impl Write + Send + 'static) -> Log {
        let (sender, receiver) = sync_channel(QUEUE_LINES);
        let counts = Arc::new(Counts::default());
        let writer_counts = counts.clone();
        // Should the thread not start, the receiver is gone with it and every line counts
        // as dropped: the server goes on either way.
        let _ = std::thread::Builder::new()
            .name("mock-server-log".into())
            .spawn(move || write_lines(receiver, out, &writer_counts));
        Log { sender, counts }
    }

    /// Queues one line (without its newline); drops it if the queue is full.
    pub(crate) fn line(&self, mut text: String) {
        cut(&mut text, LINE_MAX);
        match self.sender.try_send(Message::Line(text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                self.counts.unannounced.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits, at most `within`, until every line queued so far is written (at shutdown, so
    /// that the last lines are not lost). Never waits longer: a standard error nobody
    /// reads keeps its lines.
    pub(crate) fn flush(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let (done, flushed) = std::sync::mpsc::channel();
        let mut message = Message::Flushed(done);
        loop {
            match self.sender.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = flushed.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }

    /// Lines dropped since start.
    pub(crate) fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }
}

fn write_lines(receiver: Receiver<Message>, mut out: impl Write, counts: &Counts) {
    for message in receiver {
        let line = match message {
            Message::Line(line) => line,
            Message::Flushed(done) => {
                let _ = out.flush();
                let _ = done.send(());
                continue;
            }
        };
        let dropped = counts.unannounced.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(out, "mock-server: {dropped} log lines dropped: standard error was not read in time");
        }
        // A closed standard error must not take the server down with it.
        let _ = writeln!(out, "{line}");
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary, marking the cut with `…`.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// A writer that blocks until the test lets it go, like a pipe nobody reads.
    struct Stuck(Mutex<Receiver<()>>, Arc<Mutex<Vec<u8>>>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.lock().map(|r| r.recv());
            self.1.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_never_reads_costs_dropped_lines_not_a_stall() {
        let (release, gate) = channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let log = Log::to(Stuck(Mutex::new(gate), written.clone()));
        let started = Instant::now();
        for i in 0..10 * QUEUE_LINES {
            log.line(format!("line {i}"));
        }
        assert!(started.elapsed() < Duration::from_secs(2), "queuing must never wait for the writer");
        // The queue holds its lines, the writer one more: every other line is dropped.
        let kept = (10 * QUEUE_LINES) as u64 - log.dropped();
        assert!(kept <= QUEUE_LINES as u64 + 1, "kept {kept}");
        drop(release);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            // The queue is full of older lines until the writer drains it.
            log.line("after".into());
            let text = String::from_utf8_lossy(&written.lock().expect("lock")).into_owned();
            if text.contains("after") {
                assert!(text.contains("log lines dropped"), "the drop is announced: {text}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the writer never caught up");
    }

    /// A writer that takes its time, like a slow terminal.
    struct Slow(Arc<Mutex<Vec<u8>>>);

    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(1));
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_flush_returns_once_every_queued_line_is_written() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let log = Log::to(Slow(written.clone()));
        for i in 0..50 {
            log.line(format!("line {i}"));
        }
        log.flush(Duration::from_secs(5));
        let text = String::from_utf8_lossy(&written.lock().expect("lock")).into_owned();
        assert!(text.contains("line 0\n") && text.contains("line 49\n"), "{text}");
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let mut text = "签".repeat(3000);
        cut(&mut text, LINE_MAX);
        assert!(text.len() <= LINE_MAX && text.ends_with('…'));
        let mut short = String::from("short");
        cut(&mut short, LINE_MAX);
        assert_eq!(short, "short");
    }
}
