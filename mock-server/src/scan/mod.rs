//! One pass over a request body's bytes, without parsing it as JSON: the strings that look
//! like images, and a fingerprint of the JSON content that two serialisations of the same
//! document share. Cheap by design: no allocation for strings without escapes, no tree.

mod image;

use std::borrow::Cow;

use crate::body::Received;
use crate::vision::Streamed;

pub(crate) use image::{describe, ImageInfo};

/// What the journal keeps of a body: taken as soon as the pipeline is done with the body, so
/// the body's bytes can go back before any wait. Never the image bytes.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// The first 64 bits of the SHA-256 of the bytes as received (0 when not hashed).
    pub sha256: u64,
    /// The JSON content's fingerprint, when the body was kept.
    pub fingerprint: Option<u64>,
    /// Format, size and digest of each image-like string, when the body was kept.
    pub images: Images,
}

/// The summary of a body as received.
pub(crate) fn summarize(body: &Received) -> Summary {
    let kept = (!body.over_limit && !body.bytes.is_empty()).then(|| scan(&body.bytes, body.image.as_ref()));
    let (fingerprint, images) = match kept {
        Some(s) => (Some(s.fingerprint), s.images),
        None => (None, Images::default()),
    };
    Summary { sha256: 0, fingerprint, images }.hashed(body)
}

impl Summary {
    /// With the hash of `body`, for a summary taken before its hash was done.
    pub fn hashed(self, body: &Received) -> Summary {
        let sha256 = body.sha256_hex.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0);
        Summary { sha256, ..self }
    }
}

/// The images of a body: one, the common case, is held in place; more on the heap.
#[derive(Debug, Clone, Default)]
pub(crate) enum Images {
    #[default]
    None,
    One(ImageInfo),
    Many(Vec<ImageInfo>),
}

impl Images {
    pub fn push(&mut self, image: ImageInfo) {
        *self = match std::mem::take(self) {
            Images::None => Images::One(image),
            Images::One(first) => Images::Many(vec![first, image]),
            Images::Many(mut all) => {
                all.push(image);
                Images::Many(all)
            }
        };
    }

    pub fn as_slice(&self) -> &[ImageInfo] {
        match self {
            Images::None => &[],
            Images::One(image) => std::slice::from_ref(image),
            Images::Many(all) => all,
        }
    }
}

impl serde::Serialize for Images {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

/// Strings at least this long are images whatever they start with.
const LONG_STRING: usize = 1024;
/// Shortest string taken for an image when it starts like one.
const SHORT_IMAGE: usize = 32;
/// The base64 spellings of the first bytes of jpg, png, bmp, gif and tiff (and jpg in the
/// url-safe alphabet).
const MAGIC: [&[u8]; 8] = [b"/9j/", b"_9j_", b"iVBOR", b"Qk", b"R0lGOD", b"SUkq", b"TU0A", b"SUkr"];

/// What one pass found.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// Image-like strings, in order, described (their escapes decoded first).
    pub images: Images,
    /// The same for documents that differ only in whitespace, string escapes (`\/`,
    /// `\u00e9`) or the order of their top-level members.
    pub fingerprint: u64,
}

/// Scans `body`. Bytes that are not JSON give some fingerprint and no images; never a panic.
/// `decoded`: an image of the body decoded while it arrived, whose text (and its CRC-32) is
/// known, so it is not read again.
pub(crate) fn scan(body: &[u8], decoded: Option<&Streamed>) -> Scanned {
    let mut images = Images::default();
    let mut member = Member::default();
    let mut total: u64 = 0;
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        match b {
            b'"' => {
                let known = decoded.and_then(|d| Some((d, d.text_at(body, i + 1)?)));
                let (text, next, known) = match known {
                    Some((d, text)) => (Cow::Borrowed(text), d.end + 1, Some((d.text_crc, d.url_safe()))),
                    None => {
                        let (text, next) = string_at(body, i + 1);
                        (text, next, None)
                    }
                };
                member.feed(b"\"");
                if looks_like_image(&text) {
                    // An image counts by its CRC-32 and length: its text is read once, and
                    // the CRC is the image's digest too.
                    let crc = known.map_or_else(|| crc32fast::hash(&text), |(crc, _)| crc);
                    member.feed(&crc.to_le_bytes());
                    member.feed(&(text.len() as u64).to_le_bytes());
                    images.push(describe(&text, crc, known.map(|(_, url_safe)| url_safe)));
                } else {
                    member.feed(&text);
                }
                member.feed(b"\"");
                i = next;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b',' if depth == 1 => total = total.wrapping_add(member.finish()),
            b'{' | b'[' if depth == 0 => {
                depth = 1;
                total = total.wrapping_add(u64::from(b));
            }
            b'{' | b'[' => {
                depth += 1;
                member.byte(b);
            }
            b'}' | b']' if depth <= 1 => depth = 0,
            b'}' | b']' => {
                depth -= 1;
                member.byte(b);
            }
            _ => member.byte(b),
        }
        i += 1;
    }
    Scanned { images, fingerprint: total.wrapping_add(member.finish()) }
}

/// One top-level member being hashed. Short pieces (names, numbers, `:`, quotes) are
/// gathered and hashed a buffer at a time: the CRC's cost is per call as much as per byte.
#[derive(Default)]
struct Member {
    crc: crc32fast::Hasher,
    len: u64,
    gathered: Gathered,
    gathered_len: usize,
}

/// The bytes a member gathers before they are hashed.
struct Gathered([u8; 128]);

impl Default for Gathered {
    fn default() -> Gathered {
        Gathered([0; 128])
    }
}

