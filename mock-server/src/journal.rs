//! What each request leaves behind: one log line on standard error for every refusal (and
//! for every request with `--log-all`), naming the check that failed.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::respond::Rendered;

/// Where request lines go.
#[derive(Debug, Clone, Copy)]
pub struct Journal {
    pub log_all: bool,
    pub quiet: bool,
}

/// One served request, as the journal sees it.
#[derive(Debug)]
pub struct Entry<'a> {
    pub peer: SocketAddr,
    pub method: &'a str,
    pub path: &'a str,
    pub endpoint: Option<&'a str>,
    pub request_id: &'a str,
    pub rendered: &'a Rendered,
    pub elapsed: Duration,
}

impl Journal {
    pub fn record(&self, entry: &Entry<'_>) {
        if self.quiet || (entry.rendered.reason.is_none() && !self.log_all) {
            return;
        }
        let line = format_line(entry);
        // A closed stderr must not take the server down with it.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

pub fn format_line(e: &Entry<'_>) -> String {
    let mut line = format!(
        "{} {} {} endpoint={} request_id={:?} status={} code={} elapsed_ms={:.1}",
        e.peer.ip(),
        e.method,
        e.path,
        e.endpoint.unwrap_or("-"),
        e.request_id,
        e.rendered.status,
        e.rendered.code,
        e.elapsed.as_secs_f64() * 1000.0,
    );
    if let Some(reason) = &e.rendered.reason {
        line.push_str(&format!(" reason={reason:?}"));
    }
    line
}
