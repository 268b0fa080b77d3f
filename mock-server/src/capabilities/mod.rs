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
use crate::vision::Depth;

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
pub(crate) type Members<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

/// Parses the body as a JSON object, or says what it is instead.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Members<'_>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; send a JSON object".into());
    }
    serde_json::from_slice::<Members<'_>>(bytes).map_err(|e| {
        match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => format!("the body is JSON but not an object ({}); send a JSON object", json_kind(bytes)),
            Err(_) => format!("the body is not valid JSON: {e}"),
        }
    })
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
pub(crate) fn counted_list<'a>(raw: &'a RawValue, count: &Count) -> Result<Vec<&'a RawValue>, ListError> {
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
pub(crate) fn string_member<'a>(raw: &'a RawValue) -> Result<Cow<'a, str>, &'static str> {
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

    #[test]
    fn a_list_is_kept_up_to_its_limit_and_counted_past_it() {
        assert_eq!(list(r#"["a", 1]"#, 2), Ok(vec![r#""a""#.to_string(), "1".to_string()]));
        assert_eq!(list("[]", 2), Ok(vec![]));
        assert_eq!(list("[0,0,0,[1,2],{}]", 2), Err(Some(5)));
        assert_eq!(list(r#""abc""#, 2), Err(None));
        assert_eq!(list("{}", 2), Err(None));
    }
}
