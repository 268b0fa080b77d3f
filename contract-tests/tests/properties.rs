//! Properties over every endpoint: arbitrary JSON bodies and arbitrary bytes never get a
//! 5xx, a panic or a hang, and always a code from the endpoint's documented list or the
//! gateway's; every spec-valid request (`contract_tests::strategy::request`) gets code 0 or a
//! code about what its picture shows; and e-fence reports a person exactly when the
//! documented inside rule holds.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::fixtures;
use contract_tests::image::{Person, Scene};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::util::TestServer;

const ENDPOINTS: [&str; 13] = [
    "hat",
    "clothes",
    "fence",
    "face_quality",
    "liveness_shake",
    "liveness_up",
    "liveness_down",
    "liveness_left",
    "liveness_mouth",
    "liveness_eye",
    "liveness_right",
    "fall",
    "fight",
];

fn server() -> &'static (Runtime, TestServer) {
    crate::util::shared_server()
}

/// Sends `body` to `endpoint`; returns (status, code as text).
fn post(endpoint: &str, body: Vec<u8>) -> (u16, String) {
    let (runtime, s) = server();
    let reply = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), s.client.post(&fixtures::path(endpoint), body))
            .await
            .expect("no hang")
    });
    let code = match &reply.json()["code"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => panic!("no code: {other}"),
    };
    (reply.status, code)
}

/// Codes `endpoint` may answer: 0, its own, the gateway's.
fn allowed(endpoint: &str) -> HashSet<String> {
    let mut codes: HashSet<String> = fixtures::codes_for(endpoint).iter().map(u32::to_string).collect();
    codes.insert("0".into());
    codes
}

fn small_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| fixtures::image_b64("scene-96x64.png")).clone()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from(small_image())),
        Just(Value::from("0,0,50,0,50,50")),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            proptest::collection::btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys the endpoints know, and some they do not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("image".to_string()),
        Just("images".to_string()),
        Just("area".to_string()),
        Just("imageContent".to_string()),
        (1usize..6).prop_map(|n| format!("image{n}Content")),
        "[a-z]{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_gets_a_documented_code_and_never_a_5xx(endpoint in prop::sample::select(ENDPOINTS.to_vec()), body in json_value()) {
        let (status, code) = post(endpoint, body.to_string().into_bytes());
        prop_assert!(status < 500, "{endpoint}: status {status} code {code} for {body}");
        prop_assert!(allowed(endpoint).contains(&code), "{endpoint}: undocumented code {code} for {body}");
    }

    #[test]
    fn arbitrary_bytes_get_a_documented_code_and_never_a_5xx(endpoint in prop::sample::select(ENDPOINTS.to_vec()), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (status, code) = post(endpoint, body);
        prop_assert!(status < 500, "{endpoint}: status {status}");
        prop_assert!(allowed(endpoint).contains(&code), "{endpoint}: undocumented code {code}");
    }
}

/// A simple polygon (star-shaped about its centre, so never self-crossing), concave when
/// the radii vary, in either winding.
fn polygon() -> impl Strategy<Value = Vec<(i64, i64)>> {
    (proptest::collection::vec((0u32..360, 5i64..45), 3..=9), any::<bool>())
        .prop_map(|(mut spokes, clockwise)| {
            spokes.sort_by_key(|s| s.0);
            spokes.dedup_by_key(|s| s.0);
            let mut points: Vec<(i64, i64)> = spokes
                .iter()
                .map(|&(deg, r)| {
                    let a = f64::from(deg).to_radians();
                    (50 + (r as f64 * a.cos()).round() as i64, 50 + (r as f64 * a.sin()).round() as i64)
                })
                .collect();
            points.dedup();
            if clockwise {
                points.reverse();
            }
            points
        })
        .prop_filter("3 distinct points", |p| p.len() >= 3 && twice_area(p) != 0)
}

fn twice_area(p: &[(i64, i64)]) -> i64 {
    (0..p.len()).map(|i| p[i].0 * p[(i + 1) % p.len()].1 - p[(i + 1) % p.len()].0 * p[i].1).sum()
}

