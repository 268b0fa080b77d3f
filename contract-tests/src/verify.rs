//! `contract-tests server --url URL …`: provider verification. Runs the conformance suite
//! against any base URL — this emulator, or the real service for a user with credentials —
//! and gives one row per documented behaviour: passed, failed (with what came back) or
//! skipped (with why it cannot be triggered safely). Never faked: a skipped row sends nothing.
//!
//! - [`cases`]: the requests and what each must get, and the skips;
//! - [`judge`]: a reply measured against `fixtures/openapi.json`;
//! - [`transport`]: the HTTP(S) client;
//! - [`render`]: the table as text, JSON or JUnit.

pub mod cases;
pub mod judge;
pub mod render;
pub mod transport;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::client::Call;
use crate::openapi::catalogue::{Code, Route};
use crate::signer::{self, Signer};
use cases::{Case, Expect, Tweak};
use transport::{Target, Transport};

const ROUTES_JSON: &str = include_str!("../../fixtures/routes.json");
const ERRORS_JSON: &str = include_str!("../../fixtures/errors.json");
const OPENAPI_JSON: &str = include_str!("../../fixtures/openapi.json");

/// What `contract-tests server` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub ak: String,
    pub sk: String,
    pub appkey: String,
    /// Endpoints to check (`fixtures/routes.json` names); empty for all.
    pub endpoints: Vec<String>,
    pub tls_ca: Option<std::path::PathBuf>,
    /// How long one call may take.
    pub timeout: Duration,
}

/// A row's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    /// What came back instead.
    Failed(String),
    /// Why it was not sent.
    Skipped(String),
}

/// One documented behaviour and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The endpoint the request went to; `gateway` rows are sent to the first endpoint checked.
    pub endpoint: String,
    /// `success` or the code expected.
    pub expect: String,
    pub behaviour: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The whole verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub url: String,
    pub rows: Vec<Row>,
    /// Why the suite could not run at all (bad arguments, an unreadable catalogue).
    pub problem: Option<String>,
    pub passed: bool,
}

impl Verification {
    fn finish(url: &str, rows: Vec<Row>, problem: Option<String>) -> Verification {
        let passed = problem.is_none() && !rows.iter().any(|r| matches!(r.outcome, Outcome::Failed(_)));
        Verification { url: url.into(), rows, problem, passed }
    }

    /// How many rows passed, failed and were skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Outcome) -> bool| self.rows.iter().filter(|r| f(&r.outcome)).count();
        (
            count(|o| *o == Outcome::Passed),
            count(|o| matches!(o, Outcome::Failed(_))),
            count(|o| matches!(o, Outcome::Skipped(_))),
        )
    }
}

/// The catalogue the binary was built with.
struct Spec {
    prefix: String,
    routes: Vec<Route>,
    codes: Vec<Code>,
    doc: Value,
}

impl Spec {
    fn builtin() -> Result<Spec, String> {
        #[derive(serde::Deserialize)]
        struct Routes {
            prefix: String,
            endpoints: Vec<Route>,
        }
        #[derive(serde::Deserialize)]
        struct Errors {
            codes: Vec<Code>,
        }
        let routes: Routes = serde_json::from_str(ROUTES_JSON).map_err(|e| format!("fixtures/routes.json: {e}"))?;
        let errors: Errors = serde_json::from_str(ERRORS_JSON).map_err(|e| format!("fixtures/errors.json: {e}"))?;
        let doc = serde_json::from_str(OPENAPI_JSON).map_err(|e| format!("fixtures/openapi.json: {e}"))?;
        Ok(Spec { prefix: routes.prefix, routes: routes.endpoints, codes: errors.codes, doc })
    }

    fn path(&self, route: &Route) -> String {
        format!("{}{}/{}", self.prefix, route.api_id, route.path)
    }

    /// The routes asked for, in catalogue order; an unknown name is an error that lists them.
    fn select(&self, names: &[String]) -> Result<Vec<&Route>, String> {
        let known: BTreeSet<&str> = self.routes.iter().map(|r| r.endpoint.as_str()).collect();
        if let Some(unknown) = names.iter().find(|n| !known.contains(n.as_str())) {
            let list: Vec<&str> = self.routes.iter().map(|r| r.endpoint.as_str()).collect();
            return Err(format!("--endpoints: no endpoint `{unknown}`; choose from {}", list.join(",")));
        }
        Ok(self.routes.iter().filter(|r| names.is_empty() || names.contains(&r.endpoint)).collect())
    }
}

/// Runs every case against `options.url` and returns the table. Never panics: a problem
/// that stops the whole run is the report's `problem`.
pub async fn run(options: &Options) -> Verification {
    match prepare(options) {
        Ok((spec, transport, routes)) => {
            let rows = run_rows(options, &spec, &transport, &routes).await;
            Verification::finish(&options.url, rows, None)
        }
        Err(problem) => Verification::finish(&options.url, Vec::new(), Some(problem)),
    }
}

fn prepare(options: &Options) -> Result<(Spec, Transport, Vec<Route>), String> {
    let spec = Spec::builtin()?;
    let target = Target::parse(&options.url)?;
    let transport = Transport::new(target, options.tls_ca.as_deref(), options.timeout)?;
    let routes = spec.select(&options.endpoints)?.into_iter().cloned().collect();
    Ok((spec, transport, routes))
}

