//! `contract-tests client -- COMMAND…` as a user runs it: the real binary, a real server on
//! port 0 inside it, and the Python clients of `tests/clients/` as real child processes.

use std::path::PathBuf;
use std::process::{Command, Output};

use rstest::rstest;
use serde_json::Value;

/// A checked run: the exit status, what was printed, and the JSON report.
pub(crate) struct Checked {
    pub status: Option<i32>,
    pub stdout: String,
    pub report: Value,
}

fn clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("clients")
}

/// Fails the test, saying what to do, when there is no python3 on PATH.
pub(crate) fn require_python() {
    let probe = Command::new("python3").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "python3 is not on PATH: these tests run the Python clients in contract-tests/tests/clients with it; install python 3"
    );
}

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_contract-tests"))
        .args(args)
        .current_dir(clients())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the contract-tests binary: {e}"))
}

/// Runs `contract-tests client OPTIONS --format json --output FILE -- COMMAND`.
fn check(options: &[&str], command: &[&str]) -> Checked {
    let dir = std::env::temp_dir().join(format!("contract-tests-client-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("report.json");
    let file_arg = file.to_string_lossy().to_string();
    let mut args = vec!["client", "--format", "json", "--output", &file_arg];
    args.extend_from_slice(options);
    args.push("--");
    args.extend_from_slice(command);
    let output = run(&args);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let report = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    Checked { status: output.status.code(), stdout, report }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn python_client(script: &str, options: &[&str]) -> Checked {
    require_python();
    check(options, &["python3", script])
}

#[test]
fn a_correct_client_passes() {
    let checked = python_client("correct.py", &[]);
    assert_eq!(checked.status, Some(0), "{}", checked.stdout);
    assert_eq!(checked.report["passed"], true);
    let endpoints: Vec<(&str, u64)> = checked.report["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| (e["endpoint"].as_str().unwrap_or_default(), e["accepted"].as_u64().unwrap_or_default()))
        .collect();
    assert_eq!(endpoints, [("face_quality", 1), ("hat", 1)]);
    assert!(checked.stdout.contains("violations: 0") && checked.stdout.ends_with("PASS\n"), "{}", checked.stdout);
}

#[rstest]
#[case::signs_a_reserialised_body("reserialised_body.py", 10020, "signature", "never re-serialise after signing")]
#[case::uses_utc_for_eop_date("utc_date.py", 10020, "signature", "it looks like UTC")]
#[case::sends_data_urls("data_url.py", 4003, "capability", "data: url prefix")]
#[case::sends_image_content_to_hard_hat("hat_image_content.py", 4001, "capability", "keys sent: imageContent")]
fn a_client_with_a_bug_fails_with_the_bug_named(
    #[case] script: &str,
    #[case] code: i64,
    #[case] check: &str,
    #[case] named: &str,
) {
    let checked = python_client(script, &[]);
    assert_eq!(checked.status, Some(1), "{}", checked.stdout);
    let violations = checked.report["violations"].as_array().expect("violations");
    assert_eq!(violations.len(), 1, "{violations:?}");
    let v = &violations[0];
    assert_eq!(
        (v["endpoint"].as_str(), v["code"].as_i64(), v["check"].as_str()),
        (Some("hat"), Some(code), Some(check))
    );
    assert!(v["reason"].as_str().is_some_and(|r| r.contains(named)), "{v}");
    assert!(checked.stdout.contains(named), "the text report names the bug:\n{}", checked.stdout);
}

#[test]
fn a_client_never_shown_51003_fails_under_require() {
    let checked = python_client("correct.py", &["--require", "51003,10020"]);
    assert_eq!(checked.status, Some(1), "{}", checked.stdout);
    assert_eq!(
        checked.report["required"],
        serde_json::json!([{"code": 51003, "shown": false}, {"code": 10020, "shown": false}])
    );
    assert!(checked.stdout.contains("required code 51003 was never shown to the client"), "{}", checked.stdout);
}

#[test]
fn junit_lists_each_violation_as_a_failed_testcase() {
    require_python();
    let output = run(&["client", "--format", "junit", "--", "python3", "utc_date.py"]);
    let xml = String::from_utf8_lossy(&output.stdout);
    assert!(xml.contains(r#"<testcase classname="contract" name="violation: hat 10020 request "#), "{xml}");
    assert!(xml.contains("it looks like UTC"), "{xml}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_command_that_cannot_start_gets_a_report() {
    let checked = check(&[], &["./no-such-client"]);
    assert_eq!(checked.status, Some(1));
    assert_eq!(checked.report["command"]["outcome"], "not_started");
    assert!(checked.stdout.contains("cannot start `./no-such-client`"), "{}", checked.stdout);
}

#[test]
fn a_hanging_command_is_killed_after_the_timeout_and_the_report_says_so() {
    require_python();
    let checked = check(&["--timeout", "1s"], &["python3", "-c", "import time; time.sleep(60)"]);
    assert_eq!(checked.status, Some(1));
    assert_eq!(checked.report["command"]["message"], "killed after 1s (--timeout): it did not finish");
    assert!(checked.report["command"]["elapsed_ms"].as_u64().is_some_and(|ms| ms < 30_000));
}

#[test]
fn a_command_that_never_calls_the_server_fails_with_that_said() {
    require_python();
    let checked = check(&[], &["python3", "-c", "pass"]);
    assert_eq!(checked.status, Some(1));
    let problems = &checked.report["problems"];
    assert_eq!(problems[0], "the command made no request to the emulator: send its calls to MOCK_URL");
}

#[test]
fn a_bad_option_is_refused_with_how_to_write_it() {
    let output = run(&["client", "--timeout", "soon", "--", "true"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`soon` is not a duration: write e.g. 90s, 10m or 1h"), "{stderr}");
    let output = run(&["client"]);
    assert_eq!(output.status.code(), Some(2), "a command is required");
}
