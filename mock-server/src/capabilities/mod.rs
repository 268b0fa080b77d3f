//! The capabilities behind the gateway, one module each: parse → validate → perceive →
//! reply. Each takes the body as received and returns the `result` or a refusal.

mod action;
mod detect;
mod face;
mod fence;
mod liveness;

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::body::Received;
use std::time::Duration;

use serde_json::Value;

use crate::catalogue::{Capability, Count, Endpoint};
use crate::faults::image::Asked;
use crate::respond::{Answer, Refusal};
use crate::vision::{Depth, Image, ImageError, ImageFormat, Streamed};

/// Runs the endpoint's capability on an admitted request, its images checked to `depth`.
/// Returns the answer and how long the images' ground truth says the "AI" takes to give it
/// (the caller waits that long).
pub fn handle(endpoint: &Endpoint, body: &Received, depth: Depth) -> (Answer, Duration) {
    let mut delay = Asked::default();
    let outcome = match &endpoint.capability {
        Capability::Detect { wear } => detect::handle(endpoint, *wear, body, depth, &mut delay),
        Capability::Fence { images } => fence::handle(endpoint, images, body, depth, &mut delay),
        Capability::FaceQuality { max_size } => face::handle(endpoint, max_size, body, depth, &mut delay),
        Capability::Liveness { action, frames, max_size } => {
            liveness::handle(endpoint, &liveness::Rules { action, frames, max_size, depth }, body, &mut delay)
        }
        Capability::Action { incident, frames } => action::handle(endpoint, *incident, frames, body, depth, &mut delay),
    };
    let answer = match outcome {
        Ok(Reply { message, result }) => Answer::Success { message, result, note: delay.note },
        Err(refusal) => Answer::Refused(refusal),
    };
    (answer, delay.delay)
}

/// A JSON object's members, borrowed from the body: nothing is copied or re-parsed.
pub(crate) type Members<'a> = HashMap<Cow<'a, str>, Member<'a>>;

/// A member's value: the text of a plain string (no escape, no control character, only
/// ASCII — an image's base64), found by one vectorised scan; or anything else as raw JSON,
/// parsed by `serde_json`; or the image decoded while the body arrived, with its text
/// (plain base64, which is not read again).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Member<'a> {
    Text(&'a str),
    Raw(&'a RawValue),
    Image(&'a Streamed, &'a [u8]),
}

impl<'a> From<&'a RawValue> for Member<'a> {
    fn from(raw: &'a RawValue) -> Member<'a> {
        Member::Raw(raw)
    }
}

/// Parses the body as a JSON object, or says what it is instead. The string of an image
/// decoded while the body arrived is not read again (its base64 has no quote, escape,
/// control or non-ASCII character: it is plain): its member is [`Member::Image`].
pub(crate) fn body_object(body: &Received) -> Result<Members<'_>, String> {
    object(&body.bytes, body.image.as_ref())
}

/// The text of an image member, as the one-image capabilities take it: the image decoded
/// while the body arrived, or a string to decode now.
pub(crate) enum ImageText<'a> {
    Decoded(&'a Streamed),
    Text(Cow<'a, str>),
}

impl ImageText<'_> {
    /// Its length in base64 characters.
    pub fn len(&self) -> usize {
        match self {
            ImageText::Decoded(image) => image.end - image.start,
            ImageText::Text(text) => text.len(),
        }
    }

    pub fn image(&self, formats: &[ImageFormat], depth: Depth) -> Result<Image, ImageError> {
        match self {
            ImageText::Decoded(image) => Image::streamed(image, formats, depth),
            ImageText::Text(text) => Image::decode(text, formats, depth),
        }
    }
}

/// A member that should be an image's base64 string; `Err` names what it is instead.
pub(crate) fn image_text(member: Member<'_>) -> Result<ImageText<'_>, &'static str> {
    match member {
        Member::Image(image, _) => Ok(ImageText::Decoded(image)),
        other => string_member(other).map(ImageText::Text),
    }
}

/// `decoded`: an image decoded while the body arrived, whose string is not read again.
fn object<'a>(bytes: &'a [u8], decoded: Option<&'a Streamed>) -> Result<Members<'a>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; send a JSON object".into());
    }
    if let Some(members) = plain_object(bytes, decoded) {
        return Ok(members);
    }
    match serde_json::from_slice::<HashMap<Cow<'_, str>, &RawValue>>(bytes) {
        Ok(members) => Ok(members.into_iter().map(|(k, v)| (k, Member::Raw(v))).collect()),
        Err(e) => Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => format!("the body is JSON but not an object ({}); send a JSON object", json_kind(bytes)),
            Err(_) => format!("the body is not valid JSON: {e}"),
        }),
    }
}