/// The documented rule, computed independently: the box's bottom-centre inside the
/// polygon (non-zero winding number) or on an edge. Coordinates are doubled so the
/// half-pixel centre stays an integer and every test is exact.
fn inside(poly: &[(i64, i64)], bbox: [u32; 4]) -> bool {
    let [l, t, w, h] = bbox.map(i64::from);
    let (px, py) = (2 * l + w, 2 * (t + h));
    let pts: Vec<(i64, i64)> = poly.iter().map(|&(x, y)| (2 * x, 2 * y)).collect();
    let mut winding = 0;
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        let cross = (b.0 - a.0) * (py - a.1) - (b.1 - a.1) * (px - a.0);
        if cross == 0 && px >= a.0.min(b.0) && px <= a.0.max(b.0) && py >= a.1.min(b.1) && py <= a.1.max(b.1) {
            return true;
        }
        if a.1 <= py && b.1 > py && cross > 0 {
            winding += 1;
        } else if a.1 > py && b.1 <= py && cross < 0 {
            winding -= 1;
        }
    }
    winding != 0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_fence_reports_a_person_exactly_when_their_feet_are_inside(
        poly in polygon(),
        boxes in proptest::collection::vec((0u32..90, 0u32..80, 1u32..10, 1u32..20), 1..6),
    ) {
        let people: Vec<Person> = boxes.iter().map(|&(l, t, w, h)| Person { bbox: [l, t, w, h], hat: None, clothes: None }).collect();
        let image = contract_tests::image::png(&Scene { people: people.clone(), ..Scene::default() }, 100, 100).expect("an image");
        let area = poly.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(",");
        let body = json!({"image": [STANDARD.encode(image)], "area": area});
        let (runtime, s) = server();
        let reply = runtime.block_on(s.client.post(&fixtures::path("fence"), body.to_string()));
        prop_assert_eq!(reply.code(), 0, "{}", reply.reason());
        let reported: Vec<Value> = reply.json()["result"][0]["location"].as_array().cloned().unwrap_or_default();
        let expected: Vec<Value> = people
            .iter()
            .filter(|p| inside(&poly, p.bbox))
            .map(|p| json!({"left": p.bbox[0], "top": p.bbox[1], "width": p.bbox[2], "height": p.bbox[3]}))
            .collect();
        prop_assert_eq!(reported, expected, "area {}", area);
    }
}

#[test]
fn the_reference_rule_agrees_with_hand_worked_cases() {
    let u = [(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)];
    assert!(inside(&u, [4, 10, 2, 10]), "left arm: feet at (5, 20)");
    assert!(!inside(&u, [14, 10, 2, 10]), "the notch: feet at (15, 20)");
    assert!(inside(&u, [14, 0, 2, 10]), "on the notch's top edge: feet at (15, 10)");
    let mut reversed = u;
    reversed.reverse();
    assert!(!inside(&reversed, [14, 10, 2, 10]) && inside(&reversed, [24, 10, 2, 10]));
}

/// A spec-valid request for any endpoint, from `contract_tests::strategy`.
fn valid_request() -> impl Strategy<Value = (String, Value)> {
    let requests: Vec<BoxedStrategy<(String, Value)>> = ENDPOINTS
        .iter()
        .map(|&e| {
            contract_tests::strategy::request(e)
                .expect("a request strategy")
                .prop_map(move |b| (e.to_string(), b))
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(requests)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_request_gets_code_0_or_a_documented_content_code((endpoint, body) in valid_request()) {
        let (status, code) = post(&endpoint, body.to_string().into_bytes());
        let allowed: Vec<String> =
            contract_tests::strategy::content_codes(&endpoint).expect("codes").iter().map(i64::to_string).collect();
        prop_assert!(allowed.contains(&code), "{}: code {} (status {}) for a valid request; allowed {:?}", endpoint, code, status, allowed);
    }
}
