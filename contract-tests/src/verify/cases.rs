//! The behaviours a provider is checked on: per endpoint, a valid request (its success
//! shape) and each bad request that triggers one documented code without side effects
//! (a refused call is never charged); once, each gateway refusal a request can cause. The
//! codes no request can trigger safely are listed, with the reason, as skipped.

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};

use crate::image::{self, Scene};
use crate::openapi::catalogue::Route;

/// What a case expects: code 0 in the success shape, or one documented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Success,
    Code(u32),
}

/// How a case departs from a correct call, after or while signing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tweak {
    None,
    /// Signed with an access key no account has.
    UnknownAk,
    /// The signature's last characters changed.
    WrongSignature,
    /// `eop-date` not in `yyyymmddTHHMMSSZ` form, signed as sent.
    BadDate,
    /// `eop-date` in UTC (8 hours behind Beijing time), signed as sent.
    UtcDate,
    /// The body changed after signing.
    BodyAfterSigning,
    /// No `Eop-Authorization` header.
    NoAuthorization,
    NoAppkey,
    UnknownAppkey,
    /// Sent with this content type.
    ContentType(&'static str),
    /// Sent with this method.
    Method(&'static str),
    /// Sent to this path (after the base URL) instead of the endpoint's.
    Path(&'static str),
}

/// One request to send and what it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub endpoint: String,
    pub behaviour: String,
    pub body: Vec<u8>,
    pub tweak: Tweak,
    pub expect: Expect,
}

/// A documented code no request can trigger safely, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub endpoint: String,
    pub code: u32,
    pub reason: &'static str,
}

/// The gateway codes no request can trigger without changing or spending something: the
/// code, what it means and why it is not triggered.
pub const GATEWAY_SKIPS: [(u32, &str, &str); 8] = [
    (
        40009,
        "caller IP not allowed by the app",
        "needs an IP allowlist on the app: set in the console, a check must not change it",
    ),
    (
        40010,
        "caller IP not allowed by the API",
        "needs an IP allowlist on the API: set in the console, a check must not change it",
    ),
    (40029, "throttled", "needs the app's concurrency exceeded: a burst of calls against the service"),
    (50000, "internal error", "an internal error of the gateway: no request causes it"),
    (50002, "API not enabled on the app", "needs an app that has not enabled the API: a check must not change the app"),
    (51001, "package expired", "needs every package of the API expired"),
    (51002, "paid API not purchased", "needs a paid API with no package bought or claimed"),
    (51003, "no calls left", "needs the package used up: it would spend every call left"),
];

/// Why a capability code of this cause is not triggered (`fixtures/errors.json`'s `cause`).
pub fn skip_reason(cause: &str) -> &'static str {
    match cause {
        "server" => "a failure of the service itself: no request causes it",
        "content" => {
            "depends on what a real picture shows; the emulator reads it from ground truth the real service ignores"
        }
        _ => "no request known to cause it without side effects",
    }
}

/// Request-caused capability codes with no case, and why.
pub const CAPABILITY_SKIPS: [(&str, u32, &str); 2] = [
    ("fence", 4002, "needs a body over 35 MB"),
    (
        "face_quality",
        4210,
        "the manual lists it but describes frames of a sequence; one image that cannot be read is 4203 (docs/codes.md)",
    ),
];

fn png(width: u32, height: u32) -> String {
    let bytes = image::png(&Scene::default(), width, height).unwrap_or_default();
    BASE64_STANDARD.encode(bytes)
}

fn case(endpoint: &str, behaviour: &str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case { endpoint: endpoint.into(), behaviour: behaviour.into(), body: body.into(), tweak: Tweak::None, expect }
}

fn json_case(endpoint: &str, behaviour: &str, body: &Value, code: u32) -> Case {
    case(endpoint, behaviour, body.to_string(), Expect::Code(code))
}

