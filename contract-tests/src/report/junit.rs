//! The report as JUnit XML: one testcase per check, so a CI dashboard lists each — the
//! command, each violation, each required code, each scenario, each lint under `--strict`.

use std::fmt::Write;

use super::Report;

/// One testcase: its name and, when it failed, the message.
struct Case {
    name: String,
    failure: Option<String>,
}

pub(super) fn render(report: &Report) -> String {
    let cases = cases(report);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"contract-tests client\" tests=\"{}\" failures=\"{failures}\">",
        cases.len()
    );
    for case in &cases {
        let name = escape(&case.name);
        match &case.failure {
            None => {
                let _ = writeln!(out, "  <testcase classname=\"contract\" name=\"{name}\"/>");
            }
            Some(message) => {
                let message = escape(message);
                let _ = writeln!(
                    out,
                    "  <testcase classname=\"contract\" name=\"{name}\"><failure message=\"{message}\">{message}</failure></testcase>"
                );
            }
        }
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}

fn cases(report: &Report) -> Vec<Case> {
    let mut cases = Vec::new();
    if let Some(run) = &report.command {
        let failure = (!run.succeeded()).then(|| run.message.clone());
        cases.push(Case { name: format!("command: {}", run.argv.join(" ")), failure });
    }
    for problem in &report.problems {
        cases.push(Case { name: "the check ran".into(), failure: Some(problem.clone()) });
    }
    let failure = (!report.violations.is_empty()).then(|| format!("{} violation(s)", report.violations.len()));
    cases.push(Case { name: "requests conform to the contract".into(), failure });
    for v in &report.violations {
        let name = format!("violation: {} {} request {}", v.endpoint, v.code, v.request_id);
        cases.push(Case { name, failure: Some(format!("{}: {}; fix: {}", v.check, v.reason, v.fix)) });
    }
    for r in &report.required {
        let failure = (!r.shown).then(|| format!("{} was never shown to the client", r.code));
        cases.push(Case { name: format!("required code {}", r.code), failure });
    }
    for s in report.scenarios.iter().flat_map(|s| &s.ran) {
        let problems = s.problem.iter().map(|p| format!("could not run: {p}"));
        let why: Vec<String> =
            problems.chain(s.violations.iter().map(|v| format!("{}: {}", v.kind, v.message))).collect();
        let failure = (!why.is_empty()).then(|| why.join("; "));
        cases.push(Case { name: format!("scenario {} on {}", s.name, s.endpoint), failure });
    }
    if let Some(exploration) = &report.explore {
        cases.extend(exploration.junit_cases().into_iter().map(|(name, failure)| Case { name, failure }));
    }
    if report.strict {
        for l in &report.lints {
            let failure = Some(format!("{} ×{} ({}): {}; fix: {}", l.id, l.count, l.manual, l.message, l.fix));
            cases.push(Case { name: format!("lint {}", l.id), failure });
        }
    }
    cases
}

/// Escapes text for an XML attribute or element.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
