//! Failures on purpose, seen from a client over a real socket: every documented code
//! forced on every endpoint, armed rules (recovery, seeds, throttling, isolation), network
//! faults (latency, resets, truncation, drip rate), and that none of them is charged.

use std::time::{Duration, Instant};

use bytes::Bytes;
use contract_tests::client::{Call, Reply};
use contract_tests::{fixtures, Client};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{image_body, start, start_toml, DEFAULT_AK, DEFAULT_APPKEY};

fn hat() -> String {
    fixtures::path("hat")
}

fn body() -> String {
    image_body(&fixtures::image_b64("scene-96x64.png"))
}

async fn arm(client: &Client, rule: Value) -> String {
    let (status, armed) = client.control("POST", &format!("accounts/{}/rules", client.signer.ak), rule).await;
    assert_eq!(status, 201, "{armed}");
    armed["id"].as_str().expect("id").to_string()
}

async fn hat_calls_left(client: &Client) -> Value {
    let (status, usage) = client.control("GET", &format!("apps/{}/usage", client.appkey), Value::Null).await;
    assert_eq!(status, 200, "{usage}");
    usage["apis"]["hat"].clone()
}

/// Sends a call and reads what arrives, or the error that stopped it.
async fn try_send(addr: std::net::SocketAddr, call: Call) -> Result<(u16, Result<Bytes, String>), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(call.method.as_str()).uri(call.target.as_str());
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(call.body))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map(|c| c.to_bytes()).map_err(|e| e.to_string());
    Ok((status, body))
}

/// The request as bytes on a raw socket, and everything the server sent until it closed.
async fn raw_exchange(addr: std::net::SocketAddr, call: &Call) -> Vec<u8> {
    let mut text = format!("{} {} HTTP/1.1\r\n", call.method, call.target);
    for (name, value) in &call.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", call.body.len()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(text.as_bytes()).await.expect("write head");
    stream.write_all(&call.body).await.expect("write body");
    let mut received = Vec::new();
    // A reset may end the read with an error: what arrived before it is what counts.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    received
}

/// What the catalogue says the body of `entry` looks like on any endpoint.
fn expected_body(entry: &Value, request_id: &str) -> Value {
    let code = entry["code"].as_u64().expect("code");
    let message = entry["message"].as_str().expect("message").replace("{index}", "1");
    if entry["scope"] == "gateway" {
        let c = code.to_string();
        json!({"code": c, "eopErrCode": c, "error": c, "message": message, "requestId": request_id,
               "returnObj": {}, "statusCode": format!("CTAPI_{c}")})
    } else {
        let c = if entry["string_code"] == true { json!(code.to_string()) } else { json!(code) };
        json!({"code": c, "message": "error", "details": message})
    }
}

fn all_endpoints() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures::dir().join("routes.json")).expect("routes.json");
    let routes: Value = serde_json::from_str(&text).expect("json");
    routes["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["endpoint"].as_str().expect("name").into())
        .collect()
}

