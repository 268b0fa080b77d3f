//! The exploration in the text report and as JUnit testcases.

use std::fmt::Write;

use super::{Exploration, SHRINK_STEPS};
use crate::strategy::Answer;

/// Longest body printed in the text report; the JSON report has it whole.
const BODY_SHOWN: usize = 400;

pub(super) fn text(e: &Exploration, out: &mut String) {
    let endpoints: Vec<&str> = e.endpoints.keys().map(String::as_str).collect();
    let _ = writeln!(out, "\nexplore: {} run(s) of {} from seed {}", e.ran, e.runs, e.seed);
    if let Some(why) = &e.skipped {
        let _ = writeln!(out, "  skipped: {why}");
        return;
    }
    let _ = writeln!(out, "  answered: {}", endpoints.join(", "));
    let Some(b) = &e.broken else {
        let _ = writeln!(out, "  the command survived every answer");
        return;
    };
    let _ = writeln!(out, "  run {} broke the command; seed {} replays it", b.run, b.seed);
    let _ = writeln!(
        out,
        "  smallest answer that still breaks it ({}), after {} shrink step(s):",
        b.command, b.shrink_steps
    );
    for (endpoint, answer) in &b.smallest {
        let _ = writeln!(out, "    {endpoint}: {}", one_line(answer));
    }
    if b.shrink_bound_hit {
        let _ = writeln!(
            out,
            "  shrinking stopped at its bound of {SHRINK_STEPS} steps: a smaller answer may still break it"
        );
    }
    let _ = writeln!(out, "  replay: {}", b.replay);
}

/// `HTTP 200 {"code":0,…}`, cut at [`BODY_SHOWN`] characters.
fn one_line(answer: &Answer) -> String {
    let body = answer.body.to_string();
    let shown = match body.char_indices().nth(BODY_SHOWN) {
        Some((cut, _)) => format!("{}… ({} bytes; the JSON report has it whole)", &body[..cut], body.len()),
        None => body,
    };
    let how = if answer.code == 0 { "" } else { " (the emulator's documented body, request id echoed)" };
    format!("HTTP {} {shown}{how}", answer.status)
}

pub(super) fn junit_cases(e: &Exploration) -> Vec<(String, Option<String>)> {
    if let Some(why) = &e.skipped {
        return vec![("explore".into(), Some(format!("skipped: {why}")))];
    }
    (1..=e.ran)
        .map(|run| {
            let seed = e.seed.wrapping_add(u64::from(run - 1));
            let failure = e.broken.as_ref().filter(|b| b.run == run).map(|b| {
                let smallest: Vec<String> = b.smallest.iter().map(|(ep, a)| format!("{ep}: {}", one_line(a))).collect();
                format!("{}; smallest answer: {}; replay: {}", b.command, smallest.join("; "), b.replay)
            });
            (format!("explore run {run} (seed {seed})"), failure)
        })
        .collect()
}

/// `arg` as a shell reads it back: bare when it is plain, else in single quotes.
pub(super) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
