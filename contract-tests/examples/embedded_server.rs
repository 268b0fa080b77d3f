//! A Rust test that embeds the emulator: it starts the server in the test's own runtime on
//! port 0, signs calls with the contract suite's [`Client`], and moves the server's clock.
//! `docs/embedding.md` explains it line by line.
//!
//! Run it: `cargo run -p contract-tests --example embedded_server`; its tests:
//! `cargo test -p contract-tests --example embedded_server`.

use std::net::SocketAddr;

use contract_tests::client::SignOptions;
use contract_tests::signer::eop_date;
use contract_tests::{fixtures, Client};

/// The hard-hat path (the manual's API list).
const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";
/// One year and a day, in milliseconds: past the built-in app's free quota.
const A_YEAR_AND_A_DAY_MS: i64 = 366 * 24 * 3600 * 1000;

/// Starts the emulator on 127.0.0.1, port 0, with the built-in account, and a client that
/// signs as it. The server stops when the handle is dropped.
async fn start() -> (mock_server::Handle, Client) {
    let config = mock_server::Config { quiet: true, ..mock_server::Config::default() };
    let handle = mock_server::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|e| panic!("cannot start the emulator: {e}"));
    let client = Client::new(handle.addr(), "mock-ak", "mock-sk", "mock-appkey");
    (handle, client)
}

/// `{"image": <base64>}` of one of the repository's test images.
fn hat_body() -> String {
    serde_json::json!({ "image": fixtures::image_b64("scene-96x64.jpg") }).to_string()
}

/// Signs with the server's clock rather than the machine's, so that a call stays inside
/// the ±15-minute `eop-date` window however far the test moves time.
fn signed_at_server_time(handle: &mock_server::Handle) -> SignOptions {
    SignOptions { eop_date: eop_date(handle.clock().now_secs(), 8), ..SignOptions::now() }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (handle, client) = start().await;
    let reply = client.post(HAT, hat_body()).await;
    println!("{} {}", reply.status, reply.json());
    handle.clock().advance_ms(A_YEAR_AND_A_DAY_MS);
    let reply = client.send(client.call_with(HAT, hat_body(), signed_at_server_time(&handle))).await;
    println!("a year later: {} {}", reply.status, reply.json());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signed_call_is_answered() {
        let (_handle, client) = start().await;
        let reply = client.post(HAT, hat_body()).await;
        assert_eq!((reply.status, reply.code()), (200, 0), "{}", reply.reason());
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_with_the_reason() {
        let (handle, _) = start().await;
        let client = Client::new(handle.addr(), "mock-ak", "not-the-sk", "mock-appkey");
        let reply = client.post(HAT, hat_body()).await;
        assert_eq!((reply.status, reply.code()), (401, 10020));
        assert!(reply.reason().contains("signature"), "{}", reply.reason());
    }

    #[tokio::test]
    async fn a_client_clock_16_minutes_behind_the_server_is_refused() {
        let (handle, client) = start().await;
        handle.clock().advance_ms(16 * 60 * 1000);
        let reply = client.post(HAT, hat_body()).await;
        assert_eq!((reply.status, reply.code()), (401, 10020));
        assert!(reply.reason().contains("minutes behind the server clock"), "{}", reply.reason());
    }

    #[tokio::test]
    async fn a_year_later_the_free_quota_has_expired() {
        let (handle, client) = start().await;
        handle.clock().advance_ms(A_YEAR_AND_A_DAY_MS);
        let reply = client.send(client.call_with(HAT, hat_body(), signed_at_server_time(&handle))).await;
        assert_eq!((reply.status, reply.code()), (403, 51001), "{}", reply.reason());
    }
}
