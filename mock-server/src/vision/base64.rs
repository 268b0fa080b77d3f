//! Decoding an image's base64 text as the vendor accepts it: the standard or the URL-safe
//! alphabet, padded or not, with line breaks ignored, and never a `data:` prefix.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// Why an image's text could not be decoded; the `Display` text goes into the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Error {
    Empty,
    DataUrlPrefix,
    /// Both alphabets' extra characters in one string (`+` or `/` together with `-` or `_`).
    MixedAlphabets,
    InvalidByte {
        offset: usize,
        byte: u8,
    },
    InvalidLength,
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base64Error::Empty => write!(f, "the image text is empty"),
            Base64Error::DataUrlPrefix => {
                write!(f, "the image starts with a data: url prefix; send the base64 text alone")
            }
            Base64Error::MixedAlphabets => {
                write!(f, "the image mixes the standard (+/) and url-safe (-_) base64 alphabets")
            }
            Base64Error::InvalidByte { offset, byte } => {
                write!(f, "the image is not base64: byte {byte:#04x} at offset {offset}")
            }
            Base64Error::InvalidLength => write!(f, "the image's base64 text has an impossible length"),
        }
    }
}

/// Decodes an image's base64 text. The common case — one alphabet, no line breaks — is a
/// single pass; only text that fails it is examined again, to decode the other alphabet
/// or MIME line breaks, or to say exactly what is wrong.
pub fn decode_image_base64(text: &str) -> Result<Vec<u8>, Base64Error> {
    if text.is_empty() {
        return Err(Base64Error::Empty);
    }
    if text.starts_with("data:") {
        return Err(Base64Error::DataUrlPrefix);
    }
    // The common case, padded standard base64, with SIMD; anything else takes the path below.
    if let Ok(bytes) = base64_simd::STANDARD.decode_to_vec(text) {
        return Ok(bytes);
    }
    let bytes = text.as_bytes();
    let stripped;
    let bytes = if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        stripped = bytes.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect::<Vec<_>>();
        &stripped[..]
    } else {
        bytes
    };
    let url_safe = bytes.iter().any(|&b| b == b'-' || b == b'_');
    if url_safe && bytes.iter().any(|&b| b == b'+' || b == b'/') {
        return Err(Base64Error::MixedAlphabets);
    }
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    engine.decode(bytes).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, byte) => Base64Error::InvalidByte { offset, byte },
        base64::DecodeError::InvalidPadding => {
            Base64Error::InvalidByte { offset: bytes.len().saturating_sub(1), byte: b'=' }
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(..) => {
            Base64Error::InvalidLength
        }
    })
}

/// The `image` string of a JSON body, decoded while the body arrives (see [`Streaming`]):
/// its text is `body[start..end]` and its bytes are what [`decode_image_base64`] gives.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub start: usize,
    pub end: usize,
    pub bytes: bytes::Bytes,
    /// CRC-32 of `bytes`, taken as they were decoded (the image's fingerprint needs it).
    pub crc: u32,
    /// CRC-32 of the text, taken as it arrived (the journal's summary of the body needs it).
    pub text_crc: u32,
}

impl Streamed {
    /// Its text, when the string of `body` that opens just before `start` is this one.
    pub fn text_at<'b>(&self, body: &'b [u8], start: usize) -> Option<&'b [u8]> {
        if start != self.start || body.get(self.end) != Some(&b'"') {
            return None;
        }
        body.get(self.start..self.end)
    }

    /// Whether the text uses the url-safe alphabet: never, since [`Streaming`] decodes the
    /// standard alphabet only (a url-safe image is decoded by the capability instead).
    pub fn url_safe(&self) -> bool {
        false
    }
}

/// How far into a body the `image` member is looked for.
const SEEK_MAX: usize = 64 * 1024;

