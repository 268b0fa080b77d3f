//! What the vendor sells and meters (DIGEST §3): the free quota and packages of a paid
//! API, and the charge for each call. The charge is made before the capability runs and
//! settled after it has answered, including any delay an image asks for: it stands only
//! when the answer is code 0 and reaches the client whole, and is refunded otherwise — a
//! client that gives up during the delay drops its [`Ticket`] and is not charged. Free APIs
//! only need enabling.
//!
//! Charging at once (rather than reserving, then committing) makes a successful call lock
//! its account once here; only a failed or abandoned call comes back, to refund.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::catalogue::{code, Catalogue, Endpoint};
use crate::clock::format_eop_date;
use crate::ledger::{self, Charged, Denied, Kind, Ledger, PACKAGE_SIZES};
use crate::outcome::Charge;
use crate::refuse;
use crate::registry::{AccountCell, Change, Event, Registry};
use crate::respond::Refusal;

/// A call charged to a ledger, not yet known to have succeeded. Settle it with the
/// outcome; dropping it unsettled refunds the call, so an abandoned request never costs one.
#[derive(Debug)]
pub(crate) struct Ticket {
    account: Arc<AccountCell>,
    key: (String, String),
    /// The charge, and what the ledger held after it; `None` for a free API.
    charged: Option<(Charged, Charge)>,
    /// The account's generation when charged: a reset since makes the refund moot.
    generation: u64,
}

impl Ticket {
    /// Keeps the charge if `succeeded` (no lock taken), refunds it otherwise; returns the
    /// charge that stands.
    pub fn settle(mut self, succeeded: bool) -> Option<Charge> {
        if succeeded {
            return self.charged.take().map(|(_, charge)| charge);
        }
        None // dropped here: refunded
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((charged, _)) = self.charged.take() {
            let mut state = self.account.lock();
            if state.generation != self.generation {
                return;
            }
            if let Some(ledger) = state.ledgers.get_mut(&self.key) {
                ledger.refund(&charged);
            }
        }
    }
}

/// Charges one call of `endpoint` to `appkey`, or refuses with 51001/51002/51003.
pub(crate) fn charge(
    registry: &Registry,
    account: &Arc<AccountCell>,
    appkey: &str,
    endpoint: &Endpoint,
) -> Result<Ticket, Refusal> {
    let key = (appkey.to_string(), endpoint.name.clone());
    let mut ticket = Ticket { account: account.clone(), key, charged: None, generation: 0 };
    if !endpoint.paid {
        return Ok(ticket);
    }
    let now = registry.now_ms(account);
    let mut state = account.lock();
    ticket.generation = state.generation;
    let ledger = state.ledgers.entry(ticket.key.clone()).or_default();
    let charged = ledger.charge(now);
    let charge =
        |c: &Charged| Charge { package: c.package, remaining: ledger.remaining(now), valid: ledger.valid_calls(now) };
    match charged {
        Ok(c) => {
            ticket.charged = Some((c, charge(&c)));
            drop(state);
            Ok(ticket)
        }
        Err(denied) => {
            drop(state);
            Err(refusal(denied, appkey, &endpoint.name))
        }
    }
}

fn refusal(denied: Denied, appkey: &str, api: &str) -> Refusal {
    match denied {
        Denied::NotPurchased => refuse!(code::PAID_NOT_PURCHASED, "app `{appkey}` has neither claimed the free quota nor bought a package for {api}, a paid api; POST /__mock/apps/{appkey}/apis/{api}/free-quota or …/packages"),
        Denied::Expired => refuse!(code::PACKAGE_EXPIRED, "every package of app `{appkey}` for {api} has expired (packages last a year); buy a new one"),
        Denied::Exhausted => refuse!(code::NO_CALLS_LEFT, "app `{appkey}` has no calls left for {api}: its valid packages are used up"),
    }
}

/// The paid API `api` of an app of `cell`, checked for the control API.
fn paid_api(cell: &AccountCell, appkey: &str, api: &str) -> Result<(), Change> {
    let endpoint = Catalogue::get().endpoint(api).ok_or_else(|| Change::NotFound(format!("no api `{api}`")))?;
    if !endpoint.paid {
        return Err(Change::Invalid(format!("{api} is free once enabled: it has no quota or packages")));
    }
    let app = cell.app(appkey).ok_or_else(|| Change::NotFound(format!("no app `{appkey}` in this account")))?;
    if !app.apis.contains(api) {
        return Err(Change::Invalid(format!("app `{appkey}` has not enabled {api}; enable it first")));
    }
    Ok(())
}

