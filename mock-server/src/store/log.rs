//! `--state PATH`: accounts, apps and ledgers kept across restarts.
//!
//! The file is an append-only log of JSON lines, one per change, each written with a
//! single `write` on a file opened for appending. A process killed at any point (even by
//! `kill -9`) leaves every completed line in the file: the kernel holds what was written.
//! A torn last line (power loss mid-write) is ignored on load. At start-up the log is
//! replayed and then rewritten compacted — to a temporary file, synced, and renamed over
//! the old one — so it never grows without bound across restarts. Counters and alerts are
//! not kept.
//!
//! Why not an embedded database: the state is small, changes are appends, and recovery is
//! "replay what is complete" — a few dozen lines that need no new dependency.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::Store;
use crate::registry::Event;

/// The open log.
#[derive(Debug)]
pub(crate) struct LogStore {
    path: PathBuf,
    /// Appends are serialised so lines never interleave.
    file: Mutex<File>,
    /// A failed write is reported once, not once per request.
    reported: AtomicBool,
}

impl LogStore {
    /// Replays the log at `path` (if it exists), rewrites it compacted to `snapshot()`, and
    /// opens it for appending.
    pub fn open(
        path: &Path,
        mut replay: impl FnMut(Event),
        snapshot: impl FnOnce() -> Vec<Event>,
    ) -> std::io::Result<LogStore> {
        if path.exists() {
            let file = BufReader::new(File::open(path)?);
            for line in file.split(b'\n') {
                // A line that does not parse is a torn tail: everything before it counts.
                let Ok(event) = serde_json::from_slice::<Event>(&line?) else { break };
                replay(event);
            }
        }
        compact(path, &snapshot())?;
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(LogStore { path: path.to_path_buf(), file: Mutex::new(file), reported: AtomicBool::new(false) })
    }
}

impl Store for LogStore {
    /// Appends one event as one line, in one write.
    fn apply(&self, event: &Event) {
        let mut line = serde_json::to_vec(event).unwrap_or_default();
        line.push(b'\n');
        let result = self.file.lock().unwrap_or_else(PoisonError::into_inner).write_all(&line);
        if let Err(e) = result {
            if !self.reported.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "mock-server: cannot write the state file {}: {e}; changes are kept in memory only",
                    self.path.display()
                );
            }
        }
    }
}

/// Writes `events` (the shortest log that rebuilds the state) over the file, atomically.
fn compact(path: &Path, events: &[Event]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for event in events {
        serde_json::to_writer(&mut out, event).map_err(std::io::Error::other)?;
        out.push(b'\n');
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&out)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable where the platform allows it.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
