//! `full_decode = true` (`--full-decode`): the images that only a full decode tells from
//! sound ones (docs/decisions.md) answer code 0 by default and the endpoint's
//! decode-failure code with the flag.

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use contract_tests::fixtures;
use mock_server::Config;
use rstest::rstest;
use serde_json::{json, Value};

use crate::util::{start_with, TestServer};

/// Noise from a xorshift generator: it compresses poorly, so files are large.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn encode(image: image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn noisy(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let pixels = noise((width * height * 3) as usize);
    encode(image::RgbImage::from_raw(width, height, pixels).expect("size"), format)
}

/// A 1024×1024 PNG (3 MiB of pixel data, far past the 64 KiB the default check inflates)
/// whose deflate stream is edited past its middle, lengths and CRCs rewritten to match.
fn large_png(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(1024, 1024, |x, y| image::Rgb([(x * 7 + y) as u8, (y * 3) as u8, (x ^ y) as u8]));
    let png = encode(image, image::ImageFormat::Png);
    let (mut out, mut data, mut tail) = (png[..8].to_vec(), Vec::new(), Vec::new());
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let chunk = &png[at..at + 12 + len];
        match &chunk[4..8] {
            b"IDAT" => data.extend_from_slice(&chunk[8..8 + len]),
            _ if data.is_empty() => out.extend_from_slice(chunk),
            _ => tail.extend_from_slice(chunk),
        }
        at += 12 + len;
    }
    edit(&mut data);
    out.extend_from_slice(&contract_tests::image::png_chunk(b"IDAT", &data));
    out.extend_from_slice(&tail);
    out
}

/// The damaged images, by case name.
fn damaged(case: &str) -> Vec<u8> {
    match case {
        "png_cut_past_64_kib" => large_png(|d| d.truncate(d.len() / 2)),
        "png_corrupt_past_64_kib" => large_png(|d| {
            let mid = d.len() / 2;
            d[mid..mid + 64].fill(0xff);
        }),
        // 64 bytes of the scan set to stuffed `FF 00` pairs: all ones, a code no table holds.
        "jpg_bad_huffman_codes" => {
            let mut jpg = noisy(256, 256, image::ImageFormat::Jpeg);
            let sos = jpg.windows(2).position(|w| w == [0xff, 0xda]).expect("a scan");
            let mid = sos + (jpg.len() - sos) / 2;
            for pair in jpg[mid..mid + 64].chunks_exact_mut(2) {
                pair.copy_from_slice(&[0xff, 0x00]);
            }
            jpg
        }
        // 40 bytes of LZW data set to `FF`: codes beyond the table.
        "gif_bad_lzw_codes" => {
            let mut gif = noisy(64, 64, image::ImageFormat::Gif);
            let mid = gif.len() / 2;
            gif[mid..mid + 40].fill(0xff);
            gif
        }
        other => panic!("no case {other}"),
    }
}

/// The endpoint's body carrying `image` as its one image.
fn body(endpoint: &str, image: &[u8]) -> String {
    let b64 = STANDARD.encode(image);
    let body: Value = match endpoint {
        "fence" => json!({"image": [b64], "area": "0,0,10,0,10,10"}),
        "fall" | "fight" => json!({"images": [b64]}),
        _ => json!({"image": b64}),
    };
    body.to_string()
}

async fn server(full_decode: bool) -> TestServer {
    start_with(Config { full_decode, ..Config::default() }).await
}

#[rstest]
#[case::png_cut_on_hat("png_cut_past_64_kib", "hat", 4003, "the png cannot be decoded: ")]
#[case::png_corrupt_on_fall("png_corrupt_past_64_kib", "fall", 4015, "the png cannot be decoded: ")]
#[case::jpg_on_fence("jpg_bad_huffman_codes", "fence", 4009, "the jpg cannot be decoded: ")]
#[case::jpg_on_fight("jpg_bad_huffman_codes", "fight", 4015, "the jpg cannot be decoded: ")]
#[case::gif_on_clothes("gif_bad_lzw_codes", "clothes", 4003, "the gif cannot be decoded: ")]
#[tokio::test]
async fn an_image_only_a_decode_finds_damaged_passes_by_default_and_fails_the_full_decode(
    #[case] case: &str,
    #[case] endpoint: &str,
    #[case] code: u32,
    #[case] reason: &str,
) {
    let body = body(endpoint, &damaged(case));
    let default = server(false).await;
    let reply = default.client.post(&fixtures::path(endpoint), body.clone()).await;
    assert_eq!((reply.status, reply.code()), (200, 0), "{case}: {}", reply.reason());

    let full = server(true).await;
    let reply = full.client.post(&fixtures::path(endpoint), body).await;
    let entry = fixtures::error(endpoint, code);
    let expected_code = if entry["string_code"] == true { json!(code.to_string()) } else { json!(code) };
    assert_eq!(reply.json()["code"], expected_code, "{case}: {}", reply.reason());
    assert_eq!(reply.status, entry["status"].as_u64().unwrap_or(0) as u16);
    assert!(reply.reason().contains(reason), "{case}: reason {:?} lacks {reason:?}", reply.reason());
}

#[tokio::test]
async fn the_full_decode_answers_sound_images_as_the_default_does() {
    let png = noisy(640, 480, image::ImageFormat::Png);
    let full = server(true).await;
    for (endpoint, image) in [("hat", png.as_slice()), ("fence", &noisy(64, 64, image::ImageFormat::Jpeg))] {
        let reply = full.client.post(&fixtures::path(endpoint), body(endpoint, image)).await;
        assert_eq!((reply.status, reply.code()), (200, 0), "{endpoint}: {}", reply.reason());
    }
}

#[tokio::test]
async fn full_decode_in_the_config_file_turns_it_on() {
    let config = Config::from_toml("test.toml", "full_decode = true").expect("a valid config");
    assert!(config.full_decode);
    let s = start_with(config).await;
    let reply = s.client.post(&fixtures::path("hat"), body("hat", &damaged("gif_bad_lzw_codes"))).await;
    assert_eq!(reply.code(), 4003, "{}", reply.reason());
}
