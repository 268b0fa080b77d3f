//! The request journal over a real socket: what each call leaves in its account's ring
//! (verdict, check, images without their bytes, lints), the ring's bound, the query's
//! filters, the reset, and the client-contract data of `fixtures/errors.json`.

use base64::Engine;
use contract_tests::client::{Call, SignOptions};
use contract_tests::image::{png, Scene};
use contract_tests::{fixtures, signer, Client};
use mock_server::Config;
use rstest::rstest;
use serde_json::{json, Value};

use crate::util::{image_body, start, start_with, DEFAULT_AK};

const STANDARD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The correct way to sign, with a request id of its own.
fn fresh(id: &str) -> SignOptions {
    SignOptions { request_id: id.into(), ..SignOptions::now() }
}

fn small_png() -> Vec<u8> {
    png(&Scene::default(), 96, 64).expect("png")
}

fn frames_body(key_of: impl Fn(usize) -> String, n: usize, list: bool) -> String {
    let b64 = STANDARD.encode(small_png());
    if list {
        let frames: Vec<String> = (0..n).map(|_| format!("\"{b64}\"")).collect();
        return format!(r#"{{"{}":[{}]}}"#, key_of(0), frames.join(","));
    }
    let members: Vec<String> = (1..=n).map(|i| format!(r#""{}":"{b64}""#, key_of(i))).collect();
    format!("{{{}}}", members.join(","))
}

async fn journal(client: &Client, query: &str) -> Value {
    let (status, view) =
        client.control("GET", &format!("accounts/{}/journal{query}", client.signer.ak), Value::Null).await;
    assert_eq!(status, 200, "{view}");
    view
}

/// The newest entry of the default account.
async fn last_entry(client: &Client) -> Value {
    let view = journal(client, "").await;
    view["entries"].as_array().and_then(|e| e.last()).cloned().unwrap_or_else(|| panic!("no entry in {view}"))
}

fn lint_ids(entry: &Value) -> Vec<String> {
    entry["lints"].as_array().expect("lints").iter().map(|l| l["id"].as_str().expect("id").to_string()).collect()
}

#[tokio::test]
async fn a_correct_call_is_journalled_accepted_without_lints_or_image_bytes() {
    let server = start().await;
    let client = &server.client;
    let image = small_png();
    let call = client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(&image)), fresh("clean-1"));
    let reply = client.send(call).await;
    assert_eq!(reply.code(), 0, "{}", reply.reason());
    let entry = last_entry(client).await;
    assert_eq!(lint_ids(&entry), Vec::<String>::new(), "{entry}");
    for (field, want) in [
        ("request_id", json!("clean-1")),
        ("method", json!("POST")),
        ("path", json!(fixtures::path("hat"))),
        ("endpoint", json!("hat")),
        ("appkey", json!(client.appkey)),
        ("status", json!(200)),
        ("code", json!(0)),
        ("verdict", json!("accepted")),
        ("check", Value::Null),
        ("reason", Value::Null),
        ("charged", json!(true)),
    ] {
        assert_eq!(entry[field], want, "{field} in {entry}");
    }
    let shown = &entry["images"][0];
    assert_eq!((&shown["format"], &shown["width"], &shown["height"]), (&json!("png"), &json!(96), &json!(64)));
    assert_eq!(shown["bytes"], json!(image.len()));
    assert_eq!(shown["sha256"].as_str().map(str::len), Some(16));
    assert!(entry["at"].as_str().is_some_and(|d| d.len() == 16) && entry["at_ms"].is_i64(), "{entry}");
    assert!(
        entry["elapsed_ms"].is_f64() && entry["bytes_in"].as_u64() > Some(0) && entry["bytes_out"].as_u64() > Some(0)
    );
}

/// How a call shows a lint, on the default account of a fresh server.
enum Shows {
    /// One call, made by the function.
    Call(fn(&Client) -> Call),
    /// A first call, then the one that shows the lint.
    Second(fn(&Client) -> Call, fn(&Client) -> Call),
}

fn hat_call(client: &Client, id: &str) -> Call {
    client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(small_png())), fresh(id))
}

fn unsorted(client: &Client) -> Call {
    let call = hat_call(client, "unsorted");
    let auth = call.get("Eop-Authorization").expect("signed").to_string();
    let reordered =
        auth.replace("Headers=appkey;ctyun-eop-request-id;eop-date", "Headers=eop-date;appkey;ctyun-eop-request-id");
    assert_ne!(auth, reordered, "the signer's Headers= changed: {auth}");
    call.header("Eop-Authorization", &reordered)
}