/// Every (endpoint, code) pair of the catalogue, forced: the body and status the catalogue gives.
/// The capability rows of `capabilities.rs` also compare each forced code with its natural
/// trigger directly; the gateway rows of `gateway.rs` pin natural refusals to the same shape.
#[tokio::test]
async fn every_documented_code_forced_on_every_endpoint_has_the_catalogue_body_and_status() {
    let s = start().await;
    let text = std::fs::read_to_string(fixtures::dir().join("errors.json")).expect("errors.json");
    let catalogue: Value = serde_json::from_str(&text).expect("json");
    let (mut checked, mut failures) = (0, Vec::new());
    for entry in catalogue["codes"].as_array().expect("codes") {
        let code = entry["code"].as_u64().expect("code");
        let names: Vec<String> = entry["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| e.as_str().expect("name").into())
            .collect();
        let endpoints = if names.iter().any(|n| n == "*") { all_endpoints() } else { names };
        for endpoint in endpoints {
            let mut call = s.client.call(&fixtures::path(&endpoint), "{}").header("x-mock-force", &code.to_string());
            if code == 10020 || code == 10002 {
                call = call.header("Eop-Authorization", "nobody Headers=eop-date;Signature=AAAA");
            }
            let request_id = call.get("ctyun-eop-request-id").unwrap_or_default().to_string();
            let reply = s.client.send(call).await;
            let body = reply.json();
            let expected = expected_body(entry, &request_id);
            if reply.status as u64 != entry["status"].as_u64().expect("status") || body != expected {
                failures.push(format!(
                    "{endpoint} {code}: {} {body}, expected {} {expected}",
                    reply.status, entry["status"]
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} forced codes differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 250, "only {checked} pairs of endpoint and code");
}

#[tokio::test]
async fn a_code_not_documented_for_the_endpoint_is_refused_by_the_emulator_with_the_documented_ones() {
    let s = start().await;
    let reply = s.client.send(s.client.call(&hat(), body()).header("x-mock-force", "4204")).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "4204 is not documented for `hat`; x-mock-force takes one of 4001, 4002, 4003, 4006, 10002, 10020, 40002, 40006, 40008, 40009, 40010, 40029, 50000, 50001, 50002, 50003, 51001, 51002, 51003"})
    );
}

#[tokio::test]
async fn a_forced_code_other_than_10020_or_10002_still_needs_a_valid_signature() {
    let s = start().await;
    let call = s.client.call(&hat(), body()).header("x-mock-force", "51003").body("{\"image\":\"changed\"}");
    let reply = s.client.send(call).await;
    assert_eq!(reply.code(), 10020);
    let reply = s.client.send(s.client.call(&hat(), body()).header("x-mock-force", "51003")).await;
    assert_eq!((reply.status, reply.code()), (403, 51003));
    assert_eq!(reply.reason(), "forced by x-mock-force");
}

#[tokio::test]
async fn no_forced_or_injected_failure_is_charged() {
    let s = start().await;
    let before = hat_calls_left(&s.client).await;
    let forced = s.client.send(s.client.call(&hat(), body()).header("x-mock-force", "4001")).await;
    assert_eq!(forced.code(), 4001);
    for what in [
        json!({"code": 50000}),
        json!({"gateway": 502}),
        json!({"body": {"anything": true}}),
        json!({"reset": "before"}),
        json!({"reset": "half"}),
        json!({"truncate_at": 3}),
    ] {
        let id = arm(&s.client, json!({"what": what})).await;
        let _ = try_send(s.client.addr, s.client.call(&hat(), body())).await;
        let (status, _) = s.client.control("DELETE", &format!("accounts/{DEFAULT_AK}/rules/{id}"), Value::Null).await;
        assert_eq!(status, 200);
    }
    assert_eq!(hat_calls_left(&s.client).await, before, "a failure was charged");
    assert_eq!(s.client.post(&hat(), body()).await.code(), 0);
    assert_ne!(hat_calls_left(&s.client).await, before, "a success must be charged, or this test proves nothing");
}

#[tokio::test]
async fn a_rule_for_the_next_calls_recovers_after_them_and_counts_its_firings() {
    let s = start().await;
    arm(&s.client, json!({"endpoint": "hat", "when": {"next": 2}, "what": {"code": 51003}})).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(s.client.post(&hat(), body()).await.code());
    }
    assert_eq!(codes, vec![51003, 51003, 0, 0]);
    let (_, listed) = s.client.control("GET", &format!("accounts/{DEFAULT_AK}/rules"), Value::Null).await;
    assert_eq!((listed["rules"][0]["fired"].clone(), listed["rules"][0]["calls"].clone()), (json!(2), json!(4)));
}

async fn sequence_with_seed(seed: u64) -> Vec<i64> {
    let s = start().await;
    arm(&s.client, json!({"when": {"probability": 0.5}, "what": {"code": 50000}, "seed": seed})).await;
    let mut codes = Vec::new();
    for _ in 0..24 {
        codes.push(s.client.post(&hat(), body()).await.code());
    }
    codes
}

#[tokio::test]
async fn a_probability_rule_gives_the_same_answers_from_the_same_seed() {
    let first = sequence_with_seed(11).await;
    assert_eq!(first, sequence_with_seed(11).await);
    assert!(first.contains(&0) && first.contains(&50000), "{first:?}");
    assert_ne!(first, sequence_with_seed(12).await);
}

