//! `contract-tests client --scenarios`: the client under every documented failure. After a
//! clean baseline run, COMMAND runs once per scenario — each documented code of each
//! endpoint the baseline called, the gateway's billing and enabling codes, a clock jump
//! (10020), throttling, a slow answer and a connection reset — each time against a fresh
//! account whose rules (docs/faults.md) make that failure happen. What the client did is
//! judged in `analyse`; how each failure is made is here.

mod analyse;

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::journal::{Catalogue, Journal};
use crate::report::CommandRun;

pub use analyse::{analyse, ScenarioViolation, STORM_GAP_MS, STORM_MAX_RETRIES};

/// How far the clock scenario moves the account's clock: past the 15-minute window.
pub const CLOCK_JUMP: &str = "20m";
/// Gateway codes a running client can meet on any endpoint, each made by a code rule.
const GATEWAY_CODES: [i64; 5] = [50000, 50002, 51001, 51002, 51003];
/// The code of a throttled call.
const THROTTLED: i64 = 40029;
/// The scenarios named by a word.
const WORDS: [&str; 4] = ["throttle", "slow", "reset", "clock"];

/// Which scenarios `--scenarios` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Empty: every scenario.
    pub names: Vec<String>,
    /// The delay of the `slow` scenario (`--slow`).
    pub slow: Duration,
}

/// How one scenario makes its failure happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Setup {
    /// A rule armed for the account (its `what`), scoped to the endpoint and the app.
    Rule(Value),
    /// The account's clock moved ahead: every signature the client makes is 10020.
    Clock,
}

/// One scenario: a failure on one endpoint (every endpoint for `clock`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `51003`, `throttle`, `slow`, `reset` or `clock`.
    pub name: String,
    /// `None` for `clock`: it fails every endpoint.
    pub endpoint: Option<String>,
    /// The code the failure answers (0 for `slow`, none for `reset`).
    pub code: Option<i64>,
    /// `permanent` or `retryable`.
    pub retry: &'static str,
    pub setup: Setup,
}

/// What the client did under one scenario, and what it did wrong.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// The endpoint failed, or `all`.
    pub endpoint: String,
    /// How the failure was made, for a person.
    pub how: String,
    pub retry: String,
    pub command: CommandRun,
    /// The client met the failure (it called the endpoint while the rule held).
    pub met: bool,
    /// Calls the client made after the first failure, on any endpoint.
    pub calls_after: u64,
    /// Of those, the same request (endpoint and body digest) sent again.
    pub retries: u64,
    /// From each attempt of the failed request to the next, in ms (arrival to arrival).
    pub spacing_ms: Vec<i64>,
    pub violations: Vec<ScenarioViolation>,
    /// What stopped the scenario itself (the account, a rule, the journal).
    pub problem: Option<String>,
}

/// Every scenario run after the baseline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scenarios {
    pub slow_ms: u64,
    pub ran: Vec<ScenarioResult>,
    /// Why none ran (a baseline that failed), or names that matched no endpoint used.
    pub notes: Vec<String>,
}

impl ScenarioResult {
    /// A scenario that could not be set up or read: the check failed, not the client.
    pub fn problem(scenario: &Scenario, message: String) -> ScenarioResult {
        ScenarioResult {
            name: scenario.name.clone(),
            endpoint: scenario.endpoint_label(),
            how: scenario.how(),
            retry: scenario.retry.into(),
            command: CommandRun {
                argv: Vec::new(),
                outcome: "not_started".into(),
                exit_code: None,
                message: "not run".into(),
                elapsed_ms: 0,
            },
            met: false,
            calls_after: 0,
            retries: 0,
            spacing_ms: Vec::new(),
            violations: Vec::new(),
            problem: Some(message),
        }
    }
}

impl Scenario {
    /// `rule {...}` or `account clock +20m`.
    pub fn how(&self) -> String {
        match &self.setup {
            Setup::Rule(what) => format!("rule {what}"),
            Setup::Clock => format!("account clock moved {CLOCK_JUMP} ahead"),
        }
    }

