//! The control API's routes: one match over method and path segments.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{json_body, Failure, Request, Server, PREFIX};
use crate::billing;
use crate::catalogue::Catalogue;
use crate::clock::{format_eop_date, parse_eop_date};
use crate::registry::{AccountCell, ApiSet, App, Registry};

type Answer = Result<(StatusCode, Value), Failure>;

pub fn route(registry: &Registry, server: &Server, req: &Request<'_>) -> Answer {
    let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let body = || json_body(req.body);
    let ok = |v: Value| Ok((StatusCode::OK, v));
    match (req.method, segments.as_slice()) {
        (&Method::POST, ["accounts"]) => {
            let b = body()?;
            let cell = registry.create_account(text(&b, "ak")?, text(&b, "sk")?)?;
            Ok((StatusCode::CREATED, json!({ "ak": cell.ak, "sk": cell.sk })))
        }
        (&Method::GET, ["accounts", ak]) => ok(account_view(registry, &*account(registry, ak)?)),
        (&Method::POST, ["accounts", ak, "apps"]) => {
            let (cell, b) = (account(registry, ak)?, body()?);
            let name = text(&b, "name")?.ok_or_else(|| bad("send {\"name\": \"4 to 15 characters\"}"))?;
            let description = text(&b, "description")?.unwrap_or_default();
            let app = registry.create_app(&cell, &name, &description, text(&b, "appkey")?)?;
            Ok((StatusCode::CREATED, app_view(&app)))
        }
        (&Method::GET, ["accounts", ak, "clock"]) => ok(clock_view(registry, Some(&*account(registry, ak)?))),
        (&Method::POST, ["accounts", ak, "clock"]) => {
            let cell = account(registry, ak)?;
            let target = move_to(&body()?, registry.now_ms(&cell))?;
            registry.set_offset(&cell, target - registry.clock().now_ms());
            ok(clock_view(registry, Some(&cell)))
        }
        (&Method::POST, ["accounts", ak, "reset"]) => {
            let cell = account(registry, ak)?;
            registry.reset(&cell);
            ok(account_view(registry, &cell))
        }
        (&Method::GET, ["apps", appkey]) => ok(app_view(&app(registry, appkey)?.1)),
        (&Method::POST, ["apps", appkey, "apis", api]) => {
            let (cell, _) = app(registry, appkey)?;
            known_api(api)?;
            registry.enable(&cell, appkey, api)?;
            ok(app_view(&app(registry, appkey)?.1))
        }
        (&Method::POST, ["apps", appkey, "apis", api, "free-quota"]) => {
            let (cell, _) = app(registry, appkey)?;
            Ok((StatusCode::CREATED, billing::claim_free(registry, &cell, appkey, api)?))
        }
        (&Method::POST, ["apps", appkey, "apis", api, "packages"]) => {
            let (cell, b) = (app(registry, appkey)?.0, body()?);
            Ok((
                StatusCode::CREATED,
                billing::buy(registry, &cell, appkey, api, number(&b, "size")?, number(&b, "calls")?)?,
            ))
        }
        (&Method::POST, ["apps", appkey, "limits"]) => {
            let (cell, b) = (app(registry, appkey)?.0, body()?);
            let limit = match &b["concurrency"] {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("`concurrency` is a whole number or null"))?,
                ),
            };
            registry.set_concurrency(&cell, appkey, limit)?;
            ok(app_view(&app(registry, appkey)?.1))
        }
        (&Method::GET, ["apps", appkey, "usage"]) => ok(billing::usage(registry, &app(registry, appkey)?.0, appkey)?),
        (&Method::GET, ["apps", appkey, "stats"]) => ok(stats_view(&app(registry, appkey)?.0, appkey)),
        (&Method::GET, ["server"]) => {
            ok(json!({ "version": env!("CARGO_PKG_VERSION"), "log_lines_dropped": server.log_lines_dropped }))
        }
        (&Method::GET, ["clock"]) => ok(clock_view(registry, None)),
        (&Method::POST, ["clock"]) => {
            let target = move_to(&body()?, registry.clock().now_ms())?;
            registry.clock().set_ms(target);
            ok(clock_view(registry, None))
        }
        _ => Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no control route {} {}; see docs/control-api.md", req.method, req.path),
        )),
    }
}

fn bad(message: &str) -> Failure {
    Failure(StatusCode::BAD_REQUEST, message.to_string())
}

fn text(body: &Value, key: &str) -> Result<Option<String>, Failure> {
    match &body[key] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad(&format!("`{key}` must be a string"))),
    }
}

fn number(body: &Value, key: &str) -> Result<Option<u64>, Failure> {
    match &body[key] {
        Value::Null => Ok(None),
        v => v.as_u64().map(Some).ok_or_else(|| bad(&format!("`{key}` must be a whole number"))),
    }
}

fn account(registry: &Registry, ak: &str) -> Result<std::sync::Arc<AccountCell>, Failure> {
    registry.account(ak).ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no account with ak `{ak}`")))
}