/// Base64 text that is not base64.
const NOT_BASE64: &str = "%%%% not base64 %%%%";

/// A valid request body for `route` and the cases of its documented request errors.
pub fn for_endpoint(route: &Route, valid: String) -> Vec<Case> {
    let e = route.endpoint.as_str();
    let mut cases = vec![case(e, "success shape (a valid request)", valid, Expect::Success)];
    let text = BASE64_STANDARD.encode("plain text, not an image");
    let more = match route.capability.as_str() {
        "detect" => vec![
            json_case(e, "body not an object", &json!(["image"]), 4006),
            json_case(e, "missing key: `img` for `image`", &json!({"img": png(32, 24)}), 4001),
            json_case(e, "bad base64", &json!({"image": NOT_BASE64}), 4003),
            json_case(e, "a `data:` url", &json!({"image": format!("data:image/png;base64,{}", png(32, 24))}), 4003),
            json_case(e, "unsupported format (text)", &json!({"image": text}), 4003),
            json_case(
                e,
                "image over the size limit",
                &json!({"image": "A".repeat(route.image_limit as usize + 4)}),
                4002,
            ),
        ],
        "fence" => fence(e),
        "face_quality" => vec![
            json_case(e, "wrong key: `image` for `imageContent`", &json!({"image": png(32, 24)}), 4201),
            json_case(e, "wrong type: a number", &json!({"imageContent": 5}), 4202),
            json_case(e, "bad base64", &json!({"imageContent": NOT_BASE64}), 4203),
            json_case(e, "unsupported format (text)", &json!({"imageContent": text}), 4203),
            json_case(e, "image over 960×1280", &json!({"imageContent": png(961, 1281)}), 4205),
        ],
        "liveness" => liveness(e),
        _ => vec![
            json_case(e, "body not an object", &json!(["images"]), 4003),
            json_case(e, "missing key `images`", &json!({"image": [png(32, 24)]}), 4010),
            json_case(e, "wrong type: `images` a string", &json!({"images": png(32, 24)}), 4012),
            json_case(e, "no images", &json!({"images": []}), 4013),
            json_case(e, "too many images (65)", &json!({"images": vec![png(8, 8); 65]}), 4013),
            json_case(e, "bad base64", &json!({"images": [NOT_BASE64]}), 4015),
        ],
    };
    cases.extend(more);
    cases
}

fn fence(e: &str) -> Vec<Case> {
    let area = "0,0,30,0,30,20,0,20";
    let image = png(32, 24);
    vec![
        json_case(e, "body not an object", &json!([image]), 4004),
        json_case(e, "an extra key", &json!({"image": [image], "area": area, "extra": 1}), 4005),
        json_case(e, "missing key `area`", &json!({"image": [image]}), 4005),
        json_case(e, "wrong type: `image` a string", &json!({"image": image, "area": area}), 4006),
        json_case(e, "no images", &json!({"image": [], "area": area}), 4007),
        json_case(e, "too many images (33)", &json!({"image": vec![png(8, 8); 33], "area": area}), 4007),
        json_case(e, "bad base64", &json!({"image": [NOT_BASE64], "area": area}), 4009),
        json_case(e, "area as a list", &json!({"image": [image], "area": [0, 0, 30, 0, 30, 20]}), 4011),
        json_case(e, "area malformed (2 points)", &json!({"image": [image], "area": "0,0,30,0"}), 4012),
        json_case(e, "area outside the image", &json!({"image": [image], "area": "0,0,300,0,300,200"}), 4013),
    ]
}

fn frames(count: usize, frame: &str) -> Value {
    Value::Object((1..=count).map(|i| (format!("image{i}Content"), Value::from(frame))).collect())
}

