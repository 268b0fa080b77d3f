//! Bounds on what one request may cost the server: a body is kept only once its head has
//! passed the gateway and only within `max_body_memory`; lists are counted, never built
//! past their limit; a failed signature's diagnosis is bounded; embedded ground truth is
//! untrusted; a UTC `eop-date` is accepted only when switched on. Memory and timing
//! figures are the benchmark's (`bench --hardening`), not these tests'.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::client::SignOptions;
use contract_tests::image::{png, with_ground_truth_json, Scene};
use contract_tests::signer;
use mock_server::Config;
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{image_body, start_toml, start_with, DEFAULT_AK, DEFAULT_SK};

const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";
const FALL: &str = "/v1/aiop/api/2gm0y369n30g/action/falldown/images";
const FACE: &str = "/v1/aiop/api/2gkds6yod62o/face-fas-action/person/quality_detect_from_base64";

fn small_png_b64() -> String {
    STANDARD.encode(png(&Scene::default(), 64, 48).expect("png"))
}

/// A valid hard-hat body of `total` bytes: the image, then JSON whitespace.
fn hat_body(total: usize) -> Vec<u8> {
    let mut body = image_body(&small_png_b64()).into_bytes();
    body.resize(total.max(body.len()), b' ');
    body
}

fn budget(bytes: u64, wait_ms: u64) -> Config {
    Config { max_body_memory: bytes, body_memory_wait: Duration::from_millis(wait_ms), ..Config::default() }
}

#[tokio::test]
async fn a_body_over_the_whole_budget_gets_503_only_once_its_signature_is_right() {
    let server = start_with(budget(64 * 1024, 200)).await;
    let reply = server.client.post(HAT, hat_body(200_000)).await;
    assert_eq!(reply.status, 503, "{:?}", reply.raw);
    assert!(reply.reason().contains("--max-body-memory of 65536 bytes"), "{}", reply.reason());
    let mut call = server.client.call(HAT, hat_body(200_000));
    call.body[199_999] = b'\n';
    let reply = server.client.send(call).await;
    assert_eq!(reply.code(), 10020, "a wrong signature still says so");
    let fits = server.client.post(HAT, hat_body(1000)).await;
    assert_eq!(fits.code(), 0, "a body within the budget is served: {}", fits.reason());
}

#[rstest]
#[case::unknown_appkey(DEFAULT_AK, DEFAULT_SK, "no-such-appkey", 40006)]
#[case::unknown_ak("no-such-ak", DEFAULT_SK, "mock-appkey", 10002)]
#[tokio::test]
async fn a_request_known_to_fail_answers_its_usual_code_without_room_for_its_body(
    #[case] ak: &str,
    #[case] sk: &str,
    #[case] appkey: &str,
    #[case] code: i64,
) {
    let server = start_with(budget(64 * 1024, 200)).await;
    let reply = server.client.as_account(ak, sk, appkey).post(HAT, hat_body(200_000)).await;
    assert_eq!(reply.code(), code, "{}", reply.reason());
}

#[tokio::test]
async fn a_request_for_another_accounts_appkey_with_a_wrong_signature_still_says_signature() {
    let toml = r#"
        [[accounts]]
        ak = "other-ak"
        sk = "other-sk"
        [[accounts.apps]]
        name = "theirs"
        appkey = "their-appkey"
        apis = ["hat"]
    "#;
    let mut config = Config::from_toml("test.toml", toml).expect("config");
    config.max_body_memory = 64 * 1024;
    let server = start_with(config).await;
    let client = server.client.as_account(DEFAULT_AK, DEFAULT_SK, "their-appkey");
    let reply = client.post(HAT, hat_body(200_000)).await;
    assert_eq!(reply.code(), 40006, "{}", reply.reason());
    let mut call = client.call(HAT, hat_body(200_000));
    call.body[199_999] = b'\n';
    assert_eq!(client.send(call).await.code(), 10020, "the signature is checked first, as documented");
}

/// Starts `call` over a raw socket: the head and `part` bytes of the body, so the server
/// holds room for the whole body; [`finish`] sends the rest and reads the status line.
async fn hold(call: contract_tests::Call, part: usize) -> (tokio::net::TcpStream, Vec<u8>) {
    let addr = call.get("host").expect("host").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{} {} HTTP/1.1\r\n", call.method, call.target);
    for (name, value) in &call.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", call.body.len()));
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&call.body[..part]).await.expect("part of the body");
    (stream, call.body[part..].to_vec())
}