/// The keys whose string value is an image: `image` (hard-hat, work clothes) and
/// `imageContent` (face quality), quotes included.
const KEYS: [&[u8]; 2] = [b"\"image\"", b"\"imageContent\""];

/// Decodes the base64 of a body's `"image": "…"` member chunk by chunk as the body
/// arrives, so that a large image is decoded while its later bytes are still on the wire.
/// Only the common case is taken: padded standard base64 without line breaks, after the
/// first `"image"` (or `"imageContent"`) key in the first 64 KB that a string follows.
/// Anything else — another alphabet, an escape, padding before the end, no such member —
/// stops it, and the capability decodes the text itself as ever. Groups of four characters
/// decode alone, so the pieces give exactly the bytes of the whole; the capability uses
/// them only when the member its own parse finds is this very range of the body.
#[derive(Debug)]
pub struct Streaming {
    /// Offset in the body of the next byte given.
    at: usize,
    /// The body's declared length: the decoded bytes are sized from it once.
    declared: usize,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    Seek(Vec<u8>),
    /// `padded`: a `=` was seen, so nothing but more `=` and the closing quote may follow.
    Text {
        start: usize,
        carry: Vec<u8>,
        padded: bool,
        out: Vec<u8>,
        crc: crc32fast::Hasher,
        text_crc: crc32fast::Hasher,
    },
    Done(Streamed),
    Failed,
}

impl Streaming {
    /// `declared`: the body's declared length, to size the decoded bytes once.
    pub fn new(declared: usize) -> Streaming {
        Streaming { at: 0, declared, phase: Phase::Seek(Vec::new()) }
    }

    /// The next bytes of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        let offset = self.at;
        self.at += chunk.len();
        match &mut self.phase {
            Phase::Seek(head) => {
                let room = SEEK_MAX.saturating_sub(head.len());
                head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                match value_start(head) {
                    Seek::Found(start) => {
                        let head = std::mem::take(head);
                        let capacity = self.declared.saturating_sub(start) / 4 * 3;
                        self.phase = Phase::Text {
                            start,
                            carry: Vec::new(),
                            padded: false,
                            out: Vec::with_capacity(capacity),
                            crc: crc32fast::Hasher::new(),
                            text_crc: crc32fast::Hasher::new(),
                        };
                        // The text seen so far: in the head, then the rest of this chunk.
                        let seen = head.len().min(offset + chunk.len());
                        self.text(&head[start..seen], start);
                        if seen < offset + chunk.len() {
                            self.text(&chunk[seen - offset..], seen);
                        }
                    }
                    Seek::More if head.len() < SEEK_MAX => {}
                    _ => self.phase = Phase::Failed,
                }
            }
            Phase::Text { .. } => self.text(chunk, offset),
            Phase::Done(_) | Phase::Failed => {}
        }
    }

    /// Text of the image string, at `offset` in the body.
    fn text(&mut self, piece: &[u8], offset: usize) {
        let Phase::Text { start, carry, padded, out, crc, text_crc } = &mut self.phase else { return };
        // One pass finds the first quote or `=`; past an `=` only the quote is looked for.
        let (end, pad) = match memchr::memchr2(b'"', b'=', piece) {
            Some(i) if piece[i] == b'"' => (Some(i), None),
            Some(i) => (memchr::memchr(b'"', &piece[i..]).map(|q| i + q), Some(i)),
            None => (None, None),
        };
        let (piece, end) = match end {
            Some(i) => (&piece[..i], Some(offset + i)),
            None => (piece, None),
        };
        text_crc.update(piece);
        let before = out.len();
        let decoded = match (end, pad) {
            // Padding only ends the text: after it, at most the last group's other `=`.
            (None, _) if *padded => {
                carry.extend_from_slice(piece);
                piece.iter().all(|&c| c == b'=') && carry.len() <= 4
            }
            (None, None) => decode_groups(carry, piece, out),
            (None, Some(pad)) => {
                *padded = true;
                let decoded = decode_groups(carry, &piece[..pad], out);
                carry.extend_from_slice(&piece[pad..]);
                decoded && carry.len() <= 4
            }
            (Some(_), _) => {
                carry.extend_from_slice(piece);
                let last = std::mem::take(carry);
                last.is_empty() || base64_simd::STANDARD.decode_append(&last, out).is_ok()
            }
        };
        if !decoded || (end.is_some() && out.is_empty()) {
            self.phase = Phase::Failed;
            return;
        }
        crc.update(&out[before..]);
        if let Some(end) = end {
            let streamed = Streamed {
                start: *start,
                end,
                bytes: bytes::Bytes::from(std::mem::take(out)),
                crc: std::mem::replace(crc, crc32fast::Hasher::new()).finalize(),
                text_crc: std::mem::replace(text_crc, crc32fast::Hasher::new()).finalize(),
            };
            self.phase = Phase::Done(streamed);
        }
    }

    /// `body` given in pieces of `piece` bytes, then finished: for tests.
    #[cfg(test)]
    pub fn of(body: &[u8], piece: usize) -> Option<Streamed> {
        let mut streaming = Streaming::new(body.len());
        for chunk in body.chunks(piece) {
            streaming.update(chunk);
        }
        streaming.finish()
    }

    /// True once the image is decoded or cannot be: later bytes change nothing.
    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done(_) | Phase::Failed)
    }

    /// The decoded image, when the whole string was decoded.
    pub fn finish(self) -> Option<Streamed> {
        match self.phase {
            Phase::Done(streamed) => Some(streamed),
            _ => None,
        }
    }
}

