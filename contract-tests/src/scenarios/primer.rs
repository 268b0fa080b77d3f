//! The throttle scenario's helper: a throttle rule lets one call a second through, so the
//! checker spends that call itself at the start of every second of the account's clock
//! (a signed call with an empty body, which the endpoint refuses at once and never
//! charges). Every call the client makes is then throttled with `Retry-After`. The
//! checker's calls carry request ids starting `contract-tests-primer-` and are left out
//! of the analysis.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::analyse::CHECKER_ID_PREFIX;
use crate::client::{Call, Client, SignOptions};
use crate::harness::{control, Account};

const ROUTES_JSON: &str = include_str!("../../../fixtures/routes.json");
/// How long after a second starts the checker's call is sent.
const AFTER_SECOND_MS: i64 = 2;

/// The running primer; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Primer {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Primer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Primer {
    /// Starts spending `endpoint`'s one call a second for `account`.
    pub async fn start(addr: SocketAddr, account: &Account, endpoint: &str) -> Result<Primer, String> {
        let path = path_of(endpoint)?;
        let offset_ms = clock_offset_ms(addr, &account.ak).await?;
        let client = Client::new(addr, &account.ak, &account.sk, &account.appkey);
        let prepare = move |n: u64| {
            let options = SignOptions { request_id: format!("{CHECKER_ID_PREFIX}{n}"), ..SignOptions::now() };
            client.call_with(&path, b"{}".to_vec(), options)
        };
        // This second's call, before the client starts; then each next second's.
        let first = async { send(connect(addr).await?, prepare(0)).await };
        first.await.map_err(|e| format!("the throttle scenario's first call failed: {e}"))?;
        let task = tokio::spawn(async move {
            for n in 1u64.. {
                // Signed and connected ahead, so that only the request itself is sent once the
                // second has started: a client's call slips in before it only in that moment.
                let call = prepare(n);
                let Ok(sender) = connect(addr).await else {
                    // The server is going away: try again later, never in a tight loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let now = unix_ms() + offset_ms;
                let wait = 1000 - now.rem_euclid(1000) + AFTER_SECOND_MS;
                tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                let _ = send(sender, call).await;
            }
        });
        Ok(Primer { task })
    }
}

/// The account's clock less the system's, in ms.
async fn clock_offset_ms(addr: SocketAddr, ak: &str) -> Result<i64, String> {
    let (status, answer) = control(addr, "GET", &format!("accounts/{ak}/clock"), None).await?;
    match answer["now_ms"].as_i64() {
        Some(now_ms) if status == 200 => Ok(now_ms - unix_ms()),
        _ => Err(format!("cannot read the account's clock ({status}): {answer}")),
    }
}

fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// The vendor path of `endpoint`, from `fixtures/routes.json`.
fn path_of(endpoint: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Route {
        endpoint: String,
        api_id: String,
        path: String,
    }
    #[derive(Deserialize)]
    struct Routes {
        prefix: String,
        endpoints: Vec<Route>,
    }
    let routes: Routes = serde_json::from_str(ROUTES_JSON).map_err(|e| format!("fixtures/routes.json: {e}"))?;
    let route = routes
        .endpoints
        .iter()
        .find(|r| r.endpoint == endpoint)
        .ok_or_else(|| format!("fixtures/routes.json has no endpoint `{endpoint}`"))?;
    Ok(format!("{}{}/{}", routes.prefix, route.api_id, route.path))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A connection to the server, ready for one call.
async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends a call and reads its answer; any failure is only returned.
async fn send(mut sender: Sender, call: Call) -> Result<u16, String> {
    let mut request = Request::builder().method(call.method.as_str()).uri(call.target.as_str());
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(call.body))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    response.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok(status)
}