fn url_safe(client: &Client) -> Call {
    let text = base64::engine::general_purpose::URL_SAFE.encode(small_png());
    assert!(text.contains(['-', '_']), "the test image has no url-safe character");
    client.call_with(&fixtures::path("hat"), image_body(&text), fresh("url-safe"))
}

fn near_size(client: &Client) -> Call {
    // 97% of hard-hat's 5 MiB of base64 text: a png followed by padding bytes.
    let mut image = small_png();
    image.resize(5 * 1024 * 1024 / 4 * 3 * 97 / 100 / 3 * 3, 0);
    client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(&image)), fresh("near-size"))
}

fn near_dimension(client: &Client) -> Call {
    let image = png(&Scene::default(), 950, 8).expect("png");
    let body = format!(r#"{{"imageContent":"{}"}}"#, STANDARD.encode(image));
    client.call_with(&fixtures::path("face_quality"), body, fresh("near-dimension"))
}

fn liveness_3(client: &Client) -> Call {
    let body = frames_body(|i| format!("image{i}Content"), 3, false);
    client.call_with(&fixtures::path("liveness_shake"), body, fresh("liveness-3"))
}

fn fall_2(client: &Client) -> Call {
    let body = frames_body(|_| "images".into(), 2, true);
    client.call_with(&fixtures::path("fall"), body, fresh("fall-2"))
}

fn drifted(client: &Client) -> Call {
    let options = SignOptions { eop_date: signer::eop_date(signer::unix_now() - 6 * 60, 8), ..fresh("drifted") };
    client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(small_png())), options)
}

fn compact(client: &Client) -> Call {
    client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(small_png())), fresh("same-id"))
}

fn spaced(client: &Client) -> Call {
    let body = format!("{{ \"image\" : \"{}\" }}", STANDARD.encode(small_png()));
    client.call_with(&fixtures::path("hat"), body, fresh("same-id"))
}

fn other_image(client: &Client) -> Call {
    let image = png(&Scene::default(), 64, 48).expect("png");
    client.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(image)), fresh("same-id"))
}

#[rstest]
#[case::unsigned_appkey(Shows::Call(|c| c.call_with(&fixtures::path("hat"), image_body(&STANDARD.encode(small_png())), SignOptions { request_id: "sdk".into(), ..SignOptions::sdk_default() })), &["unsigned-appkey"])]
#[case::unsorted_signed_headers(Shows::Call(unsorted), &["unsorted-signed-headers"])]
#[case::url_safe_base64(Shows::Call(url_safe), &["url-safe-base64"])]
#[case::image_near_size_limit(Shows::Call(near_size), &["image-near-size-limit"])]
#[case::image_near_dimension_limit(Shows::Call(near_dimension), &["image-near-dimension-limit"])]
#[case::liveness_frames_outside_advised(Shows::Call(liveness_3), &["liveness-frames-outside-advised"])]
#[case::action_frames_below_advised(Shows::Call(fall_2), &["action-frames-below-advised"])]
#[case::eop_date_drift(Shows::Call(drifted), &["eop-date-drift"])]
#[case::request_id_reused(Shows::Second(compact, other_image), &["request-id-reused"])]
#[case::reserialised_body(Shows::Second(compact, spaced), &["request-id-reused", "reserialised-body"])]
#[tokio::test]
async fn each_lint_is_shown_by_the_call_that_has_it_and_by_no_other(#[case] shows: Shows, #[case] want: &[&str]) {
    let server = start().await;
    let client = &server.client;
    let call = match shows {
        Shows::Call(make) => make(client),
        Shows::Second(first, second) => {
            client.send(first(client)).await;
            assert_eq!(lint_ids(&last_entry(client).await), Vec::<String>::new(), "the first call is clean");
            second(client)
        }
    };
    let reply = client.send(call).await;
    let entry = last_entry(client).await;
    assert_eq!(lint_ids(&entry), want, "code {} ({}): {entry}", reply.code(), reply.reason());
    for lint in entry["lints"].as_array().expect("lints") {
        assert!(lint["message"].is_string() && lint["manual"].as_str().is_some_and(|m| m.starts_with('§')), "{lint}");
    }
}

