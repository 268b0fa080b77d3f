//! The request journal: per account, a bounded ring of the requests signed with its AK,
//! the oldest dropped (and counted) past the capacity. Image bytes are never kept; an
//! entry holds what `journal-api` shows plus the body's hashes, which the lints of later
//! calls compare.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use serde::Serialize;

use super::lints::{id, LintSet};
use crate::catalogue::{Catalogue, Endpoint};
use crate::outcome::Verdict;
use crate::scan::Images;

/// The default capacity per account (`--journal-capacity`).
pub const DEFAULT_CAPACITY: usize = 4096;
/// The largest capacity accepted: about 2 KB an entry, so a few GB at most per account.
pub const MAX_CAPACITY: usize = 1_000_000;
/// Entries returned when the query names no limit.
const DEFAULT_LIMIT: usize = 1000;

/// One recorded request. The ring holds thousands per account and every request writes
/// one, so it is kept small (the bytes written are a cost of every call): what is rare — a
/// refusal's reason, a path other than the endpoint's own, a method other than POST — is
/// boxed apart, and what can be looked up when the entry is shown (the check a code names,
/// the time as an `eop-date`, the endpoint's path) is not kept.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    pub at_ms: i64,
    /// The request id's hash, which [`Ring::ids`] is keyed by (set when pushed).
    pub id_hash: u64,
    pub elapsed_ns: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub request_id: Text,
    pub appkey: Option<Text>,
    pub endpoint: Option<&'static Endpoint>,
    pub images: Images,
    pub body: BodyMark,
    pub rare: Option<Box<Rare>>,
    pub code: u32,
    pub status: u16,
    pub lints: LintSet,
    pub verdict: Verdict,
    pub charged: bool,
}

/// What few requests have, kept apart from the entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rare {
    /// The path, when it is not the endpoint's own.
    pub path: Option<Box<str>>,
    /// The method, when it is not POST.
    pub method: Option<hyper::Method>,
    /// The explanation sent in `x-mock-reason`.
    pub reason: Option<Box<str>>,
}

impl Rare {
    /// `None` when there is nothing rare to keep.
    pub fn boxed(self) -> Option<Box<Rare>> {
        (self != Rare::default()).then(|| Box::new(self))
    }
}

/// An entry as the control API shows it.
#[derive(Serialize)]
struct Shown<'e> {
    seq: u64,
    /// `at_ms` as an `eop-date`.
    at: String,
    at_ms: i64,
    request_id: &'e str,
    method: &'e str,
    path: &'e str,
    /// The catalogue's name of the endpoint.
    endpoint: Option<&'e str>,
    appkey: Option<&'e str>,
    status: u16,
    code: u32,
    verdict: &'static str,
    check: Option<&'e str>,
    reason: Option<&'e str>,
    lints: LintSet,
    images: &'e Images,
    elapsed_ms: f64,
    bytes_in: u64,
    bytes_out: u64,
    charged: bool,
    /// The JSON content's fingerprint (16 hex digits, null when the body was not kept), so
    /// a reader can tell a retry of the same request from a new one; the hashes the ring's
    /// lints compare are never shown.
    body_digest: Option<String>,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let catalogue = Catalogue::get();
        let rare = self.rare.as_deref();
        let endpoint = self.endpoint.map(|e| e.name.as_str());
        let check = (self.code != 0)
            .then(|| catalogue.error(endpoint, self.code).or_else(|| catalogue.error(None, self.code)))
            .flatten()
            .map(|e| e.check.as_str());
        let path = match (rare.and_then(|r| r.path.as_deref()), self.endpoint) {
            (Some(path), _) => path,
            (None, Some(endpoint)) => endpoint_path(endpoint),
            (None, None) => "",
        };
        Shown {
            seq: self.seq,
            at: crate::clock::format_eop_date(self.at_ms.div_euclid(1000)),
            at_ms: self.at_ms,
            request_id: self.request_id.as_str(),
            method: rare.and_then(|r| r.method.as_ref()).map_or("POST", hyper::Method::as_str),
            path,
            endpoint,
            appkey: self.appkey.as_ref().map(Text::as_str),
            status: self.status,
            code: self.code,
            verdict: self.verdict.as_str(),
            check,
            reason: rare.and_then(|r| r.reason.as_deref()),
            lints: self.lints,
            images: &self.images,
            elapsed_ms: std::time::Duration::from_nanos(self.elapsed_ns).as_secs_f64() * 1000.0,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            charged: self.charged,
            body_digest: self.body.fingerprint().map(|f| format!("{f:016x}")),
        }
        .serialize(s)
    }
}

