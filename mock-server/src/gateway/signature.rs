//! The EOP signature (DIGEST §1): the `Eop-Authorization` header, the string to sign and
//! the HMAC-SHA256 key chain SK → eop-date → AK → yyyymmdd.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The headers every signature must cover.
pub const REQUIRED_SIGNED: [&str; 2] = ["ctyun-eop-request-id", "eop-date"];

/// `Eop-Authorization: <AK> Headers=<h1;h2;...> Signature=<base64>`, taken apart where
/// it lies: a name is copied only when it must be lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub ak: Cow<'a, str>,
    /// The names listed in `Headers=`, lowercased, in the order given.
    pub headers: Vec<Cow<'a, str>>,
    pub signature: Cow<'a, str>,
}

impl<'a> Authorization<'a> {
    /// Parses the header. Extra spaces around `=` and `;` are tolerated; the parts are not
    /// optional. The error says what is missing.
    pub fn parse(value: &'a str) -> Result<Authorization<'a>, &'static str> {
        let value = value.trim();
        let (ak, rest) =
            value.split_once(char::is_whitespace).ok_or("it has no `Headers=` and `Signature=` parts after the ak")?;
        let h = rest.find("Headers=").ok_or("it has no `Headers=` part")?;
        let s = rest.find("Signature=").ok_or("it has no `Signature=` part")?;
        if s < h {
            return Err("`Signature=` comes before `Headers=`");
        }
        let list = rest[h + "Headers=".len()..s].trim();
        let headers: Vec<Cow<'a, str>> =
            list.split(';').map(str::trim).filter(|n| !n.is_empty()).map(lowercase).collect();
        if headers.is_empty() {
            return Err("`Headers=` lists no header");
        }
        let signature = rest[s + "Signature=".len()..].trim();
        Ok(Authorization { ak: Cow::Borrowed(ak), headers, signature: Cow::Borrowed(signature) })
    }

    /// The same, owning its text: for a header that had to be made UTF-8 first.
    pub fn into_owned(self) -> Authorization<'static> {
        Authorization {
            ak: Cow::Owned(self.ak.into_owned()),
            headers: self.headers.into_iter().map(|h| Cow::Owned(h.into_owned())).collect(),
            signature: Cow::Owned(self.signature.into_owned()),
        }
    }
}

/// `name` lowercased, copied only when it has an uppercase letter.
fn lowercase(name: &str) -> Cow<'_, str> {
    match name.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(name.to_ascii_lowercase()),
        false => Cow::Borrowed(name),
    }
}

/// The key for one request: HMAC(HMAC(HMAC(SK, eop-date), AK), date part).
/// `date_part` is the first eight characters of `eop-date` (`yyyymmdd`).
pub fn signing_key(sk: &str, ak: &str, eop_date: &str, date_part: &str) -> [u8; 32] {
    let ktime = hmac(sk.as_bytes(), eop_date.as_bytes());
    let kak = hmac(&ktime, ak.as_bytes());
    hmac(&kak, date_part.as_bytes())
}

/// `name:value\n` for each signed header sorted by name, then `\n`, the canonical query,
/// `\n` and the lowercase hex SHA-256 of the body.
pub fn string_to_sign(headers: &[(&str, &str)], query: &str, body_sha256_hex: &str) -> String {
    let mut sorted = headers.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    unsorted_string_to_sign(&sorted, query, body_sha256_hex)
}

/// As [`string_to_sign`], keeping the headers in the order given.
pub fn unsorted_string_to_sign(headers: &[(&str, &str)], query: &str, body_sha256_hex: &str) -> String {
    let mut out = String::with_capacity(128 + body_sha256_hex.len());
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&canonical_query(query));
    out.push('\n');
    out.push_str(body_sha256_hex);
    out
}

