//! Fall and fight (DIGEST §2): consecutive frames in `images`, a probability out.
//! Checks, in order: body held and a JSON object (4003), `images` present (4010), a list
//! (4012) of 1–64 (4013, `images` in `fixtures/routes.json`), each frame a decodable png/jpg/bmp (4015). The score is the
//! highest the frames' scenes give (a fall or fight in any frame is seen).

use serde_json::json;

use super::{body_object, counted_list, keys, string_member, ListError, Outcome};
use crate::body::Received;
use crate::catalogue::code::action::*;
use crate::catalogue::{Count, Endpoint, Incident};
use crate::faults::image::{honour, Asked};
use crate::refuse;
use crate::vision::{names, Depth, Image};

/// Scores `incident` (the endpoint's `looks_for`) over `frames.min`–`frames.max` frames.
pub fn handle(
    endpoint: &Endpoint,
    incident: Incident,
    frames: &Count,
    body: &Received,
    depth: Depth,
    delay: &mut Asked,
) -> Outcome {
    if body.over_limit {
        return Err(refuse!(
            NOT_AN_OBJECT,
            "the body is {} bytes; at most {} are accepted",
            body.len,
            endpoint.body_limit
        ));
    }
    let members = body_object(body).map_err(|why| refuse!(NOT_AN_OBJECT, "{why}"))?;
    let raw = members
        .get("images")
        .ok_or_else(|| refuse!(NO_IMAGES, "the body has no `images` key (keys sent: {})", keys(&members)))?;
    let list = counted_list(*raw, frames).map_err(|e| match e {
        ListError::NotAList => refuse!(IMAGES_NOT_A_LIST, "`images` must be a list of base64 strings"),
        ListError::Count(n) => refuse!(IMAGE_COUNT, "`images` has {n} frames; send {} to {}", frames.min, frames.max),
    })?;
    let mut score: f64 = 0.0;
    for (i, raw) in list.iter().enumerate() {
        let text = string_member(*raw)
            .map_err(|kind| refuse!(IMAGE_UNPARSABLE, "frame {} is {kind}, not a base64 string", i + 1))?;
        let image = Image::decode(&text, &endpoint.formats, depth)
            .map_err(|e| refuse!(IMAGE_UNPARSABLE, "frame {}: {e}; send {}", i + 1, names(&endpoint.formats)))?;
        let scene = image.scene();
        honour(endpoint, &scene, (image.width, image.height), &format!("frame {}", i + 1), delay)?;
        let seen = match incident {
            Incident::Fall => scene.fall,
            Incident::Fight => scene.fight,
        };
        score = score.max(seen.unwrap_or(0.0));
    }
    Ok(json!({ "score": score }).into())
}
