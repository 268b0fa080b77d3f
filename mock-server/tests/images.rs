//! Over a real socket, requests signed here by hand: a top-down BMP read with its real
//! size, query strings signed as DIGEST §1 says (decoded, RFC 3986, sorted by key), and a
//! 20-byte (HMAC-SHA1) signature named in the explanation. The damaged-image codes of
//! every endpoint are rows of `contract-tests/tests/capabilities.rs`.

use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::image::{png, Scene};
use contract_tests::{eop_date, Signer};
use mock_server::{Config, Handle};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AK: &str = "mock-ak";
const SK: &str = "mock-sk";
const APPKEY: &str = "mock-appkey";
const FACE_QUALITY: &str = "/v1/aiop/api/2gkds6yod62o/face-fas-action/person/quality_detect_from_base64";

async fn server() -> Handle {
    let config = Config { quiet: true, ..Config::default() };
    mock_server::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind port 0")
}

/// A reply: status, `x-mock-reason` and the JSON body.
struct Reply {
    status: u16,
    reason: String,
    body: serde_json::Value,
}

/// Posts `body` to `path?query`, signing `signed_query` as the canonical query, with the
/// signature `forge` makes of the correct one (the identity for a correct client).
async fn post(
    handle: &Handle,
    path: &str,
    query: &str,
    signed_query: &str,
    body: &str,
    forge: impl Fn(String) -> String,
) -> Reply {
    let date = eop_date::format(std::time::SystemTime::UNIX_EPOCH.elapsed().expect("clock").as_secs() as i64);
    let hash: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let sts = format!("ctyun-eop-request-id:req-1\neop-date:{date}\n\n{signed_query}\n{hash}");
    let signature = forge(Signer::new(AK, SK).sign_string(&date, &date[..8], &sts));
    let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let request = format!(
        "POST {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\
         connection: close\r\nctyun-eop-request-id: req-1\r\neop-date: {date}\r\nappkey: {APPKEY}\r\n\
         eop-authorization: {AK} Headers=ctyun-eop-request-id;eop-date Signature={signature}\r\n\r\n{body}",
        addr = handle.addr(),
        len = body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(handle.addr()).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    let (head, json) = text.split_once("\r\n\r\n").expect("a response");
    let reason =
        head.lines().find_map(|l| l.strip_prefix("x-mock-reason: ")).map(|r| r.to_string()).unwrap_or_default();
    Reply {
        status: head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0),
        reason,
        body: serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    }
}

/// An image of 320x240 as PNG, or as a 24-bit BMP (bottom-up, as most writers store it).
fn image(bmp: bool) -> Vec<u8> {
    if !bmp {
        return png(&Scene::default(), 320, 240).expect("png");
    }
    let (width, height, row) = (320u32, 240u32, 320 * 3);
    let size = 54 + row * height;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(b"BM");
    for v in [size, 0, 54, 40] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&height.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    for v in [0u32, row * height, 2835, 2835, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.resize(size as usize, 0x80);
    b
}

fn face_body(bmp: bool, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = image(bmp);
    edit(&mut bytes);
    format!(r#"{{"imageContent":"{}"}}"#, STANDARD.encode(bytes))
}

#[tokio::test]
async fn a_top_down_bmp_is_read_with_its_real_height() {
    let handle = server().await;
    // A negative height: rows stored top to bottom (was read as 4 billion rows: 4205).
    let body = face_body(true, |b| b[22..26].copy_from_slice(&(-240i32).to_le_bytes()));
    let reply = post(&handle, FACE_QUALITY, "", "", &body, |s| s).await;
    assert_eq!((reply.status, reply.body["code"].clone()), (200, serde_json::json!(0)), "{}", reply.reason);
    assert_eq!(reply.body["result"]["face_quality"], "good");
}

#[tokio::test]
async fn a_query_is_signed_decoded_encoded_per_rfc_3986_and_sorted_by_key() {
    let handle = server().await;
    let body = face_body(false, |_| {});
    // (sent, as the client signed it): `:` encoded or raw; `a` before `a-b` as Go writes them.
    for (query, signed) in [
        ("t=06%3A01", "t=06%3A01"),
        ("t=06:01", "t=06%3A01"),
        ("a-b=1&a=2", "a=2&a-b=1"),
        ("a=2&a-b=1", "a=2&a-b=1"),
        ("q=x+y&p=%7e", "p=~&q=x%20y"),
    ] {
        let reply = post(&handle, FACE_QUALITY, query, signed, &body, |s| s).await;
        assert_eq!(reply.body["code"], 0, "{query}: {}", reply.reason);
    }
    let raw_sorted = post(&handle, FACE_QUALITY, "a-b=1&a=2", "a-b=1&a=2", &body, |s| s).await;
    assert_eq!(raw_sorted.body["code"], "10020", "the raw text sorted is not the canonical query");
}

#[tokio::test]
async fn a_20_byte_signature_is_named_hmac_sha1() {
    let handle = server().await;
    let body = face_body(false, |_| {});
    let sha1_sized = |correct: String| STANDARD.encode(&STANDARD.decode(correct).expect("base64")[..20]);
    let reply = post(&handle, FACE_QUALITY, "", "", &body, sha1_sized).await;
    assert_eq!(reply.body["code"], "10020");
    let (mistake, signed) = reply.reason.split_once("; the server signed ").expect("the string to sign");
    assert_eq!(mistake, "the signature is 20 bytes, an HMAC-SHA1; sign with HMAC-SHA256 (32 bytes) at every step");
    assert!(signed.starts_with("\"ctyun-eop-request-id:req-1\\neop-date:"), "{signed}");
}

#[test]
fn the_liveness_body_admits_35_frames_of_960x1280_bmp() {
    let bmp = 54 + 960 * 3 * 1280;
    let body = 35 * (4 * bmp / 3 + 4 + r#""image35Content":"","#.len()) + 2;
    let routes: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/routes.json")).expect("routes.json");
    for route in routes["endpoints"].as_array().expect("endpoints") {
        if route["capability"] == "liveness" {
            let limit = route["body_limit"].as_u64().expect("body_limit") as usize;
            assert!(limit >= body, "{}: {limit} < {body}", route["endpoint"]);
        }
    }
}
