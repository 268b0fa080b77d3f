//! The registry's decisions: scope, timing, determinism, throttling, isolation.

use serde_json::json;

use super::rule::Rule;
use super::*;

fn rule(v: Value) -> Rule {
    Rule::from_json(v).expect("a valid rule")
}

fn decisions(faults: &Faults, ak: &str, n: u64) -> Vec<Option<Action>> {
    (0..n).map(|i| faults.decide(ak, "app", "hat", i, 0)).collect()
}

#[test]
fn an_account_without_rules_is_left_alone() {
    let faults = Faults::new(1, 0.0);
    assert_eq!(faults.decide("a", "app", "hat", 0, 0), None);
    faults.add("b", rule(json!({"what": {"code": 50000}}))).expect("armed");
    assert_eq!(faults.decide("a", "app", "hat", 1, 0), None);
    assert_eq!(faults.decide("b", "app", "hat", 2, 0), Some(Action::Code(50000)));
}

#[test]
fn a_rule_for_the_next_calls_recovers_after_them() {
    let faults = Faults::new(1, 0.0);
    faults.add("a", rule(json!({"when": {"next": 2}, "what": {"code": 51003}}))).expect("armed");
    let code = Some(Action::Code(51003));
    assert_eq!(decisions(&faults, "a", 4), vec![code.clone(), code, None, None]);
    assert_eq!(faults.list("a")[0]["fired"], 2);
    assert_eq!(faults.list("a")[0]["calls"], 4);
}

#[test]
fn calls_k_to_m_are_counted_within_the_rules_scope() {
    let faults = Faults::new(1, 0.0);
    faults
        .add(
            "a",
            rule(json!({"appkey": "app", "endpoint": "hat", "when": {"calls": [2, 3]}, "what": {"gateway": 503}})),
        )
        .expect("armed");
    assert_eq!(faults.decide("a", "other-app", "hat", 0, 0), None);
    assert_eq!(faults.decide("a", "app", "fall", 0, 0), None);
    let got = decisions(&faults, "a", 4);
    assert_eq!(got, vec![None, Some(Action::Gateway(503)), Some(Action::Gateway(503)), None]);
}

