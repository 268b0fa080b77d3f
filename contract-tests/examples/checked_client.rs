//! A small Rust client of the hard-hat API, checked with [`contract_tests::Harness`]: the
//! harness starts the emulator in the test's runtime, the client makes its calls, and the
//! test asserts the server saw no violation and pins the client's traffic in a snapshot.
//!
//! Run it: `cargo run -p contract-tests --example checked_client`; its tests:
//! `cargo test -p contract-tests --example checked_client`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use contract_tests::signer::{eop_date, unix_now};
use contract_tests::{fixtures, Harness, Signer};

/// The hard-hat path (the manual's API list).
const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";

/// The client under test: what an application would write.
struct HatClient {
    addr: String,
    signer: Signer,
    appkey: String,
    calls: AtomicU64,
}

impl HatClient {
    fn new(addr: String, ak: &str, sk: &str, appkey: &str) -> HatClient {
        HatClient { addr, signer: Signer::new(ak, sk), appkey: appkey.into(), calls: AtomicU64::new(0) }
    }

    /// Detects hard hats in a JPEG given as base64; signs appkey, request id and date.
    async fn detect(&self, image_b64: &str) -> Result<Value, String> {
        let body = serde_json::json!({ "image": image_b64 }).to_string();
        let date = eop_date(unix_now(), 8);
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("{:08x}-0000-4000-8000-{:012x}", unix_now(), n);
        let signed = [("appkey", self.appkey.as_str()), ("ctyun-eop-request-id", &request_id), ("eop-date", &date)];
        let auth = self.signer.sign(&date, &signed, "", body.as_bytes()).authorization;
        let request = Request::post(HAT)
            .header("host", &self.addr)
            .header("content-type", "application/json;charset=UTF-8")
            .header("appkey", &self.appkey)
            .header("ctyun-eop-request-id", &request_id)
            .header("eop-date", &date)
            .header("eop-authorization", auth)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let stream = tokio::net::TcpStream::connect(&self.addr).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let raw = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        serde_json::from_slice(&raw).map_err(|e| format!("the answer is not json: {e}"))
    }
}

fn client_for(harness: &Harness) -> HatClient {
    HatClient::new(harness.addr().to_string(), harness.ak(), harness.sk(), harness.appkey())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let harness = Harness::start().await;
    let client = client_for(&harness);
    match client.detect(&fixtures::image_b64("scene-96x64.jpg")).await {
        Ok(answer) => println!("answer: {answer}"),
        Err(e) => println!("call failed: {e}"),
    }
    print!("{}", harness.report(&contract_tests::Checks::default()).await.text());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_hat_client_is_conformant_and_its_traffic_is_pinned() {
        let harness = Harness::start().await;
        let client = client_for(&harness);
        let answer = client.detect(&fixtures::image_b64("scene-96x64.jpg")).await.expect("a call");
        assert_eq!(answer["code"], 0, "{answer}");
        harness.assert_conformant().await;
        insta::assert_json_snapshot!("hat_client_traffic", harness.traffic().await);
    }

    #[tokio::test]
    #[should_panic(expected = "the client broke the contract")]
    async fn a_client_with_the_wrong_secret_is_not_conformant() {
        let harness = Harness::start().await;
        let client = HatClient::new(harness.addr().to_string(), harness.ak(), "not-the-sk", harness.appkey());
        let answer = client.detect(&fixtures::image_b64("scene-96x64.jpg")).await.expect("a call");
        assert_eq!(answer["code"], "10020", "{answer}");
        harness.assert_conformant().await;
    }
}
