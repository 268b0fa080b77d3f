//! Proptest strategies for what the spec allows, per endpoint (DIGEST §2, `fixtures/`):
//!
//! - [`answer`]: an answer the service may give — a success body in the endpoint's shape,
//!   with the edges clients forget (an empty `result`, scores of exactly 0 and 1, boxes
//!   touching the image's edge, the fence's `fail` > 0, a huge list, unknown extra fields
//!   the vendor may add), or a documented error body with its HTTP status (capability codes
//!   in the endpoint's shape, as strings on face quality and liveness; gateway codes in the
//!   EOP body). `contract-tests client --explore` serves them to a client.
//! - [`request`]: a spec-valid request body, carrying images drawn with ground truth.
//!
//! Every strategy shrinks toward the plain case: a success before an error, an empty list,
//! a score of 0, no extra field.

mod request;

use proptest::prelude::*;
use proptest::sample::select;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use request::request;

const ROUTES_JSON: &str = include_str!("../../fixtures/routes.json");
const ERRORS_JSON: &str = include_str!("../../fixtures/errors.json");

/// Longest "huge" list an answer carries: big enough to find a client that assumes a
/// handful, small enough to serve in a millisecond.
pub const HUGE_LIST: usize = 400;

/// What the request carried, so that an answer fits it: boxes inside the image, one fence
/// entry per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub width: u32,
    pub height: u32,
    /// How many images the request sent.
    pub images: usize,
}

impl Default for Shape {
    /// A 640×480 image, one of it: used when the request's image could not be read.
    fn default() -> Shape {
        Shape { width: 640, height: 480, images: 1 }
    }
}

/// An answer of the service: HTTP status, vendor code and the whole body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub status: u16,
    /// 0 for a success.
    pub code: i64,
    pub body: Value,
}

impl Answer {
    fn success(body: Value) -> Answer {
        Answer { status: 200, code: 0, body }
    }

    /// The `what` of a fault rule (docs/faults.md) that makes the emulator give this
    /// answer: the body itself for a success, the code for an error (the emulator writes
    /// its documented body and status, the request id echoed).
    pub fn rule_what(&self) -> Value {
        if self.code == 0 {
            json!({ "body": self.body })
        } else {
            json!({ "code": self.code })
        }
    }
}

/// One endpoint of `fixtures/routes.json`, as far as the strategies need it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Route {
    pub endpoint: String,
    pub capability: String,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub looks_for: Option<String>,
    #[serde(default)]
    pub images: Option<Count>,
}

/// How many images an endpoint takes.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Count {
    pub min: usize,
    pub max: usize,
}

/// One code of `fixtures/errors.json`.
#[derive(Debug, Clone, Deserialize)]
struct Documented {
    code: i64,
    scope: String,
    status: u16,
    message: String,
    #[serde(default)]
    string_code: bool,
    endpoints: Vec<String>,
    #[serde(default)]
    cause: Option<String>,
}

/// Every endpoint the routes name, in their order.
pub fn endpoints() -> Vec<String> {
    routes().map(|r| r.into_iter().map(|r| r.endpoint).collect()).unwrap_or_default()
}

pub(crate) fn route(endpoint: &str) -> Result<Route, String> {
    routes()?.into_iter().find(|r| r.endpoint == endpoint).ok_or_else(|| {
        format!("`{endpoint}` is no endpoint of fixtures/routes.json; use one of {}", endpoints().join(", "))
    })
}

fn routes() -> Result<Vec<Route>, String> {
    #[derive(Deserialize)]
    struct Routes {
        endpoints: Vec<Route>,
    }
    serde_json::from_str::<Routes>(ROUTES_JSON).map(|r| r.endpoints).map_err(|e| format!("fixtures/routes.json: {e}"))
}

fn documented(endpoint: &str) -> Result<Vec<Documented>, String> {
    #[derive(Deserialize)]
    struct Errors {
        codes: Vec<Documented>,
    }
    let errors: Errors = serde_json::from_str(ERRORS_JSON).map_err(|e| format!("fixtures/errors.json: {e}"))?;
    Ok(errors.codes.into_iter().filter(|c| c.endpoints.iter().any(|e| e == "*" || e == endpoint)).collect())
}