fn app(registry: &Registry, appkey: &str) -> Result<(std::sync::Arc<AccountCell>, std::sync::Arc<App>), Failure> {
    let missing = || Failure(StatusCode::NOT_FOUND, format!("no app with appkey `{appkey}`"));
    let cell = registry.owner(appkey).ok_or_else(missing)?;
    let app = cell.app(appkey).ok_or_else(missing)?;
    Ok((cell, app))
}

fn known_api(api: &str) -> Result<(), Failure> {
    match Catalogue::get().endpoint(api) {
        Some(_) => Ok(()),
        None => {
            let known: Vec<&str> = Catalogue::get().endpoints.iter().map(|e| e.name.as_str()).collect();
            Err(Failure(StatusCode::NOT_FOUND, format!("no api `{api}`; known: {}", known.join(", "))))
        }
    }
}

/// The instant a clock body asks for: `set` (an eop-date, Beijing time), `set_ms` (Unix
/// milliseconds), `advance` (`90s`, `15m`, `2h`, `366d`, `1y`; negative moves back) or
/// `advance_ms`, relative to `now_ms`.
fn move_to(body: &Value, now_ms: i64) -> Result<i64, Failure> {
    let target = if let Some(set) = body["set"].as_str() {
        parse_eop_date(set)
            .map(|s| s * 1000)
            .ok_or_else(|| bad("`set` is an eop-date: yyyymmddTHHMMSSZ, Beijing time"))?
    } else if let Some(ms) = body["set_ms"].as_i64() {
        ms
    } else if let Some(ms) = body["advance_ms"].as_i64() {
        now_ms.checked_add(ms).ok_or_else(out_of_range)?
    } else if let Some(text) = body["advance"].as_str() {
        let d = crate::clock::parse_duration_ms(text)
            .ok_or_else(|| bad("`advance` is a number and a unit: ms, s, m, h, d or y (365 days), e.g. \"366d\""))?;
        now_ms.checked_add(d).ok_or_else(out_of_range)?
    } else {
        return Err(bad(
            "send one of {\"set\": \"20270101T000000Z\"}, {\"set_ms\": n}, {\"advance\": \"366d\"}, {\"advance_ms\": n}",
        ));
    };
    if !(0..=LATEST_MS).contains(&target) {
        return Err(out_of_range());
    }
    Ok(target)
}

/// The latest instant a clock may show: the end of year 9999, the last an eop-date spells.
const LATEST_MS: i64 = 253_402_300_799_999;

fn out_of_range() -> Failure {
    bad("the clock would leave 1970–9999, the years an eop-date can spell; move it less far")
}

fn clock_view(registry: &Registry, cell: Option<&AccountCell>) -> Value {
    let now = cell.map_or_else(|| registry.clock().now_ms(), |c| registry.now_ms(c));
    json!({
        "now_ms": now,
        "eop_date": format_eop_date(now.div_euclid(1000)),
        "offset_ms": cell.map_or(0, AccountCell::offset_ms),
    })
}

fn app_view(app: &App) -> Value {
    let apis: Vec<&str> = match &app.apis {
        ApiSet::All => vec!["*"],
        ApiSet::Some(set) => {
            let mut apis: Vec<&str> = set.iter().map(String::as_str).collect();
            apis.sort_unstable();
            apis
        }
    };
    json!({ "name": app.name, "description": app.description, "appkey": app.appkey, "apis": apis, "max_concurrency": app.max_concurrency })
}

fn account_view(registry: &Registry, cell: &AccountCell) -> Value {
    let state = cell.lock();
    let apps: Vec<Value> = state.apps.iter().map(|a| app_view(a)).collect();
    let refused: serde_json::Map<String, Value> =
        state.stats.refused.iter().map(|(c, n)| (c.to_string(), json!(n))).collect();
    let alerts = &state.stats.alerts;
    let view = json!({ "ak": cell.ak, "apps": apps, "refused": refused, "alerts": alerts });
    drop(state);
    let mut view = view;
    view["clock"] = clock_view(registry, Some(cell));
    view
}

fn stats_view(cell: &AccountCell, appkey: &str) -> Value {
    let state = cell.lock();
    let apis: serde_json::Map<String, Value> = state
        .stats
        .apis
        .iter()
        .filter(|((key, _), _)| key == appkey)
        .map(|((_, api), s)| {
            let mean = if s.requests == 0 { 0.0 } else { s.total_ms / s.requests as f64 };
            let view = json!({
                "requests": s.requests, "succeeded": s.succeeded, "codes": s.codes,
                "mean_ms": mean, "max_ms": s.max_ms, "bytes_in": s.bytes_in, "bytes_out": s.bytes_out,
            });
            (api.clone(), view)
        })
        .collect();
    json!({ "appkey": appkey, "apis": apis, "alerts": state.stats.alerts })
}