#[tokio::test]
async fn a_5_mb_image_leaves_a_small_entry() {
    let server = start().await;
    let client = &server.client;
    client.send(near_size(client)).await;
    let (status, raw) = {
        let call = Call {
            method: "GET".into(),
            target: format!("/__mock/accounts/{DEFAULT_AK}/journal"),
            headers: vec![("host".into(), client.addr.to_string())],
            body: Vec::new(),
            string_to_sign: String::new(),
        };
        let reply = client.send(call).await;
        (reply.status, reply.raw)
    };
    assert_eq!(status, 200);
    assert!(raw.len() < 2048, "the journal answer is {} bytes", raw.len());
    let view: Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(view["entries"][0]["images"][0]["format"], "png", "{view}");
    assert!(view["entries"][0]["bytes_in"].as_u64() > Some(5_000_000), "{view}");
}

#[tokio::test]
async fn the_ring_drops_its_oldest_entries_past_its_capacity_and_counts_them() {
    let server = start_with(Config { journal_capacity: 3, ..Config::default() }).await;
    let client = &server.client;
    for i in 1..=5 {
        client.send(client.call_with(&fixtures::path("hat"), "{}", fresh(&format!("call-{i}")))).await;
    }
    let view = journal(client, "").await;
    assert_eq!((&view["capacity"], &view["recorded"], &view["dropped"]), (&json!(3), &json!(5), &json!(2)));
    let kept: Vec<(&Value, &Value)> =
        view["entries"].as_array().expect("entries").iter().map(|e| (&e["seq"], &e["request_id"])).collect();
    assert_eq!(kept, [(&json!(3), &json!("call-3")), (&json!(4), &json!("call-4")), (&json!(5), &json!("call-5"))]);
}

#[tokio::test]
async fn the_capacity_comes_from_the_config_file_and_a_bad_one_is_refused_with_its_line() {
    let server = crate::util::start_toml("journal_capacity = 2").await;
    assert_eq!(journal(&server.client, "").await["capacity"], 2);
    let refused = Config::from_toml("test.toml", "\njournal_capacity = -1").expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "test.toml:2: journal_capacity: -1 is not a journal capacity; keep 0 (no journal) to 1000000 requests per account"
    );
}

#[tokio::test]
async fn a_capacity_of_0_keeps_nothing() {
    let server = start_with(Config { journal_capacity: 0, ..Config::default() }).await;
    let client = &server.client;
    client.send(hat_call(client, "off")).await;
    let view = journal(client, "").await;
    assert_eq!((&view["recorded"], &view["entries"]), (&json!(0), &json!([])));
}

fn seqs(view: &Value) -> Vec<u64> {
    view["entries"].as_array().expect("entries").iter().filter_map(|e| e["seq"].as_u64()).collect()
}

