//! hard-hat and work-clothes (DIGEST §2): one base64 image in `image`, coloured boxes out.
//! Checks, in order: body held (4002), a JSON object (4006), `image` present and a string
//! (4001), at most the size limit (4002), base64 (4003), a supported format (4003), a
//! readable header (4003).

use serde_json::json;

use super::{json_object, keys, string_member, Outcome};
use crate::body::Received;
use crate::catalogue::code::detect::{BAD_BASE64, IMAGE_TOO_LARGE, NOT_AN_OBJECT, NO_IMAGE};
use crate::catalogue::Endpoint;
use crate::refuse;
use crate::vision::{self, Sniffed};

pub fn handle(endpoint: &Endpoint, body: &Received) -> Outcome {
    let limit = endpoint.image_limit;
    if body.over_limit {
        return Err(refuse!(
            IMAGE_TOO_LARGE,
            "the body is {} bytes; the image may be at most {limit} base64 characters",
            body.len
        ));
    }
    let members = json_object(&body.bytes).map_err(|why| refuse!(NOT_AN_OBJECT, "{why}"))?;
    let raw = members
        .get("image")
        .ok_or_else(|| refuse!(NO_IMAGE, "the body has no `image` key (keys sent: {})", keys(&members)))?;
    let text =
        string_member(raw).map_err(|kind| refuse!(NO_IMAGE, "`image` is {kind}; send the image as a base64 string"))?;
    if text.len() > limit {
        return Err(refuse!(
            IMAGE_TOO_LARGE,
            "the image is {} base64 characters; at most {limit} are accepted",
            text.len()
        ));
    }
    let bytes = vision::decode_image_base64(&text).map_err(|e| refuse!(BAD_BASE64, "{e}"))?;
    let format = match vision::sniff(&bytes) {
        Sniffed::Known(f) if endpoint.formats.contains(&f) => f,
        Sniffed::Known(f) => {
            return Err(refuse!(BAD_BASE64, "{} images are not accepted here; send {}", f.name(), formats(endpoint)))
        }
        Sniffed::Other(name) => {
            return Err(refuse!(BAD_BASE64, "{name} images are not accepted; send {}", formats(endpoint)))
        }
        Sniffed::Unknown => {
            return Err(refuse!(BAD_BASE64, "the decoded bytes are not an image; send {}", formats(endpoint)))
        }
    };
    let (width, height) = vision::dimensions(&bytes)
        .ok_or_else(|| refuse!(BAD_BASE64, "the {} header is cut short or broken", format.name()))?;
    Ok(json!(vision::detections(&bytes, width, height, &endpoint.classes)))
}

fn formats(endpoint: &Endpoint) -> String {
    endpoint.formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}
