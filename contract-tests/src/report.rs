//! The verdict on a client, built from the server's journal and the error catalogue: what
//! it called, the requests the real service would refuse (violations), the lints, and
//! which documented codes it was shown. Rendered as text, JSON or JUnit XML (`render`).

pub(crate) mod junit;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::journal::{Catalogue, Entry, Journal, Verdict};
use crate::scenarios::Scenarios;

/// Request ids kept per lint as examples.
const LINT_EXAMPLES: usize = 3;

/// What to check beyond violations.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Codes the client must have been shown (`--require`).
    pub require: Vec<i64>,
    /// Lints fail the check (`--strict`).
    pub strict: bool,
}

/// The report: the same data in every format.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The command run, when there was one (the `client` command; not the `Harness`).
    pub command: Option<CommandRun>,
    pub requests: u64,
    pub dropped: u64,
    pub endpoints: Vec<EndpointUse>,
    pub violations: Vec<Violation>,
    pub lints: Vec<LintUse>,
    pub coverage: Vec<Coverage>,
    pub required: Vec<Required>,
    /// `--scenarios`: the client under each documented failure (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<Scenarios>,
    pub strict: bool,
    /// What stopped the check itself (no emulator, unreadable journal, no requests).
    pub problems: Vec<String>,
    /// What `--explore` found (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explore: Option<crate::explore::Exploration>,
    /// Why the check failed, one line each; empty when it passed.
    pub failures: Vec<String>,
    pub passed: bool,
}

/// How the user's command ended.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRun {
    pub argv: Vec<String>,
    /// `exited`, `signalled`, `timed_out` or `not_started`.
    pub outcome: String,
    pub exit_code: Option<i32>,
    /// One line for a person.
    pub message: String,
    pub elapsed_ms: u64,
}

impl CommandRun {
    pub fn succeeded(&self) -> bool {
        self.outcome == "exited" && self.exit_code == Some(0)
    }
}

/// One endpoint the client called (or `unknown route` for paths that are no endpoint's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointUse {
    pub endpoint: String,
    pub requests: u64,
    pub accepted: u64,
    /// Natural refusals, by code.
    pub refused: BTreeMap<i64, u64>,
    /// Answers forced or injected on purpose, by code.
    pub injected: BTreeMap<i64, u64>,
}

/// A request the real service would refuse because of the request itself.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub seq: u64,
    pub request_id: String,
    pub endpoint: String,
    pub code: i64,
    pub check: String,
    pub reason: String,
    pub fix: String,
}

/// One lint and the requests that raised it.
#[derive(Debug, Clone, Serialize)]
pub struct LintUse {
    pub id: String,
    pub message: String,
    pub manual: String,
    pub fix: String,
    pub count: u64,
    pub request_ids: Vec<String>,
}

/// Which documented codes of an endpoint the client was shown.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub endpoint: String,
    pub shown: Vec<i64>,
    pub never: Vec<i64>,
}

/// A code named in `--require`.
#[derive(Debug, Clone, Serialize)]
pub struct Required {
    pub code: i64,
    pub shown: bool,
}

/// The label of requests whose path is no endpoint's.
pub const UNKNOWN_ROUTE: &str = "unknown route";

impl Report {
    /// The report on a journal; `command` and `problems` are added by the caller.
    pub fn build(journal: &Journal, catalogue: &Catalogue, checks: &Checks) -> Report {
        let entries = &journal.entries;
        let shown: BTreeSet<i64> = entries.iter().map(|e| e.code).collect();
        let mut report = Report {
            requests: journal.recorded.max(entries.len() as u64),
            dropped: journal.dropped,
            endpoints: endpoints(entries),
            violations: entries.iter().filter_map(|e| violation(e, catalogue)).collect(),
            lints: lints(entries),
            coverage: coverage(entries, catalogue),
            required: checks.require.iter().map(|&code| Required { code, shown: shown.contains(&code) }).collect(),
            strict: checks.strict,
            ..Report::default()
        };
        report.conclude();
        report
    }

    /// A report with no journal behind it: the check itself could not run.
    pub fn problem(message: String, checks: &Checks) -> Report {
        let mut report = Report { problems: vec![message], strict: checks.strict, ..Report::default() };
        report.required = checks.require.iter().map(|&code| Required { code, shown: false }).collect();
        report.conclude();
        report
    }

    /// Records the command's outcome (and the case of a command that never called).
    pub fn with_command(mut self, run: CommandRun) -> Report {
        if self.problems.is_empty() && self.requests == 0 && run.outcome != "not_started" {
            self.problems.push("the command made no request to the emulator: send its calls to MOCK_URL".into());
        }
        self.command = Some(run);
        self.conclude();
        self
    }

    /// Adds what the scenario runs found.
    pub fn with_scenarios(mut self, scenarios: Scenarios) -> Report {
        self.scenarios = Some(scenarios);
        self.conclude();
        self
    }

    /// Adds what `--explore` found.
    pub fn with_exploration(mut self, exploration: crate::explore::Exploration) -> Report {
        self.explore = Some(exploration);
        self.conclude();
        self
    }

