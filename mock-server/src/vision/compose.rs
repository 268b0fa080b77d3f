//! Writes scenario images for `mock-server make-image`: a simple drawing of the scene
//! (people as coloured blocks, faces as skin-coloured squares) in any accepted format,
//! with the scene embedded as ground truth where [`super::scene`] reads it.

use std::io::Cursor;

use image::{ImageFormat as Encoder, Rgb, RgbImage};

use super::scene::{Scene, MARKER, PNG_KEYWORD};
use super::ImageFormat;

/// Draws `scene` on a `width`×`height` canvas and encodes it with the scene embedded.
pub fn compose(scene: &Scene, width: u32, height: u32, format: ImageFormat) -> Result<Vec<u8>, String> {
    if width == 0 || height == 0 || width > 8192 || height > 8192 {
        return Err(format!("size {width}x{height}: each side must be 1–8192 pixels"));
    }
    scene.check()?;
    let canvas = draw(scene, width, height);
    let encoder = match format {
        ImageFormat::Png => Encoder::Png,
        ImageFormat::Jpg => Encoder::Jpeg,
        ImageFormat::Bmp => Encoder::Bmp,
        ImageFormat::Gif => Encoder::Gif,
        ImageFormat::Tif => Encoder::Tiff,
    };
    let mut bytes = Vec::new();
    canvas.write_to(&mut Cursor::new(&mut bytes), encoder).map_err(|e| format!("cannot encode the image: {e}"))?;
    let json = serde_json::to_vec(scene).map_err(|e| e.to_string())?;
    match format {
        ImageFormat::Png => png_with_text(&bytes, &json),
        ImageFormat::Jpg => jpeg_with_comment(&bytes, &json),
        _ => {
            bytes.extend_from_slice(MARKER);
            bytes.extend_from_slice(&json);
            Ok(bytes)
        }
    }
}

fn draw(scene: &Scene, width: u32, height: u32) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([196, 208, 220]));
    let mut fill = |l: u32, t: u32, w: u32, h: u32, colour: [u8; 3]| {
        for y in t.min(height)..(t + h).min(height) {
            for x in l.min(width)..(l + w).min(width) {
                canvas.put_pixel(x, y, Rgb(colour));
            }
        }
    };
    for p in &scene.people {
        let [l, t, w, h] = p.bbox;
        fill(l, t + h / 5, w, h - h / 5, colour(p.clothes.as_deref().unwrap_or("grey")));
        fill(l + w / 4, t, w / 2, h / 5, [230, 200, 170]);
        if let Some(hat) = &p.hat {
            fill(l + w / 5, t, w - 2 * (w / 5), (h / 12).max(1), colour(hat));
        }
    }
    let faces = scene.faces();
    for (i, _) in faces.iter().enumerate() {
        let side = (width.min(height) / 3).max(1);
        let step = width / (faces.len() as u32 + 1);
        fill((step * (i as u32 + 1)).saturating_sub(side / 2), height / 3, side, side, [235, 195, 160]);
    }
    canvas
}

fn colour(name: &str) -> [u8; 3] {
    match name.trim_end_matches("_hat") {
        "blue" => [30, 70, 200],
        "white" | "light" => [245, 245, 245],
        "yellow" => [240, 200, 20],
        "red" => [200, 30, 30],
        "dark" => [40, 40, 40],
        _ => [120, 120, 120],
    }
}

/// Inserts a `tEXt` chunk (`ctyun-mock\0{json}`) just before `IEND`.
fn png_with_text(png: &[u8], json: &[u8]) -> Result<Vec<u8>, String> {
    let iend = png
        .len()
        .checked_sub(12)
        .filter(|&at| &png[at + 4..at + 8] == b"IEND")
        .ok_or("the encoder wrote no IEND chunk")?;
    let mut data = PNG_KEYWORD.to_vec();
    data.push(0);
    data.extend_from_slice(json);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"tEXt");
    crc.update(&data);
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    Ok([&png[..iend], &chunk, &png[iend..]].concat())
}

/// Inserts a comment segment (`ctyun-mock:{json}`) right after the start-of-image marker.
fn jpeg_with_comment(jpeg: &[u8], json: &[u8]) -> Result<Vec<u8>, String> {
    let len = 2 + MARKER.len() + json.len();
    let len =
        u16::try_from(len).map_err(|_| "the scene is too large for a JPEG comment (64 KiB); use png".to_string())?;
    let mut out = Vec::with_capacity(jpeg.len() + usize::from(len) + 2);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(MARKER);
    out.extend_from_slice(json);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::scene::{embedded, Face, Person};
    use crate::vision::{dimensions, sniff, Sniffed};

    #[test]
    fn every_format_carries_its_scene_and_stays_a_valid_image() {
        let scene = Scene {
            people: vec![Person {
                bbox: [10, 20, 40, 100],
                hat: Some("blue_hat".into()),
                clothes: Some("blue".into()),
            }],
            faces: Some(vec![Face { quality: "medium".into(), spoof: true }]),
            action: Some("shake".into()),
            fall: Some(0.9),
            fight: None,
            fault: Some(5001),
            delay_ms: Some(20),
            fence_fail: true,
        };
        for format in [ImageFormat::Png, ImageFormat::Jpg, ImageFormat::Bmp, ImageFormat::Gif, ImageFormat::Tif] {
            let bytes = compose(&scene, 160, 120, format).expect("compose");
            assert_eq!(sniff(&bytes), Sniffed::Known(format));
            assert_eq!(dimensions(&bytes), Some((160, 120)), "{format:?}");
            assert_eq!(embedded(&bytes).as_ref(), Some(&scene), "{format:?}");
            image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{format:?} does not decode: {e}"));
        }
    }
}
