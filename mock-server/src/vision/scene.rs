//! What the emulated "AI" sees in an image, in this precedence:
//! 1. ground truth carried by the image itself: JSON in a PNG `tEXt` chunk with keyword
//!    `ctyun-mock`, in a JPEG comment (`COM`) starting `ctyun-mock:`, or — for any
//!    format — a trailer at the very end of the file: `ctyun-mock:{json}`;
//! 2. the catalogue `fixtures/scenes.json`, keyed by the image's CRC-32 and length
//!    (`image::fingerprint`: 16 hex digits);
//! 3. otherwise a deterministic scene derived from the bytes and plausible for the size.
//!
//! `mock-server make-image` writes such images; nobody edits metadata by hand.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use memchr::memmem;
use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// The marker that introduces ground truth in a comment or trailer.
pub const MARKER: &[u8] = b"ctyun-mock:";
/// The PNG `tEXt` keyword that holds ground truth.
pub const PNG_KEYWORD: &[u8] = b"ctyun-mock";
/// How far from the end a trailer is looked for.
const TRAILER_WINDOW: usize = 64 * 1024;

const SCENES_JSON: &str = include_str!("../../../fixtures/scenes.json");

/// A scene: people, faces and the action or event the image shows. Fields left out take
/// their defaults (no people; one good, real face; no action; no fall, no fight).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faces: Option<Vec<Face>>,
    /// The head movement this frame shows: shake, up, down, left, right, mouth, eye.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fight: Option<f64>,
    /// A capability error code the endpoint answers instead (5000, 5001, 5002, …): how to
    /// reproduce failures the real service will not produce on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<u32>,
    /// How long the endpoint takes to answer for this image, in milliseconds (at most a
    /// minute): to test client timeouts and concurrency limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// In an e-fence batch, this image fails inside the batch's successful answer
    /// (counted in `message.fail`); other endpoints ignore it. See `docs/faults.md`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fence_fail: bool,
}

/// A person: `[left, top, width, height]` in pixels, with what they wear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    /// A hard-hat class (`blue_hat`, …); none for a bare head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hat: Option<String>,
    /// A work-clothes class (`blue`, `light`, …); none for other clothes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clothes: Option<String>,
}

/// A face: its quality and whether it is a spoof (a photo or a screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Face {
    #[serde(default = "good")]
    pub quality: String,
    #[serde(default)]
    pub spoof: bool,
}

fn good() -> String {
    "good".into()
}

impl Face {
    pub fn good() -> Face {
        Face { quality: good(), spoof: false }
    }
}

impl Scene {
    /// The faces in the scene: as declared, or one good real face.
    pub fn faces(&self) -> Vec<Face> {
        self.faces.clone().unwrap_or_else(|| vec![Face::good()])
    }

    /// Checks a scene's values, for `make-image` and for the catalogue.
    pub fn check(&self) -> Result<(), String> {
        for f in self.faces.iter().flatten() {
            if !["good", "medium", "bad"].contains(&f.quality.as_str()) {
                return Err(format!("face quality `{}` is not good, medium or bad", f.quality));
            }
        }
        for (name, score) in [("fall", self.fall), ("fight", self.fight)] {
            if score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
                return Err(format!("{name} is a score in [0, 1]"));
            }
        }
        if self.delay_ms.is_some_and(|d| d > MAX_DELAY_MS) {
            return Err(format!("delay is at most {MAX_DELAY_MS} ms"));
        }
        if self.fault.is_some_and(|c| !(4000..6000).contains(&c)) {
            return Err("fault is a capability error code, 4000–5999".into());
        }
        if let Some(action) = &self.action {
            if !ACTIONS.contains(&action.as_str()) {
                return Err(format!("action `{action}` is not one of {}", ACTIONS.join(", ")));
            }
        }
        Ok(())
    }

    /// [`Scene::check`], and every person's box non-empty and inside a `width`×`height`
    /// image: what ground truth carried by a request's image must pass.
    pub fn check_in(&self, width: u32, height: u32) -> Result<(), String> {
        self.check()?;
        for (i, p) in self.people.iter().enumerate() {
            let [left, top, w, h] = p.bbox;
            let right = left.checked_add(w).filter(|r| *r <= width);
            let bottom = top.checked_add(h).filter(|b| *b <= height);
            if w == 0 || h == 0 || right.is_none() || bottom.is_none() {
                return Err(format!(
                    "person {}'s box {:?} is not a non-empty [left, top, width, height] inside the {width}x{height} image",
                    i + 1,
                    p.bbox
                ));
            }
        }
        Ok(())
    }
}

