//! The contract lints: what the real service tolerates but points to a client bug or a
//! portability risk. Declared in `fixtures/lints.json` (id, message, manual section, fix);
//! computed after the answer from the request alone (headers, body bytes, endpoint), so
//! neither the gateway nor the capabilities know of them. The two that need earlier calls
//! (`request-id-reused`, `reserialised-body`) are decided by the ring.

use std::sync::OnceLock;

use hyper::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::catalogue::header::{APPKEY, EOP_DATE};
use crate::catalogue::{Capability, Count, Endpoint, Size};
use crate::scan::ImageInfo;

const LINTS_JSON: &str = include_str!("../../../fixtures/lints.json");

/// The lint ids the server raises; each is declared in `fixtures/lints.json`.
pub(crate) mod id {
    pub const UNSIGNED_APPKEY: &str = "unsigned-appkey";
    pub const UNSORTED_SIGNED_HEADERS: &str = "unsorted-signed-headers";
    pub const URL_SAFE_BASE64: &str = "url-safe-base64";
    pub const IMAGE_NEAR_SIZE_LIMIT: &str = "image-near-size-limit";
    pub const IMAGE_NEAR_DIMENSION_LIMIT: &str = "image-near-dimension-limit";
    pub const LIVENESS_FRAMES: &str = "liveness-frames-outside-advised";
    pub const ACTION_FRAMES: &str = "action-frames-below-advised";
    pub const EOP_DATE_DRIFT: &str = "eop-date-drift";
    pub const REQUEST_ID_REUSED: &str = "request-id-reused";
    pub const RESERIALISED_BODY: &str = "reserialised-body";

    /// Every id, in the order an entry shows them: a lint's place here is its bit in a
    /// [`LintSet`](super::LintSet).
    pub const ALL: [&str; 10] = [
        UNSIGNED_APPKEY,
        UNSORTED_SIGNED_HEADERS,
        URL_SAFE_BASE64,
        IMAGE_NEAR_SIZE_LIMIT,
        IMAGE_NEAR_DIMENSION_LIMIT,
        LIVENESS_FRAMES,
        ACTION_FRAMES,
        EOP_DATE_DRIFT,
        REQUEST_ID_REUSED,
        RESERIALISED_BODY,
    ];
}

/// The lints of one request, one bit each in the order of `id::ALL`: recording them
/// allocates nothing, and they are looked up in the declarations only when shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LintSet(u16);

impl LintSet {
    pub fn add(&mut self, lint: &str) {
        if let Some(bit) = id::ALL.iter().position(|id| *id == lint) {
            self.0 |= 1 << bit;
        }
    }

    pub fn union(self, other: LintSet) -> LintSet {
        LintSet(self.0 | other.0)
    }

    /// The declared lints, in the order of `id::ALL`.
    pub fn iter(self) -> impl Iterator<Item = &'static Lint> {
        id::ALL.iter().enumerate().filter(move |(bit, _)| self.0 & (1 << bit) != 0).filter_map(|(_, id)| get(id))
    }
}

impl Serialize for LintSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// "Near" a limit: within this share of it (and not over it, which is refused instead).
const NEAR: f64 = 0.05;
/// The frames the manual advises per liveness call, and the fewest per fall/fight call.
/// An eop-date this far from the server's clock is linted; the gateway refuses at 15 minutes.
const DATE_DRIFT_MS: i64 = 5 * 60 * 1000;

/// One lint as declared.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Lint {
    pub id: String,
    pub message: String,
    pub manual: String,
    pub fix: String,
}

#[derive(Debug, Deserialize)]
struct LintsFile {
    lints: Vec<Lint>,
}

/// Every declared lint. The fixture is checked by this module's tests.
pub(crate) fn declared() -> &'static [Lint] {
    static LINTS: OnceLock<Vec<Lint>> = OnceLock::new();
    LINTS.get_or_init(|| serde_json::from_str::<LintsFile>(LINTS_JSON).map(|f| f.lints).unwrap_or_default())
}

/// The declared lint with this id.
pub(crate) fn get(id: &str) -> Option<&'static Lint> {
    declared().iter().find(|l| l.id == id)
}

/// What the stateless lints read.
#[derive(Debug)]
pub(crate) struct Seen<'a> {
    pub headers: &'a HeaderMap,
    /// `eop-authorization`, which the pipeline has looked up already.
    pub authorization: Option<&'a [u8]>,
    pub endpoint: Option<&'a Endpoint>,
    pub images: &'a [ImageInfo],
    /// The server's clock (the account's) when the request was recorded.
    pub now_ms: i64,
    /// The code answered: a signature refusal means the signed headers did not verify.
    pub signature_refused: bool,
}

/// The lints that one request shows by itself.
pub(crate) fn of_request(seen: &Seen<'_>) -> LintSet {
    let mut found = LintSet::default();
    if let Some(signed) = seen.authorization.and_then(signed_headers) {
        if seen.headers.contains_key(&APPKEY) && !signed.lists_appkey {
            found.add(id::UNSIGNED_APPKEY);
        }
        if !seen.signature_refused && !signed.sorted {
            found.add(id::UNSORTED_SIGNED_HEADERS);
        }
    }
    if seen.images.iter().any(|i| i.url_safe) {
        found.add(id::URL_SAFE_BASE64);
    }
    if let Some(endpoint) = seen.endpoint {
        found = found.union(of_images(endpoint, seen.images));
    }
    if date_drifts(seen.headers, seen.now_ms) {
        found.add(id::EOP_DATE_DRIFT);
    }
    found
}

/// What the `Headers=` part of `eop-authorization` says.
#[derive(Debug, PartialEq, Eq)]
struct Signed {
    lists_appkey: bool,
    /// Its names are in order, compared without case.
    sorted: bool,
}

