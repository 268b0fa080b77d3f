//! The exploration's pieces that need no child process: the request shapes read from a
//! journal, the replay line, and how a found break reads in the text and JUnit reports.

use serde_json::json;

use super::*;
use crate::report::Checks;

fn entry(endpoint: &str, images: Value) -> Value {
    json!({"seq": 1, "endpoint": endpoint, "code": 0, "verdict": "accepted", "images": images})
}

#[test]
fn shapes_come_from_the_last_readable_image_of_each_endpoint() {
    let journal: Journal = serde_json::from_value(json!({"entries": [
        entry("hat", json!([{"format": "png", "width": 96, "height": 64}])),
        entry("hat", json!([{"format": "unknown", "width": null, "height": null}])),
        entry("fence", json!([{"width": 10, "height": 20}, {"width": 10, "height": 20}])),
        entry("face_quality", json!([])),
    ]}))
    .expect("a journal");
    let found = shapes(&journal);
    assert_eq!(found["hat"], Shape { width: 96, height: 64, images: 1 });
    assert_eq!(found["fence"], Shape { width: 10, height: 20, images: 2 });
    assert_eq!(found["face_quality"], Shape::default());
}

#[test]
fn the_replay_line_quotes_what_a_shell_would_split() {
    let argv = ["python3", "my client.py", "--name=it's"].map(String::from);
    assert_eq!(
        replay(&argv, 42),
        r"contract-tests client --explore 1 --seed 42 -- python3 'my client.py' '--name=it'\''s'"
    );
}

#[test]
fn the_same_seed_draws_the_same_answers() {
    let draw = |seed| {
        let strategy = strategy::answer("hat", Shape::default()).expect("hat");
        strategy
            .new_tree(&mut TestRunner::new_with_rng(ProptestConfig::default(), rng(seed)))
            .expect("a tree")
            .current()
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!((draw(7), draw(8)), (draw(8), draw(8)));
}

fn broken(bound_hit: bool) -> Exploration {
    let empty = Answer { status: 200, code: 0, body: json!({"code": 0, "message": "success", "result": []}) };
    let first =
        Answer { status: 200, code: 0, body: json!({"code": 0, "message": "success", "result": [], "trace": 3}) };
    Exploration {
        runs: 12,
        ran: 3,
        seed: 40,
        endpoints: BTreeMap::from([("hat".to_string(), Shape::default())]),
        skipped: None,
        broken: Some(Broken {
            run: 3,
            seed: 42,
            first: BTreeMap::from([("hat".to_string(), first)]),
            smallest: BTreeMap::from([("hat".to_string(), empty)]),
            command: "exited with 1".into(),
            shrink_steps: 4,
            shrink_bound_hit: bound_hit,
            replay: replay(&["python3".into(), "client.py".into()], 42),
        }),
    }
}

#[test]
fn a_break_fails_the_report_with_the_seed_that_replays_it() {
    let report = Report::default().with_exploration(broken(false));
    assert_eq!(
        report.failures,
        ["explore: run 3 broke the command (exited with 1); replay with --explore 1 --seed 42"]
    );
    let mut text = String::new();
    broken(true).text(&mut text);
    insta::assert_snapshot!(text);
}

#[test]
fn junit_has_one_testcase_per_run_and_the_broken_one_fails() {
    let cases = broken(false).junit_cases();
    let names: Vec<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["explore run 1 (seed 40)", "explore run 2 (seed 41)", "explore run 3 (seed 42)"]);
    assert!(cases[..2].iter().all(|(_, f)| f.is_none()));
    let failure = cases[2].1.as_deref().unwrap_or_default();
    assert!(failure.starts_with("exited with 1; smallest answer: hat: HTTP 200 {\"code\":0"), "{failure}");
    assert!(failure.ends_with("replay: contract-tests client --explore 1 --seed 42 -- python3 client.py"), "{failure}");
}

#[test]
fn a_skipped_exploration_says_why_and_fails() {
    let skipped = Exploration {
        runs: 5,
        ran: 0,
        seed: 1,
        endpoints: BTreeMap::new(),
        skipped: Some("the command called no endpoint: there is nothing to answer".into()),
        broken: None,
    };
    let report = Report::problem("x".into(), &Checks::default()).with_exploration(skipped.clone());
    assert!(report
        .failures
        .contains(&"explore: the command called no endpoint: there is nothing to answer".to_string()));
    let mut text = String::new();
    skipped.text(&mut text);
    assert_eq!(
        text,
        "\nexplore: 0 run(s) of 5 from seed 1\n  skipped: the command called no endpoint: there is nothing to answer\n"
    );
}
