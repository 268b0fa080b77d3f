//! What the tests that run the `mock-server` binary share: the binary, a fresh temporary
//! folder each, waiting for the ready file, and stopping the server with SIGTERM.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mock-server"))
}

/// A new, empty folder under the system's temporary one, unique to this call.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mock-server-test-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The ready file's JSON once the server has written it; panics after 10 s.
pub fn wait_for(path: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).expect("the ready file is complete json");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no ready file after 10 s");
}

/// Sends `child` SIGTERM (as Ctrl-C or a service manager would) and waits up to `within`
/// for it to exit: its status, or `None` when it is still running (or the signal could not
/// be sent). Never panics, so a `Drop` may call it.
pub fn terminate(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    if let Ok(Some(exit)) = child.try_wait() {
        return Some(exit);
    }
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    if !sent.is_ok_and(|s| s.success()) {
        return None;
    }
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(exit)) = child.try_wait() {
            return Some(exit);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
