//! The one request pipeline: read the body once → gateway → capability → respond → journal.
//! Everything after the body is read is synchronous; no step reaches back into an earlier one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response};

use crate::admin;
use crate::billing::{self, Ticket};
use crate::body::{self, ReadError, Received};
use crate::capabilities;
use crate::catalogue::{code, header, Capability, Catalogue, Endpoint};
use crate::faults::concurrency::Slot;
use crate::faults::{self, apply, Action, FaultBody, Forced, Shape};
use crate::gateway::{self, Admitted, Resolved};
use crate::outcome::{Outcome, Verdict};
use crate::refuse;
use crate::respond::{self, Answer, Refusal};
use crate::scan;
use crate::shared::Shared;

/// How long a client may take to send a body (a 250 MB body at 10 MB/s fits).
const BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest control-API body.
const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// Bodies larger than this are parsed, decoded and checked on a blocking thread, so that
/// small requests are never starved of a runtime worker: the size past which a body is
/// also hashed beside its reading.
const BLOCKING_MIN: usize = body::LARGE;

/// Serves one request.
pub(crate) async fn handle(shared: &Shared, request: Request<Incoming>, peer: SocketAddr) -> Response<FaultBody> {
    let started = Instant::now();
    let (parts, incoming) = request.into_parts();
    let path = parts.uri.path();
    if path.starts_with(admin::PREFIX) {
        return control(shared, parts, incoming, peer).await.map(FaultBody::from);
    }
    let resolved = shared.gateway.router.resolve(path);
    let endpoint = match resolved {
        Resolved::Endpoint(e) => Some(e),
        _ => None,
    };
    let head = gateway::Head {
        method: &parts.method,
        path,
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        peer: peer.ip(),
    };
    let forced = faults::forced(&parts.headers, endpoint);
    // Everything but the signature is decided before the body is read; a forced code
    // before the gateway (or a bad force header) answers without it.
    let verdict = match &forced {
        Ok(None | Some(Forced::AfterGateway(_))) => Some(shared.gateway.admit_head(&shared.registry, &head, resolved)),
        _ => None,
    };
    let plan = body::Plan {
        keep: matches!(&verdict, Some(Ok(p)) if p.keeps_body()),
        hash: matches!(&verdict, Some(Ok(_))),
        ..body_plan(shared, endpoint)
    };
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let mut arrived = match tokio::time::timeout(BODY_TIMEOUT, body::receive(incoming, declared, plan)).await {
        Ok(arrived) => arrived,
        Err(_) => Err(ReadError::Io(format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()))),
    };
    let mut early = arrived.as_mut().ok().and_then(|a| Early::start(endpoint, a, shared.depth));
    // What the journal reads of the body. A large body is read for it on a blocking thread
    // from its last byte on (once its image, if decoded while it arrived, is done), while
    // its hash completes and its capability reads it.
    let keeps = shared.journal.keeps_entries();
    let beside = match &arrived {
        Ok(arrived) if keeps && arrived.received().bytes.len() > BLOCKING_MIN => {
            let mut shared_body = arrived.received().share();
            let image = early.as_mut().and_then(|early| early.image.take());
            Some(tokio::spawn(async move {
                if let Some(image) = image {
                    shared_body.image = image.await.ok().flatten();
                }
                tokio::task::spawn_blocking(move || scan::summarize(&shared_body)).await
            }))
        }
        _ => None,
    };
    let received = match arrived {
        Ok(arrived) => Ok(arrived.hashed().await),
        Err(e) => Err(e),
    };
    // Borrowed from the header when it is UTF-8, as it nearly always is.
    let client_request_id = parts.headers.get(&header::REQUEST_ID);
    let request_id: std::borrow::Cow<'_, str> = match client_request_id {
        Some(v) => gateway::text(v),
        None => shared.next_request_id().into(),
    };
    let bytes_in = received.as_ref().map_or(0, |b| b.len);
    let (answer, admitted, charge, close, fault, by_header, summary) = match received {
        Ok(body) => {
            let forced = match forced {
                Ok(forced) => forced,
                Err(message) => return apply::emulator_error(&message),
            };
            let admitted = match verdict {
                Some(Ok(pending)) => shared.gateway.admit_body(&shared.registry, &head, pending, &body),
                Some(Err(refusal)) => Err(refusal),
                None => Err(forced_refusal(forced)),
            };
            let by_header = forced.is_some();
            let decided = decide(shared, admitted, &body, forced, &mut early).await;
            if let Some(unused) = early.take() {
                // Begun early for a call refused before its capability: waited for, so that
                // the body's bytes are not let go while a thread still reads them.
                let _ = unused.task.await;
            }
            let summary = match beside {
                Some(task) => task.await.ok().and_then(Result::ok).map(|summary| summary.hashed(&body)),
                None => keeps.then(|| scan::summarize(&body)),
            };
            // The body is no longer needed: its bytes go back to the budget before any wait.
            drop(body);
            let wait = match decided.fault {
                Some(Action::Shape(Shape::Latency(latency))) => decided.delay + latency,
                _ => decided.delay,
            };
            if !wait.is_zero() {
                // No lock is held here: only the app's place in its concurrency limit and the
                // call charged. A client that gives up now drops this future, and with it
                // the ticket, which refunds the call: it is not charged.
                tokio::time::sleep(wait).await;
            }
            // A reset or truncated answer never reaches the client whole: not charged.
            let whole = decided.fault.as_ref().is_none_or(Action::charges);
            let succeeded = whole && matches!(decided.answer, Answer::Success { .. });
            let charge = decided.ticket.and_then(|ticket| ticket.settle(succeeded));
            drop(decided.slot);
            (decided.answer, decided.admitted, charge, false, decided.fault, by_header, summary)
        }
        Err(ReadError::OverCap { cap }) => {
            (Answer::Refused(over_cap(endpoint, path, cap)), None, None, true, None, false, None)
        }
        Err(ReadError::Io(e)) => {
            // Broken framing, a body cut short or one too slow: the client's doing, so a 4xx.
            let refusal = refuse!(
                code::REQUEST_TYPE,
                "the body could not be read: {e}; send a complete body with a valid Content-Length or chunked framing"
            );
            (Answer::Refused(refusal), None, None, true, None, false, None)
        }
    };
    let (response, rendered) = shared.renderer.render(endpoint, &request_id, &answer, close);
    let (response, rendered) = apply::apply(response, rendered, fault.as_ref()).await;
    let authorization = parts.headers.get(&header::AUTHORIZATION);
    let signed_ak = authorization.and_then(|v| v.to_str().ok()?.split_whitespace().next());
    let (ak, at_ms) = match &admitted {
        Some(a) => (Some(a.account.ak.as_str()), shared.registry.now_ms(&a.account)),
        None => match signed_ak.and_then(|ak| Some((ak, shared.registry.account(ak)?))) {
            Some((ak, cell)) => (Some(ak), shared.registry.now_ms(&cell)),
            None => (None, shared.registry.clock().now_ms()),
        },
    };
    let kept = shared.record(Outcome {
        peer,
        method: &parts.method,
        path,
        endpoint,
        request_id: &request_id,
        client_request_id: client_request_id.is_some(),
        ak,
        appkey: admitted.as_ref().map(|a| a.app.appkey.as_str()),
        at_ms,
        status: rendered.status,
        code: rendered.code,
        reason: rendered.reason.as_deref(),
        note: admitted.as_ref().and_then(|a| a.note.as_deref()),
        elapsed: started.elapsed(),
        bytes_in,
        bytes_out: hyper::body::Body::size_hint(response.body()).exact().unwrap_or(0),
        charge,
        forced: fault.is_some(),
        verdict: Verdict::of(rendered.code, by_header, fault.is_some()),
        headers: &parts.headers,
        authorization,
        body: summary,
    });
    // A charged call is committed to the state file before its answer leaves.
    match kept.durable().await {
        Ok(()) => response,
        Err(why) => {
            let refusal = refuse!(code::INTERNAL, "{why}; the call is charged in memory only");
            shared.renderer.render(endpoint, &request_id, &Answer::Refused(refusal), false).0.map(FaultBody::from)
        }
    }
}