#[tokio::test]
async fn a_throttle_under_a_burst_refuses_exactly_the_excess_with_retry_after() {
    let s = start().await;
    arm(&s.client, json!({"endpoint": "hat", "what": {"throttle_rps": 5}})).await;
    // Start just after a second begins, so the burst stays within one window.
    let into_second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from(1050 - into_second))).await;
    let replies = burst(&s.client, &hat(), &body(), 12).await;
    let throttled: Vec<&Reply> = replies.iter().filter(|r| r.code() == 40029).collect();
    assert_eq!(throttled.len(), 7, "{:?}", replies.iter().map(Reply::code).collect::<Vec<_>>());
    assert_eq!(replies.iter().filter(|r| r.code() == 0).count(), 5);
    for reply in throttled {
        assert_eq!(reply.status, 429);
        assert_eq!(reply.headers["retry-after"], "1");
    }
}

/// `n` correct calls to `path` sent at once, in order of sending.
async fn burst(client: &Client, path: &str, body: &str, n: usize) -> Vec<Reply> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (client, call) = (client.clone(), client.call(path, body.to_string()));
            tokio::spawn(async move { client.send(call).await })
        })
        .collect();
    let mut replies = Vec::new();
    for handle in handles {
        replies.push(handle.await.expect("a call"));
    }
    replies
}

#[tokio::test]
async fn two_accounts_with_different_rules_in_parallel_do_not_see_each_others() {
    let s = start().await;
    let (status, created) = s.client.control("POST", "accounts", Value::Null).await;
    assert_eq!(status, 201);
    let (ak, sk) = (created["ak"].as_str().expect("ak"), created["sk"].as_str().expect("sk"));
    let (_, app) = s.client.control("POST", &format!("accounts/{ak}/apps"), json!({"name": "other-site"})).await;
    let appkey = app["appkey"].as_str().expect("appkey");
    s.client.control("POST", &format!("apps/{appkey}/apis/fall"), Value::Null).await;
    let other = s.client.as_account(ak, sk, appkey);
    arm(&s.client, json!({"what": {"code": 50000}})).await;
    arm(&other, json!({"what": {"code": 51001}})).await;
    let fall = fixtures::path("fall");
    let (ours, theirs) = tokio::join!(burst(&s.client, &fall, "{}", 8), burst(&other, &fall, "{}", 8));
    assert!(ours.iter().all(|r| r.code() == 50000), "{:?}", ours.iter().map(Reply::code).collect::<Vec<_>>());
    assert!(theirs.iter().all(|r| r.code() == 51001), "{:?}", theirs.iter().map(Reply::code).collect::<Vec<_>>());
}

#[tokio::test]
async fn latency_holds_the_answer_long_enough_for_a_client_timeout() {
    let s = start().await;
    arm(&s.client, json!({"what": {"latency_ms": 400}})).await;
    let started = Instant::now();
    assert_eq!(s.client.post(&hat(), body()).await.code(), 0);
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    let hurried = tokio::time::timeout(Duration::from_millis(150), s.client.post(&hat(), body())).await;
    assert!(hurried.is_err(), "a 150 ms client timeout must expire");
}

#[tokio::test]
async fn a_reset_before_the_response_gives_the_client_no_response_at_all() {
    let s = start().await;
    arm(&s.client, json!({"when": {"next": 1}, "what": {"reset": "before"}})).await;
    let received = raw_exchange(s.client.addr, &s.client.call(&hat(), body())).await;
    assert!(received.is_empty(), "{:?}", String::from_utf8_lossy(&received));
    assert_eq!(s.client.post(&hat(), body()).await.code(), 0, "the next call is answered");
}

fn split_response(received: &[u8]) -> (String, &[u8]) {
    let end = received.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    (String::from_utf8_lossy(&received[..end]).to_lowercase(), &received[end + 4..])
}

fn content_length(head: &str) -> usize {
    let line = head.lines().find(|l| l.starts_with("content-length:")).expect("content-length");
    line["content-length:".len()..].trim().parse().expect("a length")
}

#[tokio::test]
async fn a_reset_after_half_sends_half_the_declared_body_then_closes() {
    let s = start().await;
    arm(&s.client, json!({"what": {"reset": "half"}})).await;
    let received = raw_exchange(s.client.addr, &s.client.call(&hat(), body())).await;
    let (head, sent) = split_response(&received);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let declared = content_length(&head);
    assert_eq!(sent.len(), declared / 2, "declared {declared}");
    let error = try_send(s.client.addr, s.client.call(&hat(), body())).await.expect("a head").1.expect_err("cut short");
    assert!(!error.is_empty());
}

