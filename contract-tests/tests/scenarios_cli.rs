//! `contract-tests client --scenarios` as a user runs it: the real binary, the Python
//! clients of `tests/clients/` run again under each failure, and what the report says of
//! their retries. Subsets and a short `--slow` keep each run to seconds.

use contract_tests::fixtures;
use serde_json::{json, Value};

use crate::client_cli::{python_client, require_python, run, Checked};
use crate::util::{image_body, start};

/// `(name, endpoint, met, violation kinds)` of each scenario run.
fn scenarios(checked: &Checked) -> Vec<(String, String, bool, Vec<String>)> {
    let ran = checked.report["scenarios"]["ran"].as_array().cloned().unwrap_or_default();
    ran.iter()
        .map(|s| {
            let kinds = s["violations"].as_array().into_iter().flatten();
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["endpoint"].as_str().unwrap_or_default().to_string(),
                s["met"].as_bool().unwrap_or_default(),
                kinds.map(|v| v["kind"].as_str().unwrap_or_default().to_string()).collect(),
            )
        })
        .collect()
}

fn row(name: &str, endpoint: &str, met: bool, kinds: &[&str]) -> (String, String, bool, Vec<String>) {
    (name.into(), endpoint.into(), met, kinds.iter().map(|k| k.to_string()).collect())
}

#[test]
fn the_correct_client_passes_every_scenario_it_is_run_under() {
    let options = ["--scenarios", "51003,5000,throttle,slow,reset,clock", "--slow", "300ms"];
    let checked = python_client("correct.py", &options);
    assert_eq!(checked.status, Some(0), "{}", checked.stdout);
    let want = [
        row("51003", "hat", true, &[]),
        row("throttle", "hat", true, &[]),
        row("slow", "hat", true, &[]),
        row("reset", "hat", true, &[]),
        row("5000", "face_quality", true, &[]),
        row("51003", "face_quality", true, &[]),
        row("throttle", "face_quality", true, &[]),
        row("slow", "face_quality", true, &[]),
        row("reset", "face_quality", true, &[]),
        row("clock", "all", true, &[]),
    ];
    assert_eq!(scenarios(&checked), want, "{}", checked.stdout);
    let ran = &checked.report["scenarios"]["ran"];
    let throttle = &ran[1];
    assert_eq!((throttle["retries"].as_u64(), &throttle["command"]["exit_code"]), (Some(1), &json!(1)));
    assert!(throttle["spacing_ms"][0].as_i64().is_some_and(|ms| ms >= 2000), "backs off 2 s: {throttle}");
    assert_eq!(ran[0]["retries"], 0, "gives up on a permanent code: {}", ran[0]);
    assert!(checked.stdout.contains("scenarios: 10 run (slow = 300 ms)") && checked.stdout.ends_with("PASS\n"));
}

#[test]
fn a_client_that_retries_51003_fails_with_permanent_retried() {
    let checked = python_client("retry_51003.py", &["--scenarios", "51003"]);
    assert_eq!(checked.status, Some(1), "{}", checked.stdout);
    assert_eq!(checked.report["violations"], json!([]), "the baseline run is clean");
    assert_eq!(scenarios(&checked), [row("51003", "hat", true, &["permanent-retried"])]);
    let s = &checked.report["scenarios"]["ran"][0];
    assert_eq!((s["calls_after"].as_u64(), s["retries"].as_u64()), (Some(2), Some(2)), "{s}");
    let named = "scenario 51003 on hat: permanent-retried: 51003 is permanent, yet the same request was sent 2 more \
                 time(s): give up and report it";
    assert_eq!(checked.report["failures"], json!([named]));
    assert!(checked.stdout.contains(named), "{}", checked.stdout);
}

#[test]
fn a_client_that_retries_5001_at_once_fails_with_a_retry_storm() {
    let checked = python_client("storm_5001.py", &["--scenarios", "5001"]);
    assert_eq!(checked.status, Some(1), "{}", checked.stdout);
    assert_eq!(scenarios(&checked), [row("5001", "fall", true, &["retry-storm"])]);
    let s = &checked.report["scenarios"]["ran"][0];
    assert_eq!(s["retries"], 3, "{s}");
    assert!(s["spacing_ms"].as_array().is_some_and(|gaps| gaps.iter().all(|g| g.as_i64() < Some(1000))), "{s}");
    let message = s["violations"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("5001 retried ")
            && message.ends_with(" ms after the previous attempt: wait 2–5 s before retrying (FAQ)"),
        "{message}"
    );
}

#[test]
fn a_client_that_retries_40029_before_retry_after_is_flagged() {
    let checked = python_client("early_40029.py", &["--scenarios", "throttle"]);
    assert_eq!(checked.status, Some(1), "{}", checked.stdout);
    assert_eq!(scenarios(&checked), [row("throttle", "hat", true, &["retry-before-retry-after"])]);
    let s = &checked.report["scenarios"]["ran"][0];
    assert_eq!(s["retries"], 1, "{s}");
    let message = s["violations"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("retried ") && message.ends_with(" ms after a 40029 whose Retry-After said 2 s"),
        "{message}"
    );
}

#[test]
fn junit_has_one_testcase_per_scenario() {
    require_python();
    let output = run(&["client", "--format", "junit", "--scenarios", "51003,50002", "--", "python3", "retry_51003.py"]);
    let xml = String::from_utf8_lossy(&output.stdout);
    assert!(xml.contains(r#"<testcase classname="contract" name="scenario 51003 on hat"><failure message="permanent-retried: 51003 is permanent"#), "{xml}");
    assert!(xml.contains(r#"<testcase classname="contract" name="scenario 50002 on hat"><failure"#), "{xml}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn scenarios_wait_for_a_clean_baseline() {
    let checked = python_client("utc_date.py", &["--scenarios", "51003"]);
    assert_eq!(checked.status, Some(1));
    assert_eq!(
        checked.report["scenarios"],
        json!({"slow_ms": 12000, "ran": [], "notes": ["not run: the baseline run failed; make it pass first"]})
    );
}

#[test]
fn a_name_no_endpoint_documents_is_noted_and_a_bad_one_refused() {
    let checked = python_client("retry_51003.py", &["--scenarios", "4204"]);
    assert_eq!(checked.status, Some(0), "{}", checked.stdout);
    assert_eq!(
        checked.report["scenarios"]["notes"],
        json!(["4204: no endpoint the client called documents it; nothing to run"])
    );
    let output = run(&["client", "--scenarios", "often", "--", "true"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`often` is not a scenario: write codes or throttle, slow, reset, clock"), "{stderr}");
}

#[tokio::test]
async fn the_journal_gives_the_same_body_digest_to_the_same_json_content() {
    let s = start().await;
    let image = fixtures::image_b64("scene-96x64.jpg");
    let compact = image_body(&image);
    let spaced = format!("{{ \"image\" : \"{image}\" }}");
    for body in [compact, spaced, image_body("AAAA")] {
        s.client.post(&fixtures::path("hat"), body).await;
    }
    let (_, journal) = s.client.control("GET", "accounts/mock-ak/journal", Value::Null).await;
    let digests: Vec<&str> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["body_digest"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(digests.len(), 3);
    assert!(digests[0].len() == 16 && digests[0].bytes().all(|b| b.is_ascii_hexdigit()), "{digests:?}");
    assert_eq!(digests[0], digests[1], "whitespace does not change the content");
    assert_ne!(digests[0], digests[2]);
}