/// The longest delay an image may ask for.
pub const MAX_DELAY_MS: u64 = 60_000;

/// The head movements the liveness endpoints look for.
pub const ACTIONS: [&str; 7] = ["shake", "up", "down", "left", "mouth", "eye", "right"];

/// Where a scene came from, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Image,
    Catalogue,
    Derived,
}

/// The catalogue's key of an image: the first 8 bytes of its fingerprint in lowercase hex
/// (its CRC-32 and length).
fn key(digest: &[u8; 32]) -> String {
    use std::fmt::Write;
    let mut key = String::with_capacity(16);
    for b in &digest[..8] {
        let _ = write!(key, "{b:02x}");
    }
    key
}

/// What the image shows: its own ground truth, else the catalogue's, else a derived scene.
/// `digest` gives the image's fingerprint (`image::fingerprint`); it is asked for only
/// when the image carries no ground truth.
pub fn perceive(image: &[u8], digest: impl FnOnce() -> [u8; 32], width: u32, height: u32) -> (Scene, Source) {
    if let Some(scene) = embedded(image) {
        return (scene, Source::Image);
    }
    let digest = digest();
    if let Some(scene) = catalogue().get(&key(&digest)) {
        return (scene.clone(), Source::Catalogue);
    }
    (derived(&digest, width, height), Source::Derived)
}

fn catalogue() -> &'static HashMap<String, Scene> {
    static CATALOGUE: OnceLock<HashMap<String, Scene>> = OnceLock::new();
    CATALOGUE.get_or_init(|| serde_json::from_str(SCENES_JSON).unwrap_or_default())
}

/// Ground truth embedded in the image, if any (and if it parses).
pub fn embedded(image: &[u8]) -> Option<Scene> {
    let json = png_text(image).or_else(|| jpeg_comment(image)).or_else(|| trailer(image))?;
    serde_json::from_slice(json).ok()
}

fn png_text(b: &[u8]) -> Option<&[u8]> {
    let mut at = 8;
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    while at + 8 <= b.len() {
        let len = u32::from_be_bytes(b[at..at + 4].try_into().ok()?) as usize;
        let kind = &b[at + 4..at + 8];
        let data = b.get(at + 8..at + 8 + len)?;
        if kind == b"tEXt" && data.starts_with(PNG_KEYWORD) && data.get(PNG_KEYWORD.len()) == Some(&0) {
            return Some(&data[PNG_KEYWORD.len() + 1..]);
        }
        if kind == b"IEND" {
            return None;
        }
        at += 12 + len;
    }
    None
}

fn jpeg_comment(b: &[u8]) -> Option<&[u8]> {
    if !b.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= b.len() && b[at] == 0xff {
        let marker = b[at + 1];
        if marker == 0xda || marker == 0xd9 {
            return None; // image data begins: no more headers
        }
        let len = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        let data = b.get(at + 4..at + 2 + len)?;
        if marker == 0xfe && data.starts_with(MARKER) {
            return Some(&data[MARKER.len()..]);
        }
        at += 2 + len;
    }
    None
}

fn trailer(b: &[u8]) -> Option<&[u8]> {
    static FINDER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(MARKER));
    let tail = &b[b.len().saturating_sub(TRAILER_WINDOW)..];
    // The last marker, found forwards: only the forward search is vectorised (a reverse one
    // read a plain image's every byte in turn), and the marker cannot overlap itself, so
    // the last of its matches is the last place it starts.
    let at = FINDER.find_iter(tail).last()?;
    Some(&tail[at + MARKER.len()..])
}