#[tokio::test]
async fn a_truncated_body_is_cut_at_its_length_and_is_no_longer_json() {
    let s = start().await;
    arm(&s.client, json!({"what": {"truncate_at": 10}})).await;
    let (status, body) = try_send(s.client.addr, s.client.call(&hat(), body())).await.expect("a response");
    let body = body.expect("a complete, short body");
    assert_eq!((status, body.len()), (200, 10));
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn a_dripped_body_arrives_at_its_rate_within_20_percent() {
    let s = start().await;
    let length = s.client.post(&hat(), body()).await.raw.len() as f64;
    let rate = (length * 1.5).round();
    arm(&s.client, json!({"what": {"drip_bps": rate as u64}})).await;
    let stream = tokio::net::TcpStream::connect(s.client.addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let call = s.client.call(&hat(), body());
    let mut request = hyper::Request::builder().method("POST").uri(call.target.as_str());
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response =
        sender.send_request(request.body(Full::new(Bytes::from(call.body))).expect("request")).await.expect("head");
    let started = Instant::now();
    let received = response.into_body().collect().await.expect("whole").to_bytes();
    let observed = received.len() as f64 / started.elapsed().as_secs_f64();
    assert_eq!(received.len() as f64, length);
    assert!((rate * 0.8..=rate * 1.2).contains(&observed), "asked {rate} B/s, observed {observed:.0} B/s");
}

#[tokio::test]
async fn a_gateway_failure_has_the_assumed_gateway_page_and_a_body_rule_any_json() {
    let s = start().await;
    let id = arm(&s.client, json!({"what": {"gateway": 504}})).await;
    let reply = s.client.post(&hat(), body()).await;
    assert_eq!(reply.status, 504);
    assert!(String::from_utf8_lossy(&reply.raw).contains("<title>504 Gateway Time-out</title>"));
    s.client.control("DELETE", &format!("accounts/{DEFAULT_AK}/rules/{id}"), Value::Null).await;
    arm(&s.client, json!({"what": {"body": {"code": 0, "result": "whatever explore mode needs"}}})).await;
    let reply = s.client.post(&hat(), body()).await;
    assert_eq!((reply.status, reply.json()), (200, json!({"code": 0, "result": "whatever explore mode needs"})));
}

#[tokio::test]
async fn the_control_api_lists_removes_and_resets_rules_and_explains_bad_ones() {
    let s = start().await;
    let rules = format!("accounts/{DEFAULT_AK}/rules");
    let (status, error) = s.client.control("POST", &rules, json!({"what": {"gateway": 500}})).await;
    assert_eq!((status, error), (400, json!({"error": "what.gateway: 502, 503 or 504"})));
    let (status, _) = s.client.control("POST", "accounts/nobody/rules", json!({"what": {"gateway": 502}})).await;
    assert_eq!(status, 404);
    arm(&s.client, json!({"id": "slow", "what": {"latency_ms": [10, 20]}})).await;
    arm(&s.client, json!({"id": "down", "appkey": DEFAULT_APPKEY, "what": {"gateway": 503}})).await;
    let (_, listed) = s.client.control("GET", &rules, Value::Null).await;
    let ids: Vec<&Value> = listed["rules"].as_array().expect("rules").iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, vec!["slow", "down"]);
    let (status, _) = s.client.control("DELETE", &format!("{rules}/slow"), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = s.client.control("DELETE", &format!("{rules}/slow"), Value::Null).await;
    assert_eq!(status, 404);
    s.client.control("POST", &format!("accounts/{DEFAULT_AK}/reset"), Value::Null).await;
    let (_, listed) = s.client.control("GET", &rules, Value::Null).await;
    assert_eq!(listed, json!({"rules": []}));
}

#[tokio::test]
async fn rules_declared_in_the_config_are_armed_at_start() {
    let s =
        start_toml("[[rules]]\nak = \"mock-ak\"\nendpoint = \"hat\"\nwhen = { next = 1 }\nwhat = { code = 4003 }\n")
            .await;
    assert_eq!(s.client.post(&hat(), body()).await.code(), 4003);
    assert_eq!(s.client.post(&hat(), body()).await.code(), 0);
}