/// An endpoint's own path (`/prefix/api_id/path`), made once per endpoint.
pub(crate) fn endpoint_path(endpoint: &Endpoint) -> &'static str {
    static PATHS: OnceLock<Vec<String>> = OnceLock::new();
    let catalogue = Catalogue::get();
    let paths = PATHS.get_or_init(|| {
        catalogue.endpoints.iter().map(|e| format!("{}{}/{}", catalogue.prefix, e.api_id, e.path)).collect()
    });
    let at = catalogue.endpoints.iter().position(|c| std::ptr::eq(c, endpoint));
    at.and_then(|i| paths.get(i)).map_or("", String::as_str)
}

/// Text kept in the entry itself when it is short, as a request id nearly always is (a
/// uuid is 36 characters), and on the heap otherwise: recording a request allocates less.
#[derive(Clone)]
pub(crate) enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

/// The longest text kept inline: a `Text` is then 40 bytes.
const INLINE: usize = 38;

impl Text {
    pub fn new(text: &str) -> Text {
        let mut bytes = [0u8; INLINE];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(text.as_bytes());
                Text::Inline { len, bytes }
            }
            _ => Text::Heap(text.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `&str` in `new`, so always UTF-8.
            Text::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Text::Heap(text) => text,
        }
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// A body, reduced to what `request-id-reused` and `reserialised-body` compare.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyMark {
    /// The first 64 bits of the SHA-256 of the bytes as received (0 when not hashed).
    pub sha256: u64,
    /// The JSON content's fingerprint (`scan`), when `kept`.
    pub content: u64,
    /// The body was kept and scanned.
    pub kept: bool,
    /// The client chose the request id (the server makes one up otherwise).
    pub client_id: bool,
}

impl BodyMark {
    /// The JSON content's fingerprint, when the body was kept.
    pub fn fingerprint(&self) -> Option<u64> {
        self.kept.then_some(self.content)
    }
}

/// One account's requests.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    entries: VecDeque<Entry>,
    /// The hash of a request id → the seq of the latest entry still in the ring whose id
    /// has that hash (its id is compared before it is taken for the same). The key is
    /// already a keyed hash, so the map does not hash it again.
    ids: HashMap<u64, u64, BuildHasherDefault<Hashed>>,
    recorded: u64,
    dropped: u64,
    /// Seq numbers keep counting across resets, so a reader's `since` never misses one.
    next_seq: u64,
}

/// The hasher of a key that is a hash already: it passes it through.
#[derive(Debug, Default)]
struct Hashed(u64);

impl Hasher for Hashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else is folded in, never lost.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The query of `GET /__mock/accounts/{ak}/journal`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub endpoint: Option<String>,
    pub code: Option<u32>,
    pub since: Option<u64>,
    pub limit: Option<usize>,
}

/// The answer to a query.
#[derive(Debug, Serialize)]
pub(crate) struct View {
    pub ak: String,
    pub capacity: usize,
    pub recorded: u64,
    pub dropped: u64,
    pub entries: Vec<Entry>,
}