/// The answer of a code forced before the gateway.
fn forced_refusal(forced: Option<Forced>) -> Refusal {
    match forced {
        Some(Forced::BeforeGateway(code)) => refuse!(code, "forced by {}: {code}", faults::FORCE_HEADER),
        _ => refuse!(code::INTERNAL, "the gateway was not run; this is a bug of the emulator"),
    }
}

/// What the pipeline decided, and what the response must wait for.
struct Decided<'s> {
    answer: Answer,
    admitted: Option<Admitted>,
    /// The time the images' ground truth asks the answer to take.
    delay: Duration,
    /// The app's place in its concurrency limit, held until the response is written.
    slot: Option<Slot<'s>>,
    /// The call charged, settled (kept or refunded) once the delay is over.
    ticket: Option<Ticket>,
    /// A forced code, a fired rule or the fault rate's draw.
    fault: Option<Action>,
}

impl Decided<'_> {
    fn refused(refusal: Refusal, admitted: Option<Admitted>) -> Self {
        Decided::answered(Answer::Refused(refusal), admitted)
    }

    fn answered(answer: Answer, admitted: Option<Admitted>) -> Self {
        Decided { answer, admitted, delay: Duration::ZERO, slot: None, ticket: None, fault: None }
    }
}

/// After the gateway: the budget's verdict, then faults, the app's concurrency limit,
/// billing and the capability. The charge is made here and settled by the caller once the
/// answer is due. A forced code or a fired rule that answers by itself replaces everything
/// after the gateway, so it is never charged.
///
/// Locks of the account taken on the way: its apps read once in the gateway, and its
/// ledgers once to charge a paid call; settling a success takes none (a refund takes the
/// ledgers once more). A free API reads the apps only.
async fn decide<'s>(
    shared: &'s Shared,
    admitted: Result<Admitted, Refusal>,
    body: &Received,
    forced: Option<Forced>,
    early: &mut Option<Early>,
) -> Decided<'s> {
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return Decided::refused(refusal, None),
    };
    if body.no_room {
        let answer = Answer::Busy(format!(
            "bodies in flight hold the server's --max-body-memory of {} bytes and this body of {} found no room within {} ms; retry later or raise --max-body-memory",
            shared.budget.total(),
            body.len,
            shared.body_memory_wait.as_millis()
        ));
        return Decided::answered(answer, Some(admitted));
    }
    let prepared = match prepare(shared, admitted, forced) {
        Ok(prepared) => prepared,
        Err(decided) => return *decided,
    };
    let (answer, delay) = perceive(prepared.admitted.endpoint, body, shared.depth, early).await;
    let answer = faults::fence::fail_picked(answer, prepared.fault.as_ref());
    Decided {
        answer,
        delay,
        admitted: Some(prepared.admitted),
        slot: Some(prepared.slot),
        ticket: Some(prepared.ticket),
        fault: prepared.fault,
    }
}

