//! The control API's routes: one match over method and path segments.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{json_body, Failure, Request, PREFIX};
use crate::billing;
use crate::catalogue::Catalogue;
use crate::clock::{format_eop_date, parse_duration_ms, parse_eop_date};
use crate::faults::rule::Rule;
use crate::journal::{Filter, Journal};
use crate::registry::{AccountCell, ApiSet, App, Registry};
use crate::shared::Shared;

type Answer = Result<(StatusCode, Value), Failure>;

/// The OpenAPI document of the thirteen endpoints, generated from the catalogue by the
/// contract suite (which checks it cannot drift) and compiled in.
const OPENAPI_JSON: &str = include_str!("../../../fixtures/openapi.json");

/// Runs a control request; every change it makes is handed to the store.
pub fn route(shared: &Shared, req: &Request<'_>) -> Answer {
    let registry = &shared.registry;
    let journal = &shared.journal;
    let faults = &shared.faults;
    let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let body = || json_body(req.body);
    let ok = |v: Value| Ok((StatusCode::OK, v));
    match (req.method, segments.as_slice()) {
        (&Method::POST, ["accounts"]) => {
            let b = body()?;
            let (cell, event) = registry.create_account(text(&b, "ak")?, text(&b, "sk")?)?;
            shared.keep(event);
            Ok((StatusCode::CREATED, json!({ "ak": cell.ak, "sk": cell.sk })))
        }
        (&Method::GET, ["accounts"]) => ok(accounts_view(registry)),
        (&Method::GET, ["accounts", ak]) => ok(account_view(registry, journal, &*account(registry, ak)?)),
        (&Method::POST, ["accounts", ak, "apps"]) => {
            let (cell, b) = (account(registry, ak)?, body()?);
            let name = text(&b, "name")?.ok_or_else(|| bad("send {\"name\": \"4 to 15 characters\"}"))?;
            let description = text(&b, "description")?.unwrap_or_default();
            let (app, event) = registry.create_app(&cell, &name, &description, text(&b, "appkey")?)?;
            shared.keep(event);
            Ok((StatusCode::CREATED, app_view(&app)))
        }
        (&Method::GET, ["accounts", ak, "clock"]) => ok(clock_view(registry, Some(&*account(registry, ak)?))),
        (&Method::POST, ["accounts", ak, "clock"]) => {
            let cell = account(registry, ak)?;
            let target = move_to(&body()?, registry.now_ms(&cell))?;
            shared.keep(registry.set_offset(&cell, target - registry.clock().now_ms()));
            ok(clock_view(registry, Some(&cell)))
        }
        (&Method::POST, ["accounts", ak, "reset"]) => {
            let cell = account(registry, ak)?;
            shared.keep(registry.reset(&cell));
            journal.forget(&cell.ak);
            faults.clear(&cell.ak);
            ok(account_view(registry, journal, &cell))
        }
        (&Method::POST, ["accounts", ak, "rules"]) => {
            let cell = account(registry, ak)?;
            let rule = Rule::from_json(body()?).map_err(|e| bad(&e))?;
            let id = faults.add(&cell.ak, rule).map_err(|e| Failure(StatusCode::CONFLICT, e))?;
            Ok((StatusCode::CREATED, json!({ "id": id, "rules": faults.list(&cell.ak) })))
        }
        (&Method::GET, ["accounts", ak, "rules"]) => ok(json!({ "rules": faults.list(&account(registry, ak)?.ak) })),
        (&Method::DELETE, ["accounts", ak, "rules", id]) => {
            let cell = account(registry, ak)?;
            if !faults.remove(&cell.ak, id) {
                return Err(Failure(
                    StatusCode::NOT_FOUND,
                    format!("account `{ak}` has no rule `{id}`; GET its rules"),
                ));
            }
            ok(json!({ "rules": faults.list(&cell.ak) }))
        }
        (&Method::GET, ["accounts", ak, "journal"]) => journal_view(shared, &account(registry, ak)?.ak, req.query),
        (&Method::GET, ["apps", appkey]) => ok(app_view(&app(registry, appkey)?.1)),
        (&Method::POST, ["apps", appkey, "apis", api]) => {
            let (cell, _) = app(registry, appkey)?;
            known_api(api)?;
            if let Some(event) = registry.enable(&cell, appkey, api)? {
                shared.keep(event);
            }
            ok(app_view(&app(registry, appkey)?.1))
        }
        (&Method::POST, ["apps", appkey, "apis", api, "free-quota"]) => {
            let (cell, _) = app(registry, appkey)?;
            let (shown, event) = billing::claim_free(registry, &cell, appkey, api)?;
            shared.keep(event);
            Ok((StatusCode::CREATED, shown))
        }
        (&Method::POST, ["apps", appkey, "apis", api, "packages"]) => {
            let (cell, b) = (app(registry, appkey)?.0, body()?);
            let (shown, event) = billing::buy(registry, &cell, appkey, api, number(&b, "size")?, number(&b, "calls")?)?;
            shared.keep(event);
            Ok((StatusCode::CREATED, shown))
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
            shared.keep(registry.set_concurrency(&cell, appkey, limit)?);
            ok(app_view(&app(registry, appkey)?.1))
        }
        (&Method::GET, ["apps", appkey, "usage"]) => ok(billing::usage(registry, &app(registry, appkey)?.0, appkey)?),
        (&Method::GET, ["apps", appkey, "stats"]) => ok(stats_view(journal, &app(registry, appkey)?.0, appkey)),
        (&Method::GET, ["server"]) => ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "log_lines_dropped": shared.journal.log.dropped(),
        })),
        (&Method::GET, ["openapi.json"]) => {
            serde_json::from_str(OPENAPI_JSON).map(|v| (StatusCode::OK, v)).map_err(|e| {
                Failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the compiled-in openapi.json is not json ({e}); rebuild"),
                )
            })
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
        let d = parse_duration_ms(text)
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