/// A plausible scene from the image's digest: one to three people inside the frame, most
/// with a hat and work clothes; one good real face; nothing falling, no fight.
fn derived(digest: &[u8], width: u32, height: u32) -> Scene {
    let mut rng = SplitMix64::from_digest(digest);
    let hats = ["blue_hat", "white_hat", "yellow_hat", "red_hat", "other_hat"];
    let clothes = ["light", "blue", "other", "red", "dark", "yellow"];
    let people = (0..1 + rng.below(3))
        .map(|_| {
            let h = (height.saturating_mul(30 + rng.below(31) as u32) / 100).clamp(1, height.max(1));
            let w = (h * 2 / 5).clamp(1, width.max(1));
            let left = rng.below(u64::from(width - w) + 1) as u32;
            let top = rng.below(u64::from(height - h) + 1) as u32;
            let hat = (rng.below(5) > 0).then(|| hats[rng.below(hats.len() as u64) as usize].to_string());
            let wear = (rng.below(5) > 0).then(|| clothes[rng.below(clothes.len() as u64) as usize].to_string());
            Person { bbox: [left, top, w, h], hat, clothes: wear }
        })
        .collect();
    Scene {
        people,
        faces: None,
        action: None,
        fall: Some(rng.below(2000) as f64 / 10_000.0),
        fight: Some(rng.below(2000) as f64 / 10_000.0),
        fault: None,
        delay_ms: None,
        fence_fail: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    proptest::proptest! {
        /// The trailer is found forwards, but where a reverse search finds it: after the last
        /// marker of the window, however many markers and near-misses the bytes hold.
        #[test]
        fn the_trailer_follows_the_last_marker(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                    proptest::strategy::Just(MARKER.to_vec()),
                    proptest::strategy::Just(b"ctyun-mock".to_vec()),
                    proptest::strategy::Just(b"ctyun-mock:ctyun-mock:".to_vec()),
                ],
                0..12,
            )
        ) {
            let image = parts.concat();
            let tail = &image[image.len().saturating_sub(TRAILER_WINDOW)..];
            let reverse = memmem::rfind(tail, MARKER).map(|at| &tail[at + MARKER.len()..]);
            proptest::prop_assert_eq!(trailer(&image), reverse);
        }
    }

    #[test]
    fn reads_ground_truth_from_a_trailer() {
        let mut image = b"BM....pixels".to_vec();
        image.extend_from_slice(b"ctyun-mock:{\"faces\":[]}");
        assert_eq!(embedded(&image), Some(Scene { faces: Some(vec![]), ..Scene::default() }));
    }

    #[test]
    fn the_catalogue_parses() {
        let text = SCENES_JSON;
        let parsed: HashMap<String, Scene> = serde_json::from_str(text).expect("fixtures/scenes.json");
        for scene in parsed.values() {
            scene.check().expect("a valid scene");
        }
    }

    #[test]
    fn the_catalogue_is_keyed_by_the_image_fingerprint() {
        let image = include_bytes!("../../../fixtures/images/scene-96x64.bmp");
        let digest = super::super::image::fingerprint(image);
        assert_eq!(key(&digest), "cfe6899500004836");
        let (scene, source) = perceive(image, || digest, 96, 64);
        assert_eq!(source, Source::Catalogue);
        assert_eq!(scene.people.len(), 1);
    }

    #[test]
    fn boxes_that_overflow_or_leave_the_image_are_refused() {
        let with_box = |bbox| Scene { people: vec![Person { bbox, hat: None, clothes: None }], ..Scene::default() };
        assert_eq!(with_box([0, 0, 10, 10]).check_in(10, 10), Ok(()));
        for bbox in [[u32::MAX, 0, 2, 1], [0, u32::MAX, 1, 2], [5, 0, 6, 1], [0, 0, 0, 1]] {
            assert!(with_box(bbox).check_in(10, 10).is_err(), "{bbox:?}");
        }
        let late = Scene { delay_ms: Some(MAX_DELAY_MS + 1), ..Scene::default() };
        assert_eq!(late.check_in(1, 1), Err(format!("delay is at most {MAX_DELAY_MS} ms")));
    }

    #[test]
    fn derived_people_stand_inside_the_frame() {
        for seed in 0u8..50 {
            let scene = derived(&Sha256::digest([seed]), 97, 61);
            for p in scene.people {
                let [l, t, w, h] = p.bbox;
                assert!(w > 0 && h > 0 && l + w <= 97 && t + h <= 61, "{:?}", p.bbox);
            }
        }
    }
}