#[test]
fn a_probability_rule_repeats_itself_from_its_seed() {
    let run = |seed: u64| {
        let faults = Faults::new(99, 0.0);
        faults
            .add("a", rule(json!({"when": {"probability": 0.3}, "what": {"code": 50000}, "seed": seed})))
            .expect("armed");
        decisions(&faults, "a", 200).iter().map(Option::is_some).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    let fired = run(7).iter().filter(|f| **f).count();
    assert!((40..=80).contains(&fired), "{fired} of 200 at p = 0.3");
}

#[test]
fn two_accounts_rules_do_not_disturb_each_others_sequences() {
    let alone = Faults::new(5, 0.0);
    alone.add("a", rule(json!({"id": "p", "when": {"probability": 0.5}, "what": {"code": 50000}}))).expect("armed");
    let expected = decisions(&alone, "a", 50);
    let shared = Faults::new(5, 0.0);
    shared.add("a", rule(json!({"id": "p", "when": {"probability": 0.5}, "what": {"code": 50000}}))).expect("armed");
    shared.add("b", rule(json!({"id": "p", "when": {"probability": 0.5}, "what": {"code": 50002}}))).expect("armed");
    let mut got = Vec::new();
    for i in 0..50 {
        got.push(shared.decide("a", "app", "hat", i, 0));
        shared.decide("b", "app", "hat", i, 0);
    }
    assert_eq!(got, expected);
}

#[test]
fn latency_ranges_draw_within_their_bounds_and_repeat() {
    let draws = || {
        let faults = Faults::new(3, 0.0);
        faults.add("a", rule(json!({"what": {"latency_ms": [100, 200]}}))).expect("armed");
        decisions(&faults, "a", 20)
    };
    let first = draws();
    assert_eq!(first, draws());
    for d in first {
        let Some(Action::Shape(Shape::Latency(t))) = d else { panic!("latency expected, got {d:?}") };
        assert!((100..=200).contains(&(t.as_millis() as u64)));
    }
}

#[test]
fn a_throttle_admits_its_rate_per_app_and_second() {
    let faults = Faults::new(1, 0.0);
    faults.add("a", rule(json!({"what": {"throttle_rps": 2}}))).expect("armed");
    let at = |app: &str, ms: i64| faults.decide("a", app, "hat", 0, ms);
    assert_eq!(at("x", 10_000), None);
    assert_eq!(at("x", 10_100), None);
    assert_eq!(at("x", 10_200), Some(Action::Throttle { retry_after_s: 1 }));
    assert_eq!(at("y", 10_300), None, "another app has its own window");
    assert_eq!(at("x", 11_000), None, "a new second, a new window");
    assert_eq!(faults.list("a")[0]["fired"], 1);
}

#[test]
fn the_first_rule_that_fires_wins() {
    let faults = Faults::new(1, 0.0);
    faults.add("a", rule(json!({"when": {"next": 1}, "what": {"reset": "before"}}))).expect("armed");
    faults.add("a", rule(json!({"what": {"truncate_at": 5}}))).expect("armed");
    assert_eq!(faults.decide("a", "k", "hat", 0, 0), Some(Action::ResetBefore));
    assert_eq!(faults.decide("a", "k", "hat", 1, 0), Some(Action::Shape(Shape::Truncate(5))));
}

#[test]
fn a_rule_from_a_time_waits_for_the_accounts_clock() {
    let faults = Faults::new(1, 0.0);
    faults.add("a", rule(json!({"when": {"from_ms": 5000}, "what": {"code": 51001}}))).expect("armed");
    assert_eq!(faults.decide("a", "k", "hat", 0, 4999), None);
    assert_eq!(faults.decide("a", "k", "hat", 1, 5000), Some(Action::Code(51001)));
}

#[test]
fn rules_are_listed_removed_and_cleared() {
    let faults = Faults::new(1, 0.0);
    let id = faults.add("a", rule(json!({"what": {"code": 50000}}))).expect("armed");
    assert_eq!(id, "r1");
    faults.add("a", rule(json!({"id": "mine", "what": {"code": 50000}}))).expect("armed");
    assert!(faults.add("a", rule(json!({"id": "mine", "what": {"code": 50000}}))).is_err());
    assert_eq!(faults.list("a").len(), 2);
    assert_eq!(faults.list("a")[1]["id"], "mine");
    assert!(faults.remove("a", "r1"));
    assert!(!faults.remove("a", "r1"));
    faults.clear("a");
    assert!(faults.list("a").is_empty());
    assert_eq!(faults.armed_accounts.load(Ordering::Relaxed), 0);
    assert_eq!(faults.decide("a", "k", "hat", 0, 0), None);
}

#[test]
fn the_fault_rate_answers_retryable_codes_reproducibly() {
    let run = |seed| {
        let faults = Faults::new(seed, 0.1);
        (0..1000).map(|i| faults.decide("a", "k", "fence", i, 0)).collect::<Vec<_>>()
    };
    let first = run(4);
    assert_eq!(first, run(4));
    let fired: Vec<_> = first.iter().flatten().collect();
    assert!((70..=130).contains(&fired.len()), "{} of 1000 at 0.1", fired.len());
    assert!(fired.iter().all(|a| matches!(a, Action::Code(5000..=5002))));
    assert_eq!(Faults::new(4, 1.0).decide("a", "k", "hat", 0, 0), Some(Action::Code(50000)));
}

#[test]
fn only_whole_true_answers_may_be_charged() {
    assert!(Action::Shape(Shape::Latency(Duration::ZERO)).charges());
    assert!(Action::Shape(Shape::Drip(10)).charges());
    for action in [Action::Code(4001), Action::ResetBefore, Action::Shape(Shape::ResetHalf), Action::Gateway(502)] {
        assert!(!action.charges(), "{action:?}");
    }
}

#[test]
fn a_fence_failure_rule_sees_only_e_fence_calls() {
    let faults = Faults::new(1, 0.0);
    faults.add("a", rule(json!({"what": {"fence_fail": [2, 5]}}))).expect("armed");
    assert_eq!(faults.decide("a", "app", "hat", 0, 0), None);
    let fired = faults.decide("a", "app", "fence", 1, 0);
    assert_eq!(fired, Some(Action::Shape(Shape::FailImages(fence::Pick::Numbers(vec![2, 5])))));
    assert_eq!((faults.list("a")[0]["calls"].clone(), faults.list("a")[0]["fired"].clone()), (json!(1), json!(1)));
    assert!(fired.is_some_and(|a| a.charges()), "a batch with failed images is still code 0, charged");
}

#[test]
fn a_fence_failure_count_draws_from_the_rules_own_seed() {
    let draws = |seed: u64| {
        let faults = Faults::new(0, 0.0);
        faults.add("a", rule(json!({"what": {"fence_fail": 2}, "seed": seed}))).expect("armed");
        (0..3).map(|i| faults.decide("a", "app", "fence", i, 0)).collect::<Vec<_>>()
    };
    assert_eq!(draws(5), draws(5));
    assert_ne!(draws(5), draws(6));
    assert!(matches!(&draws(5)[0], Some(Action::Shape(Shape::FailImages(fence::Pick::Count { n: 2, .. })))));
}

#[test]
fn a_bad_fence_failure_rule_says_what_to_send() {
    let error = |v: Value| Rule::from_json(v).expect_err("refused");
    assert_eq!(
        error(json!({"endpoint": "hat", "what": {"fence_fail": [1]}})),
        "what.fence_fail: `hat` is not an e-fence api; set endpoint to `fence` or leave it out"
    );
    assert_eq!(
        error(json!({"what": {"fence_fail": 0}})),
        "what.fence_fail: a count from 1 to 32, or a list of image numbers"
    );
    for numbers in [json!([]), json!([0]), json!([1, 33])] {
        assert_eq!(
            error(json!({"endpoint": "fence", "what": {"fence_fail": numbers}})),
            "what.fence_fail: image numbers from 1 to 32, e.g. [2, 5]"
        );
    }
    let listed = serde_json::to_value(rule(json!({"what": {"fence_fail": [2, 5]}}))).expect("json");
    assert_eq!(listed["what"], json!({"fence_fail": [2, 5]}));
}
