//! What the journal keeps of an image instead of its bytes: format, dimensions, decoded
//! size and a digest. Only the first bytes are decoded, enough for the header.
//!
//! The digest is not a SHA-256 of the decoded image (hashing every image a second time
//! costs): it is 16 hex digits, the CRC-32 of the base64 text as sent followed by the
//! text's length. Two calls carrying the same image encoded the same way share it. It is
//! kept as a number and written as hex only when an entry is shown.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::Serialize;

use crate::vision::ImageFormat;

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
    /// `jpg`, `png`, `bmp`, `gif` or `tif`; shown as `unknown` when the header is none of those.
    #[serde(serialize_with = "format_name")]
    pub format: Option<ImageFormat>,
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
}

impl ImageInfo {
    /// The base64 text's length, which the size limits count: the digest's low half.
    pub fn text_len(&self) -> u64 {
        self.digest & 0xffff_ffff
    }
}

/// `format`: the format's name, or `unknown` when the header is not one of those.
fn format_name<S: serde::Serializer>(format: &Option<ImageFormat>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(format.map_or("unknown", ImageFormat::name))
}

/// Describes the image whose base64 text is `text` and whose CRC-32 is `crc`. `url_safe`:
/// the alphabet, when a decoder has already read the whole text (else it is looked for).
pub(crate) fn describe(text: &[u8], crc: u32, url_safe: Option<bool>) -> ImageInfo {
    let url_safe = url_safe.unwrap_or_else(|| memchr::memchr2(b'-', b'_', text).is_some());
    // The first head is decoded on the stack; a longer one (a jpg with a large EXIF block)
    // into a buffer of its own.
    let mut small = [0u8; HEADS[0] / 4 * 3];
    let mut large = Vec::new();
    let mut head: &[u8] = decode_head(text, HEADS[0], url_safe, &mut small);
    let mut size = imagesize::blob_size(head).ok();
    for pair in HEADS.windows(2) {
        if size.is_some() || text.len() <= pair[0] {
            break;
        }
        large.resize(pair[1] / 4 * 3, 0);
        head = decode_head(text, pair[1], url_safe, &mut large);
        size = imagesize::blob_size(head).ok();
    }
    let padding = text.iter().rev().take_while(|&&b| b == b'=').count();
    ImageInfo {
        format: format_of(head),
        width: size.and_then(|s| u32::try_from(s.width).ok()),
        height: size.and_then(|s| u32::try_from(s.height).ok()),
        bytes: ((text.len() - padding) as u64 * 3) / 4,
        digest: u64::from(crc) << 32 | u64::from(text.len() as u32),
        url_safe,
    }
}

/// The digest as 16 hex digits.
pub(crate) fn hex16<S: serde::Serializer>(digest: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{digest:016x}"))
}

/// The first `chars` base64 characters decoded into `out` (`chars / 4 * 3` bytes long),
/// or nothing when they are not base64. Text in the standard alphabet without whitespace
/// (nearly every image) is decoded where it lies; only when that fails, or the text is
/// url-safe, is it cleaned into a copy first.
fn decode_head<'o>(text: &[u8], chars: usize, url_safe: bool, out: &'o mut [u8]) -> &'o [u8] {
    let taken = &text[..chars.min(text.len())];
    let cut = taken.len() < text.len();
    if !url_safe {
        if let Some(n) = decode_whole(taken, cut, out) {
            return &out[..n];
        }
        if !taken.iter().any(u8::is_ascii_whitespace) {
            return &[];
        }
    }
    let cleaned: Vec<u8> = taken
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| match (url_safe, b) {
            (true, b'-') => b'+',
            (true, b'_') => b'/',
            _ => b,
        })
        .collect();
    let n = decode_whole(&cleaned, cut, out);
    &out[..n.unwrap_or(0)]
}

/// `head` decoded into `out`, cut to whole groups of four when the text goes on past it
/// (`cut`); the length decoded, or `None` when it is not base64.
fn decode_whole(head: &[u8], cut: bool, out: &mut [u8]) -> Option<usize> {
    let head = if cut { &head[..head.len() / 4 * 4] } else { head };
    // SIMD for the common case; the lenient engine for odd padding or trailing bits.
    match base64_simd::STANDARD.decode(head, base64_simd::Out::from_slice(out)) {
        Ok(decoded) => Some(decoded.len()),
        Err(_) => LENIENT.decode_slice(head, out).ok(),
    }
}

fn format_of(head: &[u8]) -> Option<ImageFormat> {
    use imagesize::ImageType;
    match imagesize::image_type(head) {
        Ok(ImageType::Jpeg) => Some(ImageFormat::Jpg),
        Ok(ImageType::Png) => Some(ImageFormat::Png),
        Ok(ImageType::Bmp) => Some(ImageFormat::Bmp),
        Ok(ImageType::Gif) => Some(ImageFormat::Gif),
        Ok(ImageType::Tiff) => Some(ImageFormat::Tif),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::{compose::compose, scene::Scene};

    #[test]
    fn an_image_is_described_from_its_first_bytes() {
        let png = compose(&Scene::default(), 96, 64, ImageFormat::Png).expect("image");
        let text = base64::engine::general_purpose::STANDARD.encode(&png);
        let info = describe(text.as_bytes(), crc32fast::hash(text.as_bytes()), None);
        assert_eq!((info.format, info.width, info.height), (Some(ImageFormat::Png), Some(96), Some(64)));
        assert_eq!(info.text_len(), text.len() as u64);
        assert_eq!(info.bytes, png.len() as u64);
        let shown = serde_json::to_value(&info).expect("json");
        assert_eq!(shown["format"], "png");
        assert_eq!(shown["sha256"], format!("{:08x}{:08x}", crc32fast::hash(text.as_bytes()), text.len()));
        assert!(!info.url_safe);
        let unknown = describe(b"not an image at all", 0, None);
        assert_eq!((unknown.format, unknown.width), (None, None));
        assert_eq!(serde_json::to_value(&unknown).expect("json")["format"], "unknown");
    }

    #[test]
    fn a_text_of_any_length_or_alphabet_is_described_without_a_panic() {
        let png = compose(&Scene::default(), 96, 64, ImageFormat::Png).expect("image");
        let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&png);
        for len in (0..text.len()).chain([HEADS[0] - 1, HEADS[0] + 1, HEADS[1] + 3]) {
            let cut = &text.as_bytes()[..len.min(text.len())];
            let _ = describe(cut, 0, None);
            let odd: Vec<u8> = cut.iter().map(|&b| if b == b'+' { b'-' } else { b }).chain(*b" \n=").collect();
            let _ = describe(&odd, 0, None);
        }
        let spaced: Vec<u8> = text.bytes().flat_map(|b| [b, b'\n']).collect();
        assert_eq!(describe(&spaced, 0, None).format, Some(ImageFormat::Png));
    }
}
