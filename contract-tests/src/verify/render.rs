//! The verification as a person reads it (a table with one row per behaviour), as JSON, and
//! as JUnit XML (one testcase per row; a skipped row is a `<skipped>` testcase).

use std::fmt::Write;

use super::{Outcome, Verification};
use crate::report::junit::escape;

impl Verification {
    /// The table, the counts and the verdict.
    pub fn text(&self) -> String {
        let mut out = format!("server: {}\n", self.url);
        if let Some(problem) = &self.problem {
            let _ = writeln!(out, "problem: {problem}\n\nFAIL");
            return out;
        }
        let _ = writeln!(out, "  {:<6} {:<16} {:<8} behaviour", "result", "endpoint", "expect");
        for row in &self.rows {
            let (mark, detail) = match &row.outcome {
                Outcome::Passed => ("pass", None),
                Outcome::Failed(why) => ("FAIL", Some(why)),
                Outcome::Skipped(why) => ("skip", Some(why)),
            };
            let _ = writeln!(out, "  {mark:<6} {:<16} {:<8} {}", row.endpoint, row.expect, row.behaviour);
            if let Some(detail) = detail {
                let _ = writeln!(out, "{:32}{detail}", "");
            }
        }
        let (passed, failed, skipped) = self.counts();
        let _ = writeln!(out, "\nrows: {passed} passed, {failed} failed, {skipped} skipped (not sent: see why)");
        out.push_str(if self.passed { "PASS\n" } else { "FAIL\n" });
        out
    }

    /// The same data as JSON: `url`, `rows` (`endpoint`, `expect`, `behaviour`, `result`,
    /// `detail`), `problem`, `passed`.
    pub fn json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"problem\": \"{e}\"}}"));
        text.push('\n');
        text
    }

    /// One testcase per row.
    pub fn junit(&self) -> String {
        let (_, failed, skipped) = self.counts();
        let failures = failed + usize::from(self.problem.is_some());
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites><testsuite name=\"contract-tests server\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
            self.rows.len() + usize::from(self.problem.is_some())
        );
        if let Some(problem) = &self.problem {
            let problem = escape(problem);
            let _ = writeln!(out, "  <testcase classname=\"server\" name=\"the suite ran\"><failure message=\"{problem}\">{problem}</failure></testcase>");
        }
        for row in &self.rows {
            let name = escape(&format!("{} {}: {}", row.endpoint, row.expect, row.behaviour));
            let _ = match &row.outcome {
                Outcome::Passed => writeln!(out, "  <testcase classname=\"server\" name=\"{name}\"/>"),
                Outcome::Failed(why) => {
                    let why = escape(why);
                    writeln!(out, "  <testcase classname=\"server\" name=\"{name}\"><failure message=\"{why}\">{why}</failure></testcase>")
                }
                Outcome::Skipped(why) => {
                    let why = escape(why);
                    writeln!(
                        out,
                        "  <testcase classname=\"server\" name=\"{name}\"><skipped message=\"{why}\"/></testcase>"
                    )
                }
            };
        }
        out.push_str("</testsuite></testsuites>\n");
        out
    }
}