/// The common body — an object whose keys and string values are plain — without
/// `serde_json` reading its strings: a string of megabytes of base64 is scanned once, at
/// memory speed, instead of byte-validated twice. Values that are not strings are parsed
/// by `serde_json` as before. Anything else (an escape, a non-ASCII or control character
/// in a string, a syntax error) gives `None`, and `serde_json` reads the whole body: the
/// same members, or its own error.
fn plain_object<'a>(b: &'a [u8], decoded: Option<&'a Streamed>) -> Option<Members<'a>> {
    let mut members = Members::new();
    let mut at = skip_ws(b, 0);
    if b.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(b, at + 1);
    if b.get(at) == Some(&b'}') {
        return (skip_ws(b, at + 1) == b.len()).then_some(members);
    }
    loop {
        if b.get(at) != Some(&b'"') {
            return None;
        }
        let (key, next) = plain_string(b, at + 1)?;
        at = skip_ws(b, next);
        if b.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(b, at + 1);
        let known = decoded.and_then(|image| Some((image, image.text_at(b, at + 1)?)));
        let value = if let Some((image, text)) = known {
            at = image.end + 1;
            Member::Image(image, text)
        } else if b.get(at) == Some(&b'"') {
            let (text, next) = plain_string(b, at + 1)?;
            at = next;
            Member::Text(text)
        } else {
            let mut values = serde_json::Deserializer::from_slice(b.get(at..)?).into_iter::<&RawValue>();
            let raw = values.next()?.ok()?;
            at += values.byte_offset();
            Member::Raw(raw)
        };
        members.insert(Cow::Borrowed(key), value);
        at = skip_ws(b, at);
        match b.get(at) {
            Some(b',') => at = skip_ws(b, at + 1),
            Some(b'}') => return (skip_ws(b, at + 1) == b.len()).then_some(members),
            _ => return None,
        }
    }
}

/// The first byte at or after `at` that is not JSON whitespace.
fn skip_ws(b: &[u8], at: usize) -> usize {
    at + b.get(at..).map_or(0, |rest| rest.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')).count())
}

/// The text of the string whose opening quote is just before `start`, and the index after
/// its closing quote — when it holds nothing but printable ASCII other than `\`.
fn plain_string(b: &[u8], start: usize) -> Option<(&str, usize)> {
    let rest = b.get(start..)?;
    let stops = |c: u8| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
    // 64 bytes at a time with no early exit inside a block, so that the test vectorises.
    let mut at = 0;
    for block in rest.chunks_exact(64) {
        if block.iter().fold(false, |stop, &c| stop | stops(c)) {
            break;
        }
        at += 64;
    }
    let end = at + rest[at..].iter().position(|&c| stops(c))?;
    if rest[end] != b'"' {
        return None;
    }
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    Some((text, start + end + 1))
}

fn json_kind(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A JSON list as a capability takes it: at most `max` elements borrowed, or how many
/// there were when there are more — counted while parsing, never built.
#[derive(Debug)]
pub(crate) enum List<'a> {
    Items(Vec<&'a RawValue>),
    TooMany(u64),
}

/// Parses `raw` as a list of at most `max` elements; `Err` when it is not a list. A longer
/// list costs no memory beyond its first `max` elements, whatever its length.
pub(crate) fn bounded_list(raw: &RawValue, max: usize) -> Result<List<'_>, ()> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let list = Bounded { max }.deserialize(&mut de).map_err(|_| ())?;
    de.end().map_err(|_| ())?;
    Ok(list)
}

/// Why a list of images cannot be used.
pub(crate) enum ListError {
    NotAList,
    /// It has this many elements, outside the endpoint's count.
    Count(u64),
}

/// `raw` as a list of `count.min` to `count.max` elements, counted while parsing.
pub(crate) fn counted_list<'a>(member: Member<'a>, count: &Count) -> Result<Vec<&'a RawValue>, ListError> {
    let Member::Raw(raw) = member else { return Err(ListError::NotAList) };
    match bounded_list(raw, count.max).map_err(|()| ListError::NotAList)? {
        List::Items(items) if items.len() >= count.min => Ok(items),
        List::Items(items) => Err(ListError::Count(items.len() as u64)),
        List::TooMany(n) => Err(ListError::Count(n)),
    }
}

