//! The answers and requests the strategies generate stay inside the spec and reach its edges.

use std::collections::BTreeSet;

use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::*;

/// `n` values of `strategy` from a fixed seed.
fn sample<T: std::fmt::Debug>(strategy: BoxedStrategy<T>, n: usize) -> Vec<T> {
    let mut runner = TestRunner::deterministic();
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

const SHAPE: Shape = Shape { width: 96, height: 64, images: 3 };

#[test]
fn hat_boxes_lie_inside_the_image_with_scores_in_0_1_and_the_endpoints_classes() {
    for body in sample(success("hat", SHAPE).expect("hat"), 300) {
        for d in body["result"].as_array().expect("a list") {
            let b: Vec<u64> = d["box"].as_array().expect("box").iter().filter_map(Value::as_u64).collect();
            let [top, left, bottom, right] = b[..] else { panic!("box {d}") };
            assert!(top <= bottom && bottom <= 64 && left <= right && right <= 96, "{d}");
            let score = d["score"].as_f64().expect("score");
            assert!((0.0..=1.0).contains(&score), "{d}");
            assert!(d["classname"].as_str().is_some_and(|c| c.ends_with("_hat")), "{d}");
        }
    }
}

#[test]
fn hat_answers_reach_the_edges_clients_forget() {
    let bodies = sample(success("hat", SHAPE).expect("hat"), 300);
    let detections: Vec<&Value> = bodies.iter().flat_map(|b| b["result"].as_array().into_iter().flatten()).collect();
    let lengths: BTreeSet<usize> = bodies.iter().map(|b| b["result"].as_array().map_or(0, Vec::len)).collect();
    assert!(lengths.contains(&0), "an empty result");
    assert!(lengths.iter().any(|&n| n >= HUGE_LIST / 4), "a huge list: {lengths:?}");
    assert!(detections.iter().any(|d| d["score"] == 0.0) && detections.iter().any(|d| d["score"] == 1.0));
    assert!(detections.iter().any(|d| d["box"][2] == 64 || d["box"][3] == 96), "a box on the far edge");
    assert!(bodies.iter().any(|b| b.as_object().is_some_and(|o| o.len() > 3)), "an unknown top-level field");
    assert!(detections.iter().any(|d| d.as_object().is_some_and(|o| o.len() > 3)), "an unknown field in a box");
}

#[test]
fn fence_answers_count_every_image_and_list_the_ones_that_succeeded() {
    let bodies = sample(success("fence", SHAPE).expect("fence"), 200);
    for body in &bodies {
        let (ok, fail) = (body["message"]["success"].as_u64(), body["message"]["fail"].as_u64());
        assert_eq!(ok.zip(fail).map(|(s, f)| s + f), Some(3), "{body}");
        assert_eq!(body["result"].as_array().map(|r| r.len() as u64), ok, "{body}");
    }
    assert!(bodies.iter().any(|b| b["message"]["fail"].as_u64() > Some(0)), "fail > 0");
    assert!(bodies
        .iter()
        .any(|b| b["result"].as_array().is_some_and(|r| r.iter().any(|e| e.get("target_num").is_none()))));
}

#[test]
fn face_liveness_and_action_answers_take_every_documented_value() {
    let quality: BTreeSet<String> = sample(success("face_quality", SHAPE).expect("face"), 100)
        .iter()
        .filter_map(|b| b["result"]["face_quality"].as_str().map(String::from))
        .collect();
    assert_eq!(quality, BTreeSet::from(["bad".into(), "good".into(), "medium".into()]));
    let live: BTreeSet<bool> = sample(success("liveness_eye", SHAPE).expect("liveness"), 50)
        .iter()
        .filter_map(|b| b["result"]["action_detected"].as_bool())
        .collect();
    assert_eq!(live.len(), 2);
    let scores: Vec<f64> = sample(success("fall", SHAPE).expect("fall"), 100)
        .iter()
        .filter_map(|b| b["result"]["score"].as_f64())
        .collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)) && scores.contains(&0.0) && scores.contains(&1.0));
}

#[test]
fn errors_come_in_the_endpoints_shape_with_their_status() {
    let face = sample(error("face_quality").expect("face"), 200);
    let capability = face.iter().find(|a| a.code == 4204).expect("4204 drawn");
    assert_eq!(capability.status, 200);
    assert_eq!(capability.body["code"], "4204", "face quality's codes are strings");
    assert_eq!(capability.body["message"], "error");
    let gateway = face.iter().find(|a| a.code == 51003).expect("51003 drawn");
    assert_eq!((gateway.status, &gateway.body["statusCode"]), (403, &json!("CTAPI_51003")));
    assert_eq!(gateway.rule_what(), json!({"code": 51003}));
    let hat = sample(error("hat").expect("hat"), 200);
    assert!(hat.iter().any(|a| a.body["code"] == 4001), "hat codes are numbers");
    assert!(hat.iter().all(|a| a.code != 4204), "only the endpoint's own codes");
}

#[test]
fn answers_are_mostly_successes_served_as_bodies() {
    let answers = sample(answer("clothes", Shape::default()).expect("clothes"), 200);
    let successes = answers.iter().filter(|a| a.code == 0).count();
    assert!((100..200).contains(&successes), "{successes} successes of 200");
    let first = answers.iter().find(|a| a.code == 0).expect("a success");
    assert_eq!(first.rule_what(), json!({ "body": first.body }));
}

#[test]
fn an_unknown_endpoint_is_refused_with_the_known_ones_named() {
    let err = answer("hats", Shape::default()).expect_err("unknown");
    assert!(err.starts_with("`hats` is no endpoint of fixtures/routes.json; use one of hat, clothes, fence"), "{err}");
    assert!(request("hats").is_err());
}

#[test]
fn every_endpoint_has_answers_and_requests() {
    for endpoint in endpoints() {
        assert_eq!(sample(answer(&endpoint, SHAPE).expect("answer"), 5).len(), 5);
        let body = sample(request(&endpoint).expect("request"), 1).remove(0);
        assert!(body.is_object(), "{endpoint}: {body}");
    }
    assert_eq!(content_codes("face_quality").expect("codes"), [0, 4204, 4212, 4213]);
    assert_eq!(content_codes("hat").expect("codes"), [0]);
}