    pub fn endpoint_label(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| "all".into())
    }

    /// The rules to arm for `appkey`: none for the clock.
    pub fn rules(&self, appkey: &str) -> Vec<Value> {
        let what = match &self.setup {
            Setup::Rule(what) => what.clone(),
            Setup::Clock => return Vec::new(),
        };
        vec![
            json!({"id": format!("scenario-{}", self.name), "appkey": appkey, "endpoint": self.endpoint, "what": what}),
        ]
    }
}

/// Reads `--scenarios`: codes and the words throttle, slow, reset, clock.
pub fn parse_name(text: &str) -> Result<String, String> {
    let name = text.trim().to_ascii_lowercase();
    if WORDS.contains(&name.as_str()) || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())) {
        return Ok(name);
    }
    Err(format!("`{text}` is not a scenario: write codes or throttle, slow, reset, clock, e.g. --scenarios 51003,slow"))
}

/// The scenarios for the endpoints the baseline called, in a stable order, and a note per
/// selected name that matched none of them.
pub fn plan(endpoints: &[String], catalogue: &Catalogue, selection: &Selection) -> (Vec<Scenario>, Vec<String>) {
    let mut all = Vec::new();
    for endpoint in endpoints {
        all.extend(for_endpoint(endpoint, catalogue, selection.slow));
    }
    if !endpoints.is_empty() {
        all.push(Scenario {
            name: "clock".into(),
            endpoint: None,
            code: Some(10020),
            retry: "permanent",
            setup: Setup::Clock,
        });
    }
    if selection.names.is_empty() {
        return (all, Vec::new());
    }
    let wanted = |s: &Scenario| selection.names.iter().any(|n| answers_to(s, n));
    let notes = selection
        .names
        .iter()
        .filter(|n| !all.iter().any(|s| answers_to(s, n)))
        .map(|n| format!("{n}: no endpoint the client called documents it; nothing to run"))
        .collect();
    (all.into_iter().filter(wanted).collect(), notes)
}

/// A scenario answers to its name and to its code (`10020` is the clock, `40029` throttling).
fn answers_to(scenario: &Scenario, name: &str) -> bool {
    scenario.name == name || (scenario.code.is_some_and(|c| c.to_string() == name) && scenario.name != "slow")
}

fn for_endpoint(endpoint: &str, catalogue: &Catalogue, slow: Duration) -> Vec<Scenario> {
    let documented = catalogue.documented(endpoint);
    let own = documented.iter().copied().filter(|&c| catalogue.is_own(c, endpoint));
    let gateway = GATEWAY_CODES.iter().copied().filter(|c| documented.contains(c));
    let mut scenarios: Vec<Scenario> = own
        .chain(gateway)
        .map(|code| Scenario {
            name: code.to_string(),
            endpoint: Some(endpoint.to_string()),
            code: Some(code),
            retry: if catalogue.retry(code, Some(endpoint)) == Some("retryable") { "retryable" } else { "permanent" },
            setup: Setup::Rule(json!({"code": code})),
        })
        .collect();
    let slow_ms = u64::try_from(slow.as_millis()).unwrap_or(u64::MAX);
    let retryable = |name: &str, code: Option<i64>, setup: Setup| Scenario {
        name: name.into(),
        endpoint: Some(endpoint.to_string()),
        code,
        retry: "retryable",
        setup,
    };
    // Every call refused, each with `Retry-After: 2`: a throttle rule (`throttle_rps`) lets
    // one call a second through, and a client's retry could be that one.
    scenarios.push(retryable("throttle", Some(THROTTLED), Setup::Rule(json!({"code": THROTTLED}))));
    scenarios.push(retryable("slow", Some(0), Setup::Rule(json!({"latency_ms": slow_ms}))));
    scenarios.push(retryable("reset", None, Setup::Rule(json!({"reset": "before"}))));
    scenarios
}

/// The endpoints a journal shows calls to, in order of first call.
pub fn endpoints_used(journal: &Journal) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for endpoint in journal.entries.iter().filter_map(|e| e.endpoint.as_ref()) {
        if !seen.contains(endpoint) {
            seen.push(endpoint.clone());
        }
    }
    seen
}

#[cfg(test)]
mod tests;
