//! The counters the vendor console shows, per (AK, appkey, API) — requests, answers by
//! code, response times, traffic — and per account the gateway's refusals and the alerts
//! raised for anomalies.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::catalogue::code;
use crate::clock::format_eop_date;
use crate::outcome::Outcome;

/// Alerts kept per account; older ones are dropped.
const ALERTS_KEPT: usize = 100;
/// Consecutive signature failures that raise an alert.
const SIGNATURE_FAILURES_ALERT: u32 = 5;

/// One account's counters and alerts.
#[derive(Debug, Default, Clone)]
pub(crate) struct AccountStats {
    /// (appkey, api) → counters of the requests the gateway admitted.
    /// Per app (appkey), per api: nested so that counting a call looks both up by `&str`,
    /// allocating nothing once they have been seen.
    pub apis: HashMap<String, HashMap<String, ApiStats>>,
    /// Gateway refusals of requests signed with this account's AK, by code.
    pub refused: HashMap<u32, u64>,
    pub alerts: VecDeque<Alert>,
    signature_failures: u32,
}

/// Counters of one API of one app.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct ApiStats {
    pub requests: u64,
    pub succeeded: u64,
    /// Answers by code.
    pub codes: BTreeMap<u32, u64>,
    pub total_ms: f64,
    pub max_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// An anomaly seen while serving.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Alert {
    pub at: String,
    pub kind: &'static str,
    pub message: String,
}

impl AccountStats {
    fn alert(&mut self, now_ms: i64, kind: &'static str, message: String) {
        if self.alerts.len() == ALERTS_KEPT {
            self.alerts.pop_front();
        }
        self.alerts.push_back(Alert { at: format_eop_date(now_ms.div_euclid(1000)), kind, message });
    }
}

impl AccountStats {
    /// Counts one request of this account (`ak`).
    pub fn count(&mut self, o: &Outcome<'_>, ak: &str) {
        match (o.appkey, o.endpoint) {
            (Some(appkey), Some(api)) => count_admitted(self, o, appkey, &api.name),
            _ => count_refusal(self, o, ak),
        }
    }
}

fn count_admitted(account: &mut AccountStats, o: &Outcome<'_>, appkey: &str, api: &str) {
    if let Some(charge) = o.charge {
        let (remaining, valid) = (charge.remaining, charge.valid);
        if remaining == 0 || remaining == valid / 10 {
            let message = format!("app `{appkey}` has {remaining} of {valid} calls left for {api}");
            account.alert(o.at_ms, if remaining == 0 { "calls_used_up" } else { "calls_low" }, message);
        }
    }
    let stats = match account.apis.get_mut(appkey).and_then(|apis| apis.get_mut(api)) {
        Some(stats) => stats,
        None => account.apis.entry(appkey.to_string()).or_default().entry(api.to_string()).or_default(),
    };
    let ms = o.elapsed.as_secs_f64() * 1000.0;
    stats.requests += 1;
    stats.succeeded += u64::from(o.code == 0);
    *stats.codes.entry(o.code).or_default() += 1;
    stats.total_ms += ms;
    stats.max_ms = stats.max_ms.max(ms);
    stats.bytes_in += o.bytes_in;
    stats.bytes_out += o.bytes_out;
    account.signature_failures = 0;
}

fn count_refusal(account: &mut AccountStats, o: &Outcome<'_>, ak: &str) {
    *account.refused.entry(o.code).or_default() += 1;
    if o.code != code::SIGNATURE {
        return;
    }
    account.signature_failures += 1;
    if account.signature_failures == SIGNATURE_FAILURES_ALERT {
        let message = format!(
            "{SIGNATURE_FAILURES_ALERT} signature failures in a row for ak `{ak}`; see x-mock-reason on the refusals"
        );
        account.alert(o.at_ms, "signature_failures", message);
    }
}