/// Decodes `carry` and `piece` in whole groups of four, keeping the rest in `carry`.
fn decode_groups(carry: &mut Vec<u8>, piece: &[u8], out: &mut Vec<u8>) -> bool {
    let mut piece = piece;
    if !carry.is_empty() {
        let take = (4 - carry.len()).min(piece.len());
        carry.extend_from_slice(&piece[..take]);
        piece = &piece[take..];
        if carry.len() < 4 {
            return true;
        }
        if base64_simd::STANDARD.decode_append(&carry[..], out).is_err() {
            return false;
        }
        carry.clear();
    }
    let whole = piece.len() / 4 * 4;
    carry.extend_from_slice(&piece[whole..]);
    whole == 0 || base64_simd::STANDARD.decode_append(&piece[..whole], out).is_ok()
}

enum Seek {
    Found(usize),
    More,
    No,
}

/// Where the string value of the first image key begins (after its opening quote): the
/// first key followed by `:` and a string (a key's name may also appear inside another
/// string; the capability uses the image only if its own parse finds the same range).
fn value_start(head: &[u8]) -> Seek {
    let mut keys: Vec<(usize, usize)> =
        KEYS.iter().flat_map(|key| memchr::memmem::find_iter(head, key).map(|at| (at, key.len()))).collect();
    keys.sort_unstable();
    for (key, len) in keys {
        match after_key(head, key + len) {
            Seek::No => continue,
            decided => return decided,
        }
    }
    if head.len() < SEEK_MAX {
        Seek::More
    } else {
        Seek::No
    }
}

