//! The EOP gateway: every check a request passes before a capability sees it, in this
//! order (documented in `docs/decisions.md`):
//!
//! 1. request type — `POST` with a JSON content type (40008)
//! 2. route — a registered API id (50001) and a known path within it (50003)
//! 3. `Eop-Authorization` — present and well-formed (10020), with a known AK (10002)
//! 4. signed headers — every signed header sent; `ctyun-eop-request-id` and `eop-date` among them (10020)
//! 5. `eop-date` — `yyyymmddTHHMMSSZ` in Beijing time, within ±15 minutes (10020); with
//!    `accept_utc_eop_date`, also 8 hours behind (UTC), accepted with a note
//! 6. signature — HMAC over the string to sign, compared in constant time (10020)
//! 7. `appkey` — present (40002), known and owned by the signing account (40006)
//! 8. caller IP — allowed by the app (40009) and by the app's rule for this API (40010)
//! 9. the app has enabled this API (50002)
//!
//! Everything but the signature is decided from the request's head, before its body is read
//! ([`Gateway::admit_head`]): a request that fails 1–5 is answered without keeping its body,
//! and one that will fail 7–9 has its body streamed through the hash and dropped, since a
//! wrong signature (6) must still be the answer it gets. [`Gateway::admit_body`] then checks
//! the signature against the body's hash.

mod diagnose;
mod keys;
mod route;
pub(crate) mod signature;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Method};

use crate::body::Received;
use crate::catalogue::{code, header, Endpoint};
use crate::clock;
use crate::refuse;
use crate::registry::{AccountCell, App, Registry};
use crate::respond::Refusal;

use keys::Keys;
pub(crate) use route::{Resolved, Router};
use signature::{Authorization, REQUIRED_SIGNED};

/// How far `eop-date` may be from the server's clock, either way.
pub(crate) const DATE_WINDOW_SECS: i64 = 15 * 60;

/// The parts of a request the gateway looks at before its body is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub peer: IpAddr,
}

impl<'a> Head<'a> {
    /// A header's value as text (non-UTF-8 bytes replaced), if present.
    pub fn header<K: hyper::header::AsHeaderName>(&self, name: K) -> Option<Cow<'a, str>> {
        self.headers.get(name).map(text)
    }
}

/// A header's value as text: borrowed when it is UTF-8, as it nearly always is (`from_utf8`
/// checks that several times faster than the lossy conversion's own scan), else a copy
/// with the bytes that are not UTF-8 replaced.
pub(crate) fn text(value: &hyper::header::HeaderValue) -> Cow<'_, str> {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

/// A request the gateway let through: the endpoint it calls and the app it bills.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub endpoint: &'static Endpoint,
    pub account: Arc<AccountCell>,
    pub app: Arc<App>,
    /// Something the gateway accepted but names (a UTC `eop-date`), for the log and journal.
    pub note: Option<String>,
}

/// A request whose head passed checks 1–5: what its signature is checked with once the
/// body's hash is known, and what checks 7–9 decided meanwhile. It borrows the head's
/// headers rather than copy them.
#[derive(Debug)]
pub(crate) struct Pending<'h> {
    endpoint: &'static Endpoint,
    account: Arc<AccountCell>,
    auth: Authorization<'h>,
    eop_date: Cow<'h, str>,
    /// The signed headers as listed, with their values.
    pairs: Vec<Pair<'h>>,
    /// Checks 7–9: the app, or the refusal a right signature gets. Decided from the head,
    /// so a request that will fail never has its body kept.
    then: Result<Arc<App>, Refusal>,
    note: Option<String>,
}

/// A signed header's name (lowercased) and value, borrowed from the head when they can be.
type Pair<'h> = (Cow<'h, str>, Cow<'h, str>);

impl Pending<'_> {
    /// Whether the body is worth keeping: false when the request fails whatever it holds.
    pub fn keeps_body(&self) -> bool {
        self.then.is_ok()
    }
}

/// The gateway's own state: routes and the signing-key cache. The accounts it checks
/// requests against are the registry's, passed in.
#[derive(Debug)]
pub(crate) struct Gateway {
    pub router: Router,
    keys: Keys,
    /// Accept an `eop-date` in UTC as well (`accept_utc_eop_date`).
    accept_utc: bool,
}

impl Gateway {
    pub fn new(router: Router, accept_utc: bool) -> Gateway {
        Gateway { router, keys: Keys::default(), accept_utc }
    }

