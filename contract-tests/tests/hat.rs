//! The hard-hat endpoint: every documented code from its natural trigger, every accepted
//! format and base64 flavour, and deterministic, well-formed detections.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use contract_tests::fixtures;
use contract_tests::image::{with_ground_truth, Person, Scene};
use rstest::rstest;
use serde_json::Value;

use crate::util::{image_body, start};

const FIVE_MIB: usize = 5 * 1024 * 1024;

fn hat() -> String {
    fixtures::path("hat")
}

fn png() -> Vec<u8> {
    fixtures::image("scene-96x64.png")
}

/// A valid PNG padded past 5 MiB of base64 (PNG readers ignore trailing bytes).
fn oversized_png_b64(total_b64: usize) -> String {
    let mut bytes = png();
    bytes.resize(total_b64 / 4 * 3, 0);
    STANDARD.encode(bytes)
}

fn trigger(case: &str) -> Vec<u8> {
    let b64 = fixtures::image_b64("scene-96x64.png");
    let body = match case {
        "image_key_missing" => "{}".to_string(),
        "image_key_misnamed" => format!(r#"{{"imageContent":"{b64}"}}"#),
        "image_not_a_string" => r#"{"image":12345}"#.to_string(),
        "image_over_5_mib" => image_body(&oversized_png_b64(FIVE_MIB + 4)),
        "body_over_the_limit" => format!(r#"{{"image":"{b64}","padding":"{}"}}"#, "x".repeat(FIVE_MIB + 8192)),
        "not_base64" => image_body("this is not base64!"),
        "data_url_prefix" => image_body(&format!("data:image/png;base64,{b64}")),
        "empty_image" => image_body(""),
        "webp_image" => image_body(&fixtures::image_b64("scene-96x64.webp")),
        "not_an_image" => image_body(&STANDARD.encode(b"hello, this is text")),
        "truncated_header" => image_body(&STANDARD.encode(&png()[..12])),
        "body_an_array" => format!(r#"["{b64}"]"#),
        "body_not_json" => "image=abc".to_string(),
        "body_empty" => String::new(),
        other => panic!("no trigger named {other}"),
    };
    body.into_bytes()
}

#[rstest]
#[case::image_key_missing("image_key_missing", 4001, "the body has no `image` key (keys sent: none)")]
#[case::image_key_misnamed("image_key_misnamed", 4001, "the body has no `image` key (keys sent: imageContent)")]
#[case::image_not_a_string("image_not_a_string", 4001, "`image` is a number")]
#[case::image_over_5_mib("image_over_5_mib", 4002, "the image is 5242884 base64 characters; at most 5242880")]
#[case::body_over_the_limit("body_over_the_limit", 4002, "bytes; the image may be at most 5242880 base64 characters")]
#[case::not_base64("not_base64", 4003, "the image is not base64")]
#[case::data_url_prefix("data_url_prefix", 4003, "data: url prefix")]
#[case::empty_image("empty_image", 4003, "the image text is empty")]
#[case::webp_image("webp_image", 4003, "webp images are not accepted")]
#[case::not_an_image("not_an_image", 4003, "the decoded bytes are not an image")]
#[case::truncated_header("truncated_header", 4003, "the png header is cut short or broken")]
#[case::body_an_array("body_an_array", 4006, "the body is JSON but not an object (an array)")]
#[case::body_not_json("body_not_json", 4006, "the body is not valid JSON")]
#[case::body_empty("body_empty", 4006, "the body is empty")]
#[tokio::test]
async fn a_bad_hat_request_gets_its_documented_code(#[case] case: &str, #[case] code: u32, #[case] reason: &str) {
    let s = start().await;
    let reply = s.client.post(&hat(), trigger(case)).await;
    let entry = fixtures::error("hat", code);
    assert_eq!(reply.status, entry["status"].as_u64().expect("status") as u16);
    let body = reply.json();
    assert_eq!(body, serde_json::json!({"code": code, "message": "error", "details": entry["message"]}), "{case}");
    assert!(reply.reason().contains(reason), "{case}: reason {:?} lacks {reason:?}", reply.reason());
}

#[rstest]
#[case::png("scene-96x64.png")]
#[case::jpg("scene-96x64.jpg")]
#[case::bmp("scene-96x64.bmp")]
#[case::gif("scene-96x64.gif")]
#[case::tif("scene-96x64.tif")]
#[tokio::test]
async fn every_accepted_format_in_every_base64_flavour_succeeds(#[case] file: &str) {
    let s = start().await;
    let bytes = fixtures::image(file);
    let mut results = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        let reply = s.client.post(&hat(), image_body(&engine.encode(&bytes))).await;
        assert_eq!((reply.status, reply.code()), (200, 0), "{file}: {}", reply.reason());
        let body = reply.json();
        assert_eq!(body["message"], "success");
        check_detections(&body["result"], 96, 64);
        results.push(body["result"].clone());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "the same image gave different answers: {results:?}");
}

#[tokio::test]
async fn the_same_image_always_gets_the_same_answer_and_it_is_snapshotted() {
    let s = start().await;
    let body = image_body(&fixtures::image_b64("scene-96x64.jpg"));
    let first = s.client.post(&hat(), body.clone()).await.json();
    let again = s.client.post(&hat(), body).await.json();
    assert_eq!(first, again);
    insta::assert_json_snapshot!("hat-success", first);
}

#[rstest]
#[case::png("scene-96x64.png")]
#[case::jpg("scene-96x64.jpg")]
#[case::bmp("scene-96x64.bmp")]
#[case::gif("scene-96x64.gif")]
#[case::tif("scene-96x64.tif")]
#[tokio::test]
async fn ground_truth_the_suite_adds_to_any_format_decides_the_answer(#[case] file: &str) {
    let s = start().await;
    let worker = |left, hat: &str| Person { bbox: [left, 10, 20, 50], hat: Some(hat.into()), clothes: None };
    let scene = Scene { people: vec![worker(5, "red_hat"), worker(60, "white_hat")], ..Scene::default() };
    let bytes = with_ground_truth(&fixtures::image(file), &scene).expect("ground truth added");
    let reply = s.client.post(&hat(), image_body(&STANDARD.encode(bytes))).await;
    assert_eq!(reply.code(), 0, "{file}: {}", reply.reason());
    let body = reply.json();
    let classes: Vec<&str> =
        body["result"].as_array().expect("list").iter().filter_map(|d| d["classname"].as_str()).collect();
    assert_eq!(classes, ["red_hat", "white_hat"], "{file}");
}

#[tokio::test]
async fn an_image_of_exactly_5_mib_is_accepted() {
    let s = start().await;
    let reply = s.client.post(&hat(), image_body(&oversized_png_b64(FIVE_MIB))).await;
    assert_eq!(reply.code(), 0, "{}", reply.reason());
}

#[tokio::test]
async fn a_body_far_over_the_limit_is_refused_without_reading_it_all() {
    let s = start().await;
    let huge = vec![b' '; 2 * 5_246_976 + (1 << 20) + 1];
    let reply = s.client.post(&hat(), huge).await;
    assert_eq!(reply.code(), 4002);
    assert!(reply.reason().contains("reading stopped"), "{}", reply.reason());
}

fn check_detections(result: &Value, width: u64, height: u64) {
    let classes = ["blue_hat", "white_hat", "yellow_hat", "red_hat", "other_hat"];
    let list = result.as_array().expect("result is a list");
    for d in list {
        let b: Vec<u64> = d["box"].as_array().expect("box").iter().map(|v| v.as_u64().expect("int")).collect();
        let [top, left, bottom, right] = b[..] else { panic!("box of {} values", b.len()) };
        assert!(top < bottom && bottom <= height && left < right && right <= width, "{b:?}");
        assert!(classes.contains(&d["classname"].as_str().expect("classname")));
        assert!((0.0..=1.0).contains(&d["score"].as_f64().expect("score")));
    }
}