/// What follows a key that ends before `at`: `:` and the start of a string, or not.
fn after_key(head: &[u8], mut at: usize) -> Seek {
    let skip = |at: &mut usize| {
        while head.get(*at).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            *at += 1;
        }
    };
    skip(&mut at);
    match head.get(at) {
        None => return Seek::More,
        Some(b':') => at += 1,
        Some(_) => return Seek::No,
    }
    skip(&mut at);
    match head.get(at) {
        None => Seek::More,
        Some(b'"') => Seek::Found(at + 1),
        Some(_) => Seek::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn both_alphabets_padded_or_not_decode_to_the_same_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            use base64::engine::general_purpose as gp;
            for text in [
                gp::STANDARD.encode(&data),
                gp::STANDARD_NO_PAD.encode(&data),
                gp::URL_SAFE.encode(&data),
                gp::URL_SAFE_NO_PAD.encode(&data),
            ] {
                if data.is_empty() {
                    prop_assert_eq!(decode_image_base64(&text), Err(Base64Error::Empty));
                } else {
                    prop_assert_eq!(decode_image_base64(&text), Ok(data.clone()));
                }
            }
        }
    }

    /// Feeds `body` to a [`Streaming`] in pieces cut at `cuts`.
    fn stream(body: &[u8], cuts: &[usize]) -> Option<Streamed> {
        let mut streaming = Streaming::new(body.len());
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut from = 0;
        for cut in cuts.into_iter().chain([body.len()]) {
            streaming.update(&body[from..cut]);
            from = cut;
        }
        streaming.finish()
    }

    proptest! {
        /// Decoded in pieces while it arrives, an image gives the bytes and range of the
        /// whole text decoded at once; any text the one-pass decoder takes is taken.
        #[test]
        fn an_image_decoded_in_pieces_is_the_image_decoded_whole(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            key in prop_oneof![Just("image"), Just("imageContent"), Just("images")],
            before in prop_oneof![Just(""), Just("\"n\": 1, "), Just("\"x\":\"image\", ")],
            // A member after the image, so that its closing quote is not at the body's end.
            after in prop_oneof![Just(""), Just(", \"note\": \"a member after the image, long enough to fill the last bytes of a piece\"")],
            change in proptest::option::of((any::<usize>(), any::<u8>())),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut text = base64::engine::general_purpose::STANDARD.encode(&data).into_bytes();
            if let Some((at, byte)) = change.filter(|_| !text.is_empty()) {
                let at = at % text.len();
                text[at] = byte;
            }
            let mut body = format!("{{{before}\"{key}\" : \"").into_bytes();
            let start = body.len();
            body.extend_from_slice(&text);
            body.push(b'"');
            body.extend_from_slice(after.as_bytes());
            body.push(b'}');
            let got = stream(&body, &cuts);
            if let Some(got) = &got {
                // What was decoded is a whole string of the body, decoded as the capability would.
                prop_assert_eq!((body[got.start - 1], body[got.end]), (b'"', b'"'));
                let text = std::str::from_utf8(&body[got.start..got.end]).unwrap_or_default();
                let one_pass = decode_image_base64(text);
                prop_assert_eq!(one_pass.as_deref(), Ok(&got.bytes[..]));
                prop_assert_eq!(got.crc, crc32fast::hash(&got.bytes));
                prop_assert_eq!(got.text_crc, crc32fast::hash(text.as_bytes()));
                prop_assert_eq!(got.url_safe(), text.bytes().any(|b| b == b'-' || b == b'_'));
            }
            // And every image the one-pass decoder takes is decoded, at its place.
            let plain = key != "images" && !text.contains(&b'"');
            if let (true, Ok(t)) = (plain, std::str::from_utf8(&text)) {
                if !t.is_empty() && base64_simd::STANDARD.decode_to_vec(t).is_ok() {
                    prop_assert_eq!(got.map(|g| (g.start, g.end)), Some((start, start + text.len())));
                }
            }
        }
    }

    #[test]
    fn refuses_a_data_url_and_mixed_alphabets() {
        assert_eq!(decode_image_base64("data:image/png;base64,iVBO"), Err(Base64Error::DataUrlPrefix));
        assert_eq!(decode_image_base64("ab+c-d=="), Err(Base64Error::MixedAlphabets));
        assert!(matches!(decode_image_base64("ab$c"), Err(Base64Error::InvalidByte { offset: 2, .. })));
    }

    #[test]
    fn ignores_line_breaks() {
        assert_eq!(decode_image_base64("aGVs\r\nbG8="), Ok(b"hello".to_vec()));
    }
}
