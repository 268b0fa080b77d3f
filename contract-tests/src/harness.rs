//! The emulator in a test's own runtime, for checking a Rust client: port 0, a fresh
//! account with one app (every API enabled, the free quota of paid ones claimed), fault
//! rules armed through the control API, and the verdict on what the client sent.
//!
//! ```no_run
//! # async fn demo() {
//! let harness = contract_tests::Harness::start().await;
//! // … point the client under test at harness.url() with harness.ak(), .sk(), .appkey() …
//! harness.assert_conformant().await;
//! # }
//! ```

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::journal::{Catalogue, Journal};
use crate::report::{Checks, Report};

const ROUTES_JSON: &str = include_str!("../../fixtures/routes.json");
/// The name of the app every check creates (4–15 characters).
const APP_NAME: &str = "client-check";

/// Credentials of the account and app a check runs under.
#[derive(Debug, Clone)]
pub struct Account {
    pub ak: String,
    pub sk: String,
    pub appkey: String,
}

/// A running emulator with a fresh account; stopped when dropped.
#[derive(Debug)]
pub struct Harness {
    handle: mock_server::Handle,
    account: Account,
}

impl Harness {
    /// Starts the emulator with the default configuration. Panics, saying why, when it
    /// cannot (a test helper: use [`Harness::try_start`] to handle the error).
    pub async fn start() -> Harness {
        match Harness::try_start(mock_server::Config::default()).await {
            Ok(harness) => harness,
            Err(e) => panic!("cannot start the emulator: {e}"),
        }
    }