    /// Checks 1–5 on the head, and 7–9 ahead of time; only the signature (6) waits for
    /// the body. The first failure of 1–5 is the answer.
    pub fn admit_head<'h>(
        &self,
        registry: &Registry,
        head: &Head<'h>,
        resolved: Resolved<'_>,
    ) -> Result<Pending<'h>, Refusal> {
        check_request_type(head)?;
        let endpoint = match resolved {
            Resolved::Endpoint(e) => e,
            Resolved::UnknownApi => {
                return Err(refuse!(
                    code::SERVICE_UNREGISTERED,
                    "no api is registered at {}; the api id is the segment after /v1/aiop/api/",
                    head.path
                ))
            }
            Resolved::UnknownPath { api_id } => {
                return Err(refuse!(
                    code::INVALID_URL,
                    "api {api_id} has no path {}; check the rest of the path after the api id",
                    head.path
                ))
            }
        };
        let (account, auth) = authorization(registry, head)?;
        let pairs = signed_pairs(head, &auth)?;
        let (eop_date, note) = self.check_date(registry, head, &account)?;
        let then = check_app(registry, head, &account, endpoint);
        Ok(Pending { endpoint, account, auth, eop_date, pairs, then, note })
    }

    /// Check 6 with the body's hash, then the verdict of 7–9.
    pub fn admit_body(
        &self,
        registry: &Registry,
        head: &Head<'_>,
        pending: Pending<'_>,
        body: &Received,
    ) -> Result<Admitted, Refusal> {
        let pairs: Vec<(&str, &str)> = pending.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref())).collect();
        let sts = signature::string_to_sign(&pairs, head.query, &body.sha256_hex);
        let key = self.keys.get(&pending.account, &pending.eop_date);
        if !signature::verify(&key, &sts, &pending.auth.signature) {
            let others = self.keys.others(registry, &pending.account.ak, &pending.eop_date);
            let mismatch = diagnose::Mismatch {
                auth: &pending.auth,
                account: &pending.account,
                others: &others,
                eop_date: &pending.eop_date,
                pairs: &pairs,
                query: head.query,
                body,
                sts: &sts,
            };
            return Err(refuse!(code::SIGNATURE, "{}", mismatch.explain()));
        }
        let app = pending.then?;
        Ok(Admitted { endpoint: pending.endpoint, account: pending.account, app, note: pending.note })
    }

    /// Check 5: `eop-date` well-formed and within the window of the account's clock (or,
    /// with `accept_utc`, of the same clock in UTC: the date and a note for the log).
    fn check_date<'h>(
        &self,
        registry: &Registry,
        head: &Head<'h>,
        account: &AccountCell,
    ) -> Result<(Cow<'h, str>, Option<String>), Refusal> {
        let eop_date = head.header(&header::EOP_DATE).unwrap_or_default();
        let date = clock::parse_eop_date(&eop_date).ok_or_else(|| {
            refuse!(code::SIGNATURE, "eop-date `{eop_date}` is not yyyymmddTHHMMSSZ (Beijing time with a literal Z)")
        })?;
        let now = registry.now_ms(account).div_euclid(1000);
        if (date - now).abs() <= DATE_WINDOW_SECS {
            return Ok((eop_date, None));
        }
        if self.accept_utc && (date + clock::BEIJING_OFFSET_SECS - now).abs() <= DATE_WINDOW_SECS {
            let note = diagnose::utc_accepted(&eop_date, now);
            return Ok((eop_date, Some(note)));
        }
        Err(refuse!(code::SIGNATURE, "{}", diagnose::date_out_of_window(&eop_date, date, now)))
    }
}

/// Check 3: `Eop-Authorization` present and well-formed, with a known AK.
fn authorization<'h>(registry: &Registry, head: &Head<'h>) -> Result<(Arc<AccountCell>, Authorization<'h>), Refusal> {
    let value = head
        .header(&header::AUTHORIZATION)
        .ok_or_else(|| refuse!(code::SIGNATURE, "no Eop-Authorization header: sign the request (see the readme)"))?;
    // Parsed where it lies; a value that had to be made UTF-8 is parsed from its copy.
    let parsed = match &value {
        Cow::Borrowed(text) => Authorization::parse(text),
        Cow::Owned(text) => Authorization::parse(text).map(Authorization::into_owned),
    };
    let auth = parsed.map_err(|why| {
        refuse!(
            code::SIGNATURE,
            "the Eop-Authorization header is malformed: {why}; expected `<ak> Headers=<h1;h2> Signature=<base64>`"
        )
    })?;
    let account =
        registry.account(&auth.ak).ok_or_else(|| refuse!(code::AK_UNKNOWN, "no account has the ak `{}`", auth.ak))?;
    Ok((account, auth))
}

