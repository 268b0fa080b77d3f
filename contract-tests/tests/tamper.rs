//! Property: changing any byte of the body, any signed header value, the date or the
//! signature of a correctly signed request yields 10020 — never a 5xx, never a hang.

use std::time::Duration;

use contract_tests::{fixtures, Call, Client};
use proptest::prelude::*;
use tokio::runtime::Runtime;

use crate::util::{image_body, TestServer};

fn server() -> &'static (Runtime, TestServer) {
    crate::util::shared_server()
}

fn send(client: &Client, call: Call) -> (u16, i64) {
    let (runtime, _) = server();
    let reply = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), client.send(call)).await.expect("no hang") });
    (reply.status, reply.code())
}

#[derive(Debug, Clone)]
enum Tamper {
    BodyByte { at: usize, xor: u8 },
    HeaderValue { header: &'static str, value: String },
    Date { seconds: i64 },
    SignatureChar { at: usize, with: char },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Tamper::BodyByte { at, xor }),
        (prop::sample::select(vec!["ctyun-eop-request-id", "appkey"]), "[ -~]{1,40}")
            .prop_map(|(header, value)| Tamper::HeaderValue { header, value }),
        (-600i64..600).prop_filter("a change", |s| *s != 0).prop_map(|seconds| Tamper::Date { seconds }),
        (any::<usize>(), prop::sample::select(vec!['A', 'z', '0', '+', '/']))
            .prop_map(|(at, with)| Tamper::SignatureChar { at, with }),
    ]
}

fn apply(call: Call, t: &Tamper) -> Call {
    match t {
        Tamper::BodyByte { at, xor } => {
            let mut body = call.body.clone();
            let i = at % body.len();
            body[i] ^= xor;
            call.body(body)
        }
        Tamper::HeaderValue { header, value } => {
            let value = if call.get(header) == Some(value.trim()) { format!("{value}x") } else { value.clone() };
            call.header(header, value.trim())
        }
        Tamper::Date { seconds } => {
            let date = call.get("eop-date").unwrap_or_default().to_string();
            let secs = mock_server::internals::parse_eop_date(&date).expect("a date");
            call.header("eop-date", &mock_server::internals::format_eop_date(secs + seconds))
        }
        Tamper::SignatureChar { at, with } => {
            let auth = call.get("Eop-Authorization").unwrap_or_default().to_string();
            let start = auth.find("Signature=").expect("signature") + "Signature=".len();
            let mut chars: Vec<char> = auth.chars().collect();
            let i = start + at % (chars.len() - start - 1);
            chars[i] = if chars[i] == *with {
                if *with == 'A' {
                    'B'
                } else {
                    'A'
                }
            } else {
                *with
            };
            call.header("Eop-Authorization", &chars.into_iter().collect::<String>())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_change_after_signing_is_a_signature_error(t in tamper()) {
        let (_, s) = server();
        let call = s.client.call(&fixtures::path("hat"), image_body(&fixtures::image_b64("scene-96x64.png")));
        let (status, code) = send(&s.client, apply(call, &t));
        prop_assert!(status < 500, "status {status} for {t:?}");
        prop_assert_eq!(code, 10020, "{:?}", t);
    }
}
