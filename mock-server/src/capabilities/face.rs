//! Face quality (DIGEST §2): one face image in `imageContent`, `good`/`medium`/`bad` out.
//! Checks, in order: body held (4202), not empty (4201), a JSON object (4202), exactly the
//! key `imageContent` (4201), a string (4202), decodable in jpg/png/bmp (4203), at most
//! 960×1280 (4205, `max_size` in `fixtures/routes.json`), then the faces it shows: none (4212), several (4213), a spoof (4204).

use serde_json::json;

use super::{body_object, image_text, keys, Members, Outcome};
use crate::body::Received;
use crate::catalogue::code::face::*;
use crate::catalogue::{Endpoint, Size};
use crate::faults::image::{honour, Asked};
use crate::refuse;
use crate::respond::Refusal;
use crate::vision::scene::Face;
use crate::vision::{names, Depth, Image};

/// `max_size`: the largest face image accepted.
pub fn handle(endpoint: &Endpoint, max_size: &Size, body: &Received, depth: Depth, delay: &mut Asked) -> Outcome {
    let members = members(endpoint, body, r#"{"imageContent": "<base64>"}"#)?;
    let Some(raw) = members.get("imageContent").filter(|_| members.len() == 1) else {
        return Err(refuse!(
            EMPTY_OR_WRONG_KEY,
            "the body must have the one key imageContent (keys sent: {})",
            keys(&members)
        ));
    };
    let text =
        image_text(*raw).map_err(|kind| refuse!(BAD_FORMAT, "`imageContent` is {kind}; send a base64 string"))?;
    let image = text
        .image(&endpoint.formats, depth)
        .map_err(|e| refuse!(UNDECODABLE, "{e}; send a base64 {} image", names(&endpoint.formats)))?;
    check_size(&image, max_size, "the image")?;
    let scene = image.scene();
    honour(endpoint, &scene, (image.width, image.height), "the image", delay)?;
    let faces = scene.faces();
    let face = one_face(&faces, "the image")?;
    Ok(json!({ "face_quality": face.quality }).into())
}

/// The body's members, as face quality and liveness read it: held (4202), not empty
/// (4201, with an `example` of what to send), a JSON object (4202).
pub(crate) fn members<'a>(endpoint: &Endpoint, body: &'a Received, example: &str) -> Result<Members<'a>, Refusal> {
    if body.over_limit {
        let (len, limit) = (body.len, endpoint.body_limit);
        return Err(refuse!(BAD_FORMAT, "the body is {len} bytes; at most {limit} are accepted"));
    }
    if body.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(refuse!(EMPTY_OR_WRONG_KEY, "the body is empty; send {example}"));
    }
    body_object(body).map_err(|why| refuse!(BAD_FORMAT, "{why}"))
}

/// 4205 for an image over `max` (960×1280 for every face endpoint).
pub(crate) fn check_size(image: &Image, max: &Size, what: &str) -> Result<(), Refusal> {
    if image.width > max.width || image.height > max.height {
        let (w, h) = (image.width, image.height);
        return Err(refuse!(TOO_BIG, "{what} is {w}x{h}; at most {}x{} is accepted", max.width, max.height));
    }
    Ok(())
}

/// The one real face an image must show: 4212 for none, 4213 for several, 4204 for a spoof.
pub(crate) fn one_face<'a>(faces: &'a [Face], what: &str) -> Result<&'a Face, Refusal> {
    match faces {
        [] => Err(refuse!(NO_FACE, "{what} shows no face")),
        [face] if face.spoof => Err(refuse!(SPOOF, "{what} shows a spoofed face (a photo or a screen)")),
        [face] => Ok(face),
        several => Err(refuse!(SEVERAL_FACES, "{what} shows {} faces; exactly one is expected", several.len())),
    }
}