/// Check 4: every listed header sent, and the required ones listed.
fn signed_pairs<'h>(head: &Head<'h>, auth: &Authorization<'h>) -> Result<Vec<Pair<'h>>, Refusal> {
    let mut signed = Vec::with_capacity(auth.headers.len());
    for name in &auth.headers {
        let value = head
            .header(name.as_ref())
            .ok_or_else(|| refuse!(code::SIGNATURE, "{}", diagnose::listed_header_missing(name, head)))?;
        signed.push((name.clone(), value));
    }
    for required in REQUIRED_SIGNED {
        if !auth.headers.iter().any(|h| h == required) {
            return Err(refuse!(
                code::SIGNATURE,
                "{required} is not in Headers=; ctyun-eop-request-id and eop-date must both be signed"
            ));
        }
    }
    Ok(signed)
}

/// Checks 7–9: the app named by the appkey, allowed from this address, with this API on.
fn check_app(
    registry: &Registry,
    head: &Head<'_>,
    account: &AccountCell,
    endpoint: &Endpoint,
) -> Result<Arc<App>, Refusal> {
    let app = check_appkey(registry, head, account)?;
    check_ip(head, &app, endpoint)?;
    if !app.apis.contains(&endpoint.name) {
        return Err(not_enabled(account, &app, &endpoint.name));
    }
    Ok(app)
}

/// Check 7: the appkey names an app of the signing account. The one time a request locks
/// its account before billing.
fn check_appkey(registry: &Registry, req: &Head<'_>, account: &AccountCell) -> Result<Arc<App>, Refusal> {
    let appkey = req.header(&header::APPKEY).ok_or_else(|| {
        refuse!(code::APPKEY_MISSING, "no appkey header: send the app's appkey (it need not be signed)")
    })?;
    if let Some(app) = account.app(&appkey) {
        return Ok(app);
    }
    match registry.owner(&appkey).map(|cell| cell.ak.clone()) {
        Some(owner) => Err(refuse!(
            code::APPKEY_INVALID,
            "appkey `{appkey}` belongs to another account (ak `{owner}`), not to ak `{}`",
            account.ak
        )),
        None => Err(refuse!(code::APPKEY_INVALID, "no app has the appkey `{appkey}`")),
    }
}

/// Check 9's explanation names where the app enables APIs: the config file for an app
/// declared there, the control API for one made through it.
fn not_enabled(account: &AccountCell, app: &crate::registry::App, api: &str) -> Refusal {
    let name = &app.name;
    if account.declares(&app.appkey) {
        refuse!(
            code::APP_NOT_ENABLED,
            "app `{name}` has not enabled the {api} api; enable it in the config (apis = [\"{api}\"])"
        )
    } else {
        refuse!(
            code::APP_NOT_ENABLED,
            "app `{name}` has not enabled the {api} api; enable it with POST /__mock/apps/{}/apis/{api}",
            app.appkey
        )
    }
}

/// Check 1: `POST` and `application/json` (parameters such as `;charset=UTF-8` allowed).
fn check_request_type(req: &Head<'_>) -> Result<(), Refusal> {
    if req.method != Method::POST {
        return Err(refuse!(code::REQUEST_TYPE, "method {} is not supported; every api is POST", req.method));
    }
    let content_type = req.headers.get(CONTENT_TYPE).map(text);
    let media = content_type.as_deref().and_then(|c| c.split(';').next()).map(str::trim);
    if media.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Ok(());
    }
    match content_type {
        None => Err(refuse!(code::REQUEST_TYPE, "no Content-Type header; send Content-Type: application/json")),
        Some(c) => {
            Err(refuse!(code::REQUEST_TYPE, "content type `{c}` is not supported; send Content-Type: application/json"))
        }
    }
}

/// Check 8: the caller's address against the app's allowlist, then the API's.
fn check_ip(req: &Head<'_>, app: &App, endpoint: &Endpoint) -> Result<(), Refusal> {
    if let Some(rules) = &app.allowed_ips {
        if !rules.iter().any(|r| r.contains(req.peer)) {
            return Err(refuse!(
                code::IP_NOT_ALLOWED_BY_APP,
                "caller {} is not in app `{}`'s allowed_ips",
                req.peer,
                app.name
            ));
        }
    }
    if let Some(rules) = app.api_ips.get(&endpoint.name) {
        if !rules.iter().any(|r| r.contains(req.peer)) {
            return Err(refuse!(
                code::IP_NOT_ALLOWED_BY_API,
                "caller {} is not in app `{}`'s api_ips.{}",
                req.peer,
                app.name,
                endpoint.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn a_header_is_text_borrowed_when_utf8_and_replaced_when_not() {
        let utf8 = HeaderValue::from_bytes("20240102T030405Z é".as_bytes()).expect("value");
        assert!(matches!(text(&utf8), Cow::Borrowed("20240102T030405Z é")));
        let broken = HeaderValue::from_bytes(b"ak\xff1").expect("value");
        assert_eq!(text(&broken), "ak\u{fffd}1");
    }
}
