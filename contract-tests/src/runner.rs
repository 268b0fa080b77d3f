//! `contract-tests client -- COMMAND…`: starts the emulator, runs the user's command
//! against it with the credentials in its environment, waits (killing it after the
//! timeout), reads the journal and builds the report. Every way this can go wrong ends in
//! a report that says so, never a panic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::harness::{control, fresh_account, read_journal, Account, Harness};
use crate::journal::{Catalogue, Journal};
use crate::report::{Checks, CommandRun, Report};
use crate::scenarios::{self, Scenario, ScenarioResult, Scenarios, Selection, Setup};

/// What `contract-tests client` was asked to do.
#[derive(Debug, Clone)]
pub struct ClientRun {
    pub command: Vec<String>,
    pub checks: Checks,
    pub timeout: Duration,
    /// A server configuration (TOML) to start the emulator with.
    pub config: Option<PathBuf>,
    /// `--scenarios`: run COMMAND again under each documented failure.
    pub scenarios: Option<Selection>,
}

/// Runs the check and returns its report.
pub async fn run(options: &ClientRun) -> Report {
    let config = match &options.config {
        None => mock_server::Config::default(),
        Some(path) => match mock_server::Config::load(path) {
            Ok(config) => config,
            Err(e) => return Report::problem(format!("--config: {e}"), &options.checks),
        },
    };
    let harness = match Harness::try_start(config).await {
        Ok(harness) => harness,
        Err(e) => return Report::problem(format!("cannot start the emulator: {e}"), &options.checks),
    };
    let command = run_command(&options.command, &harness.url(), harness.account(), options.timeout).await;
    let verdict = match Catalogue::builtin() {
        Ok(catalogue) => read_journal(harness.addr(), harness.ak()).await.map(|j| (j, catalogue)),
        Err(e) => Err(e),
    };
    let (journal, catalogue) = match verdict {
        Ok(found) => found,
        Err(e) => return Report::problem(e, &options.checks).with_command(command),
    };
    let report = Report::build(&journal, &catalogue, &options.checks).with_command(command);
    match &options.scenarios {
        None => report,
        Some(selection) => {
            let scenarios = run_scenarios(options, selection, &harness, &journal, &catalogue, report.passed).await;
            report.with_scenarios(scenarios)
        }
    }
}

/// Runs COMMAND once per scenario of the endpoints the baseline called; none when the
/// baseline failed (its failures would hide what the scenarios show).
async fn run_scenarios(
    options: &ClientRun,
    selection: &Selection,
    harness: &Harness,
    baseline: &Journal,
    catalogue: &Catalogue,
    baseline_passed: bool,
) -> Scenarios {
    let slow_ms = u64::try_from(selection.slow.as_millis()).unwrap_or(u64::MAX);
    if !baseline_passed {
        let note = "not run: the baseline run failed; make it pass first".to_string();
        return Scenarios { slow_ms, ran: Vec::new(), notes: vec![note] };
    }
    let (planned, notes) = scenarios::plan(&scenarios::endpoints_used(baseline), catalogue, selection);
    let mut ran = Vec::with_capacity(planned.len());
    for scenario in &planned {
        ran.push(run_scenario(options, harness, scenario).await);
    }
    Scenarios { slow_ms, ran, notes }
}

/// One scenario on a fresh account: the failure set up, COMMAND run, the journal judged.
async fn run_scenario(options: &ClientRun, harness: &Harness, scenario: &Scenario) -> ScenarioResult {
    let addr = harness.addr();
    let prepared = match fresh_account(addr).await {
        Ok(account) => prepare(addr, &account, scenario).await.map(|()| account),
        Err(e) => Err(e),
    };
    let account = match prepared {
        Ok(account) => account,
        Err(e) => return ScenarioResult::problem(scenario, e),
    };
    let command = run_command(&options.command, &harness.url(), &account, options.timeout).await;
    match read_journal(addr, &account.ak).await {
        Ok(journal) => scenarios::analyse(scenario, &journal, command),
        Err(e) => ScenarioResult { command, ..ScenarioResult::problem(scenario, e) },
    }
}

/// Arms the scenario's rules or moves the account's clock.
async fn prepare(addr: SocketAddr, account: &Account, scenario: &Scenario) -> Result<(), String> {
    for rule in scenario.rules(&account.appkey) {
        let (status, answer) = control(addr, "POST", &format!("accounts/{}/rules", account.ak), Some(rule)).await?;
        if status != 201 {
            return Err(format!("the scenario's rule was refused ({status}): {answer}"));
        }
    }
    if scenario.setup == Setup::Clock {
        let path = format!("accounts/{}/clock", account.ak);
        let advance = serde_json::json!({ "advance": scenarios::CLOCK_JUMP });
        let (status, answer) = control(addr, "POST", &path, Some(advance)).await?;
        if status != 200 {
            return Err(format!("cannot move the account's clock ({status}): {answer}"));
        }
    }
    Ok(())
}

