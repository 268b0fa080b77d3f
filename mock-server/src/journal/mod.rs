//! What each request leaves behind, read from its [`Outcome`]: one log line on standard
//! error for every refusal (and for every request with `--log-all`), naming the check that
//! failed; and the counters and alerts the vendor console shows ([`stats`]).

mod stats;

use crate::outcome::Outcome;

pub(crate) use stats::Stats;

/// Where request lines go, and the counters.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub log_all: bool,
    pub quiet: bool,
    pub stats: Stats,
    /// Standard error, through a queue that never blocks a request.
    pub log: crate::log::Log,
}

impl Journal {
    pub fn record(&self, outcome: &Outcome<'_>) {
        self.stats.count(outcome);
        if self.quiet || (outcome.reason.is_none() && outcome.note.is_none() && !self.log_all) {
            return;
        }
        self.log.line(format_line(outcome));
    }
}

fn format_line(o: &Outcome<'_>) -> String {
    let mut line = format!(
        "{} {} {} endpoint={} request_id={:?} status={} code={} elapsed_ms={:.1}",
        o.peer.ip(),
        o.method,
        o.path,
        o.endpoint.unwrap_or("-"),
        o.request_id,
        o.status,
        o.code,
        o.elapsed.as_secs_f64() * 1000.0,
    );
    if o.forced {
        line.push_str(" forced");
    }
    if let Some(reason) = &o.reason {
        line.push_str(&format!(" reason={reason:?}"));
    }
    if let Some(note) = &o.note {
        line.push_str(&format!(" note={note:?}"));
    }
    line
}
