//! Every gateway code from a natural request, each refusal and each named signature
//! mistake explained; the explanations are pinned whole in `snapshots/`.

use contract_tests::client::SignOptions;
use contract_tests::{fixtures, signer, Call, Client, Signer};
use rstest::rstest;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::util::{self, image_body, start_toml, TestServer, DEFAULT_SK};

const CONFIG: &str = r#"
[[accounts]]
ak = "ak-other"
sk = "sk-other"

[[accounts.apps]]
name = "clothes-only"
appkey = "appkey-clothes-only"
apis = ["clothes"]

[[accounts.apps]]
name = "walled-app"
appkey = "appkey-walled"
apis = ["*"]
allowed_ips = ["10.9.9.9"]

[[accounts.apps]]
name = "hat-walled"
appkey = "appkey-hat-walled"
apis = ["*"]
api_ips = { hat = ["10.9.9.0/24"], clothes = ["127.0.0.1"] }
"#;

fn hat() -> String {
    fixtures::path("hat")
}

fn good_body() -> String {
    image_body(&fixtures::image_b64("scene-96x64.png"))
}

fn other_account(s: &TestServer, appkey: &str) -> Client {
    Client::new(s.handle.addr(), "ak-other", "sk-other", appkey)
}

/// Builds the request that triggers one case.
fn trigger(case: &str, s: &TestServer) -> Call {
    let c = &s.client;
    let body = good_body();
    match case {
        "unknown_ak" => Client::new(s.handle.addr(), "ak-nobody", DEFAULT_SK, "mock-appkey").call(&hat(), body),
        "no_authorization" => c.call(&hat(), body).without("Eop-Authorization"),
        "malformed_authorization" => c.call(&hat(), body).header("Eop-Authorization", "mock-ak Signature=abc"),
        "request_id_unsigned" => {
            let options = SignOptions { signed: vec!["eop-date".into()], ..SignOptions::now() };
            c.call_with(&hat(), body, options)
        }
        "signed_header_not_sent" => c.call(&hat(), body).without("appkey"),
        "wrong_signature" => {
            let call = c.call(&hat(), body);
            let auth = call.get("Eop-Authorization").unwrap_or_default().replace("Signature=", "Signature=AAAA");
            call.header("Eop-Authorization", &auth)
        }
        "utc_date" => c.call_with(
            &hat(),
            body,
            SignOptions { eop_date: signer::eop_date(signer::unix_now(), 0), ..SignOptions::now() },
        ),
        "date_far_off" => c.call_with(
            &hat(),
            body,
            SignOptions { eop_date: signer::eop_date(signer::unix_now() - 3600, 8), ..SignOptions::now() },
        ),
        // Half a minute over the hour, so a second ticking before the server reads its
        // clock still leaves 60 whole minutes.
        "date_ahead" => c.call_with(
            &hat(),
            body,
            SignOptions { eop_date: signer::eop_date(signer::unix_now() + 3630, 8), ..SignOptions::now() },
        ),
        "unsorted_headers" => signed_by_hand(c, body, &["eop-date", "ctyun-eop-request-id"], str::to_string),
        "uppercase_body_hash" => {
            signed_by_hand(c, body, &["ctyun-eop-request-id", "eop-date"], |hash| hash.to_uppercase())
        }
        "authorization_without_parts" => c.call(&hat(), body).header("Eop-Authorization", "mock-ak"),
        "authorization_without_signature" => {
            c.call(&hat(), body).header("Eop-Authorization", "mock-ak Headers=ctyun-eop-request-id;eop-date")
        }
        "signature_before_headers" => {
            c.call(&hat(), body).header("Eop-Authorization", "mock-ak Signature=abc Headers=eop-date")
        }
        "empty_headers_list" => c.call(&hat(), body).header("Eop-Authorization", "mock-ak Headers= Signature=abc"),
        "date_not_compact" => c.call(&hat(), body).header("eop-date", "2021-12-21T16:30:14Z"),
        "values_in_headers_list" => {
            let call = c.call_with(&hat(), body, SignOptions::sdk_default());
            let (id, date) = (
                call.get("ctyun-eop-request-id").unwrap_or_default().to_string(),
                call.get("eop-date").unwrap_or_default().to_string(),
            );
            let signature = call
                .get("Eop-Authorization")
                .unwrap_or_default()
                .split("Signature=")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            call.header("Eop-Authorization", &format!("mock-ak Headers={id};{date} Signature={signature}"))
        }
        "full_date_for_kdate" => {
            let call = c.call_with(&hat(), body, SignOptions::sdk_default());
            let date = call.get("eop-date").unwrap_or_default().to_string();
            let id = call.get("ctyun-eop-request-id").unwrap_or_default().to_string();
            let signed = c.signer.sign_with_date_key(
                &date,
                &date,
                &[("ctyun-eop-request-id", &id), ("eop-date", &date)],
                "",
                &call.body,
            );
            call.header("Eop-Authorization", &signed.authorization)
        }
        "body_reserialised" => {
            let python_style = good_body().replace("\":\"", "\": \"");
            c.call(&hat(), python_style).body(good_body())
        }
        "sk_of_another_ak" => Client { signer: Signer::new("mock-ak", "sk-other"), ..c.clone() }.call(&hat(), body),
        "no_appkey" => c.call_with(&hat(), body, SignOptions::sdk_default()).without("appkey"),
        "unknown_appkey" => c.call_with(&hat(), body, SignOptions::sdk_default()).header("appkey", "appkey-nobody"),
        "appkey_of_another_account" => {
            c.call_with(&hat(), body, SignOptions::sdk_default()).header("appkey", "appkey-walled")
        }
        "get_method" => c.call(&hat(), body).method("GET"),
        "text_content_type" => c.call(&hat(), body).header("Content-Type", "text/plain"),
        "no_content_type" => c.call(&hat(), body).without("Content-Type"),
        "ip_not_allowed_by_app" => other_account(s, "appkey-walled").call(&hat(), body),
        "ip_not_allowed_by_api" => other_account(s, "appkey-hat-walled").call(&hat(), body),
        "unknown_api_id" => c.call("/v1/aiop/api/2f3uquanbrpx/SafeHat/base/hat_detect", body),
        "unknown_path_in_api" => c.call("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detection", body),
        "api_not_enabled" => other_account(s, "appkey-clothes-only").call(&hat(), body),
        other => panic!("no trigger named {other}"),
    }
}