async fn run_rows(options: &Options, spec: &Spec, transport: &Transport, routes: &[Route]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        let valid = match crate::openapi::reference::example_body(route) {
            Ok(body) => body,
            Err(e) => {
                rows.push(skipped(&route.endpoint, "success", "success shape", format!("no valid request: {e}")));
                continue;
            }
        };
        let mut cases = cases::for_endpoint(route, valid.clone());
        if i == 0 {
            cases.extend(cases::gateway(&route.endpoint, &valid));
        }
        for case in &cases {
            rows.push(check(options, spec, transport, route, case).await);
        }
        rows.extend(skips(spec, route, &cases));
    }
    if !routes.is_empty() {
        rows.extend(
            cases::GATEWAY_SKIPS.iter().map(|(code, behaviour, reason)| {
                skipped("gateway", &code.to_string(), behaviour, (*reason).to_string())
            }),
        );
    }
    rows
}

/// The endpoint's documented capability codes no case triggers.
fn skips(spec: &Spec, route: &Route, cases: &[Case]) -> Vec<Row> {
    let covered: BTreeSet<u32> =
        cases.iter().filter_map(|c| if let Expect::Code(code) = c.expect { Some(code) } else { None }).collect();
    let journal = crate::journal::Catalogue::builtin().ok();
    let mut rows = Vec::new();
    for code in spec.codes.iter().filter(|c| !c.is_gateway() && c.applies_to(&route.endpoint)) {
        if covered.contains(&code.code) {
            continue;
        }
        let explicit = cases::CAPABILITY_SKIPS.iter().find(|(e, c, _)| *e == route.endpoint && *c == code.code);
        let reason = match explicit {
            Some((_, _, reason)) => *reason,
            None => {
                let cause = journal.as_ref().and_then(|j| j.cause(i64::from(code.code), Some(&route.endpoint)));
                cases::skip_reason(cause.unwrap_or_default())
            }
        };
        rows.push(skipped(&route.endpoint, &code.code.to_string(), &code.description, reason.to_string()));
    }
    rows
}

fn skipped(endpoint: &str, expect: &str, behaviour: &str, reason: String) -> Row {
    Row {
        endpoint: endpoint.into(),
        expect: expect.into(),
        behaviour: behaviour.into(),
        outcome: Outcome::Skipped(reason),
    }
}

async fn check(options: &Options, spec: &Spec, transport: &Transport, route: &Route, case: &Case) -> Row {
    let path = spec.path(route);
    let call = build(options, transport.target(), &path, case);
    let request_id = call.get("ctyun-eop-request-id").unwrap_or_default().to_string();
    let outcome = match transport.send(call).await {
        Err(e) => Outcome::Failed(e),
        Ok(reply) => {
            let sent = judge::Sent { path: &path, request_id: &request_id };
            match judge::judge(&spec.doc, &spec.codes, sent, case.expect, &reply) {
                Ok(()) => Outcome::Passed,
                Err(e) => Outcome::Failed(e),
            }
        }
    };
    let expect = match case.expect {
        Expect::Success => "success".to_string(),
        Expect::Code(code) => code.to_string(),
    };
    let endpoint = if matches!(case.tweak, Tweak::None) { case.endpoint.clone() } else { "gateway".into() };
    Row { endpoint, expect, behaviour: case.behaviour.clone(), outcome }
}

/// A fresh request id per call, so that no row depends on another.
fn request_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("contract-tests-verify-{}-{n}", signer::unix_now())
}

/// The case's call: signed as a correct client signs it, then changed as the case says.
pub fn build(options: &Options, target: &Target, path: &str, case: &Case) -> Call {
    let now = signer::unix_now();
    let eop_date = match case.tweak {
        Tweak::UtcDate => signer::eop_date(now, 0),
        Tweak::BadDate => "2026-01-01 08:00:00".to_string(),
        _ => signer::eop_date(now, 8),
    };
    let ak = if case.tweak == Tweak::UnknownAk { "contract-tests-unknown-ak" } else { options.ak.as_str() };
    let appkey = if case.tweak == Tweak::UnknownAppkey { "0000000000000000000000000000dead" } else { &options.appkey };
    let target_path = if let Tweak::Path(p) = case.tweak { p } else { path };
    let content_type = if let Tweak::ContentType(t) = case.tweak { t } else { "application/json;charset=UTF-8" };
    let mut headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        ("ctyun-eop-request-id".to_string(), request_id()),
        ("eop-date".to_string(), eop_date.clone()),
        ("host".to_string(), target.authority.clone()),
    ];
    if case.tweak != Tweak::NoAppkey {
        headers.push(("appkey".to_string(), appkey.to_string()));
    }
    let method = if let Tweak::Method(m) = case.tweak { m } else { "POST" };
    let mut call = Call {
        method: method.into(),
        target: target_path.into(),
        headers,
        body: case.body.clone(),
        string_to_sign: String::new(),
    };
    let signed: Vec<(&str, &str)> = ["appkey", "ctyun-eop-request-id", "eop-date"]
        .iter()
        .filter_map(|name| call.get(name).map(|value| (*name, value)))
        .collect();
    let signature = Signer::new(ak, &options.sk).sign(&eop_date, &signed, "", &call.body);
    call.string_to_sign = signature.string_to_sign;
    let mut authorization = signature.authorization;
    match case.tweak {
        Tweak::WrongSignature => authorization = flip_last(&authorization),
        Tweak::BodyAfterSigning => call.body.extend_from_slice(b" "),
        _ => {}
    }
    if case.tweak == Tweak::NoAuthorization {
        call
    } else {
        call.header("Eop-Authorization", &authorization)
    }
}

/// The authorization with the signature's first character changed (still base64).
fn flip_last(authorization: &str) -> String {
    match authorization.rsplit_once("Signature=") {
        Some((head, signature)) => {
            let mut chars: Vec<char> = signature.chars().collect();
            if let Some(first) = chars.first_mut() {
                *first = if *first == 'A' { 'B' } else { 'A' };
            }
            format!("{head}Signature={}", chars.into_iter().collect::<String>())
        }
        None => authorization.to_string(),
    }
}
