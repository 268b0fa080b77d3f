//! What each request leaves behind, read from its [`Outcome`]: one log line on standard
//! error for every refusal (and for every request with `--log-all`), naming the check that
//! failed; the counters and alerts the vendor console shows ([`stats`]); and, per account,
//! the request journal ([`ring`]) with the contract [`lints`] of each request.

mod lints;
mod ring;
mod stats;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

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
    let endpoint = o.endpoint;
    let (mark, images) = match body {
        Some(b) => (
            ring::BodyMark {
                sha256: b.sha256,
                content: b.fingerprint.unwrap_or(0),
                kept: b.fingerprint.is_some(),
                client_id: o.client_request_id,
            },
            b.images,
        ),
        None => (ring::BodyMark { client_id: o.client_request_id, ..ring::BodyMark::default() }, Images::default()),
    };
    let seen = lints::Seen {
        headers: o.headers,
        authorization: o.authorization.map(|v| v.as_bytes()),
        endpoint,
        images: images.as_slice(),
        now_ms: o.at_ms,
        signature_refused: o.code == crate::catalogue::code::SIGNATURE,
    };
    let rare = ring::Rare {
        path: (endpoint.map(ring::endpoint_path) != Some(o.path)).then(|| o.path.into()),
        method: (*o.method != hyper::Method::POST).then(|| o.method.clone()),
        reason: o.reason.map(Into::into),
    };
    let found = lints::of_request(&seen);
    ring::Entry {
        seq: 0,
        at_ms: o.at_ms,
        id_hash: 0,
        elapsed_ns: u64::try_from(o.elapsed.as_nanos()).unwrap_or(u64::MAX),
        bytes_in: o.bytes_in,
        bytes_out: o.bytes_out,
        request_id: ring::Text::new(o.request_id),
        appkey: o.appkey.map(ring::Text::new),
        endpoint,
        images,
        body: mark,
        rare: rare.boxed(),
        code: o.code,
        status: o.status,
        lints: found,
        verdict: o.verdict,
        charged: o.charge.is_some(),
    }
}

fn format_line(o: &Outcome<'_>) -> String {
    let mut line = format!(
        "{} {} {} endpoint={} request_id={:?} status={} code={} elapsed_ms={:.1}",
        o.peer.ip(),
        o.method,
        o.path,
        o.endpoint.map_or("-", |e| e.name.as_str()),
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