/// Claims the yearly free quota of a paid API.
pub(crate) fn claim_free(
    registry: &Registry,
    cell: &AccountCell,
    appkey: &str,
    api: &str,
) -> Result<(Value, Event), Change> {
    paid_api(cell, appkey, api)?;
    let now = registry.now_ms(cell);
    let mut state = cell.lock();
    let ledger = state.ledgers.entry((appkey.into(), api.into())).or_default();
    let package = ledger.claim_free(now).map_err(|e| {
        Change::Conflict(format!("the free quota is already claimed until {}", format_eop_date(e.expires_ms / 1000)))
    })?;
    let shown = package_json(package, now);
    drop(state);
    Ok((shown, Event::Claim { appkey: appkey.into(), api: api.into(), at_ms: now }))
}

/// The largest package of the emulator's own (`{"calls": n}`): far beyond any test, and
/// far from overflowing the ledger's sums.
pub const MAX_CUSTOM_CALLS: u64 = 1_000_000_000_000;

/// Buys a package: `size` one of the vendor's, or `calls` any count (the emulator's own).
pub(crate) fn buy(
    registry: &Registry,
    cell: &AccountCell,
    appkey: &str,
    api: &str,
    size: Option<u64>,
    calls: Option<u64>,
) -> Result<(Value, Event), Change> {
    paid_api(cell, appkey, api)?;
    let (kind, calls) = match (size, calls) {
        (Some(size), None) if PACKAGE_SIZES.contains(&size) => (Kind::Paid, size),
        (Some(size), None) => {
            return Err(Change::Invalid(format!(
                "the vendor sells packages of {PACKAGE_SIZES:?} calls, not {size}; use \"calls\" for any other count"
            )))
        }
        (None, Some(calls)) if (1..=MAX_CUSTOM_CALLS).contains(&calls) => (Kind::Custom, calls),
        _ => {
            return Err(Change::Invalid(format!(
                "send {{\"size\": 100000}} (a vendor package) or {{\"calls\": n}} (any count, 1 to {MAX_CUSTOM_CALLS})"
            )))
        }
    };
    let now = registry.now_ms(cell);
    let mut state = cell.lock();
    let shown = package_json(state.ledgers.entry((appkey.into(), api.into())).or_default().buy(kind, calls, now), now);
    drop(state);
    Ok((shown, Event::Buy { appkey: appkey.into(), api: api.into(), kind, calls, at_ms: now }))
}

/// Usage details of an app, as the vendor console shows them: per API, enabled or not,
/// and per package the calls used and left.
pub(crate) fn usage(registry: &Registry, cell: &AccountCell, appkey: &str) -> Result<Value, Change> {
    let app = cell.app(appkey).ok_or_else(|| Change::NotFound(format!("no app `{appkey}` in this account")))?;
    let now = registry.now_ms(cell);
    let state = cell.lock();
    let apis: serde_json::Map<String, Value> = Catalogue::get()
        .endpoints
        .iter()
        .map(|e| {
            let ledger = state.ledgers.get(&(appkey.to_string(), e.name.clone()));
            (e.name.clone(), api_usage(e, app.apis.contains(&e.name), ledger, now))
        })
        .collect();
    Ok(json!({ "appkey": appkey, "name": app.name, "now": format_eop_date(now.div_euclid(1000)), "apis": apis }))
}

fn api_usage(endpoint: &Endpoint, enabled: bool, ledger: Option<&Ledger>, now: i64) -> Value {
    if !endpoint.paid {
        return json!({ "enabled": enabled, "paid": false });
    }
    let empty = Ledger::default();
    let ledger = ledger.unwrap_or(&empty);
    let status = match ledger.choose(now) {
        Ok(_) => "available",
        Err(Denied::NotPurchased) => "not_purchased",
        Err(Denied::Expired) => "expired",
        Err(Denied::Exhausted) => "used_up",
    };
    json!({
        "enabled": enabled,
        "paid": true,
        "status": status,
        "remaining": ledger.remaining(now),
        "in_use": ledger.in_use,
        "packages": ledger.packages.iter().map(|p| package_json(p, now)).collect::<Vec<_>>(),
    })
}

fn package_json(p: &ledger::Package, now: i64) -> Value {
    json!({
        "id": p.id,
        "kind": p.kind,
        "calls": p.calls,
        "used": p.used,
        "remaining": if p.valid(now) { p.available() } else { 0 },
        "valid": p.valid(now),
        "purchased": format_eop_date(p.start_ms.div_euclid(1000)),
        "expires": format_eop_date(p.expires_ms.div_euclid(1000)),
    })
}
