//! What each request leaves behind: one log line on standard error for every refusal (and
//! for every request with `--log-all`), naming the check that failed; and the counters the
//! vendor console shows per app and API — requests, response times, traffic — with alerts
//! for anomalies.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::catalogue::code;
use crate::clock::format_eop_date;
use crate::gateway::Admitted;
use crate::registry::{AccountCell, Registry};
use crate::respond::Rendered;

/// Alerts kept per account; older ones are dropped.
const ALERTS_KEPT: usize = 100;
/// Consecutive signature failures that raise an alert.
const SIGNATURE_FAILURES_ALERT: u32 = 5;

/// Where request lines go.
#[derive(Debug, Clone)]
pub struct Journal {
    pub log_all: bool,
    pub quiet: bool,
    /// Standard error, through a queue that never blocks a request.
    pub(crate) log: crate::log::Log,
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
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The app the request was charged to, if the gateway admitted it.
    pub admitted: Option<&'a Admitted>,
    /// The AK the request was signed with, if any.
    pub ak: Option<&'a str>,
}

impl Journal {
    pub fn record(&self, registry: &Registry, entry: &Entry<'_>) {
        count(registry, entry);
        if self.quiet || (entry.rendered.reason.is_none() && !self.log_all) {
            return;
        }
        self.log.line(format_line(entry));
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

/// An account's counters and alerts.
#[derive(Debug, Default)]
pub struct Stats {
    /// (appkey, api) → counters of the requests the gateway admitted.
    pub apis: HashMap<(String, String), ApiStats>,
    /// Gateway refusals of requests signed with this account's AK, by code.
    pub refused: HashMap<u32, u64>,
    pub alerts: VecDeque<Alert>,
    signature_failures: u32,
}

/// Counters of one API of one app.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ApiStats {
    pub requests: u64,
    pub succeeded: u64,
    /// Answers by code.
    pub codes: std::collections::BTreeMap<u32, u64>,
    pub total_ms: f64,
    pub max_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// An anomaly seen while serving.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub at: String,
    pub kind: &'static str,
    pub message: String,
}

impl Stats {
    pub fn alert(&mut self, now_ms: i64, kind: &'static str, message: String) {
        if self.alerts.len() == ALERTS_KEPT {
            self.alerts.pop_front();
        }
        self.alerts.push_back(Alert { at: format_eop_date(now_ms.div_euclid(1000)), kind, message });
    }
}

fn count(registry: &Registry, e: &Entry<'_>) {
    let code = e.rendered.code;
    if let Some(admitted) = e.admitted {
        let mut state = admitted.account.lock();
        let key = (admitted.app.appkey.clone(), admitted.endpoint.name.clone());
        let api = state.stats.apis.entry(key).or_default();
        let ms = e.elapsed.as_secs_f64() * 1000.0;
        api.requests += 1;
        api.succeeded += u64::from(code == 0);
        *api.codes.entry(code).or_default() += 1;
        api.total_ms += ms;
        api.max_ms = api.max_ms.max(ms);
        api.bytes_in += e.bytes_in;
        api.bytes_out += e.bytes_out;
        state.stats.signature_failures = 0;
        return;
    }
    let Some(cell) = e.ak.and_then(|ak| registry.account(ak)) else { return };
    count_refusal(registry, &cell, code);
}

fn count_refusal(registry: &Registry, cell: &AccountCell, code: u32) {
    let now = registry.now_ms(cell);
    let mut state = cell.lock();
    *state.stats.refused.entry(code).or_default() += 1;
    if code != code::SIGNATURE {
        return;
    }
    state.stats.signature_failures += 1;
    if state.stats.signature_failures == SIGNATURE_FAILURES_ALERT {
        let message = format!(
            "{SIGNATURE_FAILURES_ALERT} signature failures in a row for ak `{}`; see x-mock-reason on the refusals",
            cell.ak
        );
        state.stats.alert(now, "signature_failures", message);
    }
}