/// The visitor behind [`bounded_list`]: keeps elements up to `max`, then only counts.
struct Bounded {
    max: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for Bounded {
    type Value = List<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<List<'de>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded {
    type Value = List<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<List<'de>, A::Error> {
        let mut items = Vec::with_capacity(self.max.min(seq.size_hint().unwrap_or(0)));
        while items.len() < self.max {
            match seq.next_element::<&'de RawValue>()? {
                Some(item) => items.push(item),
                None => return Ok(List::Items(items)),
            }
        }
        let mut count = items.len() as u64;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(if count > self.max as u64 { List::TooMany(count) } else { List::Items(items) })
    }
}

/// A member that should be a string, borrowed when it has no escapes.
/// The member was validated when the object was parsed, so a string without a backslash
/// is its text between the quotes: found with one fast search instead of a second parse.
pub(crate) fn string_member<'a>(member: impl Into<Member<'a>>) -> Result<Cow<'a, str>, &'static str> {
    let raw = match member.into() {
        Member::Text(text) => return Ok(Cow::Borrowed(text)),
        Member::Image(_, text) => return std::str::from_utf8(text).map(Cow::Borrowed).map_err(|_| "a string"),
        Member::Raw(raw) => raw,
    };
    let text = raw.get();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // `memchr` is vectorised; `str::contains` searched a large image a word at a time.
        if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
            return Ok(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str::<String>(raw.get()).map(Cow::Owned).map_err(|_| json_kind(raw.get().as_bytes()))
}

/// The member names, sorted, for explanations.
pub(crate) fn keys(members: &Members<'_>) -> String {
    let mut keys: Vec<&str> = members.keys().map(|k| k.as_ref()).collect();
    keys.sort_unstable();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

/// A capability's success: its `result`, and the `message` when it is not `"success"`
/// (e-fence alone answers with a `{"success": n, "fail": m}` object there).
#[derive(Debug)]
pub(crate) struct Reply {
    pub message: Option<Value>,
    pub result: Value,
}

impl From<Value> for Reply {
    fn from(result: Value) -> Reply {
        Reply { message: None, result }
    }
}

pub(crate) type Outcome = Result<Reply, Refusal>;

#[cfg(test)]
mod tests {
    use super::*;

    fn list(json: &str, max: usize) -> Result<Vec<String>, Option<u64>> {
        let raw: &RawValue = serde_json::from_str(json).expect("json");
        match bounded_list(raw, max) {
            Ok(List::Items(items)) => Ok(items.iter().map(|r| r.get().to_string()).collect()),
            Ok(List::TooMany(n)) => Err(Some(n)),
            Err(()) => Err(None),
        }
    }

    /// The members as `serde_json` alone reads them, each value as its JSON text.
    fn by_serde(body: &[u8]) -> Option<Vec<(String, String)>> {
        let map = serde_json::from_slice::<HashMap<Cow<'_, str>, &RawValue>>(body).ok()?;
        let mut all: Vec<(String, String)> =
            map.into_iter().map(|(k, v)| (k.into_owned(), v.get().to_string())).collect();
        all.sort();
        Some(all)
    }

    fn by_us(body: &[u8]) -> Option<Vec<(String, String)>> {
        let members = object(body, None).ok()?;
        let mut all: Vec<(String, String)> = members
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Member::Text(t) => format!("\"{t}\""),
                    Member::Image(_, t) => format!("\"{}\"", String::from_utf8_lossy(t)),
                    Member::Raw(r) => r.get().to_string(),
                };
                (k.into_owned(), text)
            })
            .collect();
        all.sort();
        Some(all)
    }

    #[test]
    fn a_plain_object_is_read_without_serde_and_as_serde_reads_it() {
        for body in [
            r#"{"image":"iVBORw0KGgo="}"#,
            " \n{ \"image\" :\t\"abc\" , \"n\": -1.5e3, \"a\":[1,{\"b\":\"c\\n\"}], \"o\":{}, \"t\":true,\"z\":null } \r\n",
            r#"{}"#,
            r#"{"a":"1","a":"2"}"#,
            r#"{"a":""}"#,
            r#"{"n":1}"#,
        ] {
            assert!(plain_object(body.as_bytes(), None).is_some(), "{body}");
            assert_eq!(by_us(body.as_bytes()), by_serde(body.as_bytes()), "{body}");
        }
        for body in [
            r#"{"image":"a\/b"}"#,
            r#"{"é":"x"}"#,
            r#"{"a":"é"}"#,
            "{\"a\":\"\t\"}",
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":"x"#,
            r#"["a"]"#,
            r#"{"a":1"#,
            r#"{"a":tru}"#,
        ] {
            assert!(plain_object(body.as_bytes(), None).is_none(), "{body}");
            assert_eq!(by_us(body.as_bytes()), by_serde(body.as_bytes()), "{body}");
        }
    }

    proptest::proptest! {
        /// Any object built of these pieces, and any one-byte change to it, reads the same
        /// with the plain scan as with `serde_json` alone — or fails with both.
        #[test]
        fn the_plain_scan_agrees_with_serde(
            members in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["image", "a", "é", "a\\\"b", ""]),
                    proptest::sample::select(vec![
                        "\"iVBORw0KGgoAAAANSUhEUg==\"", "\"\"", "\"x\\/y\"", "\"ü\"", "12", "-0.5e-3",
                        "[1, \"a\", {\"b\": [] }]", "{}", "true", "null", "\"\t\"",
                    ]),
                    proptest::sample::select(vec!["", " ", "\n\t", "\r "]),
                ),
                0..5,
            ),
            change in proptest::option::of((0usize..400, proptest::num::u8::ANY)),
        ) {
            let inner: Vec<String> = members.iter().map(|(k, v, ws)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}")).collect();
            let mut body = format!("{{{}}}", inner.join(",")).into_bytes();
            if let Some((at, byte)) = change {
                let len = body.len();
                body[at % len] = byte;
            }
            proptest::prop_assert_eq!(by_us(&body), by_serde(&body));
        }
    }

    #[test]
    fn a_list_is_kept_up_to_its_limit_and_counted_past_it() {
        assert_eq!(list(r#"["a", 1]"#, 2), Ok(vec![r#""a""#.to_string(), "1".to_string()]));
        assert_eq!(list("[]", 2), Ok(vec![]));
        assert_eq!(list("[0,0,0,[1,2],{}]", 2), Err(Some(5)));
        assert_eq!(list(r#""abc""#, 2), Err(None));
        assert_eq!(list("{}", 2), Err(None));
    }

    /// A large image decoded while its body arrived answers as the same image decoded by
    /// the capability, for each endpoint that takes one image; a member the capability's
    /// own parse does not find at that range of the body is decoded as ever.
    #[test]
    fn an_image_decoded_while_it_arrived_answers_as_one_decoded_after() {
        use base64::Engine;
        let catalogue = crate::catalogue::Catalogue::get();
        let mut png = contract_tests::fixtures::image("scene-96x64.png");
        png.resize(1_500_000, 0);
        let text = base64::engine::general_purpose::STANDARD.encode(&png);
        for (endpoint, key) in [("hat", "image"), ("clothes", "image"), ("face_quality", "imageContent")] {
            let endpoint = catalogue.endpoint(endpoint).expect("endpoint");
            let once = format!(r#"{{"{key}": "{text}"}}"#);
            let twice = format!(r#"{{"{key}": "{text}", "{key}": "{text}"}}"#);
            for (body, used) in [(once, true), (twice, false)] {
                let decoded_after = Received::whole(bytes::Bytes::from(body.clone()));
                let mut decoded_before = decoded_after.share();
                decoded_before.image = crate::vision::Streaming::of(body.as_bytes(), 300_007);
                let streamed = decoded_before.image.clone().expect("decoded while it arrived");
                let answer = |body: &Received| format!("{:?}", handle(endpoint, body, Depth::Structure));
                assert_eq!(answer(&decoded_before), answer(&decoded_after), "{}", endpoint.name);
                assert!(answer(&decoded_before).starts_with("(Success"), "{}", answer(&decoded_before));
                let image = |body: &Received| {
                    let members = body_object(body).expect("an object");
                    let text = image_text(*members.get(key).expect("the key")).expect("a string");
                    let image = text.image(&endpoint.formats, Depth::Structure).expect("an image");
                    let digest = *image.digest();
                    (image.bytes, digest)
                };
                let (before, after) = (image(&decoded_before), image(&decoded_after));
                assert_eq!(before, after, "{}", endpoint.name);
                // The first of two members is not the one the parse keeps: decoded again.
                assert_eq!(before.0.as_ptr() == streamed.bytes.as_ptr(), used, "{}", endpoint.name);
            }
        }
    }
}
