//! What the journal keeps of an image instead of its bytes: format, dimensions, decoded
//! size and a digest. Only the first bytes are decoded, enough for the header.
//!
//! The digest is not a SHA-256 of the decoded image (hashing every image a second time
//! costs): it is 16 hex digits, the CRC-32 of the base64 text as sent followed by the
//! text's length. Two calls carrying the same image encoded the same way share it. It is
//! kept as a number and written as hex only when an entry is shown.

use std::borrow::Cow;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::Serialize;

/// Base64 characters decoded for the header, shortest first: a png's or bmp's size is in
/// its first bytes, a plain jpg's within its first 192 (after APP0 and the quantisation
/// tables), one with a large EXIF block further on.
const HEADS: [usize; 3] = [256, 4096, 65536];

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// One image of a request, as the journal shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageInfo {
    /// `jpg`, `png`, `bmp`, `gif`, `tif`, or `unknown` when the header is not one of those.
    pub format: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The decoded length, from the base64 text's length.
    pub bytes: u64,
    /// See the module's documentation; shown as `sha256`.
    #[serde(rename = "sha256", serialize_with = "hex16")]
    pub digest: u64,
    /// The text uses the url-safe alphabet (`-` or `_`).
    #[serde(skip)]
    pub url_safe: bool,
    /// The base64 text's length, which the size limits count.
    #[serde(skip)]
    pub text_len: usize,
}

/// Describes the image whose base64 text is `text` and whose CRC-32 is `crc`.
pub(crate) fn describe(text: &[u8], crc: u32) -> ImageInfo {
    let url_safe = memchr::memchr2(b'-', b'_', text).is_some();
    let mut head = decode_head(text, HEADS[0], url_safe);
    let mut size = imagesize::blob_size(&head).ok();
    for pair in HEADS.windows(2) {
        if size.is_some() || text.len() <= pair[0] {
            break;
        }
        head = decode_head(text, pair[1], url_safe);
        size = imagesize::blob_size(&head).ok();
    }
    let padding = text.iter().rev().take_while(|&&b| b == b'=').count();
    ImageInfo {
        format: format_of(&head),
        width: size.and_then(|s| u32::try_from(s.width).ok()),
        height: size.and_then(|s| u32::try_from(s.height).ok()),
        bytes: ((text.len() - padding) as u64 * 3) / 4,
        digest: u64::from(crc) << 32 | u64::from(text.len() as u32),
        url_safe,
        text_len: text.len(),
    }
}

/// The digest as 16 hex digits.
pub(crate) fn hex16<S: serde::Serializer>(digest: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{digest:016x}"))
}

/// The first `chars` base64 characters decoded, or nothing when they are not base64.
/// Text without whitespace in the standard alphabet (nearly every image) is decoded where
/// it lies; other text is cleaned into a copy first.
fn decode_head(text: &[u8], chars: usize, url_safe: bool) -> Vec<u8> {
    let taken = &text[..chars.min(text.len())];
    let mut head: Cow<'_, [u8]> = if url_safe || taken.iter().any(u8::is_ascii_whitespace) {
        Cow::Owned(
            taken
                .iter()
                .filter(|b| !b.is_ascii_whitespace())
                .map(|&b| match (url_safe, b) {
                    (true, b'-') => b'+',
                    (true, b'_') => b'/',
                    _ => b,
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(taken)
    };
    if head.len() < text.len() {
        let whole = head.len() / 4 * 4;
        match &mut head {
            Cow::Borrowed(b) => *b = &b[..whole],
            Cow::Owned(v) => v.truncate(whole),
        }
    }
    // SIMD for the common case; the lenient engine for odd padding or trailing bits.
    base64_simd::STANDARD.decode_to_vec(&*head).or_else(|_| LENIENT.decode(&head)).unwrap_or_default()
}

fn format_of(head: &[u8]) -> &'static str {
    use imagesize::ImageType;
    match imagesize::image_type(head) {
        Ok(ImageType::Jpeg) => "jpg",
        Ok(ImageType::Png) => "png",
        Ok(ImageType::Bmp) => "bmp",
        Ok(ImageType::Gif) => "gif",
        Ok(ImageType::Tiff) => "tif",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::{compose::compose, scene::Scene, ImageFormat};

    #[test]
    fn an_image_is_described_from_its_first_bytes() {
        let png = compose(&Scene::default(), 96, 64, ImageFormat::Png).expect("image");
        let text = base64::engine::general_purpose::STANDARD.encode(&png);
        let info = describe(text.as_bytes(), crc32fast::hash(text.as_bytes()));
        assert_eq!((info.format, info.width, info.height), ("png", Some(96), Some(64)));
        assert_eq!(info.bytes, png.len() as u64);
        let shown = serde_json::to_value(&info).expect("json");
        assert_eq!(shown["sha256"], format!("{:08x}{:08x}", crc32fast::hash(text.as_bytes()), text.len()));
        assert!(!info.url_safe);
        let unknown = describe(b"not an image at all", 0);
        assert_eq!((unknown.format, unknown.width), ("unknown", None));
    }
}
