//! The one request pipeline: read the body once → gateway → capability → respond → journal.
//! Everything after the body is read is synchronous; no step reaches back into an earlier one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response};

use crate::admin;
use crate::billing::{self, store::Store};
use crate::body::{self, ReadError, Received};
use crate::capabilities;
use crate::catalogue::{code, Catalogue, Endpoint};
use crate::config::Config;
use crate::gateway::{self, Admitted, Gateway, Resolved, Router};
use crate::journal::{Entry, Journal};
use crate::refuse;
use crate::registry::{Registry, Slot};
use crate::respond::{Answer, Renderer};

/// How long a client may take to send a body (a 250 MB body at 10 MB/s fits).
const BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest control-API body.
const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// Everything a request may read, shared by all connections.
#[derive(Debug)]
pub struct Shared {
    pub gateway: Gateway,
    pub renderer: Renderer,
    pub journal: Journal,
    /// The control API's token; without one it answers loopback callers only.
    admin_token: Option<String>,
    /// Connections served at once; one more gets a 503.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and stay idle between
    /// requests.
    pub header_timeout: Duration,
    /// How long a response may wait for a client that does not read it.
    pub write_timeout: Duration,
    /// Numbers the request ids the server makes up when a client sends none.
    next_id: AtomicU64,
}