/// The codes a spec-valid request to `endpoint` may still get: 0 and the codes about what
/// the picture shows (`"cause": "content"`: no face, several faces, a spoof).
pub fn content_codes(endpoint: &str) -> Result<Vec<i64>, String> {
    let mut codes: Vec<i64> =
        documented(endpoint)?.iter().filter(|c| c.cause.as_deref() == Some("content")).map(|c| c.code).collect();
    codes.push(0);
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

/// Any answer `endpoint` may give to a request of `shape`: mostly successes, a quarter
/// documented errors.
pub fn answer(endpoint: &str, shape: Shape) -> Result<BoxedStrategy<Answer>, String> {
    let success = success(endpoint, shape)?.prop_map(Answer::success);
    Ok(prop_oneof![3 => success, 1 => error(endpoint)?].boxed())
}

/// A success body of `endpoint` for a request of `shape`.
pub fn success(endpoint: &str, shape: Shape) -> Result<BoxedStrategy<Value>, String> {
    let route = route(endpoint)?;
    let (width, height) = (shape.width.max(1), shape.height.max(1));
    let result = match route.capability.as_str() {
        "detect" if !route.classes.is_empty() => {
            list(detection(route.classes, width, height)).prop_map(Value::from).boxed()
        }
        "fence" => return Ok(fence(width, height, shape.images.max(1))),
        "face_quality" => with_extras(select(vec!["good", "medium", "bad"]).prop_map(|q| json!({ "face_quality": q }))),
        "liveness" => with_extras(any::<bool>().prop_map(|b| json!({ "action_detected": b }))),
        "action" => with_extras(score().prop_map(|s| json!({ "score": s }))),
        other => return Err(format!("no answer strategy for capability `{other}` of `{endpoint}`")),
    };
    Ok(with_extras(result.prop_map(|result| json!({"code": 0, "message": "success", "result": result}))))
}

/// A documented error of `endpoint`, in the body and with the status the service sends.
pub fn error(endpoint: &str) -> Result<BoxedStrategy<Answer>, String> {
    let codes = documented(endpoint)?;
    if codes.is_empty() {
        return Err(format!("no documented code for `{endpoint}` in fixtures/errors.json"));
    }
    Ok(select(codes).prop_map(|c| error_answer(&c)).boxed())
}

fn error_answer(c: &Documented) -> Answer {
    let text = c.message.replace("{index}", "1");
    let body = if c.scope == "gateway" {
        let code = c.code.to_string();
        json!({"requestId": "[request-id]", "error": code, "code": code, "message": text,
               "eopErrCode": code, "statusCode": format!("CTAPI_{code}"), "returnObj": {}})
    } else {
        let code = if c.string_code { Value::from(c.code.to_string()) } else { Value::from(c.code) };
        json!({"code": code, "message": "error", "details": text})
    };
    Answer { status: c.status, code: c.code, body }
}

/// A list as answers carry them: empty, a few, or huge (bounded by [`HUGE_LIST`]).
fn list<S: Strategy + 'static>(item: S) -> BoxedStrategy<Vec<S::Value>>
where
    S::Value: Clone,
{
    let item = item.boxed();
    prop_oneof![
        2 => Just(Vec::new()),
        6 => proptest::collection::vec(item.clone(), 1..=5),
        1 => proptest::collection::vec(item, HUGE_LIST / 4..=HUGE_LIST),
    ]
    .boxed()
}

/// A coordinate in `0..=max`, often exactly on an edge.
fn edge(max: u32) -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(max), 0..=max].boxed()
}

/// Two coordinates in `0..=max`, ordered.
fn span(max: u32) -> impl Strategy<Value = (u32, u32)> {
    (edge(max), edge(max)).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// A score in 0..1, often exactly 0 or 1, with at most four decimals.
fn score() -> BoxedStrategy<f64> {
    prop_oneof![Just(0.0), Just(1.0), (0.0..=1.0f64).prop_map(|s| (s * 10_000.0).round() / 10_000.0)].boxed()
}

/// `{box: [top, left, bottom, right], classname, score}` inside a `width`×`height` image.
fn detection(classes: Vec<String>, width: u32, height: u32) -> BoxedStrategy<Value> {
    let item = (span(height), span(width), select(classes), score()).prop_map(
        |((top, bottom), (left, right), classname, score)| {
            json!({"box": [top, left, bottom, right], "classname": classname, "score": score})
        },
    );
    with_extras(item)
}

/// The fence's answer to `images` images: `message` `{success, fail}` and one `result`
/// entry per image that succeeded.
fn fence(width: u32, height: u32, images: usize) -> BoxedStrategy<Value> {
    let fail = prop_oneof![Just(0), Just(images), 0..=images];
    let answer = fail.prop_flat_map(move |fail| {
        let entries = proptest::collection::vec(fence_entry(width, height), images - fail);
        (Just(fail), entries)
    });
    with_extras(answer.prop_map(
        move |(fail, result)| json!({"code": 0, "message": {"success": images - fail, "fail": fail}, "result": result}),
    ))
}

/// `{target_num, location: [{left, top, width, height}]}`; `target_num` is optional.
fn fence_entry(width: u32, height: u32) -> BoxedStrategy<Value> {
    let location = (span(width), span(height))
        .prop_map(|((left, right), (top, bottom))| json!({"left": left, "top": top, "width": right - left, "height": bottom - top}));
    (list(location), any::<bool>())
        .prop_map(|(location, counted)| {
            let mut entry = json!({ "location": location });
            if counted {
                entry["target_num"] = Value::from(location_len(&entry));
            }
            entry
        })
        .boxed()
}

fn location_len(entry: &Value) -> usize {
    entry["location"].as_array().map_or(0, Vec::len)
}

/// Adds up to two members the spec does not name (a vendor may add fields) to an object.
fn with_extras<S: Strategy<Value = Value> + 'static>(object: S) -> BoxedStrategy<Value> {
    (object, proptest::collection::vec((extra_key(), extra_value()), 0..=2))
        .prop_map(|(mut value, extras)| {
            if let Value::Object(map) = &mut value {
                for (key, extra) in extras {
                    map.entry(key).or_insert(extra);
                }
            }
            value
        })
        .boxed()
}

fn extra_key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["request_id", "time_cost", "version", "trace", "model"]).prop_map(String::from),
        "[a-z]{3,8}"
    ]
}

fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(json!({"nested": [1, "two"]})),
        Just(Value::Object(Map::new())),
    ]
}

#[cfg(test)]
mod tests;
