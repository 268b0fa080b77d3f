//! Every way of making a call fail on purpose, in one place (`docs/faults.md`): forced
//! codes (`x-mock-force`), rules armed per account through the control API or the config,
//! the server-wide `--fault-rate`, the failures an image's ground truth asks for (`image`),
//! e-fence images that fail inside a batch (`fence`), and the per-app concurrency limit
//! (`concurrency`). Everything here decides; the pipeline applies the [`Action`] and
//! [`body::FaultBody`] shapes the bytes on the wire.
//!
//! Determinism: a rule draws from its own generator, seeded by its `seed` or by the
//! server's `--seed` and the rule's id; `--fault-rate` hashes the server seed with the
//! call's number. The same seed and the same calls give the same decisions.

pub mod apply;
pub mod body;
pub mod concurrency;
pub mod config;
pub mod fence;
pub mod force;
pub mod image;
pub mod rng;
pub mod rule;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use self::fence::Pick;
use self::rng::Rng;
use self::rule::{FenceImages, Millis, ResetAt, Rule, What, When};

pub use self::body::FaultBody;
pub use self::force::{forced, Forced, FORCE_HEADER};

/// What a fired rule (or the fault rate) asks of one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer this documented code, as the endpoint renders it; nothing is charged.
    Code(u32),
    /// Answer HTTP 200 with this body; nothing is charged.
    Body(Value),
    /// Answer the vendor gateway's 502, 503 or 504; nothing is charged.
    Gateway(u16),
    /// Answer 40029 / HTTP 429 with `Retry-After` in seconds; nothing is charged.
    Throttle { retry_after_s: u64 },
    /// Close the connection before any response byte; nothing is charged.
    ResetBefore,
    /// Answer normally, but shape the response on its way out.
    Shape(Shape),
}

/// How a normal answer is made or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Wait this long first; the call is charged as usual.
    Latency(Duration),
    /// Send the body at this many bytes per second; charged as usual.
    Drip(u64),
    /// Declare the whole body, send half, abort the connection; not charged.
    ResetHalf,
    /// Send only this many bytes of the body (a matching `Content-Length`); not charged.
    Truncate(u64),
    /// e-fence: these images of the batch fail inside the successful answer; charged as
    /// usual (the answer is code 0).
    FailImages(Pick),
}

impl Action {
    /// Whether the call may be charged: only when the client gets the whole, true answer.
    pub fn charges(&self) -> bool {
        matches!(self, Action::Shape(Shape::Latency(_) | Shape::Drip(_) | Shape::FailImages(_)))
    }
}

/// One armed rule and what it has seen.
#[derive(Debug)]
struct Armed {
    id: String,
    rule: Rule,
    /// Calls in the rule's scope that reached it.
    calls: u64,
    fired: u64,
    rng: Rng,
    /// Per app: the current one-second window and the calls admitted in it.
    windows: HashMap<String, (i64, u32)>,
}

/// The rules of every account, and the server-wide fault rate.
#[derive(Debug)]
pub struct Faults {
    seed: u64,
    fault_rate: f64,
    /// Std locks: held for a lookup or one rule evaluation, never across an await.
    accounts: RwLock<HashMap<String, Arc<Mutex<Vec<Armed>>>>>,
    /// Accounts with at least one rule: with none, `decide` reads no lock at all.
    armed_accounts: AtomicUsize,
    next_id: AtomicU64,
}

