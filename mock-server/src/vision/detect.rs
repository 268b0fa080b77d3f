//! Deterministic detections: the same image bytes always yield the same boxes, classes and
//! scores, plausible for the image's size. The seed is the SHA-256 of the decoded image.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One detected object, in the vendor's shape: `box` is `[top, left, bottom, right]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    pub classname: String,
    pub score: f64,
}

/// One to three objects inside a `width`×`height` image, classes drawn from `classes`.
pub fn detections(image: &[u8], width: u32, height: u32, classes: &[String]) -> Vec<Detection> {
    let digest = Sha256::digest(image);
    let mut rng = SplitMix64(u64::from_le_bytes(digest[..8].try_into().unwrap_or_default()));
    let count = 1 + rng.below(3);
    (0..count)
        .map(|_| {
            let (bw, bh) = (span(&mut rng, width), span(&mut rng, height));
            let left = rng.below(u64::from(width - bw) + 1) as u32;
            let top = rng.below(u64::from(height - bh) + 1) as u32;
            let class = rng.below(classes.len().max(1) as u64) as usize;
            Detection {
                bbox: [top, left, top + bh, left + bw],
                classname: classes.get(class).cloned().unwrap_or_default(),
                score: (5000 + rng.below(5000)) as f64 / 10_000.0,
            }
        })
        .collect()
}

/// A box side between 5% and 20% of the image side, at least one pixel.
fn span(rng: &mut SplitMix64, side: u32) -> u32 {
    let percent = 5 + rng.below(16) as u32;
    (side.saturating_mul(percent) / 100).clamp(1, side.max(1))
}

/// A tiny, well-known generator; stable across versions, unlike the standard library's hasher.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn boxes_stay_inside_the_image_and_scores_in_range(
            image in proptest::collection::vec(any::<u8>(), 1..64),
            width in 1u32..5000, height in 1u32..5000,
        ) {
            let classes = vec!["blue_hat".to_string(), "red_hat".to_string()];
            let found = detections(&image, width, height, &classes);
            prop_assert!((1..=3).contains(&found.len()));
            prop_assert_eq!(&found, &detections(&image, width, height, &classes));
            for d in found {
                let [top, left, bottom, right] = d.bbox;
                prop_assert!(top < bottom && bottom <= height && left < right && right <= width);
                prop_assert!((0.0..=1.0).contains(&d.score));
                prop_assert!(classes.contains(&d.classname));
            }
        }
    }
}
