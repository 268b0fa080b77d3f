//! The rule model and its JSON form: a scope (account, optionally an app and an endpoint),
//! *when* it fires and *what* it does. The control API, `[[rules]]` in the TOML config and
//! `docs/faults.md` all speak this one form.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::{Capability, Catalogue};

/// One armed rule, as sent to `POST /__mock/accounts/{ak}/rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Given by the server (`r1`, `r2`, …) unless the caller names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Only calls signed with this appkey; all the account's apps when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appkey: Option<String>,
    /// Only calls to this endpoint (`hat`, `fence`, …); every endpoint when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub when: When,
    pub what: What,
    /// The rule's own generator seed (probability, latency ranges); derived from the
    /// server's `--seed` and the rule's id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// When a rule fires. Calls are counted per rule, among the calls in its scope, from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// Every call until the rule is removed.
    #[default]
    Always,
    /// The next N calls, then the rule is spent (it stays listed, firing no more).
    Next(u64),
    /// Calls k to m, inclusive.
    Calls([u64; 2]),
    /// Each call with probability p, drawn from the rule's seeded generator.
    Probability(f64),
    /// Every call once the account's clock reaches this instant (Unix milliseconds).
    FromMs(i64),
}

/// What a fired rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum What {
    /// Answer this documented code, in the endpoint's shape and status.
    Code(u32),
    /// Answer HTTP 200 with this JSON body, whatever it is.
    Body(Value),
    /// Answer normally, after this many milliseconds (a number or `[low, high]`).
    LatencyMs(Millis),
    /// Answer normally, sending the body at this many bytes per second.
    DripBps(u64),
    /// Close the connection before any response byte, or after half the body.
    Reset(ResetAt),
    /// Answer with the body cut to this many bytes (its `Content-Length` says so).
    TruncateAt(u64),
    /// Answer as the vendor's gateway does when the service behind it fails: 502, 503 or 504.
    Gateway(u16),
    /// At most this many calls per second per app; the rest answer 40029 / HTTP 429.
    ThrottleRps(u32),
    /// e-fence: these images of the batch (or this many, drawn from the rule's generator)
    /// fail inside a successful answer.
    FenceFail(FenceImages),
}

/// The images of an e-fence batch a rule makes fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FenceImages {
    /// This many images, drawn from the rule's generator.
    Count(u32),
    /// These images, numbered from 1 in the order the request lists them.
    Numbers(Vec<u32>),
}