    /// Starts the emulator with `config` on 127.0.0.1, port 0, and creates the account.
    pub async fn try_start(mut config: mock_server::Config) -> Result<Harness, String> {
        config.quiet = true;
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = mock_server::start(config, addr).await.map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let account = fresh_account(handle.addr()).await?;
        Ok(Harness { handle, account })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    pub fn ak(&self) -> &str {
        &self.account.ak
    }

    pub fn sk(&self) -> &str {
        &self.account.sk
    }

    pub fn appkey(&self) -> &str {
        &self.account.appkey
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Arms a fault rule for the account (`docs/faults.md`) and returns its id. Panics
    /// with the server's explanation when the rule is refused.
    pub async fn arm(&self, rule: Value) -> String {
        let path = format!("accounts/{}/rules", self.account.ak);
        match control(self.addr(), "POST", &path, Some(rule)).await {
            Ok((201, answer)) => answer["id"].as_str().unwrap_or_default().to_string(),
            Ok((status, answer)) => panic!("the rule was refused ({status}): {}", answer["error"]),
            Err(e) => panic!("cannot arm the rule: {e}"),
        }
    }

    /// Every request of the account the journal holds, oldest first.
    pub async fn journal(&self) -> Journal {
        read_journal(self.addr(), &self.account.ak).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The report on what the client sent so far.
    pub async fn report(&self, checks: &Checks) -> Report {
        let catalogue = Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"));
        Report::build(&self.journal().await, &catalogue, checks)
    }

    /// Panics with the report when any request was a violation.
    pub async fn assert_conformant(&self) {
        let report = self.report(&Checks::default()).await;
        if !report.violations.is_empty() {
            panic!("the client broke the contract:\n{}", report.text());
        }
    }

    /// The journal's entries with what changes from run to run (times, request ids,
    /// image digests, durations) replaced by placeholders: a client's traffic as a
    /// snapshot pins it.
    pub async fn traffic(&self) -> Value {
        let journal = self.journal().await;
        let mut entries = serde_json::to_value(&journal.entries).unwrap_or_default();
        redact(&mut entries);
        entries
    }
}

/// Replaces volatile fields, at any depth, with stable placeholders.
fn redact(value: &mut Value) {
    const PLACEHOLDERS: [(&str, &str); 6] = [
        ("at", "[eop-date]"),
        ("at_ms", "[ms]"),
        ("request_id", "[request-id]"),
        ("sha256", "[sha256]"),
        ("elapsed_ms", "[ms]"),
        ("appkey", "[appkey]"),
    ];
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match PLACEHOLDERS.iter().find(|(name, _)| name == key) {
                    Some((_, placeholder)) if !field.is_null() => *field = json!(placeholder),
                    _ => redact(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Creates an account and an app with every API enabled and every paid one's free quota.
pub(crate) async fn fresh_account(addr: SocketAddr) -> Result<Account, String> {
    let (_, created) = expect(addr, "POST", "accounts".into(), json!({}), 201).await?;
    let (ak, sk) = (text(&created, "ak")?, text(&created, "sk")?);
    let (_, app) = expect(addr, "POST", format!("accounts/{ak}/apps"), json!({"name": APP_NAME}), 201).await?;
    let appkey = text(&app, "appkey")?;
    for api in apis()? {
        expect(addr, "POST", format!("apps/{appkey}/apis/{}", api.endpoint), Value::Null, 200).await?;
        if api.paid {
            expect(addr, "POST", format!("apps/{appkey}/apis/{}/free-quota", api.endpoint), Value::Null, 201).await?;
        }
    }
    Ok(Account { ak, sk, appkey })
}

#[derive(Deserialize)]
struct Api {
    endpoint: String,
    #[serde(default)]
    paid: bool,
}

fn apis() -> Result<Vec<Api>, String> {
    #[derive(Deserialize)]
    struct Routes {
        endpoints: Vec<Api>,
    }
    serde_json::from_str::<Routes>(ROUTES_JSON).map(|r| r.endpoints).map_err(|e| format!("fixtures/routes.json: {e}"))
}

fn text(value: &Value, key: &str) -> Result<String, String> {
    value[key].as_str().map(str::to_string).ok_or_else(|| format!("the control api answered without `{key}`: {value}"))
}

async fn expect(addr: SocketAddr, method: &str, path: String, body: Value, want: u16) -> Result<(u16, Value), String> {
    let body = (!body.is_null()).then_some(body);
    let (status, answer) = control(addr, method, &path, body).await?;
    if status != want {
        return Err(format!("{method} /__mock/{path} answered {status}: {answer}"));
    }
    Ok((status, answer))
}

/// Reads the whole journal of `ak`: first its capacity, then that many entries.
pub(crate) async fn read_journal(addr: SocketAddr, ak: &str) -> Result<Journal, String> {
    let first = journal_page(addr, ak, 1).await?;
    if first.recorded.saturating_sub(first.dropped) <= first.entries.len() as u64 {
        return Ok(first);
    }
    journal_page(addr, ak, first.capacity.max(1)).await
}

async fn journal_page(addr: SocketAddr, ak: &str, limit: u64) -> Result<Journal, String> {
    let path = format!("accounts/{ak}/journal?limit={limit}");
    let (status, answer) = control(addr, "GET", &path, None).await?;
    if status != 200 {
        return Err(format!("cannot read the journal: GET /__mock/{path} answered {status}: {answer}"));
    }
    serde_json::from_value(answer).map_err(|e| format!("the journal is not in the expected shape: {e}"))
}

/// One control-API request (`/__mock/{path}`) on a fresh connection; never panics.
pub(crate) async fn control(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let failed = |e: &dyn std::fmt::Display| format!("{method} /__mock/{path}: {e}");
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| failed(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| failed(&e))?;
    tokio::spawn(connection);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(format!("/__mock/{path}"))
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| failed(&e))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    let status = response.status().as_u16();
    let raw = response.into_body().collect().await.map_err(|e| failed(&e))?.to_bytes();
    let json = serde_json::from_slice(&raw).unwrap_or_else(|_| json!({"error": String::from_utf8_lossy(&raw)}));
    Ok((status, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_redacts_volatile_fields_at_any_depth_and_keeps_nulls() {
        let mut entries = json!([{"at": "20261125T204012Z", "request_id": null, "code": 0,
            "images": [{"sha256": "ab", "width": 96}]}]);
        redact(&mut entries);
        assert_eq!(
            entries,
            json!([{"at": "[eop-date]", "request_id": null, "code": 0, "images": [{"sha256": "[sha256]", "width": 96}]}])
        );
    }

    #[tokio::test]
    async fn a_fresh_account_has_every_api_enabled_and_paid_ones_claimed() {
        let harness = Harness::start().await;
        let (status, app) =
            control(harness.addr(), "GET", &format!("apps/{}/usage", harness.appkey()), None).await.expect("usage");
        assert_eq!(status, 200, "{app}");
        let text = app.to_string();
        assert!(!text.contains("not_purchased") && text.contains("available"), "{text}");
        assert_ne!(harness.ak(), "mock-ak");
    }

    #[tokio::test]
    async fn arm_returns_the_rules_id() {
        let harness = Harness::start().await;
        let id = harness.arm(json!({"id": "no-quota", "endpoint": "hat", "what": {"code": 51003}})).await;
        assert_eq!(id, "no-quota");
    }

    #[tokio::test]
    #[should_panic(expected = "the rule was refused (400)")]
    async fn arm_panics_with_the_servers_reason_for_a_bad_rule() {
        let harness = Harness::start().await;
        harness.arm(json!({"what": {"gateway": 501}})).await;
    }
}
