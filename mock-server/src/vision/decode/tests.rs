use super::*;

fn scene(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenes").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_scene_image_decodes_in_full() {
    for (name, format) in [
        ("workers.jpg", ImageFormat::Jpg),
        ("workers.gif", ImageFormat::Gif),
        ("workers.bmp", ImageFormat::Bmp),
        ("fence-fail.png", ImageFormat::Png),
        ("face-good.jpg", ImageFormat::Jpg),
        ("face-none.bmp", ImageFormat::Bmp),
    ] {
        assert_eq!(check(&scene(name), format), Ok(()), "{name}");
    }
}

/// Noise that compresses poorly: `n` bytes from a xorshift generator.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn encode(format: image::ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_raw(w, h, noise((w * h * 3) as usize)).expect("size");
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// The PNG's IDAT data joined, edited, and written back as one IDAT chunk with its length
/// and CRC rewritten to match.
fn edit_idat(png: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (mut head, mut data, mut tail) = (png[..8].to_vec(), Vec::new(), Vec::new());
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let chunk = &png[at..at + 12 + len];
        match &chunk[4..8] {
            b"IDAT" => data.extend_from_slice(&chunk[8..8 + len]),
            _ if data.is_empty() => head.extend_from_slice(chunk),
            _ => tail.extend_from_slice(chunk),
        }
        at += 12 + len;
    }
    edit(&mut data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"IDAT");
    crc.update(&data);
    head.extend_from_slice(&(data.len() as u32).to_be_bytes());
    head.extend_from_slice(b"IDAT");
    head.extend_from_slice(&data);
    head.extend_from_slice(&crc.finalize().to_be_bytes());
    head.extend_from_slice(&tail);
    head
}

fn gradient_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 + y) as u8, (y * 3) as u8, (x ^ y) as u8]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

/// A JPEG of noise with 64 bytes in the middle of its scan replaced by stuffed `FF 00`
/// pairs: all ones, a code no Huffman table holds.
fn jpeg_with_bad_huffman_codes() -> Vec<u8> {
    let mut jpg = encode(image::ImageFormat::Jpeg, 256, 256);
    let sos = jpg.windows(2).position(|w| w == [0xff, 0xda]).expect("a scan");
    let mid = sos + (jpg.len() - sos) / 2;
    for pair in jpg[mid..mid + 64].chunks_exact_mut(2) {
        pair.copy_from_slice(&[0xff, 0x00]);
    }
    jpg
}

/// A GIF of noise with 40 bytes in the middle of its LZW data set to `FF`: codes beyond
/// the table.
fn gif_with_bad_lzw_codes() -> Vec<u8> {
    let mut gif = encode(image::ImageFormat::Gif, 64, 64);
    let mid = gif.len() / 2;
    gif[mid..mid + 40].fill(0xff);
    gif
}

fn structure_and_full(bytes: &[u8], format: ImageFormat) -> (Result<(), String>, Result<(), String>) {
    (crate::vision::integrity::check(bytes, format), check(bytes, format))
}

#[test]
fn a_png_cut_or_corrupt_past_what_the_structure_check_inflates_fails_only_the_full_decode() {
    let png = gradient_png(1024, 1024);
    let cut = edit_idat(&png, |d| d.truncate(d.len() / 2));
    let (structure, full) = structure_and_full(&cut, ImageFormat::Png);
    assert_eq!(structure, Ok(()));
    assert_eq!(
        full,
        Err("the png cannot be decoded: Format error decoding Png: Corrupt deflate stream. InsufficientInput"
            .to_string())
    );
    let corrupt = edit_idat(&png, |d| {
        let mid = d.len() / 2;
        d[mid..mid + 64].fill(0xff);
    });
    let (structure, full) = structure_and_full(&corrupt, ImageFormat::Png);
    assert_eq!(structure, Ok(()));
    assert_eq!(
        full,
        Err("the png cannot be decoded: Format error decoding Png: Corrupt deflate stream. InvalidDistanceCode"
            .to_string())
    );
}

#[test]
fn a_jpeg_with_bad_huffman_codes_fails_the_strict_decode_that_a_lenient_one_paints_over() {
    let jpg = jpeg_with_bad_huffman_codes();
    assert!(image::load_from_memory(&jpg).is_ok(), "the image crate's lenient decoder accepts it");
    let (structure, full) = structure_and_full(&jpg, ImageFormat::Jpg);
    assert_eq!(structure, Ok(()));
    assert_eq!(full, Err("the jpg cannot be decoded: \"Bad Huffman Code 0xFFFF, corrupt JPEG\"".to_string()));
}

#[test]
fn a_gif_with_bad_lzw_codes_fails_only_the_full_decode() {
    let (structure, full) = structure_and_full(&gif_with_bad_lzw_codes(), ImageFormat::Gif);
    assert_eq!(structure, Ok(()));
    assert_eq!(
        full,
        Err("the gif cannot be decoded: Format error decoding Gif: invalid code in LZW stream".to_string())
    );
}

#[test]
fn a_header_promising_more_than_the_bound_is_refused_before_decoding() {
    // A 1×1 PNG whose IHDR (CRC rewritten) says 10000×10000 RGB: 300,000,000 bytes.
    let mut png = encode(image::ImageFormat::Png, 1, 1);
    png[16..24].copy_from_slice(&[0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10]);
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(check(&png, ImageFormat::Png), Err("the png cannot be decoded: its 10000×10000 pixels take 300000000 bytes decoded, more than the 134217728 bytes a full decode allows".to_string()));
    // A JPEG's frame header saying the same.
    let mut jpg = encode(image::ImageFormat::Jpeg, 8, 8);
    let sof = jpg.windows(2).position(|w| w == [0xff, 0xc0]).expect("a baseline frame");
    jpg[sof + 5..sof + 9].copy_from_slice(&[0x27, 0x10, 0x27, 0x10]);
    assert_eq!(check(&jpg, ImageFormat::Jpg), Err("the jpg cannot be decoded: its 10000×10000 pixels take 300000000 bytes decoded, more than the 134217728 bytes a full decode allows".to_string()));
}
