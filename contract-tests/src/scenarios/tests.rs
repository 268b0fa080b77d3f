//! Planning scenarios and judging a client's retries on sample journals.

use super::*;
use crate::journal::Entry;

const ERRORS_JSON: &str = include_str!("../../../fixtures/errors.json");

fn catalogue() -> Catalogue {
    Catalogue::from_json("errors.json", ERRORS_JSON).expect("the catalogue")
}

fn names(scenarios: &[Scenario]) -> Vec<String> {
    scenarios.iter().map(|s| format!("{}@{}", s.name, s.endpoint_label())).collect()
}

fn selection(names: &[&str]) -> Selection {
    Selection { names: names.iter().map(|n| n.to_string()).collect(), slow: Duration::from_millis(1500) }
}

#[test]
fn every_scenario_of_hat_is_its_codes_the_gateways_and_the_transport_failures() {
    let (all, notes) = plan(&["hat".into()], &catalogue(), &selection(&[]));
    let want = [
        "4001@hat",
        "4002@hat",
        "4003@hat",
        "4006@hat",
        "50000@hat",
        "50002@hat",
        "51001@hat",
        "51002@hat",
        "51003@hat",
        "throttle@hat",
        "slow@hat",
        "reset@hat",
        "clock@all",
    ];
    assert_eq!((names(&all), notes), (want.map(String::from).to_vec(), Vec::<String>::new()));
    let retry: Vec<&str> = all.iter().map(|s| s.retry).collect();
    assert_eq!(&retry[..6], ["permanent", "permanent", "permanent", "permanent", "retryable", "permanent"]);
}

#[test]
fn a_subset_picks_by_name_or_code_and_says_what_matched_nothing() {
    let endpoints = ["hat".to_string(), "fall".to_string()];
    let (some, notes) = plan(&endpoints, &catalogue(), &selection(&["51003", "5001", "10020", "40029", "4204"]));
    let want = ["51003@hat", "throttle@hat", "5001@fall", "51003@fall", "throttle@fall", "clock@all"];
    assert_eq!(names(&some), want.map(String::from).to_vec());
    assert_eq!(notes, ["4204: no endpoint the client called documents it; nothing to run"]);
    assert_eq!(
        some[0].rules("k"),
        vec![json!({"id": "scenario-51003", "appkey": "k", "endpoint": "hat", "what": {"code": 51003}})]
    );
    let (slow, _) = plan(&endpoints[..1], &catalogue(), &selection(&["slow"]));
    assert_eq!(slow[0].rules("k")[0]["what"], json!({"latency_ms": 1500}));
}

#[test]
fn scenario_names_are_codes_or_known_words() {
    assert_eq!(parse_name(" Throttle"), Ok("throttle".into()));
    assert_eq!(parse_name("51003"), Ok("51003".into()));
    assert_eq!(
        parse_name("slowly"),
        Err("`slowly` is not a scenario: write codes or throttle, slow, reset, clock, e.g. --scenarios 51003,slow"
            .into())
    );
}

fn call(seq: u64, at_ms: i64, code: i64, digest: &str) -> Entry {
    let text = json!({"seq": seq, "at_ms": at_ms, "code": code, "endpoint": "hat", "elapsed_ms": 1.0,
        "verdict": if code == 0 { "accepted" } else { "injected" }, "request_id": format!("r{seq}"),
        "body_digest": digest, "reason": "answered by a fault rule; retry after 2 s"});
    serde_json::from_value(text).expect("an entry")
}

fn exited() -> CommandRun {
    CommandRun {
        argv: vec!["client".into()],
        outcome: "exited".into(),
        exit_code: Some(1),
        message: "exited with 1".into(),
        elapsed_ms: 10,
    }
}

fn scenario(name: &str) -> Scenario {
    let (found, _) = plan(&["hat".into()], &catalogue(), &selection(&[name]));
    found.into_iter().next().expect("a scenario")
}

fn judged(name: &str, calls: Vec<Entry>) -> (u64, u64, Vec<i64>, Vec<String>) {
    let journal = Journal { entries: calls, ..Journal::default() };
    let r = analyse(&scenario(name), &journal, exited());
    let kinds = r.violations.iter().map(|v| format!("{}: {}", v.kind, v.message)).collect();
    (r.calls_after, r.retries, r.spacing_ms, kinds)
}

#[test]
fn a_permanent_code_sent_again_is_flagged_and_a_new_request_is_not() {
    let (after, retries, spacing, found) =
        judged("51003", vec![call(1, 1000, 51003, "a"), call(2, 3000, 51003, "a"), call(3, 3100, 51003, "b")]);
    assert_eq!((after, retries, spacing), (2, 1, vec![2000]));
    assert_eq!(
        found,
        ["permanent-retried: 51003 is permanent, yet the same request was sent 1 more time(s): give up and report it"]
    );
    assert_eq!(judged("51003", vec![call(1, 1000, 51003, "a"), call(2, 1001, 51003, "b")]).3, Vec::<String>::new());
}

#[test]
fn a_retryable_code_retried_at_once_or_too_often_is_a_storm() {
    let storm = judged("50000", vec![call(1, 1000, 50000, "a"), call(2, 1050, 50000, "a")]).3;
    assert_eq!(
        storm,
        ["retry-storm: 50000 retried 50 ms after the previous attempt: wait 2–5 s before retrying (FAQ)"]
    );
    let patient: Vec<Entry> = (0..3).map(|i| call(i + 1, 1000 + 2000 * i as i64, 50000, "a")).collect();
    assert_eq!(judged("50000", patient).3, Vec::<String>::new());
    let many: Vec<Entry> = (0..8).map(|i| call(i + 1, 1000 + 2000 * i as i64, 50000, "a")).collect();
    assert_eq!(judged("50000", many).3, ["retry-storm: 50000 retried 7 times: at most 5, then give up"]);
}

#[test]
fn a_throttled_call_retried_before_retry_after_is_flagged() {
    let early = judged("throttle", vec![call(1, 1000, 40029, "a"), call(2, 2500, 40029, "a")]).3;
    assert_eq!(early, ["retry-before-retry-after: retried 1500 ms after a 40029 whose Retry-After said 2 s"]);
    assert_eq!(judged("throttle", vec![call(1, 1000, 40029, "a"), call(2, 3000, 0, "a")]).3, Vec::<String>::new());
    assert_eq!(scenario("40029").rules("k")[0]["what"], json!({"code": 40029}), "every call is throttled");
    // The wait is read from the reason; a reason that does not say it means 2 s.
    let said = |reason: Option<&str>, mut entry: Entry| {
        entry.reason = reason.map(String::from);
        entry
    };
    let five =
        judged("throttle", vec![said(Some("…; retry after 5 s"), call(1, 1000, 40029, "a")), call(2, 4000, 0, "a")]);
    assert_eq!(five.3, ["retry-before-retry-after: retried 3000 ms after a 40029 whose Retry-After said 5 s"]);
    let silent = judged("throttle", vec![said(None, call(1, 1000, 40029, "a")), call(2, 2500, 0, "a")]);
    assert_eq!(silent.3, ["retry-before-retry-after: retried 1500 ms after a 40029 whose Retry-After said 2 s"]);
}

#[test]
fn a_client_that_never_met_the_failure_is_not_judged() {
    let journal = Journal { entries: vec![call(1, 1000, 0, "a")], ..Journal::default() };
    let r = analyse(&scenario("51003"), &journal, exited());
    assert_eq!((r.met, r.calls_after, r.violations.len()), (false, 0, 0));
}