/// A call whose string to sign the test builds itself: `names` in the order given (a
/// client that forgets to sort), the body hash passed through `hash`.
fn signed_by_hand(c: &Client, body: String, names: &[&str], hash: fn(&str) -> String) -> Call {
    let call = c.call_with(&hat(), body, SignOptions::sdk_default());
    let date = call.get("eop-date").unwrap_or_default().to_string();
    let body_hash: String = Sha256::digest(&call.body).iter().map(|b| format!("{b:02x}")).collect();
    let mut string_to_sign = String::new();
    for name in names {
        string_to_sign += &format!("{name}:{}\n", call.get(name).unwrap_or_default());
    }
    string_to_sign += &format!("\n\n{}", hash(&body_hash));
    let signature = c.signer.sign_string(&date, &date[..8], &string_to_sign);
    let authorization = format!("{} Headers={} Signature={signature}", c.signer.ak, names.join(";"));
    call.header("Eop-Authorization", &authorization)
}

#[rstest]
#[case::unknown_ak("unknown_ak", 10002, "no account has the ak `ak-nobody`")]
#[case::no_authorization("no_authorization", 10020, "no Eop-Authorization header")]
#[case::malformed_authorization(
    "malformed_authorization",
    10020,
    "the Eop-Authorization header is malformed: it has no `Headers=` part"
)]
#[case::request_id_unsigned("request_id_unsigned", 10020, "ctyun-eop-request-id is not in Headers=")]
#[case::signed_header_not_sent("signed_header_not_sent", 10020, "appkey is listed in Headers= but not sent")]
#[case::wrong_signature("wrong_signature", 10020, "the signature does not match")]
#[case::utc_date("utc_date", 10020, "it looks like UTC")]
#[case::date_far_off("date_far_off", 10020, "60 minutes behind the server clock")]
#[case::date_ahead("date_ahead", 10020, "60 minutes ahead of the server clock")]
#[case::date_not_compact("date_not_compact", 10020, "is not yyyymmddTHHMMSSZ")]
#[case::unsorted_headers("unsorted_headers", 10020, "the signed headers were not sorted by name")]
#[case::uppercase_body_hash("uppercase_body_hash", 10020, "the body hash was uppercase hex")]
#[case::authorization_without_parts(
    "authorization_without_parts",
    10020,
    "it has no `Headers=` and `Signature=` parts after the ak"
)]
#[case::authorization_without_signature("authorization_without_signature", 10020, "it has no `Signature=` part")]
#[case::signature_before_headers("signature_before_headers", 10020, "`Signature=` comes before `Headers=`")]
#[case::empty_headers_list("empty_headers_list", 10020, "`Headers=` lists no header")]
#[case::values_in_headers_list(
    "values_in_headers_list",
    10020,
    "Headers= lists header values where header names belong"
)]
#[case::full_date_for_kdate("full_date_for_kdate", 10020, "kdate was computed from the full eop-date")]
#[case::body_reserialised("body_reserialised", 10020, "the body sent is not the body signed")]
#[case::sk_of_another_ak("sk_of_another_ak", 10020, "signed with the sk of another account")]
#[case::no_appkey("no_appkey", 40002, "no appkey header")]
#[case::unknown_appkey("unknown_appkey", 40006, "no app has the appkey `appkey-nobody`")]
#[case::appkey_of_another_account("appkey_of_another_account", 40006, "belongs to another account (ak `ak-other`)")]
#[case::get_method("get_method", 40008, "method GET is not supported")]
#[case::text_content_type("text_content_type", 40008, "content type `text/plain` is not supported")]
#[case::no_content_type("no_content_type", 40008, "no Content-Type header")]
#[case::ip_not_allowed_by_app(
    "ip_not_allowed_by_app",
    40009,
    "caller 127.0.0.1 is not in app `walled-app`'s allowed_ips"
)]
#[case::ip_not_allowed_by_api(
    "ip_not_allowed_by_api",
    40010,
    "caller 127.0.0.1 is not in app `hat-walled`'s api_ips.hat"
)]
#[case::unknown_api_id("unknown_api_id", 50001, "no api is registered at /v1/aiop/api/2f3uquanbrpx/")]
#[case::unknown_path_in_api("unknown_path_in_api", 50003, "api 2f3uquanbrpc has no path")]
#[case::api_not_enabled("api_not_enabled", 50002, "app `clothes-only` has not enabled the hat api")]
#[tokio::test]
async fn a_gateway_refusal_has_the_vendor_body_and_explains_itself(
    #[case] case: &str,
    #[case] code: u32,
    #[case] reason: &str,
) {
    let s = start_toml(CONFIG).await;
    let reply = s.client.send(trigger(case, &s)).await;
    let entry = fixtures::error("hat", code);
    assert_eq!(reply.status, entry["status"].as_u64().expect("status") as u16, "{case}: {}", reply.reason());
    let mut body = reply.json();
    assert_eq!(body["code"], code.to_string(), "{case}: {}", reply.reason());
    assert_eq!(body["message"], entry["message"]);
    assert!(reply.reason().contains(reason), "{case}: reason {:?} lacks {reason:?}", reply.reason());
    assert!(body["requestId"].is_string(), "{body}");
    body["requestId"] = json!("[request-id]");
    let code = code.to_string();
    let envelope = json!({
        "code": code, "eopErrCode": code, "error": code, "message": entry["message"],
        "requestId": "[request-id]", "returnObj": {}, "statusCode": format!("CTAPI_{code}"),
    });
    assert_eq!(body, envelope, "{case}");
    // The explanation is what a user reads: pin all of it, not only the part above.
    insta::with_settings!({ filters => util::VOLATILE.to_vec() }, {
        insta::assert_snapshot!(format!("reason-{case}"), reply.reason());
    });
}