async fn finish(mut stream: tokio::net::TcpStream, rest: Vec<u8>) -> String {
    stream.write_all(&rest).await.expect("the rest");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_body_without_room_waits_then_is_refused_and_room_comes_back_when_a_body_is_done() {
    let server = start_with(budget(300_000, 300)).await;
    let (held, rest) = hold(server.client.call(HAT, hat_body(200_000)), 1000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let refused = server.client.post(HAT, hat_body(200_000)).await;
    assert_eq!(refused.status, 503, "{}", refused.reason());
    assert!(started.elapsed() >= Duration::from_millis(250), "it waited for room first");
    assert_eq!(finish(held, rest).await, "HTTP/1.1 200 OK");
    assert_eq!(server.client.post(HAT, hat_body(200_000)).await.code(), 0, "the room is given back");
}

#[tokio::test]
async fn a_body_that_finds_room_within_the_wait_is_served() {
    let server = start_with(budget(300_000, 5000)).await;
    let (held, rest) = hold(server.client.call(HAT, hat_body(200_000)), 1000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = server.client.clone();
    let waiting = tokio::spawn(async move { client.post(HAT, hat_body(200_000)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(finish(held, rest).await, "HTTP/1.1 200 OK");
    let served = waiting.await.expect("task");
    assert_eq!(served.code(), 0, "{}", served.reason());
}

#[tokio::test]
async fn a_long_list_of_frames_is_counted_not_built() {
    let server = start_with(Config::default()).await;
    let body = format!(r#"{{"images":[{}0]}}"#, "0,".repeat(999_999));
    let reply = server.client.post(FALL, body).await;
    assert_eq!(reply.code(), 4013);
    assert_eq!(reply.reason(), "`images` has 1000000 frames; send 1 to 64");
}

#[rstest]
#[case::box_that_overflows(HAT, r#"{"people":[{"box":[4294967295,0,2,1]}]}"#, 4006, "person 1's box")]
#[case::box_outside_the_image(HAT, r#"{"people":[{"box":[60,0,10,10]}]}"#, 4006, "inside the 64x48 image")]
#[case::score_over_one(FALL, r#"{"fall":1.5}"#, 4015, "fall is a score in [0, 1]")]
#[case::delay_over_a_minute(FACE, r#"{"delay_ms":60001}"#, 4202, "delay is at most 60000 ms")]
#[tokio::test]
async fn crafted_ground_truth_is_refused_with_the_parameter_code(
    #[case] path: &str,
    #[case] scene: &str,
    #[case] code: i64,
    #[case] why: &str,
) {
    let server = start_with(Config::default()).await;
    let image = png(&Scene::default(), 64, 48).expect("png");
    let b64 = STANDARD.encode(with_ground_truth_json(&image, scene.as_bytes()).expect("ground truth"));
    let body = match path {
        FALL => format!(r#"{{"images":["{b64}"]}}"#),
        FACE => format!(r#"{{"imageContent":"{b64}"}}"#),
        _ => image_body(&b64),
    };
    let reply = server.client.post(path, body).await;
    assert_eq!(reply.code(), code, "{}", reply.reason());
    assert!(reply.reason().contains("carries ground truth the emulator cannot use") && reply.reason().contains(why));
}

/// Signs `{"image":"AAAA…"}` with `n` characters, and sends it with a space after the colon.
async fn sent_other_than_signed(n: usize) -> String {
    let server = start_with(Config::default()).await;
    let signed = image_body(&"A".repeat(n));
    let mut call = server.client.call(HAT, signed.clone());
    call.body = signed.replacen(":", ": ", 1).into_bytes();
    server.client.send(call).await.reason()
}

#[tokio::test]
async fn a_body_sent_other_than_signed_is_named_when_small_and_not_re_serialised_when_large() {
    assert!(sent_other_than_signed(1000).await.starts_with("the body sent is not the body signed"));
    let large = sent_other_than_signed(1_200_000).await;
    assert!(large.starts_with("the signature does not match; check the sk"), "{large}");
}

/// A kept body over 1 MiB is read by its capability while its hash completes; the answer
/// is still the one the gateway's order gives.
#[tokio::test]
async fn a_large_body_read_before_its_signature_is_checked_answers_as_the_order_says() {
    let server = start_with(Config::default()).await;
    let good = hat_body(1_500_000);
    assert_eq!(server.client.post(HAT, good.clone()).await.code(), 0);
    let mut call = server.client.call(HAT, good);
    *call.body.last_mut().expect("a body") = b'\n';
    assert_eq!(server.client.send(call).await.code(), 10020, "a wrong signature, whatever the image");
    let not_base64 = image_body(&"!".repeat(1_500_000)).into_bytes();
    assert_eq!(server.client.post(HAT, not_base64.clone()).await.code(), 4003);
    let mut call = server.client.call(HAT, not_base64);
    call.body[100] = b'?';
    assert_eq!(server.client.send(call).await.code(), 10020, "the signature's verdict comes before the image's");
}

#[tokio::test]
async fn a_utc_eop_date_is_accepted_only_when_switched_on() {
    let utc = SignOptions { eop_date: signer::eop_date(signer::unix_now(), 0), ..SignOptions::now() };
    let body = image_body(&small_png_b64());
    let strict = start_with(Config::default()).await;
    let reply = strict.client.send(strict.client.call_with(HAT, body.clone(), utc.clone())).await;
    assert_eq!(reply.code(), 10020);
    assert!(reply.reason().contains("it looks like UTC"), "{}", reply.reason());
    let lenient = start_toml("accept_utc_eop_date = true").await;
    let reply = lenient.client.send(lenient.client.call_with(HAT, body, utc)).await;
    assert_eq!((reply.code(), reply.reason()), (0, String::new()));
}
