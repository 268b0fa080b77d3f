//! Why a signature failed, in words. The real service says only "签名错误"; the emulator
//! recognises the mistakes real clients make and names them. Nothing here runs unless a
//! check has already failed, yet a wrong signature must not cost much more than a right
//! one: the other accounts' keys come from an index (`keys.rs`), and the body is
//! re-serialised only when it is at most [`RESERIALISE_MAX`] bytes.

use sha2::{Digest, Sha256};

use super::signature::{self, Authorization};
use super::Head;
use crate::body::{hex, Received};
use crate::clock::{format_eop_date, BEIJING_OFFSET_SECS};
use crate::registry::AccountCell;

/// The largest body re-serialised to recognise a body sent other than signed: larger ones
/// get every other diagnosis, and the generic explanation.
pub const RESERIALISE_MAX: usize = 1 << 20;

/// A listed header is absent: perhaps `Headers=` holds values where names belong.
pub fn listed_header_missing(name: &str, req: &Head<'_>) -> String {
    let is_a_value = req.headers.iter().find(|(_, v)| v.as_bytes().eq_ignore_ascii_case(name.as_bytes()));
    match is_a_value {
        Some((header, _)) => format!(
            "Headers= lists header values where header names belong (`{name}` is the value of {header}); list names, e.g. Headers=ctyun-eop-request-id;eop-date"
        ),
        None => format!("{name} is listed in Headers= but not sent; send every header you sign"),
    }
}

/// `eop-date` is outside the window: is it UTC, or just a wrong clock?
pub fn date_out_of_window(eop_date: &str, date: i64, now: i64) -> String {
    let expected = format_eop_date(now);
    if (date + BEIJING_OFFSET_SECS - now).abs() <= super::DATE_WINDOW_SECS {
        return format!(
            "eop-date {eop_date} is 8 hours behind Beijing time: it looks like UTC; eop-date is Beijing time (UTC+8) with a literal Z, e.g. {expected}"
        );
    }
    let minutes = (date - now) / 60;
    let direction = if minutes > 0 { "ahead of" } else { "behind" };
    format!("eop-date {eop_date} is {} minutes {direction} the server clock ({expected}, Beijing time); it must be within 15 minutes", minutes.abs())
}

/// `eop-date` accepted as UTC (`accept_utc_eop_date`): said in the log line and the journal.
pub fn utc_accepted(eop_date: &str, now: i64) -> String {
    format!(
        "eop-date {eop_date} is UTC, 8 hours behind Beijing time ({}); accepted because accept_utc_eop_date is on, the documented gateway expects Beijing time",
        format_eop_date(now)
    )
}

/// Everything known about a request whose signature did not match.
pub struct Mismatch<'a> {
    pub auth: &'a Authorization<'a>,
    pub account: &'a AccountCell,
    /// Every other account's key for this AK and eop-date.
    pub others: &'a [[u8; 32]],
    pub eop_date: &'a str,
    /// The signed headers as listed, with their values.
    pub pairs: &'a [(&'a str, &'a str)],
    pub query: &'a str,
    pub body: &'a Received,
    /// The string to sign the server computed.
    pub sts: &'a str,
}