/// The `Headers=` part of `eop-authorization`, when it has one (parts are separated by
/// whitespace), read as bytes in one pass.
fn signed_headers(auth: &[u8]) -> Option<Signed> {
    static HEADERS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("Headers="));
    let mut from = 0;
    let list = loop {
        let at = from + HEADERS.find(&auth[from..])?;
        if at == 0 || auth[at - 1].is_ascii_whitespace() {
            break &auth[at + "Headers=".len()..];
        }
        from = at + 1;
    };
    let list = &list[..list.iter().position(u8::is_ascii_whitespace).unwrap_or(list.len())];
    let after = |a: &[u8], b: &[u8]| a.iter().map(u8::to_ascii_lowercase).gt(b.iter().map(u8::to_ascii_lowercase));
    let mut signed = Signed { lists_appkey: false, sorted: true };
    let mut previous: Option<&[u8]> = None;
    for name in list.split(|&b| b == b';').filter(|name| !name.is_empty()) {
        signed.lists_appkey |= name.eq_ignore_ascii_case(b"appkey");
        signed.sorted &= previous.is_none_or(|p| !after(p, name));
        previous = Some(name);
    }
    Some(signed)
}

fn of_images(endpoint: &Endpoint, images: &[ImageInfo]) -> LintSet {
    let mut found = LintSet::default();
    if images.iter().any(|i| near(i.text_len(), endpoint.image_limit as u64)) {
        found.add(id::IMAGE_NEAR_SIZE_LIMIT);
    }
    // The limits and the manual's advice are the endpoint's data (fixtures/routes.json).
    let (max_size, frames, lint): (Option<&Size>, Option<&Count>, &'static str) = match &endpoint.capability {
        Capability::FaceQuality { max_size } => (Some(max_size), None, id::LIVENESS_FRAMES),
        Capability::Liveness { max_size, frames, .. } => (Some(max_size), Some(frames), id::LIVENESS_FRAMES),
        Capability::Action { frames, .. } => (None, Some(frames), id::ACTION_FRAMES),
        Capability::Detect { .. } | Capability::Fence { .. } => (None, None, id::ACTION_FRAMES),
    };
    let near_dimension = |size: &Size, i: &ImageInfo| {
        i.width.is_some_and(|w| near(u64::from(w), u64::from(size.width)))
            || i.height.is_some_and(|h| near(u64::from(h), u64::from(size.height)))
    };
    if max_size.is_some_and(|size| images.iter().any(|i| near_dimension(size, i))) {
        found.add(id::IMAGE_NEAR_DIMENSION_LIMIT);
    }
    if let Some(frames) = frames.filter(|_| !images.is_empty()) {
        let n = images.len();
        let below = frames.advised_min.is_some_and(|min| n < min);
        let above = frames.advised_max.is_some_and(|max| n > max);
        if below || above {
            found.add(lint);
        }
    }
    found
}

/// Within `NEAR` below `limit`, or at it.
fn near(value: u64, limit: u64) -> bool {
    value <= limit && value as f64 >= limit as f64 * (1.0 - NEAR)
}

fn date_drifts(headers: &HeaderMap, now_ms: i64) -> bool {
    let date = headers.get(&EOP_DATE).and_then(|v| v.to_str().ok());
    match date.and_then(crate::clock::parse_eop_date) {
        Some(secs) => secs.saturating_mul(1000).saturating_sub(now_ms).saturating_abs() > DATE_DRIFT_MS,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_lint_raised_is_declared_once_and_every_declared_one_is_raised() {
        let ids: Vec<&str> = declared().iter().map(|l| l.id.as_str()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "a lint id is declared twice");
        assert_eq!(unique, id::ALL.into_iter().collect::<HashSet<_>>());
        for lint in declared() {
            assert!(lint.manual.starts_with('§') && !lint.message.is_empty() && !lint.fix.is_empty(), "{lint:?}");
        }
    }

    #[test]
    fn a_lint_set_shows_its_lints_in_the_declared_order_once_each() {
        let mut set = LintSet::default();
        for lint in
            [id::RESERIALISED_BODY, id::UNSIGNED_APPKEY, id::EOP_DATE_DRIFT, id::UNSIGNED_APPKEY, "no-such-lint"]
        {
            set.add(lint);
        }
        let shown: Vec<&str> = set.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(shown, [id::UNSIGNED_APPKEY, id::EOP_DATE_DRIFT, id::RESERIALISED_BODY]);
        let json = serde_json::to_value(set).expect("json");
        assert_eq!(json[1]["id"], id::EOP_DATE_DRIFT);
        assert!(json[1]["manual"].as_str().is_some_and(|m| m.starts_with('§')), "{json}");
    }

    #[test]
    fn the_signed_headers_are_the_part_that_starts_with_headers() {
        let read = |auth: &str| signed_headers(auth.as_bytes()).map(|s| (s.lists_appkey, s.sorted));
        assert_eq!(read("AK Headers=appkey;b Signature=x"), Some((true, true)));
        assert_eq!(read("AK xHeaders=appkey\tHeaders=d;;C\tSignature=x"), Some((false, false)));
        assert_eq!(read("AK Headers=AppKey;eop-date;Host"), Some((true, true)));
        assert_eq!(read("AK Headers=eop-date;appkey"), Some((true, false)));
        assert_eq!(read("AK Signature=x"), None);
        assert_eq!(read("AK xHeaders=a"), None);
    }

    #[test]
    fn near_means_within_five_percent_below_and_never_over() {
        assert!(near(95, 100) && near(100, 100));
        assert!(!near(94, 100) && !near(101, 100));
    }
}