#[tokio::test]
async fn a_signature_refusal_shows_the_string_the_server_signed() {
    let s = start_toml(CONFIG).await;
    let call = s.client.call(&hat(), good_body());
    let expected = call.string_to_sign.replace('\n', "\\n");
    let reply = s.client.send(call.header("ctyun-eop-request-id", "changed-after-signing")).await;
    assert_eq!(reply.code(), 10020);
    let shown = expected.replace("33dfa732-b27b-464f-b15a-21ed6845afd5", "changed-after-signing");
    assert!(reply.reason().contains(&shown), "{} lacks {shown}", reply.reason());
}

#[tokio::test]
async fn a_gateway_refusal_echoes_the_request_id() {
    let s = start_toml(CONFIG).await;
    let reply = s.client.send(s.client.call(&hat(), good_body()).without("appkey")).await;
    assert_eq!(reply.json()["requestId"], "33dfa732-b27b-464f-b15a-21ed6845afd5");
}

#[tokio::test]
async fn the_date_window_follows_the_server_clock() {
    let s = start_toml(CONFIG).await;
    s.handle.clock().advance_ms(14 * 60 * 1000);
    assert_eq!(s.client.post(&hat(), good_body()).await.code(), 0);
    s.handle.clock().advance_ms(2 * 60 * 1000);
    let reply = s.client.post(&hat(), good_body()).await;
    assert_eq!(reply.code(), 10020);
    assert!(reply.reason().contains("minutes behind the server clock"), "{}", reply.reason());
}

