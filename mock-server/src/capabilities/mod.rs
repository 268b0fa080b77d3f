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

use crate::catalogue::{Capability, Catalogue, Endpoint, Scope};
use crate::respond::{Answer, Refusal};
use crate::vision::scene::Scene;

/// Runs the endpoint's capability on an admitted request. Returns the answer and how long
/// the images' ground truth says the "AI" takes to give it (the caller waits that long).
pub fn handle(endpoint: &Endpoint, body: &Received) -> (Answer, Duration) {
    let mut delay = Asked::default();
    let outcome = match &endpoint.capability {
        Capability::Detect { wear } => detect::handle(endpoint, *wear, body, &mut delay),
        Capability::Fence { images } => fence::handle(endpoint, images, body, &mut delay),
        Capability::FaceQuality { max_size } => face::handle(endpoint, max_size, body, &mut delay),
        Capability::Liveness { action, frames, max_size } => {
            liveness::handle(endpoint, &liveness::Rules { action, frames, max_size }, body, &mut delay)
        }
        Capability::Action { incident, frames } => action::handle(endpoint, *incident, frames, body, &mut delay),
    };
    let answer = match outcome {
        Ok(Reply { message, result }) => Answer::Success { message, result, note: delay.note },
        Err(refusal) => Answer::Refused(refusal),
    };
    (answer, delay.delay)
}

/// What the images' ground truth asks beyond their content, gathered while they are read.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    /// The time to take: the longest any image asks for.
    pub delay: Duration,
    /// Why a request for a fault was not honoured, for the success's `x-mock-reason`.
    pub note: Option<String>,
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

/// A member that should be a string, borrowed when it has no escapes.
/// The member was validated when the object was parsed, so a string without a backslash
/// is its text between the quotes: found with one fast search instead of a second parse.
pub(crate) fn string_member<'a>(raw: &'a RawValue) -> Result<Cow<'a, str>, &'static str> {
    let text = raw.get();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str::<String>(raw.get()).map(Cow::Owned).map_err(|_| json_kind(raw.get().as_bytes()))
}

/// What a scene asks of the endpoint beyond its content: a time to take (the longest of
/// the images' counts), and a fault — if the endpoint has that code, it is the answer;
/// if not, the answer says why the code was not given.
pub(crate) fn honour(endpoint: &Endpoint, scene: &Scene, what: &str, asked: &mut Asked) -> Result<(), Refusal> {
    asked.delay = asked.delay.max(Duration::from_millis(scene.delay_ms.unwrap_or(0)));
    let Some(code) = scene.fault else { return Ok(()) };
    match Catalogue::get().error(Some(&endpoint.name), code) {
        Some(entry) if entry.scope == Scope::Capability => {
            Err(Refusal::new(code, format!("{what} carries ground truth that asks for code {code}")))
        }
        _ => {
            let (name, has) = (&endpoint.name, listed(&fault_codes(&endpoint.name)));
            asked.note = Some(format!(
                "{what} carries ground truth that asks for code {code}, which {name} does not have ({has}); answered without it: make-image --endpoint {name} refuses such an image"
            ));
            Ok(())
        }
    }
}

/// The capability codes an endpoint can answer: those an image's `fault` may ask for.
pub(crate) fn fault_codes(endpoint: &str) -> Vec<u32> {
    let errors = Catalogue::get().errors.iter();
    errors.filter(|e| e.scope == Scope::Capability && e.applies_to(endpoint)).map(|e| e.code).collect()
}

/// `it has 4001, 5000` or `it has none`.
pub(crate) fn listed(codes: &[u32]) -> String {
    if codes.is_empty() {
        return "it has none".into();
    }
    let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
    format!("it has {}", codes.join(", "))
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