/// A fixed latency or a uniform range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Millis {
    Fixed(u64),
    Range([u64; 2]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetAt {
    Before,
    Half,
}

/// The longest latency a rule may ask for: longer than any client timeout worth testing.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// The gateway statuses a rule may ask for.
pub const GATEWAY_STATUSES: [u16; 3] = [502, 503, 504];

impl Rule {
    /// Parses and checks a rule; the message names the field and what to send instead.
    pub fn from_json(value: Value) -> Result<Rule, String> {
        let rule: Rule = serde_json::from_value(value).map_err(|e| format!("{e}; see docs/faults.md"))?;
        rule.check()?;
        Ok(rule)
    }

    /// Checks what serde cannot: known endpoints, documented codes, sane numbers.
    pub fn check(&self) -> Result<(), String> {
        let catalogue = Catalogue::get();
        if let Some(name) = &self.endpoint {
            if catalogue.endpoint(name).is_none() {
                let known: Vec<&str> = catalogue.endpoints.iter().map(|e| e.name.as_str()).collect();
                return Err(format!("endpoint: no api `{name}`; known: {}", known.join(", ")));
            }
        }
        if let Some(id) = &self.id {
            if id.is_empty() || id.len() > 64 || id.contains('/') {
                return Err("id: 1 to 64 characters, no `/`".into());
            }
        }
        self.when.check()?;
        self.what.check(self.endpoint.as_deref())
    }
}

impl When {
    fn check(&self) -> Result<(), String> {
        match *self {
            When::Next(0) => Err("when.next: at least 1 call".into()),
            When::Calls([k, m]) if k == 0 || m < k => Err("when.calls: [k, m] with 1 <= k <= m".into()),
            When::Probability(p) if !(0.0..=1.0).contains(&p) => Err("when.probability: a number from 0 to 1".into()),
            _ => Ok(()),
        }
    }
}

impl What {
    fn check(&self, endpoint: Option<&str>) -> Result<(), String> {
        match self {
            What::Code(code) => documented(endpoint, *code),
            What::LatencyMs(Millis::Fixed(ms)) | What::LatencyMs(Millis::Range([_, ms])) if *ms > MAX_LATENCY_MS => {
                Err(format!("what.latency_ms: at most {MAX_LATENCY_MS}"))
            }
            What::LatencyMs(Millis::Range([low, high])) if high < low => {
                Err("what.latency_ms: [low, high] with low <= high".into())
            }
            What::DripBps(0) => Err("what.drip_bps: at least 1 byte per second".into()),
            What::Gateway(status) if !GATEWAY_STATUSES.contains(status) => Err("what.gateway: 502, 503 or 504".into()),
            What::ThrottleRps(0) => Err("what.throttle_rps: at least 1 (to refuse every call, use code 40029)".into()),
            What::FenceFail(images) => fence_fail(endpoint, images),
            _ => Ok(()),
        }
    }
}

/// Per-image failures need an e-fence endpoint (or none: the rule then sees only e-fence
/// calls), and image numbers or a count within its largest batch.
fn fence_fail(endpoint: Option<&str>, images: &FenceImages) -> Result<(), String> {
    let catalogue = Catalogue::get();
    let fences = catalogue.endpoints.iter().filter_map(|e| match &e.capability {
        Capability::Fence { images } if endpoint.is_none_or(|name| name == e.name) => Some(images.max),
        _ => None,
    });
    let Some(max) = fences.max() else {
        let name = endpoint.unwrap_or_default();
        return Err(format!(
            "what.fence_fail: `{name}` is not an e-fence api; set endpoint to `fence` or leave it out"
        ));
    };
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    match images {
        FenceImages::Count(n) if !(1..=max).contains(n) => {
            Err(format!("what.fence_fail: a count from 1 to {max}, or a list of image numbers"))
        }
        FenceImages::Numbers(numbers) if numbers.is_empty() || numbers.iter().any(|n| !(1..=max).contains(n)) => {
            Err(format!("what.fence_fail: image numbers from 1 to {max}, e.g. [2, 5]"))
        }
        _ => Ok(()),
    }
}

/// A code is documented for the endpoint (or, with no endpoint, for every endpoint: a
/// gateway code, or a capability code every endpoint of the catalogue has).
fn documented(endpoint: Option<&str>, code: u32) -> Result<(), String> {
    let catalogue = Catalogue::get();
    match endpoint {
        Some(name) if catalogue.error(Some(name), code).is_some() => Ok(()),
        None if catalogue.error(None, code).is_some() => Ok(()),
        Some(name) => Err(format!("what.code: {code} is not documented for `{name}`; it has {}", list(name))),
        None => Err(format!(
            "what.code: {code} is not a gateway code; name an `endpoint` for a capability code, or use one of {}",
            gateway_codes()
        )),
    }
}

/// The codes an endpoint documents, for error messages.
pub fn list(endpoint: &str) -> String {
    let mut codes = Catalogue::get().codes_for(endpoint);
    codes.sort_unstable();
    codes.dedup();
    codes.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn gateway_codes() -> String {
    let codes: Vec<String> = Catalogue::get()
        .errors
        .iter()
        .filter(|e| e.scope == crate::catalogue::Scope::Gateway)
        .map(|e| e.code.to_string())
        .collect();
    codes.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Rule, String> {
        Rule::from_json(v)
    }

    #[test]
    fn the_documented_forms_parse() {
        let rule = parse(json!({"endpoint": "face_quality", "when": {"next": 2}, "what": {"code": 4204}})).expect("ok");
        assert_eq!(rule.when, When::Next(2));
        assert_eq!(rule.what, What::Code(4204));
        let rule =
            parse(json!({"what": {"latency_ms": [100, 300]}, "when": {"probability": 0.5}, "seed": 9})).expect("ok");
        assert_eq!(rule.what, What::LatencyMs(Millis::Range([100, 300])));
        assert_eq!(parse(json!({"what": {"reset": "half"}})).expect("ok").what, What::Reset(ResetAt::Half));
        assert_eq!(parse(json!({"what": {"gateway": 504}, "when": "always"})).expect("ok").when, When::Always);
        assert_eq!(parse(json!({"what": {"body": {"any": [1]}}})).expect("ok").what, What::Body(json!({"any": [1]})));
    }

    #[test]
    fn a_rule_round_trips_through_json() {
        let rule = parse(json!({"id": "x", "appkey": "k", "when": {"calls": [2, 4]}, "what": {"throttle_rps": 3}}))
            .expect("ok");
        let again = parse(serde_json::to_value(&rule).expect("json")).expect("ok");
        assert_eq!(rule, again);
    }

    #[test]
    fn bad_rules_say_which_field_and_what_to_send() {
        let error = |v| parse(v).expect_err("refused");
        assert_eq!(
            error(json!({"endpoint": "hat", "what": {"code": 4204}})),
            "what.code: 4204 is not documented for `hat`; it has 4001, 4002, 4003, 4006, 10002, 10020, 40002, 40006, 40008, 40009, 40010, 40029, 50000, 50001, 50002, 50003, 51001, 51002, 51003"
        );
        assert!(error(json!({"what": {"code": 4204}})).starts_with("what.code: 4204 is not a gateway code"));
        assert_eq!(
            error(json!({"endpoint": "cat", "what": {"code": 1}})).split(';').next(),
            Some("endpoint: no api `cat`")
        );
        assert_eq!(error(json!({"what": {"gateway": 500}})), "what.gateway: 502, 503 or 504");
        assert_eq!(error(json!({"when": {"next": 0}, "what": {"reset": "before"}})), "when.next: at least 1 call");
        assert_eq!(
            error(json!({"when": {"calls": [3, 2]}, "what": {"reset": "before"}})),
            "when.calls: [k, m] with 1 <= k <= m"
        );
        assert_eq!(
            error(json!({"when": {"probability": 2.0}, "what": {"reset": "before"}})),
            "when.probability: a number from 0 to 1"
        );
        assert_eq!(error(json!({"what": {"latency_ms": [5, 1]}})), "what.latency_ms: [low, high] with low <= high");
        assert!(error(json!({"what": {"teleport": 1}})).contains("unknown variant `teleport`"));
        assert!(error(json!({"what": {"reset": "before"}, "colour": 1})).contains("unknown field `colour`"));
    }
}