impl Ring {
    /// Adds an entry (its `id_hash` set), after the lints that need earlier calls; past
    /// `capacity` the oldest is dropped and counted.
    pub fn push(&mut self, mut entry: Entry, capacity: usize) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        entry.lints = entry.lints.union(self.history_lints(entry.id_hash, &entry));
        if entry.body.client_id {
            self.ids.insert(entry.id_hash, entry.seq);
        }
        self.recorded += 1;
        if self.entries.len() >= capacity {
            self.drop_oldest();
        }
        self.entries.push_back(entry);
    }

    /// The entries that match, newest `limit`, oldest first.
    pub fn view(&self, ak: &str, capacity: usize, filter: &Filter) -> View {
        let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
        let mut entries: Vec<Entry> =
            self.entries.iter().rev().filter(|e| filter.matches(e)).take(limit).cloned().collect();
        entries.reverse();
        View { ak: ak.to_string(), capacity, recorded: self.recorded, dropped: self.dropped, entries }
    }

    /// Forgets the entries and counts (when the account is reset); seq numbers go on.
    pub fn clear(&mut self) {
        *self = Ring { next_seq: self.next_seq, ..Ring::default() };
    }

    /// `request-id-reused` and `reserialised-body`, against the latest entry with this id.
    fn history_lints(&self, id: u64, entry: &Entry) -> LintSet {
        let mut found = LintSet::default();
        if !entry.body.client_id {
            return found;
        }
        let earlier = self.ids.get(&id).and_then(|seq| self.get(*seq));
        let Some(earlier) = earlier.filter(|e| e.request_id.as_str() == entry.request_id.as_str()) else {
            return found;
        };
        found.add(id::REQUEST_ID_REUSED);
        let (now, then) = (&entry.body, &earlier.body);
        let same_content = now.fingerprint().is_some() && now.fingerprint() == then.fingerprint();
        if same_content && now.sha256 != then.sha256 {
            found.add(id::RESERIALISED_BODY);
        }
        found
    }

    /// The entry numbered `seq`, counted back from the newest: the oldest entry, far from
    /// any cache, is not read to find it.
    fn get(&self, seq: u64) -> Option<&Entry> {
        let back = self.entries.back()?.seq.checked_sub(seq)?;
        self.entries.get(self.entries.len().checked_sub(1)?.checked_sub(usize::try_from(back).ok()?)?)
    }

    fn drop_oldest(&mut self) {
        if let Some(old) = self.entries.pop_front() {
            self.dropped += 1;
            if self.ids.get(&old.id_hash) == Some(&old.seq) {
                self.ids.remove(&old.id_hash);
            }
        }
    }
}

impl Filter {
    fn matches(&self, e: &Entry) -> bool {
        self.since.is_none_or(|s| e.seq > s)
            && self.code.is_none_or(|c| e.code == c)
            && self.endpoint.as_deref().is_none_or(|name| e.endpoint.is_some_and(|e| e.name == name))
    }

