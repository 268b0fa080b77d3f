//! Test images that carry their own ground truth, written without the server's code: a
//! complete PNG drawn from a [`Scene`], and ground truth added to any existing image where
//! the emulator looks for it (a PNG `tEXt` chunk with keyword `ctyun-mock`, a JPEG `COM`
//! segment starting `ctyun-mock:`, or a trailer `ctyun-mock:{json}` for BMP, GIF and TIFF).
//!
//! The PNG is real: every row of pixels is present (stored, uncompressed deflate blocks),
//! with correct CRC-32 and Adler-32 checksums, so any decoder reads it.

use serde::Serialize;

/// The marker that introduces ground truth in a JPEG comment or a trailer.
pub const MARKER: &[u8] = b"ctyun-mock:";
/// The PNG `tEXt` keyword that holds ground truth.
pub const PNG_KEYWORD: &[u8] = b"ctyun-mock";
/// The largest side the writer draws.
pub const MAX_SIDE: u32 = 8192;

/// What an image shows, as the emulator reads it from ground truth (README, "scenario
/// images"). Fields left unset are left out of the JSON and take the server's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scene {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<Vec<Face>>,
    /// The head movement the frame shows: shake, up, down, left, right, mouth, eye.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fall: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fight: Option<f64>,
    /// A capability error code the endpoint answers instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<u32>,
    /// How long the endpoint takes to answer, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// A person standing in `[left, top, width, height]` pixels, with what they wear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clothes: Option<String>,
}

/// A face: `good`, `medium` or `bad`, and whether it is a photo or a screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Face {
    pub quality: String,
    pub spoof: bool,
}

impl Scene {
    /// The ground truth as the JSON the emulator reads.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|e| panic!("a scene always serialises: {e}"))
    }
}

/// A `width`×`height` PNG drawing of `scene` (people as blocks coloured by their clothes,
/// hats as bands on top) that carries the scene as ground truth.
pub fn png(scene: &Scene, width: u32, height: u32) -> Result<Vec<u8>, String> {
    let pixels = draw(scene, width, height)?;
    Ok(encode_png(width, height, &pixels, Some(&scene.to_json())))
}

/// `image` with `scene` added as ground truth: a `tEXt` chunk for a PNG, a comment segment
/// for a JPEG, a trailer for anything else. The image's own bytes are kept.
pub fn with_ground_truth(image: &[u8], scene: &Scene) -> Result<Vec<u8>, String> {
    with_ground_truth_json(image, &scene.to_json())
}

/// `image` with any JSON text added as ground truth, as [`with_ground_truth`] adds a scene:
/// for crafted ground truth no [`Scene`] can hold.
pub fn with_ground_truth_json(image: &[u8], json: &[u8]) -> Result<Vec<u8>, String> {
    if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        // IHDR is always the first chunk (8 + 4 + 4 + 13 + 4 bytes); tEXt may follow it.
        let after_ihdr = 33;
        if image.len() < after_ihdr || &image[12..16] != b"IHDR" {
            return Err("the png has no IHDR chunk first; pass a whole png".into());
        }
        let chunk = png_chunk(b"tEXt", &[PNG_KEYWORD, b"\0", json].concat());
        return Ok([&image[..after_ihdr], &chunk, &image[after_ihdr..]].concat());
    }
    if image.starts_with(&[0xff, 0xd8]) {
        let len = u16::try_from(2 + MARKER.len() + json.len())
            .map_err(|_| "the scene is too large for a jpeg comment (64 KiB); use a png".to_string())?;
        let segment = [&[0xff, 0xfe][..], &len.to_be_bytes(), MARKER, json].concat();
        return Ok([&image[..2], &segment, &image[2..]].concat());
    }
    Ok([image, MARKER, json].concat())
}

/// RGB rows, top to bottom, of the drawing of `scene`.
fn draw(scene: &Scene, width: u32, height: u32) -> Result<Vec<u8>, String> {
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(format!("size {width}x{height}: each side must be 1–{MAX_SIDE} pixels"));
    }
    let (w, h) = (width as usize, height as usize);
    let mut pixels = [196u8, 208, 220].repeat(w * h);
    let mut fill = |l: u32, t: u32, bw: u32, bh: u32, rgb: [u8; 3]| {
        for y in (t as usize).min(h)..(t.saturating_add(bh) as usize).min(h) {
            for x in (l as usize).min(w)..(l.saturating_add(bw) as usize).min(w) {
                pixels[(y * w + x) * 3..][..3].copy_from_slice(&rgb);
            }
        }
    };
    for p in &scene.people {
        let [l, t, bw, bh] = p.bbox;
        fill(l, t, bw, bh, colour(p.clothes.as_deref()));
        if p.hat.is_some() {
            fill(l, t, bw, (bh / 8).max(1), colour(p.hat.as_deref().map(|c| c.trim_end_matches("_hat"))));
        }
    }
    Ok(pixels)
}

fn colour(name: Option<&str>) -> [u8; 3] {
    match name {
        Some("blue") => [30, 70, 200],
        Some("white" | "light") => [245, 245, 245],
        Some("yellow") => [240, 200, 20],
        Some("red") => [200, 30, 30],
        Some("dark") => [40, 40, 40],
        _ => [120, 120, 120],
    }
}

