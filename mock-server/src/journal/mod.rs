//! What each request leaves behind, read from its [`Outcome`]: one log line on standard
//! error for every refusal (and for every request with `--log-all`), naming the check that
//! failed; the counters and alerts the vendor console shows ([`stats`]); and, per account,
//! the request journal ([`ring`]) with the contract [`lints`] of each request.

mod lints;
mod ring;
mod stats;

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::catalogue::{Catalogue, Endpoint};
use crate::outcome::Outcome;
use crate::scan::Summary;

pub(crate) use ring::{Filter, Rings, DEFAULT_CAPACITY, MAX_CAPACITY};
pub(crate) use stats::Stats;

/// Where request lines go, the counters and the request rings.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub log_all: bool,
    pub quiet: bool,
    pub stats: Stats,
    /// Standard error, through a queue that never blocks a request.
    pub log: crate::log::Log,
    pub rings: Rings,
}

impl Journal {
    /// Whether requests are kept in the ring (a capacity above 0): only then is a body
    /// summarised for it.
    pub fn keeps_entries(&self) -> bool {
        self.rings.capacity() > 0
    }
    pub fn record(&self, mut outcome: Outcome<'_>) {
        self.stats.count(&outcome);
        let body = outcome.body.take();
        if let Some(ak) = outcome.ak.filter(|_| self.rings.capacity() > 0) {
            self.rings.push(ak, entry(&outcome, body));
        }
        if self.quiet || (outcome.reason.is_none() && outcome.note.is_none() && !self.log_all) {
            return;
        }
        self.log.line(format_line(&outcome));
    }
}

/// The journal's entry for a request: everything but the seq and the ring's own lints.
fn entry(o: &Outcome<'_>, body: Option<Summary>) -> ring::Entry {
    let catalogue = Catalogue::get();
    let endpoint = o.endpoint.and_then(|name| catalogue.endpoint(name));
    let (sha256, fingerprint, images) = match body {
        Some(b) => (Some(b.sha256), b.fingerprint, b.images),
        None => (None, None, Vec::new()),
    };
    let seen = lints::Seen {
        headers: o.headers,
        endpoint,
        images: &images,
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
        body: ring::BodyMark { client_id: o.headers.contains_key(&lints::REQUEST_ID), sha256, fingerprint },
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