#[tokio::test]
async fn the_journal_is_filtered_by_endpoint_code_since_and_limit() {
    let server = start().await;
    let client = &server.client;
    client.send(hat_call(client, "f-1")).await; // seq 1: hat 0
    client.send(client.call_with(&fixtures::path("hat"), "{}", fresh("f-2"))).await; // 2: hat 4001
    let clothes = client.call_with(&fixtures::path("clothes"), image_body(&STANDARD.encode(small_png())), fresh("f-3"));
    client.send(clothes).await; // 3: clothes 0
    client.send(hat_call(client, "f-4").body(r#"{"image":""}"#)).await; // 4: hat 10020
    assert_eq!(seqs(&journal(client, "").await), [1, 2, 3, 4]);
    assert_eq!(seqs(&journal(client, "?endpoint=hat").await), [1, 2, 4]);
    assert_eq!(seqs(&journal(client, "?code=10020").await), [4]);
    assert_eq!(seqs(&journal(client, "?code=0&endpoint=clothes").await), [3]);
    assert_eq!(seqs(&journal(client, "?since=2").await), [3, 4]);
    assert_eq!(seqs(&journal(client, "?limit=2").await), [3, 4]);
    assert_eq!(seqs(&journal(client, "?endpoint=hat&limit=2").await), [2, 4]);
    let refusal = journal(client, "?code=4001").await;
    assert_eq!(
        (&refusal["entries"][0]["check"], &refusal["entries"][0]["verdict"]),
        (&json!("capability"), &json!("refused"))
    );
    let signature = journal(client, "?code=10020").await;
    assert_eq!(signature["entries"][0]["check"], "signature");
    for (query, error) in [
        ("?limit=many", "`limit` is a whole number, not `many`"),
        ("?colour=red", "unknown parameter `colour`; the journal takes endpoint, code, since and limit"),
    ] {
        let (status, body) = client.control("GET", &format!("accounts/{DEFAULT_AK}/journal{query}"), Value::Null).await;
        assert_eq!((status, &body["error"]), (400, &json!(error)));
    }
    let (status, _) = client.control("GET", "accounts/nobody/journal", Value::Null).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_reset_clears_the_journal_and_seq_numbers_go_on() {
    let server = start().await;
    let client = &server.client;
    client.send(hat_call(client, "before-1")).await;
    client.send(hat_call(client, "before-2")).await;
    let (status, _) = client.control("POST", &format!("accounts/{DEFAULT_AK}/reset"), Value::Null).await;
    assert_eq!(status, 200);
    let view = journal(client, "").await;
    assert_eq!((&view["recorded"], &view["dropped"], &view["entries"]), (&json!(0), &json!(0), &json!([])));
    client.send(hat_call(client, "before-1")).await;
    let entry = last_entry(client).await;
    assert_eq!((&entry["seq"], lint_ids(&entry)), (&json!(3), vec![]), "a reset forgets the ids seen: {entry}");
}

#[tokio::test]
async fn calls_of_an_unknown_ak_are_not_journalled() {
    let server = start().await;
    let stranger = server.client.as_account("nobody", "nothing", "no-appkey");
    let reply = stranger.send(hat_call(&stranger, "stranger")).await;
    assert_eq!(reply.code(), 10002);
    assert_eq!(journal(&server.client, "").await["recorded"], 0);
}

#[tokio::test]
async fn verdicts_tell_natural_answers_from_forced_and_injected_ones() {
    let server = start().await;
    let client = &server.client;
    client.send(hat_call(client, "v-accepted")).await;
    client.send(client.call_with(&fixtures::path("hat"), "{}", fresh("v-refused"))).await;
    client.send(hat_call(client, "v-forced").header("x-mock-force", "51003")).await;
    let rule = json!({"when": {"next": 1}, "what": {"code": 50000}});
    let (status, armed) = client.control("POST", &format!("accounts/{DEFAULT_AK}/rules"), rule).await;
    assert_eq!(status, 201, "{armed}");
    client.send(hat_call(client, "v-injected")).await;
    let view = journal(client, "").await;
    let got: Vec<(&str, &Value, &Value, &Value, &Value)> = view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["request_id"].as_str().is_some_and(|id| id.starts_with("v-")))
        .map(|e| (e["request_id"].as_str().unwrap_or_default(), &e["verdict"], &e["code"], &e["check"], &e["charged"]))
        .collect();
    assert_eq!(
        got,
        [
            ("v-accepted", &json!("accepted"), &json!(0), &Value::Null, &json!(true)),
            ("v-refused", &json!("refused"), &json!(4001), &json!("capability"), &json!(false)),
            ("v-forced", &json!("forced"), &json!(51003), &json!("billing"), &json!(false)),
            ("v-injected", &json!("injected"), &json!(50000), &json!("internal"), &json!(false)),
        ]
    );
}

#[test]
fn every_code_declares_its_check_cause_and_retry() {
    let text = std::fs::read_to_string(fixtures::dir().join("errors.json")).expect("errors.json");
    let codes: Value = serde_json::from_str(&text).expect("json");
    let checks = [
        "request_type",
        "route",
        "signature",
        "appkey",
        "ip",
        "enabled",
        "throttle",
        "billing",
        "capability",
        "internal",
    ];
    let mut retryable = Vec::new();
    for entry in codes["codes"].as_array().expect("codes") {
        let (check, cause, retry) = (entry["check"].as_str(), entry["cause"].as_str(), entry["retry"].as_str());
        assert!(check.is_some_and(|c| checks.contains(&c)), "{entry}");
        assert!(cause.is_some_and(|c| ["request", "account", "server", "throttle", "content"].contains(&c)), "{entry}");
        assert!(retry.is_some_and(|r| ["permanent", "retryable"].contains(&r)), "{entry}");
        if retry == Some("retryable") {
            retryable.push(entry["code"].as_u64().expect("code"));
        }
    }
    retryable.sort_unstable();
    retryable.dedup();
    assert_eq!(retryable, [5000, 5001, 5002, 40029, 50000]);
}

#[test]
fn every_lint_is_declared_with_a_message_a_manual_section_and_a_fix() {
    let text = std::fs::read_to_string(fixtures::dir().join("lints.json")).expect("lints.json");
    let lints: Value = serde_json::from_str(&text).expect("json");
    let lints = lints["lints"].as_array().expect("lints");
    assert_eq!(lints.len(), 10);
    for lint in lints {
        for field in ["id", "message", "manual", "fix"] {
            assert!(lint[field].as_str().is_some_and(|s| !s.is_empty()), "{field} of {lint}");
        }
    }
}
