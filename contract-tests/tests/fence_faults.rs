//! e-fence per-image failures over a real socket: images of a batch failed by a rule
//! (numbered, or a seeded count) or by their ground truth (`make-image --fence-fail`) fail
//! inside a successful answer; and every 40029 says when to come back.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::{fixtures, Client};
use mock_server::make_image::{self, Order, Person, Scene};
use serde_json::{json, Value};

use crate::util::{start, DEFAULT_AK};

/// The whole 320×240 scenario image: every worker's feet stand inside.
const WHOLE: &str = "0,0,319,0,319,239,0,239";

fn fence() -> String {
    fixtures::path("fence")
}

fn scenario(name: &str) -> String {
    STANDARD.encode(std::fs::read(fixtures::dir().join("scenes").join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn batch(images: Vec<String>) -> String {
    json!({"image": images, "area": WHOLE}).to_string()
}

fn workers(n: usize) -> String {
    batch(vec![scenario("workers.png"); n])
}

async fn arm(client: &Client, rule: Value) {
    let (status, armed) = client.control("POST", &format!("accounts/{DEFAULT_AK}/rules"), rule).await;
    assert_eq!(status, 201, "{armed}");
}

async fn fence_used(client: &Client) -> u64 {
    let (status, usage) = client.control("GET", &format!("apps/{}/usage", client.appkey), Value::Null).await;
    assert_eq!(status, 200, "{usage}");
    usage["apis"]["fence"]["packages"].as_array().expect("packages").iter().filter_map(|p| p["used"].as_u64()).sum()
}

/// Which entries of a successful answer's `result` are failed images.
fn failed(body: &Value) -> Vec<bool> {
    body["result"].as_array().expect("a result list").iter().map(|e| *e == json!({"location": []})).collect()
}

#[tokio::test]
async fn a_rule_fails_the_numbered_images_inside_a_successful_answer_then_calls_recover() {
    let s = start().await;
    arm(&s.client, json!({"endpoint": "fence", "when": {"next": 1}, "what": {"fence_fail": [2, 3]}})).await;
    let used = fence_used(&s.client).await;
    let reply = s.client.post(&fence(), workers(4)).await;
    let body = reply.json();
    assert_eq!((reply.status, &body["code"], &body["message"]), (200, &json!(0), &json!({"success": 2, "fail": 2})));
    assert_eq!(failed(&body), vec![false, true, true, false], "{body}");
    assert_eq!(body["result"][0]["target_num"], 3, "{body}");
    let next = s.client.post(&fence(), workers(4)).await.json();
    assert_eq!((&next["message"], failed(&next)), (&json!({"success": 4, "fail": 0}), vec![false; 4]));
    assert_eq!(fence_used(&s.client).await, used + 2, "a batch with failed images is code 0 and charged");
}

async fn failed_with_seed(seed: u64) -> Vec<Vec<bool>> {
    let s = start().await;
    arm(&s.client, json!({"what": {"fence_fail": 2}, "seed": seed})).await;
    let hat = s.client.post(&fixtures::path("hat"), json!({"image": scenario("workers.png")}).to_string()).await;
    assert_eq!(hat.code(), 0, "a fence rule leaves other endpoints alone");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let body = s.client.post(&fence(), workers(6)).await.json();
        assert_eq!(body["message"], json!({"success": 4, "fail": 2}), "{body}");
        seen.push(failed(&body));
    }
    seen
}

#[tokio::test]
async fn a_count_fails_that_many_images_and_the_same_seed_picks_the_same_ones() {
    let first = failed_with_seed(21).await;
    assert_eq!(first, failed_with_seed(21).await);
    assert!(first.iter().any(|f| *f != first[0]), "four batches failed the same images: {first:?}");
}

#[tokio::test]
async fn an_image_whose_ground_truth_says_fence_fail_fails_inside_its_batch() {
    let s = start().await;
    let body = batch(vec![scenario("workers.png"), scenario("fence-fail.png"), scenario("workers.png")]);
    let reply = s.client.post(&fence(), body).await.json();
    assert_eq!((&reply["code"], &reply["message"]), (&json!(0), &json!({"success": 2, "fail": 1})));
    assert_eq!(failed(&reply), vec![false, true, false], "{reply}");
    let hat = |name: &str| json!({"image": scenario(name)}).to_string();
    let flagged = s.client.post(&fixtures::path("hat"), hat("fence-fail.png")).await.json();
    let plain = s.client.post(&fixtures::path("hat"), hat("workers.png")).await.json();
    // Scores follow the image's bytes; what is found, and where, follows the scene.
    let found = |body: &Value| -> Vec<(Value, Value)> {
        body["result"].as_array().expect("a list").iter().map(|d| (d["box"].clone(), d["classname"].clone())).collect()
    };
    assert_eq!((&flagged["code"], found(&flagged)), (&json!(0), found(&plain)), "other endpoints ignore the flag");
}

#[tokio::test]
async fn an_image_written_by_make_image_with_fence_fail_fails_inside_its_batch() {
    let path = std::env::temp_dir().join(format!("fence-fail-{}.jpg", std::process::id()));
    let scene = Scene {
        people: vec![Person { bbox: [10, 10, 30, 60], hat: None, clothes: None }],
        fence_fail: true,
        ..Scene::default()
    };
    let order = Order { scene, width: 120, height: 90, format: None, frames: 1, action_at: None, output: path.clone() };
    make_image::run(&order).expect("written");
    let made = STANDARD.encode(std::fs::read(&path).expect("the image"));
    let _ = std::fs::remove_file(&path);
    let s = start().await;
    let body = json!({"image": [made.clone(), made], "area": "0,0,119,0,119,89,0,89"}).to_string();
    let reply = s.client.post(&fence(), body).await.json();
    assert_eq!((&reply["message"], failed(&reply)), (&json!({"success": 0, "fail": 2}), vec![true, true]));
}

#[tokio::test]
async fn a_forced_40029_says_retry_after_2_seconds_like_the_concurrency_limit() {
    let s = start().await;
    let reply = s.client.send(s.client.call(&fence(), workers(1)).header("x-mock-force", "40029")).await;
    assert_eq!((reply.status, reply.code()), (429, 40029));
    assert_eq!(reply.headers["retry-after"], "2");
    assert!(reply.reason().ends_with("; retry after 2 s"), "the reason says it too: {}", reply.reason());
    let answered = s.client.post(&fence(), workers(1)).await;
    assert!(!answered.headers.contains_key("retry-after"), "only a 40029 says when to come back");
}
