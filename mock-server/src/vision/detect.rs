//! Hard-hat and work-clothes detections drawn from a scene: a hat box on each person's head,
//! a clothes box on each torso. Scores are deterministic per image.

use serde::Serialize;

use super::rng::SplitMix64;
use super::scene::{Person, Scene};

/// One detected object, in the vendor's shape: `box` is `[top, left, bottom, right]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    pub classname: String,
    pub score: f64,
}

/// What a detector looks for on a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wear {
    Hat,
    Clothes,
}

/// The detections of `wear` in `scene`, inside a `width`×`height` image. Classes the
/// endpoint does not know are reported as its last class (`other_hat`, `yellow`…).
pub fn detections(
    scene: &Scene,
    digest: &[u8],
    wear: Wear,
    width: u32,
    height: u32,
    classes: &[String],
) -> Vec<Detection> {
    let mut rng = SplitMix64::from_digest(digest);
    scene
        .people
        .iter()
        .filter_map(|p| {
            let class = match wear {
                Wear::Hat => p.hat.as_ref(),
                Wear::Clothes => p.clothes.as_ref(),
            }?;
            let class =
                if classes.contains(class) { class.clone() } else { classes.last().cloned().unwrap_or_default() };
            let score = (5000 + rng.below(5000)) as f64 / 10_000.0;
            Some(Detection { bbox: region(p, wear, width, height), classname: class, score })
        })
        .collect()
}

/// The head (top fifth) or torso (next two fifths) of a person, the middle half of its
/// width, clamped inside the image (whose sides are at least one pixel).
fn region(p: &Person, wear: Wear, width: u32, height: u32) -> [u32; 4] {
    let [left, top, w, h] = p.bbox;
    let (from, to) = match wear {
        Wear::Hat => (0, h / 5),
        Wear::Clothes => (h / 5, h * 3 / 5),
    };
    let bottom = (top + to).max(top + from + 1).clamp(1, height);
    let right = (left + w - w / 4).max(left + w / 4 + 1).clamp(1, width);
    [(top + from).min(bottom - 1), (left + w / 4).min(right - 1), bottom, right]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::scene::Person;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn boxes_stay_inside_the_image(
            l in 0u32..200, t in 0u32..200, w in 1u32..200, h in 1u32..200,
            width in 1u32..300, height in 1u32..300,
        ) {
            let scene = Scene { people: vec![Person { bbox: [l, t, w, h], hat: Some("red_hat".into()), clothes: Some("blue".into()) }], ..Scene::default() };
            for wear in [Wear::Hat, Wear::Clothes] {
                let classes = vec!["red_hat".to_string(), "blue".to_string()];
                for d in detections(&scene, &[1, 2, 3], wear, width, height, &classes) {
                    let [top, left, bottom, right] = d.bbox;
                    prop_assert!(top < bottom, "{:?}", d.bbox);
                    prop_assert!(bottom <= height && right <= width && left < right, "{:?} in {}x{}", d.bbox, width, height);
                    prop_assert!((0.0..=1.0).contains(&d.score));
                }
            }
        }
    }
}
