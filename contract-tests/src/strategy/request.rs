//! Spec-valid request bodies per endpoint: the documented keys, base64 PNGs (drawn by
//! `crate::image`, carrying the scene they show as ground truth) within every limit, the
//! documented image counts, and a fence `area` inside the images. What the pictures show is
//! drawn too, so a valid request may still get a code about its content (no face…).

use base64::prelude::{Engine, BASE64_STANDARD};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use super::{route, Route};
use crate::image::{png, Face, Person, Scene};

/// Longest side of a generated image: small, so a property test sends many quickly.
const SIDE: u32 = 96;
/// Most frames a generated sequence carries (within every endpoint's documented range).
const FRAMES: usize = 10;
const ACTIONS: [&str; 7] = ["shake", "up", "down", "left", "right", "mouth", "eye"];

/// A spec-valid request body for `endpoint`.
pub fn request(endpoint: &str) -> Result<BoxedStrategy<Value>, String> {
    let route = route(endpoint)?;
    let strategy = match route.capability.as_str() {
        "detect" => detect(route),
        "fence" => fence(route),
        "face_quality" => image(face_scene()).prop_map(|i| json!({ "imageContent": i })).boxed(),
        "liveness" => liveness(route),
        "action" => action(route),
        other => return Err(format!("no request strategy for capability `{other}` of `{endpoint}`")),
    };
    Ok(strategy)
}

/// A base64 PNG of some size up to [`SIDE`] showing a scene drawn from `scene`.
fn image(scene: impl Strategy<Value = Scene> + 'static) -> BoxedStrategy<String> {
    let scene = scene.boxed();
    (16..=SIDE, 16..=SIDE).prop_flat_map(move |(w, h)| sized(scene.clone(), w, h)).boxed()
}

/// A base64 PNG of exactly `width`×`height`.
fn sized(scene: impl Strategy<Value = Scene>, width: u32, height: u32) -> impl Strategy<Value = String> {
    scene.prop_filter_map("a drawable scene", move |s| png(&s, width, height).ok().map(|b| BASE64_STANDARD.encode(b)))
}

/// Up to two people standing inside a `width`×`height` image.
fn people(width: u32, height: u32) -> impl Strategy<Value = Scene> {
    proptest::collection::vec(person(width, height, None), 0..3).prop_map(|people| Scene { people, ..Scene::default() })
}

fn person(width: u32, height: u32, classes: Option<(Vec<String>, bool)>) -> BoxedStrategy<Person> {
    let hat = matches!(&classes, Some((_, true)));
    let wear = match classes {
        Some((classes, _)) if !classes.is_empty() => proptest::option::of(select(classes)).boxed(),
        _ => Just(None).boxed(),
    };
    (0..width, 0..height, wear)
        .prop_flat_map(move |(l, t, wear)| (Just((l, t, wear)), 1..=width - l, 1..=height - t))
        .prop_map(move |((l, t, wear), w, h)| {
            let (hat_class, clothes) = if hat { (wear, None) } else { (None, wear) };
            Person { bbox: [l, t, w, h], hat: hat_class, clothes }
        })
        .boxed()
}

/// Faces: usually one, sometimes none or two; any quality; sometimes a spoof.
fn face_scene() -> impl Strategy<Value = Scene> {
    let face = (select(vec!["good", "medium", "bad"]), proptest::bool::weighted(0.1))
        .prop_map(|(q, spoof)| Face { quality: q.to_string(), spoof });
    prop_oneof![1 => Just(0usize), 6 => Just(1), 1 => Just(2)]
        .prop_flat_map(move |n| proptest::collection::vec(face.clone(), n))
        .prop_map(|faces| Scene { faces: Some(faces), ..Scene::default() })
}

/// Hard hat and work clothes: `{"image": …}`, people wearing the endpoint's classes.
fn detect(route: Route) -> BoxedStrategy<Value> {
    let hat = route.looks_for.as_deref() == Some("hat");
    (16..=SIDE, 16..=SIDE)
        .prop_flat_map(move |(w, h)| {
            let people = proptest::collection::vec(person(w, h, Some((route.classes.clone(), hat))), 0..4);
            sized(people.prop_map(|people| Scene { people, ..Scene::default() }), w, h)
        })
        .prop_map(|image| json!({ "image": image }))
        .boxed()
}

/// E-fence: 1–3 images of one size and a rectangle `area` inside them, in either winding.
fn fence(route: Route) -> BoxedStrategy<Value> {
    let most = route.images.map_or(1, |c| c.max.min(3));
    (16..=SIDE, 16..=SIDE, 1..=most)
        .prop_flat_map(|(w, h, n)| {
            let images = proptest::collection::vec(sized(people(w, h), w, h), n);
            (images, rectangle(w, h), any::<bool>())
        })
        .prop_map(|(images, mut points, clockwise)| {
            if !clockwise {
                points.reverse();
            }
            let area: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
            json!({ "image": images, "area": area.join(",") })
        })
        .boxed()
}

/// Four corners of a rectangle inside a `width`×`height` image.
fn rectangle(width: u32, height: u32) -> impl Strategy<Value = Vec<(u32, u32)>> {
    (0..width - 1, 0..height - 1)
        .prop_flat_map(move |(x, y)| (Just((x, y)), x + 1..width, y + 1..height))
        .prop_map(|((x1, y1), x2, y2)| vec![(x1, y1), (x2, y1), (x2, y2), (x1, y2)])
}

/// Liveness: `image1Content` … `imageNContent`, 3 to 10 frames of one face, some showing
/// an action.
fn liveness(route: Route) -> BoxedStrategy<Value> {
    let count = route.images.map_or(3..=FRAMES, |c| c.min..=c.max.min(FRAMES));
    let frame = (proptest::option::of(select(ACTIONS.to_vec())), face_scene()).prop_map(|(action, mut scene)| {
        scene.action = action.map(String::from);
        scene
    });
    proptest::collection::vec(image(frame), count)
        .prop_map(|frames| {
            let members =
                frames.into_iter().enumerate().map(|(i, f)| (format!("image{}Content", i + 1), Value::from(f)));
            Value::Object(members.collect())
        })
        .boxed()
}

/// Fall and fight: `{"images": […]}`, 1 to 10 frames with a score in their ground truth.
fn action(route: Route) -> BoxedStrategy<Value> {
    let count = route.images.map_or(1..=FRAMES, |c| c.min..=c.max.min(FRAMES));
    let fall = route.looks_for.as_deref() == Some("fall");
    let frame = proptest::option::of(0.0..=1.0f64).prop_map(move |score| {
        if fall {
            Scene { fall: score, ..Scene::default() }
        } else {
            Scene { fight: score, ..Scene::default() }
        }
    });
    proptest::collection::vec(image(frame), count).prop_map(|images| json!({ "images": images })).boxed()
}
