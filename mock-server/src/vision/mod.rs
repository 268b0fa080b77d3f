//! What the emulated "AI" reads from an image: the base64 text decoded, the format sniffed
//! from the bytes, the dimensions read from the header, the scene it shows (ground truth
//! or derived), and the detections drawn from that scene.

mod base64;
pub mod compose;
mod decode;
mod detect;
pub mod geometry;
mod image;
mod integrity;
pub mod rng;
pub mod scene;

pub use self::base64::{decode_image_base64, Base64Error, Streamed, Streaming};
pub use self::decode::Depth;
pub use self::detect::{detections, Wear};
pub use self::image::{names, Image, ImageError};

use serde::Deserialize;

/// An image format, named as the manual names it. `jpeg` in a fixture means `jpg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    #[serde(alias = "jpeg")]
    Jpg,
    Bmp,
    Gif,
    Tif,
}

/// What the first bytes of a decoded image say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Known(ImageFormat),
    /// A format the vendor never accepts, named for the rejection's explanation.
    Other(&'static str),
    Unknown,
}

pub fn sniff(bytes: &[u8]) -> Sniffed {
    const OTHERS: [(&[u8], &str); 4] =
        [(b"RIFF", "webp"), (b"\x00\x00\x01\x00", "ico"), (b"%PDF", "pdf"), (b"8BPS", "psd")];
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Sniffed::Known(ImageFormat::Png),
        [0xff, 0xd8, 0xff, ..] => Sniffed::Known(ImageFormat::Jpg),
        [b'B', b'M', ..] => Sniffed::Known(ImageFormat::Bmp),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Sniffed::Known(ImageFormat::Gif),
        [b'I', b'I', 0x2a, 0x00, ..] | [b'M', b'M', 0x00, 0x2a, ..] => Sniffed::Known(ImageFormat::Tif),
        _ => OTHERS
            .iter()
            .find(|(magic, _)| bytes.starts_with(magic))
            .map_or(Sniffed::Unknown, |(_, name)| Sniffed::Other(name)),
    }
}

/// Width and height from the image header, or `None` if the header is cut short or broken.
/// A BMP's are read here: a top-down BMP stores its height negative.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"BM") {
        let (w, h, ..) = integrity::bmp_header(bytes)?;
        return (w > 0 && h > 0).then_some((w, h));
    }
    let size = imagesize::blob_size(bytes).ok()?;
    let (w, h) = (u32::try_from(size.width).ok()?, u32::try_from(size.height).ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

impl ImageFormat {
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpg => "jpg",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Gif => "gif",
            ImageFormat::Tif => "tif",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_fixture_image_and_reads_its_size() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}manifest.json")).expect("manifest"))
                .expect("manifest is json");
        for image in manifest.as_array().expect("a list") {
            let bytes = std::fs::read(format!("{dir}{}", image["file"].as_str().expect("file"))).expect("image");
            let format = image["format"].as_str().expect("format");
            match sniff(&bytes) {
                Sniffed::Known(f) => assert_eq!(f.name(), format),
                Sniffed::Other(name) => assert_eq!(name, format),
                Sniffed::Unknown => panic!("{format} not sniffed"),
            }
            let (w, h) = dimensions(&bytes).expect("dimensions");
            assert_eq!(
                (u64::from(w), u64::from(h)),
                (image["width"].as_u64().unwrap_or(0), image["height"].as_u64().unwrap_or(0))
            );
        }
    }

    #[test]
    fn a_cut_header_has_no_dimensions() {
        assert_eq!(dimensions(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), None);
    }
}