/// Runs `argv` with `MOCK_URL`, `MOCK_AK`, `MOCK_SK` and `MOCK_APPKEY` set, its output
/// passed through, and kills it after `timeout`.
pub(crate) async fn run_command(argv: &[String], url: &str, account: &Account, timeout: Duration) -> CommandRun {
    let started = Instant::now();
    let mut run = CommandRun {
        argv: argv.to_vec(),
        outcome: "not_started".into(),
        exit_code: None,
        message: String::new(),
        elapsed_ms: 0,
    };
    let Some((program, args)) = argv.split_first() else {
        run.message = "no command: give it after `--`, e.g. `contract-tests client -- pytest`".into();
        return run;
    };
    let spawned = Command::new(program)
        .args(args)
        .env("MOCK_URL", url)
        .env("MOCK_AK", &account.ak)
        .env("MOCK_SK", &account.sk)
        .env("MOCK_APPKEY", &account.appkey)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            run.message = format!("cannot start `{program}`: {e}; check the command after `--` and PATH");
            return run;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => describe_exit(&mut run, status),
        Ok(Err(e)) => {
            run.outcome = "lost".into();
            run.message = format!("cannot wait for `{program}`: {e}");
        }
        Err(_) => {
            let _ = child.kill().await;
            run.outcome = "timed_out".into();
            run.message = format!("killed after {} (--timeout): it did not finish", human(timeout));
        }
    }
    run.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    run
}

fn describe_exit(run: &mut CommandRun, status: std::process::ExitStatus) {
    run.exit_code = status.code();
    if let Some(code) = status.code() {
        run.outcome = "exited".into();
        run.message = format!("exited with {code}");
        return;
    }
    run.outcome = "signalled".into();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        run.message = format!("killed by signal {}", status.signal().unwrap_or_default());
    }
    #[cfg(not(unix))]
    {
        run.message = "ended without an exit code".into();
    }
}

/// `10m`, `90s` or `1500ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// Reads `--timeout`: a number with `ms`, `s`, `m` or `h`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match mock_server::parse_duration_ms(text) {
        Some(ms) if ms > 0 => Ok(Duration::from_millis(ms.unsigned_abs())),
        _ => Err(format!("`{text}` is not a duration: write e.g. 90s, 10m or 1h")),
    }
}

/// Reads `--slow`: a number with `ms`, `s`, `m` or `h`.
pub fn parse_slow(text: &str) -> Result<Duration, String> {
    parse_timeout(text).map_err(|_| format!("`{text}` is not a duration: write e.g. --slow 12s or --slow 1500ms"))
}

/// Reads one name of `--scenarios`.
pub fn parse_scenario(text: &str) -> Result<String, String> {
    scenarios::parse_name(text)
}

/// Reads one code of `--require` (codes separated by commas).
pub fn parse_code(text: &str) -> Result<i64, String> {
    text.trim().parse().map_err(|_| format!("`{text}` is not a code: write e.g. --require 51003,5000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_codes_parse_or_say_how_to_write_them() {
        assert_eq!(parse_timeout("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_timeout("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("soon"), Err("`soon` is not a duration: write e.g. 90s, 10m or 1h".into()));
        assert_eq!(parse_timeout("0s"), Err("`0s` is not a duration: write e.g. 90s, 10m or 1h".into()));
        assert_eq!(parse_code(" 51003"), Ok(51003));
        assert_eq!(parse_code("x"), Err("`x` is not a code: write e.g. --require 51003,5000".into()));
        assert_eq!(
            (human(Duration::from_secs(600)), human(Duration::from_millis(1500))),
            ("10m".into(), "1500ms".into())
        );
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_is_reported_not_panicked() {
        let harness = Harness::start().await;
        let argv = vec!["/nonexistent/client-under-test".to_string()];
        let run = run_command(&argv, &harness.url(), harness.account(), Duration::from_secs(5)).await;
        assert_eq!(run.outcome, "not_started");
        assert!(run.message.starts_with("cannot start `/nonexistent/client-under-test`: "), "{}", run.message);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_and_that_is_said() {
        let harness = Harness::start().await;
        let argv: Vec<String> = ["sleep", "30"].map(String::from).to_vec();
        let run = run_command(&argv, &harness.url(), harness.account(), Duration::from_millis(300)).await;
        assert_eq!(
            (run.outcome.as_str(), run.message.as_str()),
            ("timed_out", "killed after 300ms (--timeout): it did not finish")
        );
        assert!(run.elapsed_ms < 10_000, "{}", run.elapsed_ms);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_command_sees_the_credentials_in_its_environment() {
        let harness = Harness::start().await;
        let script =
            r#"test "$MOCK_URL" = "$1" && test "$MOCK_AK" = "$2" && test -n "$MOCK_SK" && test "$MOCK_APPKEY" = "$3""#;
        let argv: Vec<String> =
            ["sh", "-c", script, "sh", &harness.url(), harness.ak(), harness.appkey()].map(String::from).to_vec();
        let run = run_command(&argv, &harness.url(), harness.account(), Duration::from_secs(10)).await;
        assert_eq!(run.message, "exited with 0");
    }
}
