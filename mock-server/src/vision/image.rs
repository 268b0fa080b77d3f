//! One image of a request, decoded: base64 → bytes → format → dimensions → pixel data
//! checked (its structure, or with `--full-decode` every pixel) → digest.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::{
    decode, decode_image_base64, dimensions, integrity, sniff, Base64Error, Depth, ImageFormat, Sniffed, Streamed,
};

/// A decoded image that an endpoint accepts.
#[derive(Debug, Clone)]
pub struct Image {
    pub bytes: bytes::Bytes,
    pub width: u32,
    pub height: u32,
    /// The bytes' fingerprint (see [`fingerprint`]), computed at most once and only if
    /// asked for.
    digest: OnceLock<[u8; 32]>,
}

/// Why an image could not be used; each endpoint maps these to its own codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    Base64(Base64Error),
    /// A format this endpoint does not accept (named).
    Unsupported(&'static str),
    /// The bytes are not an image at all.
    NotAnImage,
    /// The format is known but its header is cut short or broken.
    BrokenHeader(&'static str),
    /// The header is sound but the pixel data is missing, cut short or damaged (why).
    Damaged(String),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::Base64(e) => write!(f, "{e}"),
            ImageError::Unsupported(name) => write!(f, "{name} images are not accepted here"),
            ImageError::NotAnImage => write!(f, "the decoded bytes are not an image"),
            ImageError::BrokenHeader(name) => write!(f, "the {name} header is cut short or broken"),
            ImageError::Damaged(why) => write!(f, "{why}; send the whole, undamaged image"),
        }
    }
}

impl Image {
    /// Decodes base64 `text` as an image in one of `formats`, its pixels checked to `depth`.
    pub fn decode(text: &str, formats: &[ImageFormat], depth: Depth) -> Result<Image, ImageError> {
        let bytes = decode_image_base64(text).map_err(ImageError::Base64)?;
        Image::check(bytes.into(), OnceLock::new(), formats, depth)
    }

    /// The image decoded while its body arrived: the same bytes as [`Image::decode`] of its
    /// text, and their fingerprint from the CRC-32 taken as they were decoded.
    pub fn streamed(streamed: &Streamed, formats: &[ImageFormat], depth: Depth) -> Result<Image, ImageError> {
        let digest = OnceLock::from(fingerprint_of(streamed.crc, streamed.bytes.len()));
        Image::check(streamed.bytes.clone(), digest, formats, depth)
    }

    fn check(
        bytes: bytes::Bytes,
        digest: OnceLock<[u8; 32]>,
        formats: &[ImageFormat],
        depth: Depth,
    ) -> Result<Image, ImageError> {
        let format = match sniff(&bytes) {
            Sniffed::Known(f) if formats.contains(&f) => f,
            Sniffed::Known(f) => return Err(ImageError::Unsupported(f.name())),
            Sniffed::Other(name) => return Err(ImageError::Unsupported(name)),
            Sniffed::Unknown => return Err(ImageError::NotAnImage),
        };
        let (width, height) = dimensions(&bytes).ok_or(ImageError::BrokenHeader(format.name()))?;
        integrity::check(&bytes, format).map_err(ImageError::Damaged)?;
        if depth == Depth::Full {
            decode::check(&bytes, format).map_err(ImageError::Damaged)?;
        }
        Ok(Image { bytes, width, height, digest })
    }

    pub fn digest(&self) -> &[u8; 32] {
        self.digest.get_or_init(|| fingerprint(&self.bytes))
    }

    /// What the image shows (its own ground truth, the catalogue's, or derived).
    pub fn scene(&self) -> super::scene::Scene {
        self.perceive().0
    }

    /// A seed for the answer's random details (scores): the image's digest, or — when the
    /// image carries its scene — the scene's, which is much cheaper and just as stable.
    pub fn seed(&self, scene: &super::scene::Scene, source: super::scene::Source) -> [u8; 32] {
        match source {
            super::scene::Source::Image => Sha256::digest(serde_json::to_vec(scene).unwrap_or_default()).into(),
            _ => *self.digest(),
        }
    }

    /// The scene and where it came from.
    pub fn perceive(&self) -> (super::scene::Scene, super::scene::Source) {
        super::scene::perceive(&self.bytes, || *self.digest(), self.width, self.height)
    }
}

/// A cheap fingerprint of an image's bytes: their CRC-32 and length (big-endian, the
/// catalogue's key: 16 hex digits), then 24 bytes spread from those by SplitMix64. The body
/// was already hashed with SHA-256 for its signature; hashing the image a second time cost
/// as much again on a large image, for a key and a seed that need no cryptographic strength.
pub fn fingerprint(bytes: &[u8]) -> [u8; 32] {
    fingerprint_of(crc32fast::hash(bytes), bytes.len())
}

/// [`fingerprint`] from the bytes' CRC-32 and length.
fn fingerprint_of(crc: u32, len: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..4].copy_from_slice(&crc.to_be_bytes());
    out[4..8].copy_from_slice(&(len as u32).to_be_bytes());
    let mut rng = super::rng::SplitMix64::from_digest(&out[..8]);
    for chunk in out[8..].chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

/// The accepted formats, for explanations: `png, jpg, bmp`.
pub fn names(formats: &[ImageFormat]) -> String {
    formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}
