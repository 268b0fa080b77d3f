//! The catalogue as the document sees it: `fixtures/routes.json` and `fixtures/errors.json`,
//! plus what they do not hold — each capability's request fields and success body, written
//! once here as JSON Schema (DIGEST §2) and read by both the OpenAPI document and the
//! endpoint reference.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::fixtures;

/// One row of `fixtures/routes.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    pub endpoint: String,
    pub api_id: String,
    pub path: String,
    pub capability: String,
    pub paid: bool,
    pub formats: Vec<String>,
    pub image_limit: u64,
    pub body_limit: u64,
    #[serde(default)]
    pub classes: Vec<String>,
}

/// One row of `fixtures/errors.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Code {
    pub code: u32,
    pub scope: String,
    pub status: u16,
    pub message: String,
    pub description: String,
    pub string_code: bool,
    pub endpoints: Vec<String>,
}

impl Code {
    pub fn applies_to(&self, endpoint: &str) -> bool {
        self.endpoints.iter().any(|e| e == "*" || e == endpoint)
    }

    pub fn is_gateway(&self) -> bool {
        self.scope == "gateway"
    }

    /// The code as the body carries it: a string in the face APIs, else a number.
    pub fn wire(&self) -> Value {
        if self.string_code || self.is_gateway() {
            Value::from(self.code.to_string())
        } else {
            Value::from(self.code)
        }
    }
}

/// Both files, read from `fixtures/`.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub prefix: String,
    pub routes: Vec<Route>,
    pub codes: Vec<Code>,
}

#[derive(Deserialize)]
struct RoutesFile {
    prefix: String,
    endpoints: Vec<Route>,
}

#[derive(Deserialize)]
struct ErrorsFile {
    codes: Vec<Code>,
}

impl Catalogue {
    pub fn load() -> Result<Catalogue, String> {
        let read = |name: &str| {
            std::fs::read_to_string(fixtures::dir().join(name)).map_err(|e| format!("fixtures/{name}: {e}"))
        };
        let routes: RoutesFile =
            serde_json::from_str(&read("routes.json")?).map_err(|e| format!("fixtures/routes.json: {e}"))?;
        let errors: ErrorsFile =
            serde_json::from_str(&read("errors.json")?).map_err(|e| format!("fixtures/errors.json: {e}"))?;
        Ok(Catalogue { prefix: routes.prefix, routes: routes.endpoints, codes: errors.codes })
    }

    pub fn path(&self, route: &Route) -> String {
        format!("{}{}/{}", self.prefix, route.api_id, route.path)
    }

    /// The codes `endpoint` can answer: its own first, then the gateway's, each in catalogue order.
    pub fn codes_for(&self, endpoint: &str) -> Vec<&Code> {
        let (mut own, gateway): (Vec<&Code>, Vec<&Code>) =
            self.codes.iter().filter(|c| c.applies_to(endpoint)).partition(|c| !c.is_gateway());
        own.extend(gateway);
        own
    }
}

/// The most frames a liveness call may carry (4208 above it).
pub const MAX_FRAMES: usize = 35;

fn image_text(route: &Route) -> Value {
    json!({
        "type": "string",
        "maxLength": route.image_limit,
        "description": format!(
            "base64 of a {} image, standard or URL-safe alphabet, padded or not, without a `data:` prefix",
            route.formats.join("/")
        ),
    })
}

/// The request body a capability takes.
pub fn request_schema(route: &Route) -> Value {
    let image = image_text(route);
    match route.capability.as_str() {
        "detect" => json!({"type": "object", "required": ["image"], "properties": {"image": image}}),
        "fence" => json!({
            "type": "object", "required": ["image", "area"], "additionalProperties": false,
            "properties": {
                "image": {"type": "array", "minItems": 1, "maxItems": 32, "items": image,
                          "description": "the images to watch, each judged on its own"},
                "area": {"type": "string", "description": "the fence: \"x1,y1,x2,y2,…\", 3 to 9 points in pixels, clockwise or counter-clockwise, inside every image"},
            },
        }),
        "face_quality" => {
            let mut face = image;
            face["description"] = Value::from(format!(
                "{}: a face, at most 960 wide and 1280 high",
                face["description"].as_str().unwrap_or_default()
            ));
            json!({"type": "object", "required": ["imageContent"], "properties": {"imageContent": face}})
        }
        "liveness" => {
            let mut frames = Map::new();
            for i in 1..=MAX_FRAMES {
                frames.insert(format!("image{i}Content"), image.clone());
            }
            json!({
                "type": "object", "required": ["image1Content", "image2Content", "image3Content"],
                "additionalProperties": false, "properties": frames,
                "description": "frames image1Content … imageNContent in order, 3 to 35 (6 to 10 advised), each at most 960×1280",
            })
        }
        _ => json!({
            "type": "object", "required": ["images"],
            "properties": {"images": {"type": "array", "minItems": 1, "maxItems": 64, "items": image,
                                      "description": "consecutive frames (16 or more advised)"}},
        }),
    }
}

/// `message` and `result` of a capability's success body.
pub fn success_parts(route: &Route) -> (Value, Value) {
    let success = json!({"type": "string", "enum": ["success"]});
    let int = json!({"type": "integer", "minimum": 0});
    match route.capability.as_str() {
        "detect" => (
            success,
            json!({"type": "array", "description": "one entry per object found", "items": {
                "type": "object", "required": ["box", "classname", "score"],
                "properties": {
                    "box": {"type": "array", "minItems": 4, "maxItems": 4, "items": int,
                            "description": "[top, left, bottom, right] in pixels"},
                    "classname": {"type": "string", "enum": route.classes},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                },
            }}),
        ),
        "fence" => (
            json!({"type": "object", "required": ["success", "fail"],
                   "properties": {"success": int, "fail": int},
                   "description": "how many images were judged and how many failed"}),
            json!({"type": "array", "description": "one entry per image, in order", "items": {
                "type": "object", "required": ["target_num", "location"],
                "properties": {
                    "target_num": int,
                    "location": {"type": "array", "description": "people inside the fence", "items": {
                        "type": "object", "required": ["left", "top", "width", "height"],
                        "properties": {"left": int, "top": int, "width": int, "height": int},
                    }},
                },
            }}),
        ),
        "face_quality" => (
            success,
            json!({"type": "object", "required": ["face_quality"],
                   "properties": {"face_quality": {"type": "string", "enum": ["good", "medium", "bad"]}}}),
        ),
        "liveness" => (
            success,
            json!({"type": "object", "required": ["action_detected"],
                   "properties": {"action_detected": {"type": "boolean"}}}),
        ),
        _ => (
            success,
            json!({"type": "object", "required": ["score"],
                   "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1,
                                            "description": "how likely the frames show the action"}}}),
        ),
    }
}