impl Member {
    fn feed(&mut self, bytes: &[u8]) {
        let at = self.gathered_len;
        match self.gathered.0.get_mut(at..at + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.gathered_len += bytes.len();
            }
            None => {
                self.flush();
                self.crc.update(bytes);
                self.len += bytes.len() as u64;
            }
        }
    }

    fn byte(&mut self, b: u8) {
        self.feed(&[b]);
    }

    fn flush(&mut self) {
        if self.gathered_len > 0 {
            self.crc.update(&self.gathered.0[..self.gathered_len]);
            self.len += self.gathered_len as u64;
            self.gathered_len = 0;
        }
    }

    /// The member's hash, mixed so that a sum over members stays well spread; 0 for none.
    fn finish(&mut self) -> u64 {
        self.flush();
        let done = std::mem::take(self);
        if done.len == 0 {
            return 0;
        }
        mix(u64::from(done.crc.finalize()) << 32 | (done.len & 0xffff_ffff))
    }
}

/// splitmix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn looks_like_image(text: &[u8]) -> bool {
    text.len() >= LONG_STRING || (text.len() >= SHORT_IMAGE && MAGIC.iter().any(|m| text.starts_with(m)))
}

/// The string whose content starts at `start`, and the index after its closing quote.
fn string_at(body: &[u8], start: usize) -> (Cow<'_, [u8]>, usize) {
    let rest = &body[start..];
    match memchr::memchr2(b'"', b'\\', rest) {
        None => (Cow::Borrowed(rest), body.len()),
        Some(q) if rest[q] == b'"' => (Cow::Borrowed(&rest[..q]), start + q + 1),
        Some(q) => {
            let (owned, used) = unescape(&rest[q..], rest[..q].to_vec());
            (Cow::Owned(owned), start + q + used)
        }
    }
}

/// Decodes from a backslash up to the closing quote; returns the text and the bytes used.
fn unescape(rest: &[u8], mut out: Vec<u8>) -> (Vec<u8>, usize) {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'"' => return (out, i + 1),
            b'\\' if i + 1 < rest.len() => {
                let (used, ch) = escape(&rest[i + 1..]);
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 1 + used;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, rest.len())
}

/// One escape after its backslash: the bytes it takes and the character it means.
fn escape(after: &[u8]) -> (usize, char) {
    let simple = |c: u8| match c {
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        other => char::from(other),
    };
    if after[0] != b'u' {
        return (1, simple(after[0]));
    }
    let Some(unit) = hex4(&after[1..]) else { return (1, 'u') };
    if (0xd800..0xdc00).contains(&unit) && after.get(5..7) == Some(b"\\u") {
        if let Some(low) = hex4(&after[7..]).filter(|l| (0xdc00..0xe000).contains(l)) {
            let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            return (11, char::from_u32(code).unwrap_or('\u{fffd}'));
        }
    }
    (5, char::from_u32(unit).unwrap_or('\u{fffd}'))
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(..4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_whitespace_escapes_and_member_order() {
        let a = scan(br#"{"image":"ab/c","area":"1,2,3","n":[1,2]}"#, None).fingerprint;
        let b = scan(b"{ \"n\" : [1, 2],\n \"area\": \"1,2,3\", \"image\": \"ab\\/c\" }", None).fingerprint;
        let c = scan(br#"{"image":"ab/c","area":"1,2,4","n":[1,2]}"#, None).fingerprint;
        let d = scan(br#"{"image":"\u00e9"}"#, None).fingerprint;
        let e = scan("{\"image\":\"é\"}".as_bytes(), None).fingerprint;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(d, e);
        // An image counts by its CRC-32 and length: escapes still do not matter, a byte does.
        let image = |text: &str| scan(format!("{{\"image\":\"/9j/{text}\"}}").as_bytes(), None).fingerprint;
        let plain = image("4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgK");
        assert_eq!(plain, image("4AAQSkZJRgABAQAAAQABAAD\\/2wBDAAgGBgcGBQgHBwcJCQgK"));
        assert_ne!(plain, image("4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgL"));
    }

    #[test]
    fn images_are_found_at_any_depth_and_broken_bytes_do_not_panic() {
        let body = br#"{"images":["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAA","/9j/4AAQSkZJRgABAQAAAQABAADxxxxxxxxxx"],"k":"v"}"#;
        assert_eq!(scan(body, None).images.as_slice().len(), 2);
        for broken in [&b"\"\\"[..], b"\"\\u12", b"{\"a\":\"\\ud800\\u", b"]]]}", b"\"abc"] {
            let _ = scan(broken, None);
        }
    }

    /// An image decoded while its body arrived is summarised as it is when read again:
    /// the same fingerprint and the same description.
    #[test]
    fn an_image_decoded_while_it_arrived_is_summarised_the_same() {
        use base64::Engine;
        let mut png = contract_tests::fixtures::image("scene-96x64.png");
        png.resize(200_000, 7);
        let text = base64::engine::general_purpose::STANDARD.encode(&png);
        let body = format!(r#"{{"n": 1, "image": "{text}", "m": [{{"image": "/9j/x"}}], "area": "0,0,1,1"}}"#);
        let decoded = crate::vision::Streaming::of(body.as_bytes(), 65_537).expect("decoded");
        let (again, known) = (scan(body.as_bytes(), None), scan(body.as_bytes(), Some(&decoded)));
        assert_eq!(again.fingerprint, known.fingerprint);
        assert_eq!(format!("{:?}", again.images), format!("{:?}", known.images));
        assert_eq!(known.images.as_slice().len(), 1);
    }
}
