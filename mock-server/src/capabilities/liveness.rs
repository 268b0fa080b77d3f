//! The seven liveness actions (DIGEST §2): frames `image1Content` … `imageNContent` in,
//! `action_detected` out. Checks, in order: body held (4202), not empty (4201), a JSON
//! object (4202), only `image<i>Content` keys (4201), 3–35 of them (4207, 4208; `images` in
//! `fixtures/routes.json`), strings (4202). Then the frames are examined in order, 1 to the highest number sent, and the
//! examination stops at the first frame that shows the action: a frame missing (4209, with
//! its number), empty, not base64 or not an accepted format (4210, as the manual's table
//! says), a broken header or damaged pixel data (4203, "图片处理出现异常"), over 960×1280
//! (4205) or without exactly one real face (4212, 4213, 4204) is an error only before that
//! point.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::json;

use super::face::{check_size, members, one_face};
use super::{string_member, Outcome};
use crate::body::Received;
use crate::catalogue::code::face::*;
use crate::catalogue::{Count, Endpoint, Size};
use crate::faults::image::{honour, Asked};
use crate::refuse;
use crate::respond::Refusal;
use crate::vision::scene::Source;
use crate::vision::{names, Depth, Image, ImageError};

/// What a liveness endpoint reads from `fixtures/routes.json`: the action it looks for
/// (`looks_for`), how many frames it takes (`images`) and their largest size (`max_size`).
pub struct Rules<'a> {
    pub action: &'a str,
    pub frames: &'a Count,
    pub max_size: &'a Size,
    /// How deep each frame's pixel data is checked.
    pub depth: Depth,
}

pub fn handle(endpoint: &Endpoint, rules: &Rules<'_>, body: &Received, delay: &mut Asked) -> Outcome {
    let members = members(endpoint, body, r#"{"image1Content": "<base64>", …}"#)?;
    let mut frames = BTreeMap::new();
    for (key, raw) in &members {
        let n = frame_number(key).ok_or_else(|| {
            refuse!(EMPTY_OR_WRONG_KEY, "`{key}` is not a frame key; frames are image1Content, image2Content, …")
        })?;
        frames.insert(n, *raw);
    }
    let (n, Count { min, max, .. }) = (frames.len(), *rules.frames);
    if n < min {
        return Err(refuse!(TOO_FEW_FRAMES, "{n} frames sent; at least {min} are needed"));
    }
    if n > max {
        return Err(refuse!(TOO_MANY_FRAMES, "{n} frames sent; at most {max} are accepted"));
    }
    let texts = frames
        .iter()
        .map(|(n, raw)| {
            string_member(*raw)
                .map(|t| (*n, t))
                .map_err(|kind| refuse!(BAD_FORMAT, "image{n}Content is {kind}; send a base64 string"))
        })
        .collect::<Result<BTreeMap<usize, Cow<'_, str>>, Refusal>>()?;
    Ok(json!({ "action_detected": examine(endpoint, rules, &texts, delay)? }).into())
}

/// `image12Content` → 12.
fn frame_number(key: &str) -> Option<usize> {
    let digits = key.strip_prefix("image")?.strip_suffix("Content")?;
    let first = digits.bytes().next()?;
    (first != b'0' && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())?
}

/// Walks frames 1..=last in order; true at the first frame showing the rules' action.
fn examine(
    endpoint: &Endpoint,
    rules: &Rules<'_>,
    frames: &BTreeMap<usize, Cow<'_, str>>,
    delay: &mut Asked,
) -> Result<bool, Refusal> {
    let last = frames.keys().next_back().copied().unwrap_or(0);
    let mut first_bytes: Option<bytes::Bytes> = None;
    for n in 1..=last {
        let text = frames.get(&n).ok_or_else(|| Refusal {
            index: Some(n),
            ..refuse!(FRAME_MISSING, "frame {n} is missing (image{n}Content), before the action was seen")
        })?;
        let what = format!("frame {n}");
        let image = Image::decode(text, &endpoint.formats, rules.depth).map_err(|e| match e {
            ImageError::Base64(_) => refuse!(FRAME_UNDECODABLE, "{what} could not be decoded: {e}"),
            ImageError::Unsupported(_) | ImageError::NotAnImage => {
                refuse!(FRAME_UNDECODABLE, "{what}: {e}; send {}", names(&endpoint.formats))
            }
            e => refuse!(UNDECODABLE, "{what}: {e}"),
        })?;
        check_size(&image, rules.max_size, &what)?;
        let (scene, source) = image.perceive();
        honour(endpoint, &scene, (image.width, image.height), &what, delay)?;
        one_face(&scene.faces(), &what)?;
        let shows = match source {
            Source::Derived => first_bytes.as_ref().is_some_and(|first| *first != image.bytes),
            _ => scene.action.as_deref() == Some(rules.action),
        };
        if shows {
            return Ok(true);
        }
        first_bytes.get_or_insert(image.bytes);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::frame_number;

    #[test]
    fn frame_keys_are_numbered_from_one() {
        assert_eq!(frame_number("image1Content"), Some(1));
        assert_eq!(frame_number("image35Content"), Some(35));
        assert_eq!(frame_number("image0Content"), None);
        assert_eq!(frame_number("image01Content"), None);
        assert_eq!(frame_number("imageContent"), None);
        assert_eq!(frame_number("image1content"), None);
    }
}