/// An admitted call with its place in the app's limit and its charge reserved.
struct Prepared<'s> {
    admitted: Admitted,
    slot: Slot<'s>,
    ticket: Ticket,
    fault: Option<Action>,
}

/// Faults, the app's concurrency limit and billing: a `Decided` waiting for its answer, or
/// the answer.
fn prepare(shared: &Shared, admitted: Admitted, forced: Option<Forced>) -> Result<Prepared<'_>, Box<Decided<'_>>> {
    let fault = fault_for(shared, &admitted, forced);
    if let Some(action) = fault.as_ref().filter(|a| !matches!(a, Action::Shape(_))) {
        let refusal = match action {
            // A message that names a frame names the first.
            Action::Code(code) => Refusal { index: Some(1), ..refuse!(*code, "{}", fault_reason(forced)) },
            Action::Throttle { .. } => {
                refuse!(code::THROTTLED, "a throttle rule holds app `{}` to its rate", admitted.app.name)
            }
            // Rendered by `faults::apply`, which replaces this placeholder's status and body.
            _ => refuse!(code::INTERNAL, "{}", fault_reason(forced)),
        };
        return Err(Box::new(Decided { fault, ..Decided::refused(refusal, Some(admitted)) }));
    }
    let slot = match shared.limits.enter(&admitted.app) {
        Ok(slot) => slot,
        Err(refusal) => return Err(Box::new(Decided::refused(refusal, Some(admitted)))),
    };
    let ticket = match billing::charge(&shared.registry, &admitted.account, &admitted.app.appkey, admitted.endpoint) {
        Ok(ticket) => ticket,
        Err(refusal) => return Err(Box::new(Decided::refused(refusal, Some(admitted)))),
    };
    Ok(Prepared { admitted, slot, ticket, fault })
}

