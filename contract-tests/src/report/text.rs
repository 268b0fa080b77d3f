//! The report as text: fits an 100-column terminal and reads top to bottom in a CI log.

use std::fmt::Write;

use super::{Coverage, EndpointUse, Report};

/// Violations shown per report; the JSON and JUnit formats list them all.
const VIOLATIONS_SHOWN: usize = 20;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    command(&mut out, report);
    endpoints(&mut out, &report.endpoints);
    violations(&mut out, report);
    lints(&mut out, report);
    coverage(&mut out, &report.coverage);
    required(&mut out, report);
    scenarios(&mut out, report);
    if let Some(exploration) = &report.explore {
        exploration.text(&mut out);
    }
    verdict(&mut out, report);
    out
}

fn command(out: &mut String, report: &Report) {
    if let Some(run) = &report.command {
        let _ = writeln!(out, "command: {}", run.argv.join(" "));
        let _ = writeln!(out, "  {} ({:.1} s)", run.message, run.elapsed_ms as f64 / 1000.0);
    }
    let _ = writeln!(out, "requests: {}", report.requests);
    if report.dropped > 0 {
        let _ = writeln!(
            out,
            "  the journal dropped the oldest {}; raise journal_capacity with --config to see them all",
            report.dropped
        );
    }
    for problem in &report.problems {
        let _ = writeln!(out, "problem: {problem}");
    }
}

fn endpoints(out: &mut String, endpoints: &[EndpointUse]) {
    if endpoints.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nendpoints");
    let _ = writeln!(out, "  {:<16} {:>8} {:>8}  refused (code×n)", "endpoint", "requests", "accepted");
    for e in endpoints {
        let mut refused = counts(&e.refused);
        if !e.injected.is_empty() {
            refused.push_str(&format!("  injected {}", counts(&e.injected)));
        }
        let _ = writeln!(out, "  {:<16} {:>8} {:>8}  {}", e.endpoint, e.requests, e.accepted, refused.trim());
    }
}

fn counts(by_code: &std::collections::BTreeMap<i64, u64>) -> String {
    let parts: Vec<String> = by_code.iter().map(|(code, n)| format!("{code}×{n}")).collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

fn violations(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\nviolations: {}", report.violations.len());
    for v in report.violations.iter().take(VIOLATIONS_SHOWN) {
        let _ = writeln!(out, "  ✗ {} {} {} (request {})", v.endpoint, v.code, v.check, v.request_id);
        if !v.reason.is_empty() {
            let _ = writeln!(out, "      why: {}", v.reason);
        }
        let _ = writeln!(out, "      fix: {}", v.fix);
    }
    if report.violations.len() > VIOLATIONS_SHOWN {
        let more = report.violations.len() - VIOLATIONS_SHOWN;
        let _ = writeln!(out, "  … and {more} more (--format json lists them all)");
    }
}

fn lints(out: &mut String, report: &Report) {
    let kind = if report.strict { "failures under --strict" } else { "warnings" };
    let _ = writeln!(out, "\nlints ({kind}): {}", report.lints.len());
    for l in &report.lints {
        let _ = writeln!(out, "  ! {} ×{} ({}): {}", l.id, l.count, l.manual, l.message);
        if !l.fix.is_empty() {
            let _ = writeln!(out, "      fix: {}", l.fix);
        }
        let _ = writeln!(out, "      e.g. request {}", l.request_ids.join(", "));
    }
}

fn coverage(out: &mut String, coverage: &[Coverage]) {
    if coverage.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ncoverage: documented codes the client was shown");
    for c in coverage {
        let _ = writeln!(out, "  {}: shown {} of {}", c.endpoint, c.shown.len(), c.shown.len() + c.never.len());
        let _ = writeln!(out, "      shown: {}", list(&c.shown));
        let _ = writeln!(out, "      never: {}", list(&c.never));
    }
}

fn list(codes: &[i64]) -> String {
    if codes.is_empty() {
        return "-".into();
    }
    codes.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
}

fn required(out: &mut String, report: &Report) {
    if report.required.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nrequired codes");
    for r in &report.required {
        let mark = if r.shown { "✓ shown" } else { "✗ never shown: make a test that gets it (see `arm` rules)" };
        let _ = writeln!(out, "  {} {mark}", r.code);
    }
}

fn scenarios(out: &mut String, report: &Report) {
    let Some(scenarios) = &report.scenarios else { return };
    let _ = writeln!(out, "\nscenarios: {} run (slow = {} ms)", scenarios.ran.len(), scenarios.slow_ms);
    for note in &scenarios.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    for s in &scenarios.ran {
        let mark = if s.violations.is_empty() && s.problem.is_none() { "✓" } else { "✗" };
        let _ = writeln!(out, "  {mark} {} on {} ({}): {}", s.name, s.endpoint, s.retry, s.command.message);
        if let Some(problem) = &s.problem {
            let _ = writeln!(out, "      could not run: {problem}");
        } else if !s.met {
            let _ = writeln!(out, "      the client never met the failure");
        } else {
            let spacing: Vec<String> = s.spacing_ms.iter().map(|ms| format!("{ms} ms")).collect();
            let spacing = if spacing.is_empty() { "-".into() } else { spacing.join(", ") };
            let _ = writeln!(
                out,
                "      after the failure: {} call(s), {} retry(ies), spaced {spacing}",
                s.calls_after, s.retries
            );
        }
        for v in &s.violations {
            let _ = writeln!(out, "      {}: {}", v.kind, v.message);
        }
    }
}

fn verdict(out: &mut String, report: &Report) {
    if report.passed {
        let _ = writeln!(out, "\nPASS");
        return;
    }
    let _ = writeln!(out, "\nFAIL");
    for failure in &report.failures {
        let _ = writeln!(out, "  - {failure}");
    }
}
