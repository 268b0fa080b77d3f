//! The full decode behind `--full-decode` (`full_decode = true`): every pixel of an image
//! that passed the structure checks of `integrity` is decoded, and the pixels dropped at
//! once. It catches what only a decoder sees (`docs/decisions.md`): a PNG's deflate stream
//! corrupt past the prefix `integrity` inflates, corrupt Huffman data in a JPEG scan, bad
//! LZW codes in a GIF, corrupt TIFF strips or BMP RLE data. Before a pixel is decoded, an
//! image whose decoded size would pass [`MAX_DECODED_BYTES`] is refused.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::ImageFormat;

/// The most bytes one decoded image may take: a 4096×4096 RGBA image at 16 bits a sample,
/// or 44 megapixels of 8-bit RGB. A header promising more is refused before decoding, so
/// that a small compressed file cannot ask for gigabytes.
pub const MAX_DECODED_BYTES: u64 = 128 << 20;

/// How deep an image is checked before the capability answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Depth {
    /// The structure `integrity` walks, without decoding pixels (the default).
    #[default]
    Structure,
    /// That, then every pixel decoded and dropped.
    Full,
}

/// Decodes all of `bytes` (the first frame of a GIF, the first image of a TIFF, as a still
/// image's decoder reads them) and drops the pixels. The error says why, in words for the
/// explanation.
pub fn check(bytes: &[u8], format: ImageFormat) -> Result<(), String> {
    let name = format.name();
    let decoded = match format {
        ImageFormat::Jpg => jpeg(bytes),
        _ => other(bytes, format),
    };
    decoded.map_err(|why| format!("the {name} cannot be decoded: {why}"))
}

/// A refusal of a decoded size over [`MAX_DECODED_BYTES`].
fn too_large(width: u32, height: u32, bytes: u64) -> String {
    format!(
        "its {width}×{height} pixels take {bytes} bytes decoded, more than the {MAX_DECODED_BYTES} bytes a full decode allows"
    )
}

/// PNG, BMP, GIF, TIFF through the `image` crate's decoders, with its `Limits` bounding the
/// allocation.
fn other(bytes: &[u8], format: ImageFormat) -> Result<(), String> {
    let kind = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Tif => image::ImageFormat::Tiff,
        ImageFormat::Jpg => image::ImageFormat::Jpeg,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (width, height) = decoder.dimensions();
    if decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(too_large(width, height, decoder.total_bytes()));
    }
    DynamicImage::from_decoder(decoder).map(drop).map_err(|e| e.to_string())
}

/// JPEG through zune-jpeg in strict mode: the `image` crate runs it leniently, painting
/// over corrupt entropy-coded data as browsers do, which is what this check must catch.
fn jpeg(bytes: &[u8]) -> Result<(), String> {
    use zune_core::bytestream::ZCursor;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| e.to_string())?;
    let (width, height) = decoder.dimensions().map_or((0, 0), |(w, h)| (w as u32, h as u32));
    let size = decoder.output_buffer_size().map_or(u64::MAX, |s| s as u64);
    if size > MAX_DECODED_BYTES {
        return Err(too_large(width, height, size));
    }
    decoder.decode().map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