impl Faults {
    pub fn new(seed: u64, fault_rate: f64) -> Faults {
        Faults {
            seed,
            fault_rate: fault_rate.clamp(0.0, 1.0),
            accounts: RwLock::new(HashMap::new()),
            armed_accounts: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// Arms a checked rule for account `ak`; returns its id.
    pub fn add(&self, ak: &str, mut rule: Rule) -> Result<String, String> {
        rule.check()?;
        let id = rule.id.clone().unwrap_or_else(|| format!("r{}", self.next_id.fetch_add(1, Ordering::Relaxed)));
        rule.id = Some(id.clone());
        let seed = rule.seed.unwrap_or_else(|| rng::mix(self.seed ^ fnv(ak) ^ fnv(&id).rotate_left(17)));
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        let rules = accounts.entry(ak.to_string()).or_default();
        let mut rules = rules.lock().unwrap_or_else(|p| p.into_inner());
        if rules.iter().any(|a| a.id == id) {
            return Err(format!("id: a rule `{id}` is already armed; remove it first or choose another id"));
        }
        if rules.is_empty() {
            self.armed_accounts.fetch_add(1, Ordering::Relaxed);
        }
        rules.push(Armed { id: id.clone(), rule, calls: 0, fired: 0, rng: Rng::new(seed), windows: HashMap::new() });
        Ok(id)
    }

    /// The account's rules in the order they are tried, with their counts.
    pub fn list(&self, ak: &str) -> Vec<Value> {
        let Some(rules) = self.rules_of(ak) else { return Vec::new() };
        let rules = rules.lock().unwrap_or_else(|p| p.into_inner());
        rules
            .iter()
            .map(|a| {
                let mut view = serde_json::to_value(&a.rule).unwrap_or_else(|_| json!({}));
                view["calls"] = json!(a.calls);
                view["fired"] = json!(a.fired);
                view
            })
            .collect()
    }

    /// Removes one rule; `false` when the account has no rule with that id.
    pub fn remove(&self, ak: &str, id: &str) -> bool {
        let accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        let Some(rules) = accounts.get(ak) else { return false };
        let mut rules = rules.lock().unwrap_or_else(|p| p.into_inner());
        let before = rules.len();
        rules.retain(|a| a.id != id);
        if before > 0 && rules.is_empty() {
            self.armed_accounts.fetch_sub(1, Ordering::Relaxed);
        }
        rules.len() < before
    }

    /// Removes every rule of the account (the account reset does this).
    pub fn clear(&self, ak: &str) {
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        if let Some(rules) = accounts.remove(ak) {
            if !rules.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                self.armed_accounts.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// What, if anything, the call must suffer: the account's first rule that fires, in the
    /// order armed, else the fault rate. `call_index` numbers the server's calls (it feeds
    /// the fault rate's draw); `now_ms` is the account's clock.
    pub fn decide(&self, ak: &str, appkey: &str, endpoint: &str, call_index: u64, now_ms: i64) -> Option<Action> {
        if self.armed_accounts.load(Ordering::Relaxed) > 0 {
            if let Some(rules) = self.rules_of(ak) {
                let mut rules = rules.lock().unwrap_or_else(|p| p.into_inner());
                let fired = rules.iter_mut().find_map(|armed| armed.try_fire(appkey, endpoint, now_ms));
                if fired.is_some() {
                    return fired;
                }
            }
        }
        if self.fault_rate > 0.0 && rng::draw(self.seed, call_index) < self.fault_rate {
            let codes = force::retryable(endpoint);
            let pick = rng::mix(self.seed.wrapping_add(call_index)) as usize % codes.len();
            return Some(Action::Code(codes[pick]));
        }
        None
    }

    fn rules_of(&self, ak: &str) -> Option<Arc<Mutex<Vec<Armed>>>> {
        self.accounts.read().unwrap_or_else(|p| p.into_inner()).get(ak).cloned()
    }
}

impl Armed {
    fn try_fire(&mut self, appkey: &str, endpoint: &str, now_ms: i64) -> Option<Action> {
        let rule = &self.rule;
        let endpoint_in_scope = match rule.endpoint.as_deref() {
            Some(named) => named == endpoint,
            // Only e-fence batches have images to fail.
            None => !matches!(rule.what, What::FenceFail(_)) || fence::is_fence(endpoint),
        };
        if rule.appkey.as_deref().is_some_and(|k| k != appkey) || !endpoint_in_scope {
            return None;
        }
        self.calls += 1;
        let due = match rule.when {
            When::Always => true,
            When::Next(n) => self.fired < n,
            When::Calls([k, m]) => (k..=m).contains(&self.calls),
            When::Probability(p) => self.rng.next_f64() < p,
            When::FromMs(from) => now_ms >= from,
        };
        if !due {
            return None;
        }
        let action = self.action(appkey, now_ms)?;
        self.fired += 1;
        Some(action)
    }

    fn action(&mut self, appkey: &str, now_ms: i64) -> Option<Action> {
        Some(match &self.rule.what {
            What::Code(code) => Action::Code(*code),
            What::Body(body) => Action::Body(body.clone()),
            What::Gateway(status) => Action::Gateway(*status),
            What::LatencyMs(Millis::Fixed(ms)) => Action::Shape(Shape::Latency(Duration::from_millis(*ms))),
            What::LatencyMs(Millis::Range([low, high])) => {
                Action::Shape(Shape::Latency(Duration::from_millis(self.rng.between(*low, *high))))
            }
            What::DripBps(rate) => Action::Shape(Shape::Drip(*rate)),
            What::Reset(ResetAt::Before) => Action::ResetBefore,
            What::Reset(ResetAt::Half) => Action::Shape(Shape::ResetHalf),
            What::TruncateAt(at) => Action::Shape(Shape::Truncate(*at)),
            What::FenceFail(FenceImages::Numbers(numbers)) => {
                Action::Shape(Shape::FailImages(Pick::Numbers(numbers.iter().map(|n| *n as usize).collect())))
            }
            What::FenceFail(FenceImages::Count(n)) => {
                Action::Shape(Shape::FailImages(Pick::Count { n: *n as usize, draw: self.rng.next_u64() }))
            }
            What::ThrottleRps(limit) => {
                let second = now_ms.div_euclid(1000);
                let window = self.windows.entry(appkey.to_string()).or_insert((second, 0));
                if window.0 != second {
                    *window = (second, 0);
                }
                if window.1 < *limit {
                    window.1 += 1;
                    return None;
                }
                let left_ms = (second + 1) * 1000 - now_ms;
                Action::Throttle { retry_after_s: (left_ms as u64).div_ceil(1000).max(1) }
            }
        })
    }
}

/// The body the vendor's gateway is assumed to send when the service behind it fails
/// (see `docs/faults.md`: the manual documents none): the reverse proxy's plain page.
pub fn gateway_page(status: u16) -> String {
    let reason = match status {
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        _ => "Gateway Time-out",
    };
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
}

/// FNV-1a, to spread an id over a seed.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