fn liveness(e: &str) -> Vec<Case> {
    let frame = png(32, 24);
    let mut gap = frames(4, &frame);
    if let Some(map) = gap.as_object_mut() {
        map.remove("image3Content");
    }
    let broken_header = BASE64_STANDARD.encode(&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR broken"[..]);
    let mut first_broken = frames(3, &frame);
    first_broken["image1Content"] = Value::from(broken_header);
    let mut first_bad = frames(3, &frame);
    first_bad["image1Content"] = Value::from(NOT_BASE64);
    vec![
        json_case(e, "wrong key: `frame1`", &json!({"frame1": frame}), 4201),
        json_case(
            e,
            "wrong type: a frame a number",
            &json!({"image1Content": 5, "image2Content": 5, "image3Content": 5}),
            4202,
        ),
        json_case(e, "a frame with a broken header", &first_broken, 4203),
        json_case(e, "a frame over 960×1280", &frames(3, &png(961, 1281)), 4205),
        json_case(e, "2 frames", &frames(2, &frame), 4207),
        json_case(e, "36 frames", &frames(36, &png(8, 8)), 4208),
        json_case(e, "frame 3 missing", &gap, 4209),
        json_case(e, "a frame not base64", &first_bad, 4210),
    ]
}

/// The gateway's refusals, sent to `endpoint` with its valid body.
pub fn gateway(endpoint: &str, valid: &str) -> Vec<Case> {
    let tweak = |behaviour: &str, tweak: Tweak, code: u32| Case {
        endpoint: endpoint.into(),
        behaviour: behaviour.into(),
        body: valid.as_bytes().to_vec(),
        tweak,
        expect: Expect::Code(code),
    };
    vec![
        tweak("GET method", Tweak::Method("GET"), 40008),
        tweak("wrong content type (text/plain)", Tweak::ContentType("text/plain"), 40008),
        tweak("unknown service path", Tweak::Path("/v1/aiop/api/contracttests/none"), 50001),
        tweak("unknown path within an API", Tweak::Path("/v1/aiop/api/2f3uquanbrpc/SafeHat/base/none"), 50003),
        tweak("unknown access key", Tweak::UnknownAk, 10002),
        tweak("no Eop-Authorization", Tweak::NoAuthorization, 10020),
        tweak("wrong signature", Tweak::WrongSignature, 10020),
        tweak("bad eop-date", Tweak::BadDate, 10020),
        tweak("eop-date in UTC", Tweak::UtcDate, 10020),
        tweak("body changed after signing", Tweak::BodyAfterSigning, 10020),
        tweak("missing appkey", Tweak::NoAppkey, 40002),
        tweak("unknown appkey", Tweak::UnknownAppkey, 40006),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Catalogue;
    use crate::openapi::catalogue::Catalogue as Spec;

    #[test]
    fn every_code_a_request_causes_has_a_case_or_a_stated_skip() {
        let spec = Spec::load().expect("the catalogue");
        let causes = Catalogue::builtin().expect("errors.json");
        for route in &spec.routes {
            let cases = for_endpoint(route, String::new());
            for code in spec.codes_for(&route.endpoint).into_iter().filter(|c| !c.is_gateway()) {
                let cause = causes.cause(i64::from(code.code), Some(&route.endpoint));
                let covered = cases.iter().any(|c| c.expect == Expect::Code(code.code))
                    || CAPABILITY_SKIPS.iter().any(|(e, c, _)| *e == route.endpoint && *c == code.code);
                assert!(cause != Some("request") || covered, "{} {}: no case and no skip", route.endpoint, code.code);
            }
        }
        let gateway: Vec<u32> = gateway("hat", "{}")
            .iter()
            .filter_map(|c| match c.expect {
                Expect::Code(code) => Some(code),
                Expect::Success => None,
            })
            .collect();
        for code in spec.codes.iter().filter(|c| c.is_gateway()) {
            let skipped = GATEWAY_SKIPS.iter().any(|(c, _, _)| *c == code.code);
            assert!(gateway.contains(&code.code) != skipped, "gateway {}: exactly one of a case or a skip", code.code);
        }
    }
}