    /// Fills `failures` and `passed` from the rest.
    pub fn conclude(&mut self) {
        let mut failures = Vec::new();
        if let Some(run) = self.command.as_ref().filter(|r| !r.succeeded()) {
            failures.push(format!("command: {}", run.message));
        }
        failures.extend(self.problems.iter().cloned());
        if !self.violations.is_empty() {
            failures.push(format!("{} violation(s)", self.violations.len()));
        }
        for r in self.required.iter().filter(|r| !r.shown) {
            failures.push(format!("required code {} was never shown to the client", r.code));
        }
        if self.strict && !self.lints.is_empty() {
            let ids: Vec<&str> = self.lints.iter().map(|l| l.id.as_str()).collect();
            failures.push(format!("lints under --strict: {}", ids.join(", ")));
        }
        for s in self.scenarios.iter().flat_map(|s| &s.ran) {
            let problems = s.problem.iter().map(|p| format!("could not run: {p}"));
            for why in problems.chain(s.violations.iter().map(|v| format!("{}: {}", v.kind, v.message))) {
                failures.push(format!("scenario {} on {}: {why}", s.name, s.endpoint));
            }
        }
        failures.extend(self.explore.as_ref().and_then(crate::explore::Exploration::failure));
        self.passed = failures.is_empty();
        self.failures = failures;
    }

    /// The report as text for a terminal or a CI log.
    pub fn text(&self) -> String {
        text::render(self)
    }

    /// The report as JUnit XML: one testcase per check.
    pub fn junit(&self) -> String {
        junit::render(self)
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn label(entry: &Entry) -> String {
    entry.endpoint.clone().unwrap_or_else(|| UNKNOWN_ROUTE.to_string())
}

fn endpoints(entries: &[Entry]) -> Vec<EndpointUse> {
    let mut by_endpoint: BTreeMap<String, EndpointUse> = BTreeMap::new();
    for entry in entries {
        let name = label(entry);
        let slot =
            by_endpoint.entry(name.clone()).or_insert_with(|| EndpointUse { endpoint: name, ..Default::default() });
        slot.requests += 1;
        match entry.verdict {
            Verdict::Accepted => slot.accepted += 1,
            Verdict::Refused => *slot.refused.entry(entry.code).or_default() += 1,
            Verdict::Forced | Verdict::Injected => *slot.injected.entry(entry.code).or_default() += 1,
        }
    }
    by_endpoint.into_values().collect()
}

/// A natural refusal whose code the catalogue blames on the request.
fn violation(entry: &Entry, catalogue: &Catalogue) -> Option<Violation> {
    if entry.verdict != Verdict::Refused || catalogue.cause(entry.code, entry.endpoint.as_deref()) != Some("request") {
        return None;
    }
    let check = entry.check.clone().unwrap_or_else(|| "unknown".into());
    Some(Violation {
        seq: entry.seq,
        request_id: entry.request_id.clone().unwrap_or_else(|| "(none)".into()),
        endpoint: label(entry),
        code: entry.code,
        fix: fix(&check).to_string(),
        check,
        reason: entry.reason.clone().unwrap_or_default(),
    })
}

/// The one-line fix for a refusal by `check`; the server's reason gives the particulars.
fn fix(check: &str) -> &'static str {
    match check {
        "request_type" => "send a POST with Content-Type: application/json",
        "route" => "call the endpoint's documented path (the manual's API list) under MOCK_URL",
        "signature" => {
            "sign the exact body bytes you send, with eop-date in Beijing time and the header values you send"
        }
        "appkey" => "send the app's key (MOCK_APPKEY) in the appkey header",
        "ip" => "call from an address the app and the API allow",
        "capability" => {
            "send the body the endpoint documents: its key names, base64 of a supported image, within the limits"
        }
        _ => "see the reason and docs/client-contract.md",
    }
}

fn lints(entries: &[Entry]) -> Vec<LintUse> {
    let mut by_id: BTreeMap<String, LintUse> = BTreeMap::new();
    for entry in entries {
        for lint in &entry.lints {
            let slot = by_id.entry(lint.id.clone()).or_insert_with(|| LintUse {
                id: lint.id.clone(),
                message: lint.message.clone(),
                manual: lint.manual.clone(),
                fix: lint.fix.clone(),
                count: 0,
                request_ids: Vec::new(),
            });
            slot.count += 1;
            if slot.request_ids.len() < LINT_EXAMPLES {
                slot.request_ids.push(entry.request_id.clone().unwrap_or_else(|| "(none)".into()));
            }
        }
    }
    by_id.into_values().collect()
}

fn coverage(entries: &[Entry], catalogue: &Catalogue) -> Vec<Coverage> {
    let mut shown: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for entry in entries {
        if let Some(endpoint) = entry.endpoint.as_deref() {
            let codes = shown.entry(endpoint).or_default();
            if entry.code != 0 {
                codes.insert(entry.code);
            }
        }
    }
    shown
        .into_iter()
        .map(|(endpoint, codes)| {
            let documented = catalogue.documented(endpoint);
            let never = documented.iter().copied().filter(|c| !codes.contains(c)).collect();
            Coverage { endpoint: endpoint.to_string(), shown: codes.into_iter().collect(), never }
        })
        .collect()
}

#[cfg(test)]
mod tests;
