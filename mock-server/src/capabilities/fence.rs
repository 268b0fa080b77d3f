//! e-fence (DIGEST §2): the people of each image whose feet stand inside `area`.
//! Checks, in order: body size (4002), a JSON object (4004), exactly the keys `image` and
//! `area` (4005), `image` a list (4006) of 1–32 (4007, `images` in `fixtures/routes.json`), `area` a string (4011) of 3–9
//! points (4012), each image at most 5 MiB (4002) and decodable (4009) in an accepted
//! format (4013), and `area` inside every image (4013). An image whose ground truth says
//! `fence_fail` fails inside the successful answer (`faults::fence`).

use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{body_object, counted_list, keys, string_member, ListError, Outcome, Reply};
use crate::body::Received;
use crate::catalogue::code::fence::*;
use crate::catalogue::{Count, Endpoint};
use crate::faults::fence;
use crate::faults::image::{fails_in_fence, honour, Asked};
use crate::refuse;
use crate::vision::geometry::{feet, Polygon};
use crate::vision::scene::Scene;
use crate::vision::{names, Depth, Image, ImageError};

/// `count`: how many images a request may carry.
pub fn handle(endpoint: &Endpoint, count: &Count, body: &Received, depth: Depth, delay: &mut Asked) -> Outcome {
    if body.over_limit {
        return Err(refuse!(TOO_LARGE, "the body is {} bytes; at most {} are accepted", body.len, endpoint.body_limit));
    }
    let members = body_object(body).map_err(|why| refuse!(NOT_AN_OBJECT, "{why}"))?;
    if members.len() != 2 || !members.contains_key("image") || !members.contains_key("area") {
        return Err(refuse!(
            BAD_KEYS,
            "the body must have exactly the keys image and area (keys sent: {})",
            keys(&members)
        ));
    }
    let images = counted_list(members["image"], count).map_err(|e| match e {
        ListError::NotAList => refuse!(IMAGE_NOT_A_LIST, "`image` must be a list of base64 strings"),
        ListError::Count(n) => refuse!(IMAGE_COUNT, "`image` has {n} images; send {} to {}", count.min, count.max),
    })?;
    let area = string_member(members["area"])
        .map_err(|kind| refuse!(AREA_NOT_A_STRING, "`area` is {kind}; send it as a string \"x1,y1,x2,y2,x3,y3\""))?;
    let polygon = Polygon::parse(&area).map_err(|why| refuse!(AREA_MALFORMED, "{why}"))?;
    let (mut result, mut fail) = (Vec::with_capacity(images.len()), 0);
    for (i, raw) in images.iter().enumerate() {
        let image = decode(endpoint, raw, i + 1, depth)?;
        if !polygon.fits(image.width, image.height) {
            return Err(refuse!(
                AREA_OUTSIDE,
                "area `{area}` reaches outside image {} ({}x{})",
                i + 1,
                image.width,
                image.height
            ));
        }
        let scene = image.scene();
        honour(endpoint, &scene, (image.width, image.height), &format!("image {}", i + 1), delay)?;
        if fails_in_fence(&scene) {
            fail += 1;
            result.push(fence::failed_entry());
        } else {
            result.push(people_inside(&scene, &polygon));
        }
    }
    Ok(Reply { message: Some(fence::message(images.len() - fail, fail)), result: Value::from(result) })
}

fn decode(endpoint: &Endpoint, raw: &RawValue, n: usize, depth: Depth) -> Result<Image, crate::respond::Refusal> {
    let text =
        string_member(raw).map_err(|kind| refuse!(IMAGE_UNPARSABLE, "image {n} is {kind}, not a base64 string"))?;
    if text.len() > endpoint.image_limit {
        return Err(refuse!(
            TOO_LARGE,
            "image {n} is {} base64 characters; at most {} are accepted",
            text.len(),
            endpoint.image_limit
        ));
    }
    Image::decode(&text, &endpoint.formats, depth).map_err(|e| match e {
        ImageError::Unsupported(_) => refuse!(AREA_OUTSIDE, "image {n}: {e}; send {}", names(&endpoint.formats)),
        e => refuse!(IMAGE_UNPARSABLE, "image {n}: {e}"),
    })
}

fn people_inside(scene: &Scene, polygon: &Polygon) -> Value {
    let location: Vec<Value> = scene
        .people
        .iter()
        .filter(|p| {
            let (x, y) = feet(p.bbox);
            polygon.contains(x, y)
        })
        .map(|p| {
            let [left, top, width, height] = p.bbox;
            json!({ "left": left, "top": top, "width": width, "height": height })
        })
        .collect();
    json!({ "target_num": location.len(), "location": location })
}
