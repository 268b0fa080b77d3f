use super::*;
use crate::vision::compose::compose;
use crate::vision::scene::Scene;
use crate::vision::{dimensions, sniff, Sniffed};

fn composed(format: ImageFormat) -> Vec<u8> {
    compose(&Scene::default(), 160, 120, format).expect("compose")
}

fn refused(bytes: &[u8], format: ImageFormat) -> String {
    check(bytes, format).expect_err("a damaged image is refused")
}

/// The PNG's chunks rewritten by `edit` (`None` drops one), with lengths and CRCs fixed.
pub(crate) fn rewrite_png(png: &[u8], mut edit: impl FnMut(&[u8; 4], &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = png[..8].to_vec();
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().expect("4 bytes");
        if let Some(data) = edit(&kind, &png[at + 8..at + 8 + len]) {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&kind);
            crc.update(&data);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(&kind);
            out.extend_from_slice(&data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        }
        at += 12 + len;
    }
    out
}

#[test]
fn every_fixture_and_scenario_image_passes() {
    for dir in ["images", "scenes"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/").to_string() + dir;
        for entry in std::fs::read_dir(&path).expect("fixtures dir") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("image");
            if let Sniffed::Known(format) = sniff(&bytes) {
                assert_eq!(check(&bytes, format), Ok(()), "{}", path.display());
            }
        }
    }
}

#[test]
fn every_composed_format_passes_at_several_sizes() {
    for format in [ImageFormat::Png, ImageFormat::Jpg, ImageFormat::Bmp, ImageFormat::Gif, ImageFormat::Tif] {
        for (w, h) in [(1, 1), (7, 3), (160, 120), (961, 401)] {
            let bytes = compose(&Scene::default(), w, h, format).expect("compose");
            assert_eq!(check(&bytes, format), Ok(()), "{format:?} {w}x{h}");
        }
    }
}

#[test]
fn a_png_without_pixel_data_is_refused() {
    let png = composed(ImageFormat::Png);
    let no_idat = rewrite_png(&png, |kind, data| (kind != b"IDAT").then(|| data.to_vec()));
    assert_eq!(refused(&no_idat, ImageFormat::Png), "the png has no pixel data (no IDAT chunk)");
    let zeroed =
        rewrite_png(&png, |kind, data| Some(if kind == b"IDAT" { vec![0; data.len()] } else { data.to_vec() }));
    assert!(refused(&zeroed, ImageFormat::Png).contains("not a valid zlib stream"));
    let half = rewrite_png(&png, |kind, data| {
        Some(if kind == b"IDAT" { data[..data.len() / 2].to_vec() } else { data.to_vec() })
    });
    assert!(refused(&half, ImageFormat::Png).contains("inflates to"), "{}", refused(&half, ImageFormat::Png));
}

#[test]
fn a_png_changed_without_its_crc_or_cut_short_is_refused() {
    let mut png = composed(ImageFormat::Png);
    let idat = png.windows(4).position(|w| w == b"IDAT").expect("idat");
    png[idat + 10] ^= 0xff;
    assert_eq!(
        refused(&png, ImageFormat::Png),
        "the png's IDAT chunk fails its crc check: its data was changed or damaged"
    );
    let png = composed(ImageFormat::Png);
    assert!(refused(&png[..png.len() - 20], ImageFormat::Png).contains("cut short"));
}

#[test]
fn a_png_whose_rows_have_a_bad_filter_type_is_refused() {
    use std::io::Write;
    // 2×2 grey, 8 bits: rows of 1 + 2 bytes; the second row's filter type is 9.
    let raw = [0, 10, 20, 9, 30, 40];
    let mut z = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
    let ihdr = [0, 0, 0, 2, 0, 0, 0, 2, 8, 0, 0, 0, 0];
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr.to_vec()), (b"IDAT", std::mem::take(&mut z)), (b"IEND", Vec::new())] {
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(&data);
        png.write_all(&(data.len() as u32).to_be_bytes()).expect("write");
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    assert_eq!(
        refused(&png, ImageFormat::Png),
        "the png's row 2 has filter type 9; rows have 0–4: the pixel data is damaged"
    );
}

#[test]
fn a_jpeg_cut_before_or_inside_its_scan_is_refused() {
    let jpg = composed(ImageFormat::Jpg);
    let sos = jpg.windows(2).position(|w| w == [0xff, 0xda]).expect("sos");
    assert_eq!(
        refused(&jpg[..sos], ImageFormat::Jpg),
        "the jpg ends before its scan (no SOS segment): it has no pixel data"
    );
    assert!(refused(&jpg[..jpg.len() - 2], ImageFormat::Jpg).contains("without an end-of-image marker"));
    let mut no_scan = jpg[..sos].to_vec();
    no_scan.extend_from_slice(&[0xff, 0xd9]);
    assert!(refused(&no_scan, ImageFormat::Jpg).contains("before any scan"));
}

#[test]
fn a_bmp_gif_or_tif_cut_short_is_refused() {
    for format in [ImageFormat::Bmp, ImageFormat::Gif, ImageFormat::Tif] {
        let mut bytes = compose(&Scene::default(), 160, 120, format).expect("compose");
        let marker = bytes.windows(11).position(|w| w == b"ctyun-mock:").expect("trailer");
        bytes.truncate(marker - 40);
        assert!(refused(&bytes, format).contains("cut short"), "{format:?}: {}", refused(&bytes, format));
    }
}

#[test]
fn a_gif_without_an_image_is_refused() {
    let gif = composed(ImageFormat::Gif);
    let packed = gif[10];
    let mut empty = gif[..13 + colour_table(packed)].to_vec();
    empty.push(0x3b);
    assert_eq!(
        refused(&empty, ImageFormat::Gif),
        "the gif has no image in it (no image descriptor): it has no pixel data"
    );
}

#[test]
fn a_top_down_bmp_has_its_real_height() {
    let mut bmp = compose(&Scene::default(), 320, 240, ImageFormat::Bmp).expect("compose");
    bmp[22..26].copy_from_slice(&(-240i32).to_le_bytes());
    assert_eq!(dimensions(&bmp), Some((320, 240)));
    assert_eq!(check(&bmp, ImageFormat::Bmp), Ok(()));
}