impl Shared {
    /// Builds the server's state; with `config.state`, replays and reopens the state file.
    pub fn new(config: &Config) -> std::io::Result<Shared> {
        if let Some(token) = &config.admin_token {
            crate::config::check_admin_token(token)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let registry = Registry::new(config.accounts.clone(), config.clock.clone());
        if let Some(path) = &config.state {
            let store = Store::open(path, &registry)
                .map_err(|e| std::io::Error::new(e.kind(), format!("state file {}: {e}", path.display())))?;
            registry.attach(store);
        }
        Ok(Shared {
            gateway: Gateway { router: Router::new(&config.routes), registry },
            renderer: Renderer { status_overrides: config.status_overrides.clone() },
            journal: Journal { log_all: config.log_all, quiet: config.quiet, log: crate::log::Log::stderr() },
            admin_token: config.admin_token.clone(),
            max_connections: config.max_connections.max(1),
            header_timeout: config.header_timeout,
            write_timeout: config.write_timeout,
            next_id: AtomicU64::new(1),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.gateway.registry
    }
}

/// Serves one request.
pub async fn handle(shared: &Shared, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, incoming) = request.into_parts();
    let path = parts.uri.path();
    if path.starts_with(admin::PREFIX) {
        return control(shared, parts, incoming, peer).await;
    }
    let resolved = shared.gateway.router.resolve(path);
    let endpoint = match resolved {
        Resolved::Endpoint(e) => Some(e),
        _ => None,
    };
    let (limit, cap) = body_limits(endpoint);
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let received = match tokio::time::timeout(BODY_TIMEOUT, body::read(incoming, declared, limit, cap)).await {
        Ok(received) => received,
        Err(_) => Err(ReadError::Io(format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()))),
    };
    let request_id = match parts.headers.get("ctyun-eop-request-id") {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        None => format!("mock-{:016x}", shared.next_id.fetch_add(1, Ordering::Relaxed)),
    };
    let (answer, admitted, close) = match &received {
        Ok(body) => {
            let req = gateway::Request {
                method: &parts.method,
                path,
                query: parts.uri.query().unwrap_or(""),
                headers: &parts.headers,
                peer: peer.ip(),
                body,
            };
            let decided = pipeline(shared, &req, resolved);
            if !decided.delay.is_zero() {
                // No lock is held here: only the app's place in its concurrency limit.
                tokio::time::sleep(decided.delay).await;
            }
            drop(decided.slot);
            (decided.answer, decided.admitted, false)
        }
        Err(ReadError::OverCap { cap }) => (Answer::Refused(over_cap(endpoint, path, *cap)), None, true),
        Err(ReadError::Io(e)) => {
            // Broken framing, a body cut short or one too slow: the client's doing, so a 4xx.
            (Answer::Refused(refuse!(code::REQUEST_TYPE, "the body could not be read: {e}; send a complete body with a valid Content-Length or chunked framing")), None, true)
        }
    };
    let (response, rendered) = shared.renderer.render(endpoint, &request_id, &answer, close);
    let ak = parts.headers.get("eop-authorization").and_then(|v| v.to_str().ok()?.split_whitespace().next());
    let bytes_out = hyper::body::Body::size_hint(response.body()).exact().unwrap_or(0);
    shared.journal.record(
        shared.registry(),
        &Entry {
            peer,
            method: parts.method.as_str(),
            path,
            endpoint: endpoint.map(|e| e.name.as_str()),
            request_id: &request_id,
            rendered: &rendered,
            elapsed: started.elapsed(),
            bytes_in: received.as_ref().map_or(0, |b| b.len),
            bytes_out,
            admitted: admitted.as_ref(),
            ak,
        },
    );
    response
}

/// What the pipeline decided, and what the response must wait for.
struct Decided {
    answer: Answer,
    admitted: Option<Admitted>,
    /// The time the images' ground truth asks the answer to take.
    delay: Duration,
    /// The app's place in its concurrency limit, held until the response is written.
    slot: Option<Slot>,
}

/// Gateway, then the app's concurrency limit, then billing, then capability; the charge
/// is settled by the outcome.
fn pipeline(shared: &Shared, req: &gateway::Request<'_>, resolved: Resolved<'_>) -> Decided {
    let refused =
        |refusal, admitted| Decided { answer: Answer::Refused(refusal), admitted, delay: Duration::ZERO, slot: None };
    let admitted = match shared.gateway.admit(req, resolved) {
        Ok(admitted) => admitted,
        Err(refusal) => return refused(refusal, None),
    };
    let slot = match admitted.account.enter(&admitted.app) {
        Ok(slot) => slot,
        Err(n) => {
            let refusal = refuse!(
                code::THROTTLED,
                "app `{}` already has {n} requests in flight, its max_concurrency; back off 2–5 s and retry",
                admitted.app.name
            );
            return refused(refusal, Some(admitted));
        }
    };
    let ticket = match billing::reserve(shared.registry(), &admitted.account, &admitted.app.appkey, admitted.endpoint) {
        Ok(ticket) => ticket,
        Err(refusal) => return refused(refusal, Some(admitted)),
    };
    let (answer, delay) = capabilities::handle(admitted.endpoint, req.body);
    ticket.settle(matches!(answer, Answer::Success { .. }));
    Decided { answer, admitted: Some(admitted), delay, slot: Some(slot) }
}

/// A control-API request: its own small body limit, its own answers.
async fn control(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    incoming: Incoming,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let read =
        tokio::time::timeout(BODY_TIMEOUT, body::read(incoming, declared, ADMIN_BODY_LIMIT, ADMIN_BODY_LIMIT as u64));
    let body = match read.await {
        Ok(Ok(Received { over_limit: false, bytes, .. })) => bytes,
        _ => Bytes::from_static(b"<too large, or not received in time>"),
    };
    let req = admin::Request {
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        peer: peer.ip(),
        body: &body,
    };
    let server = admin::Server { log_lines_dropped: shared.journal.log.dropped() };
    admin::handle(shared.registry(), shared.admin_token.as_deref(), &server, &req)
}

/// How much of the body to keep, and where to stop reading. A body between the two is
/// hashed and discarded; past the cap the connection is closed. An unknown route keeps
/// nothing but reads as far as the largest endpoint would, so its answer is still 50001.
fn body_limits(endpoint: Option<&Endpoint>) -> (usize, u64) {
    match endpoint {
        Some(e) => (e.body_limit, drain_cap(e.body_limit)),
        None => {
            let largest = Catalogue::get().endpoints.iter().map(|e| e.body_limit).max().unwrap_or(0);
            (0, drain_cap(largest))
        }
    }
}

/// Twice the limit: a slightly oversized body still gets its signature checked.
fn drain_cap(limit: usize) -> u64 {
    2 * limit as u64 + (1 << 20)
}

fn over_cap(endpoint: Option<&Endpoint>, path: &str, cap: u64) -> crate::respond::Refusal {
    match endpoint {
        Some(e) => refuse!(e.too_large_code, "the body is over {cap} bytes, far above this api's limit of {}; reading stopped and the signature was not checked", e.body_limit),
        None => refuse!(code::SERVICE_UNREGISTERED, "no api is registered at {path} (and the body is over {cap} bytes)"),
    }
}