/// The capability's answer; for a large body, or any body under `--full-decode` (a small
/// file may decode to many pixels), on a blocking thread so that parsing, decoding and
/// image checks never hold a runtime worker.
async fn perceive(
    endpoint: &'static Endpoint,
    body: &Received,
    depth: crate::vision::Depth,
    early: &mut Option<Early>,
) -> (Answer, Duration) {
    let done = match early.take() {
        Some(early) => early.task.await.and_then(|done| done),
        None if body.bytes.len() <= BLOCKING_MIN && depth == crate::vision::Depth::Structure => {
            return capabilities::handle(endpoint, body, depth);
        }
        None => on_blocking_thread(endpoint, body, depth).await,
    };
    done.unwrap_or_else(|e| (Answer::Refused(refuse!(code::INTERNAL, "the capability failed: {e}")), Duration::ZERO))
}

fn on_blocking_thread(
    endpoint: &'static Endpoint,
    body: &Received,
    depth: crate::vision::Depth,
) -> tokio::task::JoinHandle<(Answer, Duration)> {
    let body = body.share();
    tokio::task::spawn_blocking(move || capabilities::handle(endpoint, &body, depth))
}

/// The capability's work on a large body, begun on a blocking thread as soon as the last
/// byte arrived (with its image, decoded beside the hash, once that is done), while the
/// body's hash — and so the signature's verdict — is still being completed beside it. The
/// answer is used only when the call gets as far as its capability (gateway, faults, the
/// app's limit, billing, in that order, as always); otherwise it is waited for and dropped.
/// Either way the outcome is the one the order gives: the capability reads nothing but the
/// body, and the endpoint it is begun for is the one the gateway admits (both are the
/// route's).
struct Early {
    task: tokio::task::JoinHandle<Result<(Answer, Duration), tokio::task::JoinError>>,
    /// The image decoded while the body arrived, for the journal's summary too.
    image: Option<tokio::sync::oneshot::Receiver<Option<crate::vision::Streamed>>>,
}

impl Early {
    /// Begins when the body is large and kept (so the head has passed the gateway so far).
    fn start(
        endpoint: Option<&'static Endpoint>,
        arrived: &mut body::Arrived,
        depth: crate::vision::Depth,
    ) -> Option<Early> {
        let endpoint = endpoint?;
        let body = arrived.received();
        if body.over_limit || body.no_room || body.bytes.len() <= BLOCKING_MIN {
            return None;
        }
        let mut body = body.share();
        let decoding = arrived.decoding();
        let (tell, told) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let rest = match decoding {
                Some(decoding) => decoding.rest().await,
                None => None,
            };
            tokio::task::spawn_blocking(move || {
                body.image = rest.and_then(|rest| rest());
                let _ = tell.send(body.image.clone());
                capabilities::handle(endpoint, &body, depth)
            })
            .await
        });
        Some(Early { task, image: Some(told) })
    }
}

/// The forced code, else the account's rules and the fault rate.
fn fault_for(shared: &Shared, admitted: &Admitted, forced: Option<Forced>) -> Option<Action> {
    if let Some(Forced::AfterGateway(code)) = forced {
        return Some(Action::Code(code));
    }
    let call = shared.next_call();
    let now = shared.registry.now_ms(&admitted.account);
    shared.faults.decide(&admitted.account.ak, &admitted.app.appkey, &admitted.endpoint.name, call, now)
}

fn fault_reason(forced: Option<Forced>) -> String {
    match forced {
        Some(_) => format!("forced by {}", faults::FORCE_HEADER),
        None => "answered by a fault rule or --fault-rate; GET /__mock/accounts/{ak}/rules lists the rules".into(),
    }
}

