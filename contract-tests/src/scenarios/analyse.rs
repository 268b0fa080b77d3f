//! What a client did under one scenario, read from the scenario account's journal: the
//! first failure, the calls after it, the retries of the same request (same endpoint, same
//! `body_digest`) and their spacing, and the violations (docs/client-contract.md):
//! - `permanent-retried`: a request that failed with a permanent code sent again;
//! - `retry-storm`: a retryable failure retried sooner than [`STORM_GAP_MS`] after the
//!   previous attempt, or more than [`STORM_MAX_RETRIES`] times (the manual's FAQ, §5.3:
//!   wait 2–5 s before retrying);
//! - `retry-before-retry-after`: a throttled call retried before its `Retry-After`;
//! - `client-hung`: the command was killed (by `--timeout` or a signal).

use serde::Serialize;

use super::{Scenario, ScenarioResult, Setup};
use crate::journal::{Entry, Journal, Verdict};
use crate::report::CommandRun;

/// A retry of a retryable failure sooner than this after the previous attempt is a storm:
/// the FAQ advises 2–5 s; 1 s leaves room for jittered back-off that starts lower.
pub const STORM_GAP_MS: i64 = 1000;
/// More retries than this of one request within a scenario is a storm, however spaced.
pub const STORM_MAX_RETRIES: u64 = 5;
/// Arrival times are read to the millisecond from two clocks' worth of rounding.
const SLACK_MS: i64 = 20;

/// One thing the client did wrong under a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioViolation {
    /// `permanent-retried`, `retry-storm`, `retry-before-retry-after` or `client-hung`.
    pub kind: String,
    pub message: String,
}

fn violation(kind: &str, message: String) -> ScenarioViolation {
    ScenarioViolation { kind: kind.into(), message }
}

/// Judges the client's calls under `scenario`.
pub fn analyse(scenario: &Scenario, journal: &Journal, command: CommandRun) -> ScenarioResult {
    let calls: Vec<&Entry> = journal.entries.iter().collect();
    let mut result = ScenarioResult {
        name: scenario.name.clone(),
        endpoint: scenario.endpoint_label(),
        how: scenario.how(),
        retry: scenario.retry.into(),
        command,
        met: false,
        calls_after: 0,
        retries: 0,
        spacing_ms: Vec::new(),
        violations: Vec::new(),
        problem: None,
    };
    if let Some(run) = Some(&result.command).filter(|r| r.outcome == "timed_out" || r.outcome == "signalled") {
        result.violations.push(violation("client-hung", format!("the client did not finish: {}", run.message)));
    }
    let Some(first) = calls.iter().position(|e| is_failure(scenario, e)) else { return result };
    let failed = calls[first];
    let attempts: Vec<&Entry> =
        std::iter::once(failed).chain(calls[first + 1..].iter().copied().filter(|e| same_request(failed, e))).collect();
    result.met = true;
    result.calls_after = (calls.len() - first - 1) as u64;
    result.retries = (attempts.len() - 1) as u64;
    result.spacing_ms = attempts.windows(2).map(|w| arrival(w[1]) - arrival(w[0])).collect();
    result.violations.extend(judge(scenario, &attempts, &result.spacing_ms));
    result
}

/// The scenario's failure, as the journal records it.
fn is_failure(scenario: &Scenario, entry: &Entry) -> bool {
    let on_endpoint = scenario.endpoint.is_none() || entry.endpoint == scenario.endpoint;
    let injected = entry.verdict == Verdict::Injected;
    on_endpoint
        && match (&scenario.setup, scenario.code) {
            (Setup::Clock, _) => entry.code == 10020,
            (Setup::Rule(_), Some(code)) if code != 0 => injected && entry.code == code,
            (Setup::Rule(_), _) => injected,
        }
}

/// The same request again: the same endpoint and the same JSON content.
fn same_request(failed: &Entry, later: &Entry) -> bool {
    later.endpoint == failed.endpoint && failed.body_digest.is_some() && later.body_digest == failed.body_digest
}

/// When the request arrived: the answer's time less the time it took, in ms.
fn arrival(entry: &Entry) -> i64 {
    entry.at_ms - entry.elapsed_ms.round() as i64
}

fn judge(scenario: &Scenario, attempts: &[&Entry], spacing: &[i64]) -> Vec<ScenarioViolation> {
    let retries = attempts.len().saturating_sub(1) as u64;
    let name = &scenario.name;
    let mut found = Vec::new();
    if retries == 0 {
        return found;
    }
    if scenario.retry == "permanent" {
        let message =
            format!("{name} is permanent, yet the same request was sent {retries} more time(s): give up and report it");
        return vec![violation("permanent-retried", message)];
    }
    if scenario.code == Some(super::THROTTLED) {
        for (gap, throttled) in spacing.iter().zip(attempts) {
            let wait_ms = retry_after_s(throttled) * 1000;
            if *gap + SLACK_MS < wait_ms {
                let message = format!("retried {gap} ms after a 40029 whose Retry-After said {} s", wait_ms / 1000);
                found.push(violation("retry-before-retry-after", message));
                break;
            }
        }
    } else if let Some(gap) = spacing.iter().find(|&&g| g + SLACK_MS < STORM_GAP_MS) {
        let message = format!("{name} retried {gap} ms after the previous attempt: wait 2–5 s before retrying (FAQ)");
        found.push(violation("retry-storm", message));
    }
    if retries > STORM_MAX_RETRIES {
        let message = format!("{name} retried {retries} times: at most {STORM_MAX_RETRIES}, then give up");
        found.push(violation("retry-storm", message));
    }
    found
}

/// The `Retry-After` of a throttled answer, from its reason (`… retry after N s`, which
/// every 40029 of the emulator ends with); 2 s, the emulator's advice, when it does not say.
fn retry_after_s(entry: &Entry) -> i64 {
    let reason = entry.reason.as_deref().unwrap_or_default();
    reason
        .rsplit_once("retry after ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(2)
}
