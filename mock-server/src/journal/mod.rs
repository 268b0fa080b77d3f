//! What each request leaves behind, read from its [`Outcome`]: one log line on standard
//! error for every refusal (and for every request with `--log-all`), naming the check that
//! failed; the counters and alerts the vendor console shows ([`stats`]); and, per account,
//! the request journal ([`ring`]) with the contract [`lints`] of each request.

mod lints;
mod ring;
mod stats;

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::catalogue::{Catalogue, Endpoint};
use crate::outcome::Outcome;
use crate::scan::{Images, Summary};

pub(crate) use ring::{Filter, View, DEFAULT_CAPACITY, MAX_CAPACITY};
pub(crate) use stats::AccountStats;

/// Where request lines go, and per account the counters and the request ring.
#[derive(Debug)]
pub(crate) struct Journal {
    pub log_all: bool,
    pub quiet: bool,
    /// Standard error, through a queue that never blocks a request.
    pub log: crate::log::Log,
    /// Entries kept per account; 0 keeps none.
    capacity: usize,
    /// Every account's counters and ring, under one std `Mutex`: a request takes it once,
    /// never across an `.await`, and no other lock is taken inside it.
    accounts: Mutex<HashMap<String, Account>>,
    /// Hashes request ids for the ring's index of them.
    ids: RandomState,
}

#[derive(Debug, Default)]
struct Account {
    stats: AccountStats,
    ring: ring::Ring,
}

impl Journal {
    pub fn new(capacity: usize, log_all: bool, quiet: bool) -> Journal {
        Journal {
            log_all,
            quiet,
            log: crate::log::Log::default(),
            capacity,
            accounts: Mutex::new(HashMap::new()),
            ids: RandomState::new(),
        }
    }

    /// Whether requests are kept in the ring (a capacity above 0): only then is a body
    /// summarised for it.
    pub fn keeps_entries(&self) -> bool {
        self.capacity > 0
    }

    /// Counts a request of a known account and keeps its entry; logs it when it says why.
    pub fn record(&self, mut outcome: Outcome<'_>) {
        let body = outcome.body.take();
        if let Some(ak) = outcome.ak {
            // The entry and its lints are made before the lock is taken.
            let entry = self.keeps_entries().then(|| {
                let mut entry = entry(&outcome, body);
                entry.id_hash = self.ids.hash_one(entry.request_id.as_str());
                entry
            });
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            let account = match accounts.get_mut(ak) {
                Some(account) => account,
                None => accounts.entry(ak.to_string()).or_default(),
            };
            account.stats.count(&outcome, ak);
            if let Some(entry) = entry {
                account.ring.push(entry, self.capacity);
            }
        }
        if self.quiet || (outcome.reason.is_none() && outcome.note.is_none() && !self.log_all) {
            return;
        }
        self.log.line(format_line(&outcome));
    }

    /// A copy of one account's counters.
    pub fn counters(&self, ak: &str) -> AccountStats {
        let accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        accounts.get(ak).map(|a| a.stats.clone()).unwrap_or_default()
    }

    /// The entries of one account that match, newest `limit`, oldest first.
    pub fn view(&self, ak: &str, filter: &Filter) -> View {
        let accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        match accounts.get(ak) {
            Some(account) => account.ring.view(ak, self.capacity, filter),
            None => ring::Ring::default().view(ak, self.capacity, filter),
        }
    }

    /// Forgets an account's counters and entries (when it is reset); seq numbers go on.
    pub fn forget(&self, ak: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(account) = accounts.get_mut(ak) {
            account.stats = AccountStats::default();
            account.ring.clear();
        }
    }
}

/// The journal's entry for a request: everything but the seq and the ring's own lints.
fn entry(o: &Outcome<'_>, body: Option<Summary>) -> ring::Entry {
    let catalogue = Catalogue::get();
    let endpoint = o.endpoint.and_then(|name| catalogue.endpoint(name));
    let (sha256, fingerprint, images) = match body {
        Some(b) => (Some(b.sha256), b.fingerprint, b.images),
        None => (None, None, Images::default()),
    };
    let seen = lints::Seen {
        headers: o.headers,
        endpoint,
        images: images.as_slice(),
        now_ms: o.at_ms,
        signature_refused: o.code == crate::catalogue::code::SIGNATURE,
    };
    let check = (o.code != 0)
        .then(|| catalogue.error(o.endpoint, o.code).or_else(|| catalogue.error(None, o.code)))
        .flatten()
        .map(|e| e.check.as_str());
    ring::Entry {
        seq: 0,
        at_date: o.at_ms,
        at_ms: o.at_ms,
        request_id: ring::Text::new(o.request_id),
        id_hash: 0,
        method: o.method.clone(),
        path: kept_path(endpoint, o.path),
        endpoint: endpoint.map(|e| e.name.as_str()),
        appkey: o.appkey.map(ring::Text::new),
        status: o.status,
        code: o.code,
        verdict: o.verdict.as_str(),
        check,
        reason: o.reason.map(str::to_string),
        lints: lints::of_request(&seen),
        images,
        elapsed_ms: o.elapsed.as_secs_f64() * 1000.0,
        bytes_in: o.bytes_in,
        bytes_out: o.bytes_out,
        charged: o.charge.is_some(),
        body: ring::BodyMark { client_id: o.client_request_id, sha256, fingerprint },
    }
}

/// The path as an entry keeps it: an endpoint's own path is shared, any other copied.
fn kept_path(endpoint: Option<&Endpoint>, path: &str) -> Cow<'static, str> {
    static PATHS: OnceLock<Vec<String>> = OnceLock::new();
    let catalogue = Catalogue::get();
    let paths = PATHS.get_or_init(|| {
        catalogue.endpoints.iter().map(|e| format!("{}{}/{}", catalogue.prefix, e.api_id, e.path)).collect()
    });
    let at = endpoint.and_then(|e| catalogue.endpoints.iter().position(|c| std::ptr::eq(c, e)));
    match at.and_then(|i| paths.get(i)).filter(|p| p.as_str() == path) {
        Some(shared) => Cow::Borrowed(shared.as_str()),
        None => Cow::Owned(path.to_string()),
    }
}

fn format_line(o: &Outcome<'_>) -> String {
    let mut line = format!(
        "{} {} {} endpoint={} request_id={:?} status={} code={} elapsed_ms={:.1}",
        o.peer.ip(),
        o.method,
        o.path,
        o.endpoint.unwrap_or("-"),
        o.request_id,
        o.status,
        o.code,
        o.elapsed.as_secs_f64() * 1000.0,
    );
    if o.forced {
        line.push_str(" forced");
    }
    if let Some(reason) = &o.reason {
        line.push_str(&format!(" reason={reason:?}"));
    }
    if let Some(note) = &o.note {
        line.push_str(&format!(" note={note:?}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoints_own_path_is_shared_and_any_other_copied() {
        let catalogue = Catalogue::get();
        let hat = catalogue.endpoint("hat").expect("hat");
        let path = format!("{}{}/{}", catalogue.prefix, hat.api_id, hat.path);
        assert!(matches!(kept_path(Some(hat), &path), Cow::Borrowed(p) if p == path));
        assert!(matches!(kept_path(Some(hat), "/elsewhere"), Cow::Owned(p) if p == "/elsewhere"));
        assert!(matches!(kept_path(None, &path), Cow::Owned(p) if p == path));
    }
}
