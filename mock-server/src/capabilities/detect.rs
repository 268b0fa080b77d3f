//! hard-hat and work-clothes (DIGEST §2): one base64 image in `image`, coloured boxes out.
//! Checks, in order: body held (4002), a JSON object (4006), `image` present and a string
//! (4001), at most the size limit (4002), base64 (4003), a supported format (4003), a
//! readable header (4003).

use serde_json::json;

use super::{body_object, image_text, keys, Outcome};
use crate::body::Received;
use crate::catalogue::code::detect::{BAD_BASE64, IMAGE_TOO_LARGE, NOT_AN_OBJECT, NO_IMAGE};
use crate::catalogue::Endpoint;
use crate::faults::image::{honour, Asked};
use crate::refuse;
use crate::vision::{self, names, Depth, ImageError, Wear};

/// `wear` is what the endpoint looks for (its `looks_for` in `fixtures/routes.json`).
pub fn handle(endpoint: &Endpoint, wear: Wear, body: &Received, depth: Depth, delay: &mut Asked) -> Outcome {
    let limit = endpoint.image_limit;
    if body.over_limit {
        return Err(refuse!(
            IMAGE_TOO_LARGE,
            "the body is {} bytes; the image may be at most {limit} base64 characters",
            body.len
        ));
    }
    let members = body_object(body).map_err(|why| refuse!(NOT_AN_OBJECT, "{why}"))?;
    let raw = members
        .get("image")
        .ok_or_else(|| refuse!(NO_IMAGE, "the body has no `image` key (keys sent: {})", keys(&members)))?;
    let text =
        image_text(*raw).map_err(|kind| refuse!(NO_IMAGE, "`image` is {kind}; send the image as a base64 string"))?;
    if text.len() > limit {
        return Err(refuse!(
            IMAGE_TOO_LARGE,
            "the image is {} base64 characters; at most {limit} are accepted",
            text.len()
        ));
    }
    let image = text.image(&endpoint.formats, depth).map_err(|e| match e {
        ImageError::Unsupported(_) | ImageError::NotAnImage => {
            refuse!(BAD_BASE64, "{e}; send {}", names(&endpoint.formats))
        }
        e => refuse!(BAD_BASE64, "{e}"),
    })?;
    let (scene, source) = image.perceive();
    honour(endpoint, &scene, (image.width, image.height), "the image", delay)?;
    let seed = image.seed(&scene, source);
    let found = vision::detections(&scene, &seed, wear, image.width, image.height, &endpoint.classes);
    Ok(json!(found).into())
}