/// `GET /__mock/accounts`: every account's AK and appkeys, never its SK.
fn accounts_view(registry: &Registry) -> Value {
    let accounts: Vec<Value> = registry
        .accounts()
        .iter()
        .map(|cell| {
            let appkeys: Vec<String> = cell.apps().iter().map(|a| a.appkey.clone()).collect();
            json!({ "ak": cell.ak, "appkeys": appkeys })
        })
        .collect();
    json!({ "accounts": accounts })
}

fn account_view(registry: &Registry, journal: &Journal, cell: &AccountCell) -> Value {
    let apps: Vec<Value> = cell.apps().iter().map(|a| app_view(a)).collect();
    let counted = journal.counters(&cell.ak);
    let refused: serde_json::Map<String, Value> =
        counted.refused.iter().map(|(c, n)| (c.to_string(), json!(n))).collect();
    let mut view = json!({ "ak": cell.ak, "apps": apps, "refused": refused, "alerts": counted.alerts });
    view["clock"] = clock_view(registry, Some(cell));
    view
}

/// `GET /__mock/accounts/{ak}/journal?endpoint=&code=&since=&limit=` (docs/client-contract.md).
fn journal_view(shared: &Shared, ak: &str, query: &str) -> Answer {
    let filter = Filter::parse(query).map_err(|e| bad(&e))?;
    let view = shared.journal.view(ak, &filter);
    let body = serde_json::to_value(view).map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((StatusCode::OK, body))
}

fn stats_view(journal: &Journal, cell: &AccountCell, appkey: &str) -> Value {
    let counted = journal.counters(&cell.ak);
    let apis: serde_json::Map<String, Value> = counted
        .apis
        .get(appkey)
        .into_iter()
        .flatten()
        .map(|(api, s)| {
            let mean = if s.requests == 0 { 0.0 } else { s.total_ms / s.requests as f64 };
            let view = json!({
                "requests": s.requests, "succeeded": s.succeeded, "codes": s.codes,
                "mean_ms": mean, "max_ms": s.max_ms, "bytes_in": s.bytes_in, "bytes_out": s.bytes_out,
            });
            (api.clone(), view)
        })
        .collect();
    json!({ "appkey": appkey, "apis": apis, "alerts": counted.alerts })
}

#[cfg(test)]
mod tests {
    use hyper::HeaderMap;

    use super::*;
    use crate::config::Config;

    fn post(shared: &Shared, path: &str, body: &str) -> Answer {
        let headers = HeaderMap::new();
        let req = Request {
            method: &Method::POST,
            path,
            query: "",
            headers: &headers,
            peer: [127, 0, 0, 1].into(),
            body: body.as_bytes(),
        };
        route(shared, &req)
    }

    #[test]
    fn the_control_api_refuses_an_empty_appkey_as_the_config_does() {
        let shared = Shared::new(&Config::default()).expect("state");
        let refused = post(&shared, "/__mock/accounts/mock-ak/apps", r#"{"name": "cameras", "appkey": ""}"#);
        let Err(Failure(status, message)) = refused else { panic!("an empty appkey was accepted") };
        assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, "`appkey` must be non-empty printable ascii"));
        let created = post(&shared, "/__mock/accounts/mock-ak/apps", r#"{"name": "cameras", "appkey": "cam-1"}"#);
        assert_eq!(created.map(|(status, _)| status).ok(), Some(StatusCode::CREATED));
    }
}
