//! The report on sample journals (the shape of `GET /__mock/accounts/{ak}/journal`) and a
//! catalogue with causes.

use super::*;

const JOURNAL: &str = include_str!("samples/journal.json");
const CATALOGUE: &str = include_str!("samples/catalogue.json");

fn report(checks: &Checks) -> Report {
    let journal: Journal = serde_json::from_str(JOURNAL).expect("sample journal");
    let catalogue = Catalogue::from_json("catalogue.json", CATALOGUE).expect("sample catalogue");
    Report::build(&journal, &catalogue, checks)
}

fn exited(code: i32) -> CommandRun {
    CommandRun {
        argv: vec!["python3".into(), "client.py".into()],
        outcome: "exited".into(),
        exit_code: Some(code),
        message: format!("exited with {code}"),
        elapsed_ms: 1200,
    }
}

#[test]
fn refusals_caused_by_the_request_are_violations_and_injected_codes_are_not() {
    let report = report(&Checks::default());
    let found: Vec<(u64, i64, &str)> = report.violations.iter().map(|v| (v.seq, v.code, v.check.as_str())).collect();
    assert_eq!(found, [(2, 10020, "signature"), (3, 4001, "capability"), (5, 4201, "capability"), (7, 50001, "route")]);
    assert!(!report.passed);
    assert_eq!(report.failures, ["4 violation(s)"]);
}

#[test]
fn endpoints_count_accepted_refused_and_injected_answers_apart() {
    let report = report(&Checks::default());
    let hat = &report.endpoints[1];
    assert_eq!((hat.endpoint.as_str(), hat.requests, hat.accepted), ("hat", 4, 1));
    assert_eq!(hat.refused, BTreeMap::from([(4001, 1), (10020, 1)]));
    assert_eq!(hat.injected, BTreeMap::from([(51003, 1)]));
    assert_eq!(report.endpoints[2].endpoint, UNKNOWN_ROUTE);
}

#[test]
fn coverage_lists_the_documented_codes_never_shown() {
    let report = report(&Checks::default());
    let hat = report.coverage.iter().find(|c| c.endpoint == "hat").expect("hat");
    assert_eq!(hat.shown, [4001, 10020, 51003]);
    assert_eq!(hat.never, [4003, 40029, 50001, 50002]);
}

#[test]
fn a_required_code_never_shown_fails_and_one_shown_passes() {
    let report = report(&Checks { require: vec![51003, 40029], strict: false });
    let required: Vec<(i64, bool)> = report.required.iter().map(|r| (r.code, r.shown)).collect();
    assert_eq!(required, [(51003, true), (40029, false)]);
    assert!(report.failures.contains(&"required code 40029 was never shown to the client".to_string()));
}

#[test]
fn lints_are_warnings_unless_strict() {
    let lenient = report(&Checks::default());
    assert_eq!(lenient.lints[0].count, 2);
    assert_eq!(lenient.lints[0].request_ids, ["r-1", "r-3"]);
    assert!(!lenient.failures.iter().any(|f| f.contains("lint")));
    let strict = report(&Checks { strict: true, ..Checks::default() });
    assert!(strict.failures.contains(&"lints under --strict: unsigned-appkey".to_string()));
}

#[test]
fn a_clean_journal_from_a_command_that_exited_0_passes() {
    let mut journal: Journal = serde_json::from_str(JOURNAL).expect("sample journal");
    journal.entries.retain(|e| e.verdict != Verdict::Refused);
    let catalogue = Catalogue::from_json("catalogue.json", CATALOGUE).expect("sample catalogue");
    let report = Report::build(&journal, &catalogue, &Checks::default()).with_command(exited(0));
    assert!(report.passed, "{}", report.text());
    let failed = Report::build(&journal, &catalogue, &Checks::default()).with_command(exited(3));
    assert_eq!(failed.failures, ["command: exited with 3"]);
}

#[test]
fn a_command_that_never_called_the_server_fails_with_that_said() {
    let catalogue = Catalogue::from_json("catalogue.json", CATALOGUE).expect("sample catalogue");
    let report = Report::build(&Journal::default(), &catalogue, &Checks::default()).with_command(exited(0));
    assert_eq!(report.failures, ["the command made no request to the emulator: send its calls to MOCK_URL"]);
}

#[test]
fn the_text_report_reads_top_to_bottom() {
    let report = report(&Checks { require: vec![51003, 40029], strict: false }).with_command(exited(1));
    insta::assert_snapshot!(report.text());
}

#[test]
fn the_junit_report_has_one_testcase_per_check() {
    let report = report(&Checks { require: vec![40029], strict: true }).with_command(exited(0));
    insta::assert_snapshot!(report.junit());
}

#[test]
fn the_json_report_carries_the_same_data() {
    let report = report(&Checks { require: vec![40029], strict: false });
    let json: serde_json::Value = serde_json::from_str(&report.json()).expect("json");
    assert_eq!(json["violations"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["required"][0], serde_json::json!({"code": 40029, "shown": false}));
    assert_eq!(json["endpoints"][1]["refused"]["10020"], 1);
    assert_eq!(json["passed"], false);
}