#[tokio::test]
async fn the_sdk_style_signature_with_an_unsigned_appkey_succeeds() {
    let s = start_toml(CONFIG).await;
    let call = s.client.call_with(&hat(), good_body(), SignOptions::sdk_default());
    assert_eq!(s.client.send(call).await.code(), 0);
}

#[tokio::test]
async fn a_status_override_changes_the_status_only() {
    let s = start_toml("[status]\n\"40002\" = 400\n").await;
    let reply =
        s.client.send(s.client.call_with(&hat(), good_body(), SignOptions::sdk_default()).without("appkey")).await;
    assert_eq!((reply.status, reply.code()), (400, 40002));
}

#[tokio::test]
async fn a_connection_over_the_limit_is_told_so_and_the_next_one_after_a_close_is_served() {
    use tokio::io::AsyncReadExt;
    let s = crate::util::start_with(mock_server::Config { max_connections: 2, ..mock_server::Config::default() }).await;
    let first = tokio::net::TcpStream::connect(s.handle.addr()).await.expect("connect");
    let _second = tokio::net::TcpStream::connect(s.handle.addr()).await.expect("connect");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut third = tokio::net::TcpStream::connect(s.handle.addr()).await.expect("connect");
    let mut answer = String::new();
    third.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("limit of 2 connections"), "{answer}");
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(s.client.post(&hat(), good_body()).await.code(), 0);
}

#[tokio::test]
async fn a_handle_shut_down_or_dropped_stops_its_server() {
    let s = crate::util::start().await;
    let addr = s.handle.addr();
    assert!(s.handle.url().starts_with("http://127.0.0.1:"));
    assert_eq!(s.client.post(&hat(), good_body()).await.code(), 0);
    s.handle.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening after shutdown");

    let s = crate::util::start().await;
    let addr = s.handle.addr();
    drop(s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still listening 5 s after the handle was dropped");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