impl Mismatch<'_> {
    /// The explanation: the recognised mistake, if any, then the string to sign.
    pub fn explain(&self) -> String {
        let mistake = self.recognise().unwrap_or(
            "the signature does not match; check the sk, that the signed header values are the ones sent and that the body hashed is the body sent",
        );
        format!("{mistake}; the server signed {:?}", self.sts)
    }

    fn recognise(&self) -> Option<&'static str> {
        if let Some(mistake) = self.wrong_length() {
            return Some(mistake);
        }
        let date = self.eop_date;
        let (ak, sk) = (self.account.ak.as_str(), self.account.sk.as_str());
        if self.matches(&signature::signing_key(sk, ak, date, date), self.sts) {
            return Some("kdate was computed from the full eop-date; use only its first 8 characters (yyyymmdd)");
        }
        let other_sk = self.others.iter().any(|key| self.matches(key, self.sts));
        if other_sk {
            return Some("the request was signed with the sk of another account; use the sk that belongs to this ak");
        }
        let key = signature::signing_key(sk, ak, date, &date[..8]);
        if self.matches(&key, &signature::unsorted_string_to_sign(self.pairs, self.query, &self.body.sha256_hex)) {
            return Some("the signed headers were not sorted by name in the string to sign; sort them");
        }
        if self.matches(&key, &self.with_body_hash(&self.body.sha256_hex.to_uppercase())) {
            return Some("the body hash was uppercase hex; use lowercase hex");
        }
        if self.other_body_hashes().iter().any(|hash| self.matches(&key, &self.with_body_hash(hash))) {
            return Some("the body sent is not the body signed (it matches this body re-serialised with other spacing or escaping); hash and send the same bytes, never re-serialise after signing");
        }
        None
    }

    /// A signature of 20 bytes is an HMAC-SHA1 (a public client signs so); HMAC-SHA256 is 32.
    fn wrong_length(&self) -> Option<&'static str> {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(self.auth.signature.as_bytes()).ok()?;
        (decoded.len() == 20)
            .then_some("the signature is 20 bytes, an HMAC-SHA1; sign with HMAC-SHA256 (32 bytes) at every step")
    }

    fn matches(&self, key: &[u8; 32], sts: &str) -> bool {
        signature::verify(key, sts, &self.auth.signature)
    }

    fn with_body_hash(&self, hash: &str) -> String {
        signature::string_to_sign(self.pairs, self.query, hash)
    }

    /// Hashes of the bytes a client may have signed instead of the bytes it sent.
    fn other_body_hashes(&self) -> Vec<String> {
        let body = &self.body.bytes;
        let mut variants = vec![Vec::new(), b"{}".to_vec()];
        let small = !self.body.over_limit && body.len() <= RESERIALISE_MAX;
        if small && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            for spaced in [false, true] {
                for ascii in [false, true] {
                    variants.push(reserialise(body, spaced, ascii));
                }
            }
        }
        variants.iter().map(|v| hex(&Sha256::digest(v))).filter(|h| *h != self.body.sha256_hex).collect()
    }
}

/// Rewrites valid JSON with other separators (`", "`/`": "` as Python's `json.dumps`, or
/// none as `JSON.stringify`) and non-ASCII either escaped (`\uXXXX`) or raw. Key order,
/// numbers and string contents are kept, so only the bytes a serialiser chooses change.
fn reserialise(json: &[u8], spaced: bool, ascii: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(json);
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '"' => in_string = false,
                '\\' if chars.peek() == Some(&'u') && !ascii => {
                    if let Some(decoded) = take_unicode_escape(&mut chars) {
                        out.push(decoded);
                        continue;
                    }
                }
                '\\' => {
                    out.push(c);
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                    continue;
                }
                c if ascii && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                    continue;
                }
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            ',' | ':' => {
                out.push(c);
                if spaced {
                    out.push(' ');
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// After a `\` seen with `u` next: consumes `uXXXX` (and a low surrogate's `\uXXXX`) and
/// returns the character, or `None` (consuming nothing useful) if it is not one.
fn take_unicode_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let hex4 = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<u32> {
        chars.next_if_eq(&'u')?;
        let digits: String = (0..4).filter_map(|_| chars.next()).collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    let high = hex4(chars)?;
    if (0xd800..0xdc00).contains(&high) {
        chars.next_if_eq(&'\\')?;
        let low = hex4(chars)?;
        return char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low.checked_sub(0xdc00)?));
    }
    char::from_u32(high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::format_compact;

    #[test]
    fn reserialises_like_python_and_javascript() {
        let js = br#"{"a":[1,2],"b":"\u4e2d"}"#;
        assert_eq!(reserialise(js, true, true), br#"{"a": [1, 2], "b": "\u4e2d"}"#.to_vec());
        assert_eq!(String::from_utf8(reserialise(js, false, false)).expect("utf8"), "{\"a\":[1,2],\"b\":\"中\"}");
        let py = "{\"a\": \"x, y: 😀\"}";
        assert_eq!(reserialise(py.as_bytes(), false, true), br#"{"a":"x, y: \ud83d\ude00"}"#.to_vec());
    }

    #[test]
    fn names_utc_when_the_date_is_eight_hours_behind() {
        let now = 1_700_000_000;
        let utc = format_compact(now);
        let as_beijing = crate::clock::parse_eop_date(&utc).expect("date");
        assert!(date_out_of_window(&utc, as_beijing, now).contains("looks like UTC"));
        assert!(date_out_of_window("x", now + 3600, now).contains("60 minutes ahead"));
    }
}
