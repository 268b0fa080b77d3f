//! Shared helpers: start a server on port 0 and get a client signed with its credentials.

use std::net::SocketAddr;

use contract_tests::Client;
use mock_server::{Config, Handle};

pub const DEFAULT_AK: &str = "mock-ak";
pub const DEFAULT_SK: &str = "mock-sk";
pub const DEFAULT_APPKEY: &str = "mock-appkey";

/// A server for one test, stopped when dropped.
pub struct TestServer {
    pub handle: Handle,
    pub client: Client,
}

pub async fn start() -> TestServer {
    start_with(Config::default()).await
}

/// Starts a server with the accounts of a TOML text added to the default one.
pub async fn start_toml(toml: &str) -> TestServer {
    start_with(Config::from_toml("test.toml", toml).expect("a valid test config")).await
}

pub async fn start_with(mut config: Config) -> TestServer {
    config.quiet = true;
    let handle = mock_server::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind port 0");
    let client = Client::new(handle.addr(), DEFAULT_AK, DEFAULT_SK, DEFAULT_APPKEY);
    TestServer { handle, client }
}

/// insta filters for what changes from run to run in an explanation: dates, request ids,
/// hashes and ports.
pub const VOLATILE: [(&str, &str); 4] = [
    (r"\d{8}T\d{6}Z", "[eop-date]"),
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[request-id]"),
    (r"[0-9a-fA-F]{64}", "[sha256]"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
];

/// `{"image":"<base64>"}` in the compact form most clients send.
pub fn image_body(b64: &str) -> String {
    format!(r#"{{"image":"{b64}"}}"#)
}

/// One server for a whole proptest run, on a runtime that outlives its cases.
pub fn shared_server() -> &'static (tokio::runtime::Runtime, TestServer) {
    static SERVER: std::sync::OnceLock<(tokio::runtime::Runtime, TestServer)> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let server = runtime.block_on(start());
        (runtime, server)
    })
}