/// A control-API request: its own small body limit, its own answers.
async fn control(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    incoming: Incoming,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let plan = body::Plan {
        limit: ADMIN_BODY_LIMIT,
        cap: ADMIN_BODY_LIMIT as u64,
        keep: true,
        hash: false,
        image: false,
        budget: &shared.control_budget,
    };
    let read = tokio::time::timeout(BODY_TIMEOUT, body::read(incoming, declared, plan));
    let body = match read.await {
        Ok(Ok(Received { over_limit: false, no_room: false, bytes, .. })) => bytes,
        Ok(Ok(_)) | Ok(Err(ReadError::OverCap { .. })) => {
            let why = format!("the body is over {} KiB; control requests are small json", ADMIN_BODY_LIMIT / 1024);
            return respond::control(hyper::StatusCode::PAYLOAD_TOO_LARGE, &serde_json::json!({ "error": why }));
        }
        Ok(Err(ReadError::Io(why))) => {
            let why = format!("the body was not received: {why}; send it whole");
            return respond::control(hyper::StatusCode::BAD_REQUEST, &serde_json::json!({ "error": why }));
        }
        Err(_) => {
            let why = format!("the body did not arrive within {} s; send it whole", BODY_TIMEOUT.as_secs());
            return respond::control(hyper::StatusCode::BAD_REQUEST, &serde_json::json!({ "error": why }));
        }
    };
    let req = admin::Request {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        peer: peer.ip(),
        body: &body,
    };
    let reply = admin::handle(shared, &req);
    // Every change the request made is committed to the state file before the answer.
    match shared.kept().durable().await {
        Ok(()) => match reply {
            admin::Reply::Json(status, answer) => respond::control(status, &answer),
            admin::Reply::Page(page) => respond::html(page),
        },
        Err(why) => respond::control(hyper::StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({ "error": why })),
    }
}

/// How much of the body to keep, and where to stop reading. A body between the two is
/// hashed and discarded; past the cap the connection is closed. An unknown route keeps
/// nothing but reads as far as the largest endpoint would, so its answer is still 50001.
fn body_plan<'s>(shared: &'s Shared, endpoint: Option<&Endpoint>) -> body::Plan<'s> {
    let (limit, cap) = match endpoint {
        Some(e) => (e.body_limit, drain_cap(e.body_limit)),
        None => {
            let largest = Catalogue::get().endpoints.iter().map(|e| e.body_limit).max().unwrap_or(0);
            (0, drain_cap(largest))
        }
    };
    // The endpoints whose body is one image string have it decoded while it arrives.
    let image =
        endpoint.is_some_and(|e| matches!(e.capability, Capability::Detect { .. } | Capability::FaceQuality { .. }));
    body::Plan { limit, cap, keep: true, hash: true, image, budget: &shared.budget }
}

/// Twice the limit: a slightly oversized body still gets its signature checked.
fn drain_cap(limit: usize) -> u64 {
    2 * limit as u64 + (1 << 20)
}