/// An 8-bit RGB PNG of `rgb` (`width * height * 3` bytes, rows top to bottom), with an
/// optional ground-truth `tEXt` chunk.
fn encode_png(width: u32, height: u32, rgb: &[u8], ground_truth: Option<&[u8]>) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, truecolour, deflate, no filter, no interlace
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(line);
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    if let Some(json) = ground_truth {
        png.extend(png_chunk(b"tEXt", &[PNG_KEYWORD, b"\0", json].concat()));
    }
    png.extend(png_chunk(b"IDAT", &zlib_stored(&raw)));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// One PNG chunk: length, type, data and the CRC-32 of type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).unwrap_or_else(|_| panic!("a png chunk holds at most 4 GiB"));
    let crc = crc32(&[kind.as_slice(), data].concat());
    [&len.to_be_bytes()[..], kind, data, &crc.to_be_bytes()].concat()
}

/// A zlib stream of `data` in stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01]; // deflate, 32 KiB window, no preset dictionary
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL on the last, BTYPE 00: stored
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), as PNG chunks use.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Adler-32 (RFC 1950), the zlib stream's checksum.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        (a, b) = (a % 65_521, b % 65_521);
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> Scene {
        Scene {
            people: vec![Person { bbox: [2, 3, 4, 8], hat: Some("blue_hat".into()), clothes: Some("red".into()) }],
            fall: Some(0.5),
            ..Scene::default()
        }
    }

    #[test]
    fn checksums_match_their_published_check_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(&[0xff; 100_000]), 0x149A_302C);
    }

    #[test]
    fn ground_truth_is_the_documented_json() {
        let json = String::from_utf8(worker().to_json()).expect("utf-8");
        assert_eq!(json, r#"{"people":[{"box":[2,3,4,8],"hat":"blue_hat","clothes":"red"}],"fall":0.5}"#);
    }

    #[test]
    fn a_png_decodes_to_every_pixel_drawn() {
        let bytes = png(&worker(), 10, 12).expect("png");
        let decoded = image::load_from_memory(&bytes).expect("a valid png").to_rgb8();
        assert_eq!(decoded.dimensions(), (10, 12));
        assert_eq!(decoded.get_pixel(0, 0).0, [196, 208, 220], "background");
        assert_eq!(decoded.get_pixel(3, 3).0, [30, 70, 200], "hat");
        assert_eq!(decoded.get_pixel(5, 10).0, [200, 30, 30], "clothes");
        assert_eq!(decoded.get_pixel(6, 10).0, [196, 208, 220], "right of the person");
    }

    #[test]
    fn a_large_png_spans_several_stored_blocks_and_still_decodes() {
        let bytes = png(&Scene::default(), 300, 200).expect("png");
        assert!(bytes.len() > 2 * 65_535, "three blocks");
        let decoded = image::load_from_memory(&bytes).expect("a valid png").to_rgb8();
        assert_eq!(decoded.dimensions(), (300, 200));
        assert!(decoded.pixels().all(|p| p.0 == [196, 208, 220]));
    }

    #[test]
    fn the_png_carries_its_scene_in_a_text_chunk() {
        let bytes = png(&worker(), 10, 12).expect("png");
        let needle = [PNG_KEYWORD, b"\0", &worker().to_json()].concat();
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        assert!(bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn sizes_outside_the_drawable_range_are_refused() {
        for (w, h) in [(0, 5), (5, 0), (MAX_SIDE + 1, 5)] {
            let err = png(&Scene::default(), w, h).expect_err("refused");
            assert!(err.contains("each side must be"), "{err}");
        }
    }

    #[test]
    fn ground_truth_added_to_a_png_keeps_it_decodable() {
        let plain = encode_png(2, 2, &[9; 12], None);
        let bytes = with_ground_truth(&plain, &worker()).expect("embedded");
        let decoded = image::load_from_memory(&bytes).expect("a valid png").to_rgb8();
        assert!(decoded.pixels().all(|p| p.0 == [9, 9, 9]));
        assert!(bytes.windows(PNG_KEYWORD.len() + 1).any(|w| w == b"ctyun-mock\0"));
        assert!(with_ground_truth(b"\x89PNG\r\n\x1a\nshort", &worker()).is_err());
    }

    #[test]
    fn ground_truth_goes_in_a_jpeg_comment_or_a_trailer() {
        let jpeg = with_ground_truth(&[0xff, 0xd8, 0xff, 0xd9], &Scene::default()).expect("jpeg");
        assert_eq!(jpeg, [&[0xff, 0xd8, 0xff, 0xfe, 0, 15][..], b"ctyun-mock:{}", &[0xff, 0xd9]].concat());
        let bmp = with_ground_truth(b"BM....", &Scene::default()).expect("bmp");
        assert_eq!(bmp, b"BM....ctyun-mock:{}");
        let huge = Scene { action: Some("x".repeat(70_000)), ..Scene::default() };
        assert!(with_ground_truth(&[0xff, 0xd8], &huge).expect_err("too large").contains("use a png"));
    }
}