/// The canonical query (DIGEST §1): each `k=v` pair decoded (`%XX` and `+`) and encoded
/// again per RFC 3986 (everything but `A–Z a–z 0–9 - . _ ~` as uppercase `%XX`), sorted by
/// key then value, joined by `&`. So `t=06:01` and `t=06%3A01` are one query, and `a` sorts
/// before `a-b` as Go's `url.Values.Encode` writes them. A pair without `=` is a key with an
/// empty value (`k=`); a `%` not followed by two hex digits is a literal `%` (`%25`).
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (unescape(key), unescape(value))
        })
        .collect();
    // Sorted as decoded bytes, as Go sorts its keys; the encoded text would put `%` first.
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + query.len() / 4);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        rfc3986(key, &mut out);
        out.push('=');
        rfc3986(value, &mut out);
    }
    out
}

/// `%XX` → the byte, `+` → space; anything else as it is.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match bytes[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, in uppercase hex.
fn rfc3986(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// The base64 signature a correct client sends.
#[cfg(test)]
pub fn sign(key: &[u8; 32], string_to_sign: &str) -> String {
    STANDARD.encode(hmac(key, string_to_sign.as_bytes()))
}

/// Checks a received signature in constant time. Unpadded or URL-safe base64 never matches.
pub fn verify(key: &[u8; 32], string_to_sign: &str, signature_b64: &str) -> bool {
    let Ok(provided) = STANDARD.decode(signature_b64) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return false };
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&provided).is_ok()
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; the error branch is unreachable.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("hmac takes any key length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use sha2::Digest;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        ak: String,
        sk: String,
        eop_date: String,
        headers: Vec<(String, String)>,
        query: String,
        body: String,
        string_to_sign: String,
        signature: String,
        authorization: String,
    }

    #[test]
    fn the_server_reproduces_every_signing_vector() {
        let text = include_str!("../../../fixtures/signing/vectors.json");
        let vectors: Vec<Vector> = serde_json::from_str(text).expect("vectors.json");
        assert!(vectors.iter().any(|v| v.signature == "h+H8K5CbPz1DjnbVWA+FEPGbbcEJOzVsi2GQv4LroyM="));
        for v in &vectors {
            let headers: Vec<(&str, &str)> = v.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let body_hash = crate::body::hex(&sha2::Sha256::digest(v.body.as_bytes()));
            let sts = string_to_sign(&headers, &v.query, &body_hash);
            assert_eq!(sts, v.string_to_sign, "{}", v.name);
            let key = signing_key(&v.sk, &v.ak, &v.eop_date, &v.eop_date[..8]);
            assert_eq!(sign(&key, &sts), v.signature, "{}", v.name);
            assert!(verify(&key, &sts, &v.signature));
            let auth = Authorization::parse(&v.authorization).expect("authorization");
            assert_eq!(auth.ak, v.ak);
            assert_eq!(auth.signature, v.signature);
        }
    }

    #[test]
    fn the_query_is_decoded_encoded_per_rfc_3986_and_sorted_by_key() {
        assert_eq!(canonical_query("b=two&a=1"), "a=1&b=two");
        assert_eq!(canonical_query("t=06:01"), "t=06%3A01");
        assert_eq!(canonical_query("t=06%3A01"), "t=06%3A01");
        assert_eq!(canonical_query("t=06%3a01"), "t=06%3A01");
        // Go's url.Values.Encode writes `a` before `a-b`; the raw text sorts `a-b=` first.
        assert_eq!(canonical_query("a-b=1&a=2"), "a=2&a-b=1");
        assert_eq!(canonical_query("q=a+b&q=a%20a"), "q=a%20a&q=a%20b");
        assert_eq!(canonical_query("flag&x=%zz&&y=~._-"), "flag=&x=%25zz&y=~._-");
        assert_eq!(canonical_query("name=%E4%B8%AD"), "name=%E4%B8%AD");
        assert_eq!(canonical_query("k%3A=1&k=2"), "k=2&k%3A=1");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn parses_the_manuals_spacing() {
        let auth = Authorization::parse("ak1 Headers= ctyun-eop-request-id;EOP-Date Signature=abc=").expect("parse");
        assert_eq!(auth.headers, ["ctyun-eop-request-id", "eop-date"]);
        assert_eq!(Authorization::parse("ak1 Signature=x"), Err("it has no `Headers=` part"));
    }
}