fn over_cap(endpoint: Option<&Endpoint>, path: &str, cap: u64) -> respond::Refusal {
    match endpoint {
        Some(e) => refuse!(e.too_large_code, "the body is over {cap} bytes, far above this api's limit of {}; reading stopped and the signature was not checked", e.body_limit),
        None => refuse!(code::SERVICE_UNREGISTERED, "no api is registered at {path} (and the body is over {cap} bytes)"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use hyper::header::HeaderValue;
    use hyper::{HeaderMap, Method};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::clock::format_eop_date;
    use crate::config::Config;
    use crate::gateway::signature;
    use crate::vision::{compose::compose, scene::Scene, ImageFormat};

    /// The default account's locks taken by one signed hard-hat call (a paid API).
    fn locks_of_one_call(shared: &Shared) -> ((u64, u64), Answer) {
        let image = compose(&Scene::default(), 64, 48, ImageFormat::Png).expect("image");
        let body =
            format!(r#"{{"image":"{}"}}"#, base64::Engine::encode(&base64::engine::general_purpose::STANDARD, image));
        let hash = body::hex(&Sha256::digest(body.as_bytes()));
        let date = format_eop_date(shared.registry.clock().now_secs());
        let sts = signature::string_to_sign(&[("ctyun-eop-request-id", "r1"), ("eop-date", &date)], "", &hash);
        let sig = signature::sign(&signature::signing_key("mock-sk", "mock-ak", &date, &date[..8]), &sts);
        let mut headers = HeaderMap::new();
        let auth = format!("mock-ak Headers=ctyun-eop-request-id;eop-date Signature={sig}");
        for (name, value) in
            [("content-type", "application/json"), ("ctyun-eop-request-id", "r1"), ("appkey", "mock-appkey")]
        {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers.insert("eop-date", HeaderValue::from_str(&date).expect("ascii"));
        headers.insert("eop-authorization", HeaderValue::from_str(&auth).expect("ascii"));
        let received = Received::whole(Bytes::from(body));
        let path = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";
        let head =
            gateway::Head { method: &Method::POST, path, query: "", headers: &headers, peer: [127, 0, 0, 1].into() };
        let account = shared.registry.account("mock-ak").expect("the default account");
        let counts = || (account.locks_taken.load(Ordering::Relaxed), account.app_reads.load(Ordering::Relaxed));
        let before = counts();
        let resolved = shared.gateway.router.resolve(path);
        let pending = shared.gateway.admit_head(&shared.registry, &head, resolved).expect("head");
        let admitted = shared.gateway.admit_body(&shared.registry, &head, pending, &received).expect("signed");
        let Ok(prepared) = prepare(shared, admitted, None) else { panic!("the call is reserved") };
        let (answer, _) = capabilities::handle(prepared.admitted.endpoint, &received, shared.depth);
        let charge = prepared.ticket.settle(matches!(answer, Answer::Success { .. }));
        assert!(charge.is_some(), "a successful paid call is charged");
        let after = counts();
        ((after.0 - before.0, after.1 - before.1), answer)
    }

    /// A hard-hat head with these `eop-authorization` bytes, checked by the gateway.
    fn admit_head_with(shared: &Shared, auth: &[u8]) -> Result<(), Refusal> {
        let date = format_eop_date(shared.registry.clock().now_secs());
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("ctyun-eop-request-id", HeaderValue::from_static("r1"));
        headers.insert("eop-date", HeaderValue::from_str(&date).expect("ascii"));
        headers.insert("eop-authorization", HeaderValue::from_bytes(auth).expect("header bytes"));
        let path = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";
        let head =
            gateway::Head { method: &Method::POST, path, query: "", headers: &headers, peer: [127, 0, 0, 1].into() };
        let resolved = shared.gateway.router.resolve(path);
        shared.gateway.admit_head(&shared.registry, &head, resolved).map(|_| ())
    }

    #[test]
    fn an_authorization_header_is_read_whether_it_is_utf8_or_not_and_whatever_the_case_of_its_names() {
        let shared = Shared::new(&Config::default()).expect("state");
        // Names in capitals are lowercased (a copy); the head passes checks 1–5.
        let upper = admit_head_with(&shared, b"mock-ak Headers=CTYUN-EOP-REQUEST-ID;Eop-Date Signature=x");
        assert!(upper.is_ok(), "{upper:?}");
        // A byte that is not UTF-8 is replaced, as the gateway always did: the ak is unknown.
        let refusal = admit_head_with(&shared, b"mock-ak\xff Headers=ctyun-eop-request-id;eop-date Signature=x")
            .expect_err("unknown ak");
        assert_eq!(refusal.code, code::AK_UNKNOWN);
        assert!(refusal.reason.contains("mock-ak\u{fffd}"), "{}", refusal.reason);
    }

    #[test]
    fn a_paid_call_locks_each_account_lock_once() {
        // The apps read once in the gateway; the ledgers locked once, to charge the call.
        // Settling a success takes no lock. Counters, slots and signing keys have locks of
        // their own.
        let shared = Shared::new(&Config::default()).expect("state");
        let (locks, answer) = locks_of_one_call(&shared);
        assert!(matches!(answer, Answer::Success { .. }), "{answer:?}");
        assert_eq!(locks, (1, 1), "(ledger locks, app reads)");
    }
}
