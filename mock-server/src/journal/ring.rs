//! The request journal: per account, a bounded ring of the requests signed with its AK,
//! the oldest dropped (and counted) past the capacity. Image bytes are never kept; an
//! entry holds what `journal-api` shows plus the body's hashes, which the lints of later
//! calls compare.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use super::lints::{id, LintSet};
use crate::scan::Images;

/// The default capacity per account (`--journal-capacity`).
pub const DEFAULT_CAPACITY: usize = 4096;
/// The largest capacity accepted: about 2 KB an entry, so a few GB at most per account.
pub const MAX_CAPACITY: usize = 1_000_000;
/// Entries returned when the query names no limit.
const DEFAULT_LIMIT: usize = 1000;

/// One recorded request, as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub seq: u64,
    /// `at_ms` as an `eop-date`, formatted only when the entry is shown.
    #[serde(rename = "at", serialize_with = "eop_date")]
    pub at_date: i64,
    pub at_ms: i64,
    pub request_id: Text,
    /// The request id's hash, which [`Ring::ids`] is keyed by (set when pushed).
    #[serde(skip)]
    pub id_hash: u64,
    /// A standard method is held without an allocation.
    #[serde(serialize_with = "method")]
    pub method: hyper::Method,
    /// An endpoint's own path is shared with the catalogue; any other is copied.
    pub path: Cow<'static, str>,
    /// The catalogue's name of the endpoint.
    pub endpoint: Option<&'static str>,
    pub appkey: Option<Text>,
    pub status: u16,
    pub code: u32,
    pub verdict: &'static str,
    pub check: Option<&'static str>,
    pub reason: Option<String>,
    pub lints: LintSet,
    pub images: Images,
    pub elapsed_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub charged: bool,
    /// What the ring's own lints compare; shown only as `body_digest`, the JSON content's
    /// fingerprint (16 hex digits, null when the body was not kept), so a reader can tell
    /// a retry of the same request from a new one.
    #[serde(rename = "body_digest", serialize_with = "body_digest")]
    pub body: BodyMark,
}

/// Text kept in the entry itself when it is short, as a request id nearly always is (a
/// uuid is 36 characters), and on the heap otherwise: recording a request allocates less.
#[derive(Clone)]
pub(crate) enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

const INLINE: usize = 46;

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

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A body, reduced to what `request-id-reused` and `reserialised-body` compare.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyMark {
    /// The client chose the request id (the server makes one up otherwise).
    pub client_id: bool,
    /// The first 64 bits of the SHA-256 of the bytes as received.
    pub sha256: Option<u64>,
    /// The JSON content's fingerprint (`scan`), when the body was kept.
    pub fingerprint: Option<u64>,
}

/// `at`: the entry's time as an `eop-date`.
fn eop_date<S: serde::Serializer>(at_ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::format_eop_date(at_ms.div_euclid(1000)))
}

fn method<S: serde::Serializer>(method: &hyper::Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method.as_str())
}

/// `body_digest`: the fingerprint as 16 hex digits.
fn body_digest<S: serde::Serializer>(body: &BodyMark, s: S) -> Result<S::Ok, S::Error> {
    match body.fingerprint {
        Some(fingerprint) => s.serialize_str(&format!("{fingerprint:016x}")),
        None => s.serialize_none(),
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
        let same_content = now.fingerprint.is_some() && now.fingerprint == then.fingerprint;
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
            && self.endpoint.as_deref().is_none_or(|name| e.endpoint == Some(name))
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
            at_date: 0,
            at_ms: 0,
            request_id: Text::new(request_id),
            id_hash: u64::from(request_id.as_bytes()[1]),
            method: hyper::Method::POST,
            path: "/p".into(),
            endpoint: Some("hat"),
            appkey: None,
            status: 200,
            code: 0,
            verdict: "accepted",
            check: None,
            reason: None,
            lints: LintSet::default(),
            images: Images::default(),
            elapsed_ms: 0.0,
            bytes_in: 0,
            bytes_out: 0,
            charged: false,
            body: BodyMark { client_id: true, sha256: Some(sha), fingerprint: Some(fingerprint) },
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
    fn the_query_is_parsed_or_refused_with_what_to_send() {
        let f = Filter::parse("endpoint=hat&code=10020&since=17&limit=100").expect("valid");
        let want = Filter { endpoint: Some("hat".into()), code: Some(10020), since: Some(17), limit: Some(100) };
        assert_eq!(f, want);
        assert_eq!(Filter::parse("limit=-1").expect_err("bad"), "`limit` is a whole number, not `-1`");
        assert!(Filter::parse("colour=red").expect_err("bad").starts_with("unknown parameter `colour`"));
    }
}
