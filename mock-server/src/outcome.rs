//! The record of one served request, made once the answer is decided and rendered. The
//! journal, the counters and the store read it; none of them reaches back into the
//! registry or the pipeline.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::HeaderMap;

use crate::registry::Event;

/// One served request.
#[derive(Debug)]
pub(crate) struct Outcome<'a> {
    pub peer: SocketAddr,
    pub method: &'a hyper::Method,
    pub path: &'a str,
    /// The endpoint the path names, if any.
    pub endpoint: Option<&'static crate::catalogue::Endpoint>,
    pub request_id: &'a str,
    /// The client sent the request id (the server made one up otherwise).
    pub client_request_id: bool,
    /// The account the request was signed for, when its AK is known.
    pub ak: Option<&'a str>,
    /// The app the gateway admitted the request for (then `ak` is its owner).
    pub appkey: Option<&'a str>,
    /// Now on the account's clock, when `ak` is known: alerts are dated with it.
    pub at_ms: i64,
    pub status: u16,
    /// The vendor code answered; 0 for a success.
    pub code: u32,
    /// The explanation sent in `x-mock-reason`, for a refusal.
    pub reason: Option<&'a str>,
    /// Something accepted but worth saying (a UTC `eop-date`): logged even on success.
    pub note: Option<&'a str>,
    pub elapsed: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The call charged to a package, when the API is paid and the answer was code 0.
    pub charge: Option<Charge>,
    /// The answer was forced by a fault rather than decided by the pipeline (none yet).
    pub forced: bool,
    /// How the answer was decided, for the journal.
    pub verdict: Verdict,
    /// The request's headers, read by the journal's lints.
    pub headers: &'a HeaderMap,
    /// Its `eop-authorization` header, looked up once for the pipeline and the lints.
    pub authorization: Option<&'a hyper::header::HeaderValue>,
    /// What the journal reads of the body (its digest, fingerprint and images' headers),
    /// when it was read at all and the journal keeps entries.
    pub body: Option<crate::scan::Summary>,
}

/// How an answer was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Code 0 from the pipeline.
    Accepted,
    /// Any other code from a natural check.
    Refused,
    /// Asked for with `x-mock-force`.
    Forced,
    /// Decided by an armed rule or `--fault-rate` (a shaped success included).
    Injected,
}

impl Verdict {
    pub fn of(code: u32, forced_by_header: bool, fault_fired: bool) -> Verdict {
        match (forced_by_header, fault_fired, code) {
            (true, _, _) => Verdict::Forced,
            (false, true, _) => Verdict::Injected,
            (false, false, 0) => Verdict::Accepted,
            _ => Verdict::Refused,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::Forced => "forced",
            Verdict::Injected => "injected",
        }
    }
}

/// A call charged to a package, and what the ledger holds after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Charge {
    pub package: u64,
    /// Calls still available in valid packages.
    pub remaining: u64,
    /// Calls in valid packages, used or not.
    pub valid: u64,
}

impl Outcome<'_> {
    /// The change a store keeps for this request: the call charged, if any.
    pub fn event(&self) -> Option<Event> {
        let (charge, appkey, api) = (self.charge?, self.appkey?, self.endpoint?);
        Some(Event::Use { appkey: appkey.into(), api: api.name.clone(), package: charge.package })
    }
}