    /// Parses `endpoint=&code=&since=&limit=`; anything else is refused with what to send.
    pub fn parse(query: &str) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |what: &str| format!("`{key}` is {what}, not `{value}`");
            match key {
                "endpoint" => filter.endpoint = Some(value.to_string()),
                "code" => filter.code = Some(value.parse().map_err(|_| number("a code such as 10020"))?),
                "since" => filter.since = Some(value.parse().map_err(|_| number("a seq number"))?),
                "limit" => filter.limit = Some(value.parse().map_err(|_| number("a whole number"))?),
                _ => {
                    return Err(format!("unknown parameter `{key}`; the journal takes endpoint, code, since and limit"))
                }
            }
        }
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(request_id: &str, sha: u64, fingerprint: u64) -> Entry {
        Entry {
            seq: 0,
            at_ms: 0,
            id_hash: u64::from(request_id.as_bytes()[1]),
            elapsed_ns: 0,
            bytes_in: 0,
            bytes_out: 0,
            request_id: Text::new(request_id),
            appkey: None,
            endpoint: Catalogue::get().endpoint("hat"),
            images: Images::default(),
            body: BodyMark { sha256: sha, content: fingerprint, kept: true, client_id: true },
            rare: None,
            code: 0,
            status: 200,
            lints: LintSet::default(),
            verdict: Verdict::Accepted,
            charged: false,
        }
    }

    fn ids(view: &View) -> Vec<Vec<&str>> {
        view.entries.iter().map(|e| e.lints.iter().map(|l| l.id.as_str()).collect()).collect()
    }

    #[test]
    fn a_reused_id_is_linted_while_its_earlier_call_is_in_the_ring() {
        let mut ring = Ring::default();
        for (id, sha, fp) in [("r1", 0xaa, 7), ("r1", 0xbb, 7), ("r2", 0xcc, 8), ("r1", 0xdd, 9)] {
            ring.push(entry(id, sha, fp), 2);
        }
        let view = ring.view("ak", 2, &Filter::default());
        assert_eq!((view.recorded, view.dropped), (4, 2));
        assert_eq!(ids(&view), vec![vec![], vec!["request-id-reused"]]);
        let mut all = Ring::default();
        for (sha, fp) in [(0xaa, 7), (0xbb, 7), (0xbb, 7)] {
            all.push(entry("r1", sha, fp), 8);
        }
        let reserialised = vec!["request-id-reused", "reserialised-body"];
        // "x1" has the same hash as "r1" here: the ids are compared before a reuse is linted.
        let mut shared_hash = Ring::default();
        shared_hash.push(entry("r1", 0xaa, 7), 8);
        shared_hash.push(entry("x1", 0xaa, 7), 8);
        assert_eq!(ids(&shared_hash.view("ak", 8, &Filter::default())), vec![Vec::<&str>::new(), vec![]]);
        assert_eq!(ids(&all.view("ak", 8, &Filter::default())), vec![vec![], reserialised, vec!["request-id-reused"]]);
    }

    #[test]
    fn text_of_any_length_is_kept_whole() {
        for len in [0, 1, 36, INLINE - 1, INLINE, INLINE + 1, 300] {
            let text: String = "é0123456789".chars().cycle().take(len).collect();
            assert_eq!(Text::new(&text).as_str(), text);
        }
        assert!(matches!(Text::new(&"x".repeat(INLINE)), Text::Inline { .. }));
        assert!(matches!(Text::new(&"x".repeat(INLINE + 1)), Text::Heap(_)));
    }

    #[test]
    fn an_entry_shows_its_body_digest_and_never_its_hashes() {
        let shown = serde_json::to_value(entry("r1", 0x1234_5678_9abc_def0, 0xab)).expect("json");
        assert_eq!(shown["body_digest"], "00000000000000ab");
        assert!(shown.get("body").is_none() && !shown.to_string().contains("123456789abcdef0"), "{shown}");
        let unkept = Entry { body: BodyMark::default(), ..entry("r1", 0xaa, 1) };
        assert_eq!(serde_json::to_value(unkept).expect("json")["body_digest"], serde_json::Value::Null);
    }

    #[test]
    fn an_endpoints_own_path_is_named_once_for_every_entry() {
        let catalogue = Catalogue::get();
        let hat = catalogue.endpoint("hat").expect("hat");
        assert_eq!(endpoint_path(hat), format!("{}{}/{}", catalogue.prefix, hat.api_id, hat.path));
        assert!(std::ptr::eq(endpoint_path(hat), endpoint_path(hat)));
    }

    #[test]
    fn an_entry_shows_what_it_does_not_keep() {
        let hat = Catalogue::get().endpoint("hat").expect("hat");
        let refused = Entry {
            at_ms: 1_700_000_000_123,
            elapsed_ns: 1_500_000,
            code: 10020,
            status: 401,
            verdict: Verdict::Refused,
            ..entry("r1", 0xaa, 1)
        };
        let shown = serde_json::to_value(&refused).expect("json");
        assert_eq!(shown["path"], endpoint_path(hat));
        assert_eq!((shown["method"].as_str(), shown["verdict"].as_str()), (Some("POST"), Some("refused")));
        assert_eq!(shown["at"], crate::clock::format_eop_date(1_700_000_000));
        assert_eq!(shown["elapsed_ms"], 1.5);
        assert!(shown["check"].is_string(), "{shown}");
        assert_eq!(shown["reason"], serde_json::Value::Null);
        let rare =
            Rare { path: Some("/elsewhere".into()), method: Some(hyper::Method::GET), reason: Some("why".into()) };
        let odd = serde_json::to_value(Entry { rare: rare.boxed(), endpoint: None, ..refused }).expect("json");
        assert_eq!((odd["path"].as_str(), odd["method"].as_str()), (Some("/elsewhere"), Some("GET")));
        assert_eq!((odd["reason"].as_str(), odd["endpoint"].as_str()), (Some("why"), None));
        assert!(Rare::default().boxed().is_none());
        assert!(std::mem::size_of::<Entry>() <= 256, "{} bytes", std::mem::size_of::<Entry>());
    }

    #[test]
    fn the_query_is_parsed_or_refused_with_what_to_send() {
        let f = Filter::parse("endpoint=hat&code=10020&since=17&limit=100").expect("valid");
        let want = Filter { endpoint: Some("hat".into()), code: Some(10020), since: Some(17), limit: Some(100) };
        assert_eq!(f, want);
        assert_eq!(Filter::parse("limit=-1").expect_err("bad"), "`limit` is a whole number, not `-1`");
        assert!(Filter::parse("colour=red").expect_err("bad").starts_with("unknown parameter `colour`"));
    }
}
