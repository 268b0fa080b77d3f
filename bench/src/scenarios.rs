//! The requests each scenario sends, signed for an account made for the benchmark (with a
//! package large enough that metering never runs out), and the 5 MB cost comparison.

use std::net::SocketAddr;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use contract_tests::{fixtures, signer, Client, Signer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::load::{Summary, Template};
use crate::servers::Server;

/// A benchmark account on the emulator.
pub struct Setup {
    signer: Signer,
    appkey: String,
}

impl Setup {
    pub async fn new(emulator: &Server) -> Setup {
        let admin = Client::new(emulator.addr, "", "", "");
        let (_, account) = admin.control("POST", "accounts", Value::Null).await;
        let (ak, sk) = (account["ak"].as_str().unwrap_or_default(), account["sk"].as_str().unwrap_or_default());
        let (_, app) = admin.control("POST", &format!("accounts/{ak}/apps"), json!({"name": "benchmark"})).await;
        let appkey = app["appkey"].as_str().unwrap_or_default().to_string();
        for api in ["hat", "fence", "face_quality", "fall"] {
            admin.control("POST", &format!("apps/{appkey}/apis/{api}"), Value::Null).await;
        }
        for api in ["hat", "fence"] {
            admin
                .control("POST", &format!("apps/{appkey}/apis/{api}/packages"), json!({"calls": 1_000_000_000u64}))
                .await;
        }
        Setup { signer: Signer::new(ak, sk), appkey }
    }

    /// The account's access key.
    pub fn ak(&self) -> &str {
        &self.signer.ak
    }

    /// The signed request of `scenario` (valid for the 15-minute date window from now).
    pub fn request(&self, scenario: &str, addr: SocketAddr) -> Template {
        let (endpoint, body) = body(scenario);
        self.signed(endpoint, Bytes::from(body), addr, &self.signer)
    }

    /// `body` to `endpoint`, signed with this account's key (a right signature) or with
    /// another secret key (a wrong one: the server's diagnosis of it is part of the cost).
    pub fn sign_body(&self, endpoint: &str, body: Bytes, addr: SocketAddr, right: bool) -> Template {
        let wrong = Signer::new(&self.signer.ak, "not-the-secret-key");
        self.signed(endpoint, body, addr, if right { &self.signer } else { &wrong })
    }

    fn signed(&self, endpoint: &str, body: Bytes, addr: SocketAddr, signer: &Signer) -> Template {
        let path = fixtures::path(endpoint);
        let date = signer::eop_date(signer::unix_now(), 8);
        let id = "bench-request";
        let signed = signer.sign(&date, &[("ctyun-eop-request-id", id), ("eop-date", &date)], "", &body);
        let headers = vec![
            ("host".into(), addr.to_string()),
            ("content-type".into(), "application/json".into()),
            ("ctyun-eop-request-id".into(), id.into()),
            ("eop-date".into(), date),
            ("appkey".into(), self.appkey.clone()),
            ("eop-authorization".into(), signed.authorization),
        ];
        Template { path, headers, body }
    }
}

fn scene(name: &str) -> String {
    STANDARD.encode(std::fs::read(fixtures::dir().join("scenes").join(name)).unwrap_or_default())
}

/// A valid PNG padded with zeros so its base64 is `chars` long.
fn padded_png(chars: usize) -> String {
    let mut bytes = fixtures::image("scene-96x64.png");
    bytes.resize(chars / 4 * 3, 0);
    STANDARD.encode(bytes)
}

/// A 32×32 PNG of deterministic noise, about 3 KB: no tEXt chunk, no ground truth, and
/// not in `fixtures/scenes.json` — a user's own image, as the emulator sees most of them.
pub fn plain_png() -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let pixels = image::RgbImage::from_fn(32, 32, |_, _| {
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        image::Rgb([next(), next(), next()])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    // Encoding an in-memory buffer of the right size cannot fail.
    let _ = pixels.write_to(&mut png, image::ImageFormat::Png);
    png.into_inner()
}

const FIVE_MB_CHARS: usize = 5 * 1024 * 1024 - 16;

/// The endpoint and body of a named scenario.
pub fn body(scenario: &str) -> (&'static str, Vec<u8>) {
    let plain = || STANDARD.encode(plain_png());
    let (endpoint, body) = match scenario {
        "small-free" => ("face_quality", json!({"imageContent": scene("face-good.jpg")})),
        "small-free-plain" => ("face_quality", json!({"imageContent": plain()})),
        "small-metered" | "raw-hyper" => ("hat", json!({"image": scene("face-good.jpg")})),
        "small-metered-plain" => ("hat", json!({"image": plain()})),
        "hat-1mb" => ("hat", json!({"image": padded_png(1024 * 1024)})),
        "hat-5mb" | "raw-5mb" => ("hat", json!({"image": padded_png(FIVE_MB_CHARS)})),
        "fence-32" => ("fence", json!({"image": vec![scene("workers.png"); 32], "area": "0,0,160,0,160,240,0,240"})),
        "fall-64" => ("fall", json!({"images": vec![scene("fall-01.jpg"); 64]})),
        other => panic!("no scenario {other}"),
    };
    (endpoint, body.to_string().into_bytes())
}

/// `{"images":[0,0,…,0]}` of about `bytes` bytes: a list whose elements cost nothing to
/// send, sized near the fall endpoint's 250 MiB body limit.
pub fn zeros_body(bytes: usize) -> Bytes {
    let elements = bytes.saturating_sub(13) / 2;
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(b"{\"images\":[");
    for _ in 1..elements {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    Bytes::from(body)
}

/// Medians of 15 runs, in ms: SHA-256 of `scenario`'s body, and base64-decoding its image.
pub fn hash_and_decode(scenario: &str) -> (f64, f64) {
    let (_, body) = body(scenario);
    let image = if scenario == "hat-1mb" { padded_png(1024 * 1024) } else { padded_png(FIVE_MB_CHARS) };
    let time = |f: &dyn Fn()| {
        let mut runs: Vec<f64> = (0..15)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let hash = time(&|| {
        std::hint::black_box(Sha256::digest(&body));
    });
    let decode = time(&|| {
        std::hint::black_box(base64_simd::STANDARD.decode_to_vec(&image).map(|v| v.len()).unwrap_or_default());
    });
    (hash, decode)
}

/// Compares what a 5 MB hard-hat call costs the server beyond reading its body (hat-5mb
/// minus raw-5mb, medians, one connection each) with hashing and decoding it alone.
pub fn five_mb_cost(rows: &[(String, Summary)]) {
    let median = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| r.1.percentile(0.5));
    let (Some(hat), Some(raw)) = (median("hat-5mb"), median("raw-5mb")) else { return };
    let (_, body) = body("hat-5mb");
    let image = padded_png(FIVE_MB_CHARS);
    let mut runs: Vec<f64> = (0..15)
        .map(|_| {
            let started = Instant::now();
            let digest = Sha256::digest(&body);
            let decoded = STANDARD.decode(&image).unwrap_or_default();
            std::hint::black_box((digest, decoded.len()));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let alone = runs[runs.len() / 2];
    let extra = hat - raw;
    println!("5 MB image: server p50 {hat:.2} ms, raw read p50 {raw:.2} ms, extra {extra:.2} ms; hash + decode alone {alone:.2} ms; ratio {:.2} (target ≤ 2) [in-process]", extra / alone);
}
