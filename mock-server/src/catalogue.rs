//! The vendor-defined data, declared once in `fixtures/` and compiled in: the endpoints
//! (route, capability, limits, classes) and the error catalogue (code, HTTP status, message).
//!
//! Handlers name codes through the constants in [`code`]; the status and text of each come
//! from here, so a correction to the vendor's data is a change to one JSON file. The
//! constants are checked against `errors.json` (scope and endpoints) by this module's tests.
//! An endpoint's capability, what it looks for and its image-count and size limits are
//! data too ([`Capability`]).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::vision::scene::ACTIONS;
use crate::vision::{ImageFormat, Wear};

const ROUTES_JSON: &str = include_str!("../../fixtures/routes.json");
const ERRORS_JSON: &str = include_str!("../../fixtures/errors.json");

/// The vendor's error codes, by meaning. Capability codes are numbered per endpoint family.
pub mod code {
    pub const AK_UNKNOWN: u32 = 10002;
    pub const SIGNATURE: u32 = 10020;
    pub const APPKEY_MISSING: u32 = 40002;
    pub const APPKEY_INVALID: u32 = 40006;
    pub const REQUEST_TYPE: u32 = 40008;
    /// The emulator's own: the app's concurrency limit (the vendor documents no code).
    pub const THROTTLED: u32 = 40029;
    pub const IP_NOT_ALLOWED_BY_APP: u32 = 40009;
    pub const IP_NOT_ALLOWED_BY_API: u32 = 40010;
    pub const INTERNAL: u32 = 50000;
    pub const SERVICE_UNREGISTERED: u32 = 50001;
    pub const APP_NOT_ENABLED: u32 = 50002;
    pub const INVALID_URL: u32 = 50003;
    pub const PACKAGE_EXPIRED: u32 = 51001;
    pub const PAID_NOT_PURCHASED: u32 = 51002;
    pub const NO_CALLS_LEFT: u32 = 51003;

    /// hard-hat and work-clothes.
    pub mod detect {
        pub const NO_IMAGE: u32 = 4001;
        pub const IMAGE_TOO_LARGE: u32 = 4002;
        pub const BAD_BASE64: u32 = 4003;
        pub const NOT_AN_OBJECT: u32 = 4006;
    }

    /// e-fence.
    pub mod fence {
        pub const TOO_LARGE: u32 = 4002;
        pub const NOT_AN_OBJECT: u32 = 4004;
        pub const BAD_KEYS: u32 = 4005;
        pub const IMAGE_NOT_A_LIST: u32 = 4006;
        pub const IMAGE_COUNT: u32 = 4007;
        pub const IMAGE_UNPARSABLE: u32 = 4009;
        pub const AREA_NOT_A_STRING: u32 = 4011;
        pub const AREA_MALFORMED: u32 = 4012;
        pub const AREA_OUTSIDE: u32 = 4013;
    }

    /// face quality and the seven liveness actions (4207–4209: the liveness actions only).
    pub mod face {
        pub const EMPTY_OR_WRONG_KEY: u32 = 4201;
        pub const BAD_FORMAT: u32 = 4202;
        pub const UNDECODABLE: u32 = 4203;
        pub const SPOOF: u32 = 4204;
        pub const TOO_BIG: u32 = 4205;
        pub const TOO_FEW_FRAMES: u32 = 4207;
        pub const TOO_MANY_FRAMES: u32 = 4208;
        pub const FRAME_MISSING: u32 = 4209;
        pub const FRAME_UNDECODABLE: u32 = 4210;
        pub const NO_FACE: u32 = 4212;
        pub const SEVERAL_FACES: u32 = 4213;
    }

    /// fall and fight.
    pub mod action {
        pub const NOT_AN_OBJECT: u32 = 4003;
        pub const NO_IMAGES: u32 = 4010;
        pub const IMAGES_NOT_A_LIST: u32 = 4012;
        pub const IMAGE_COUNT: u32 = 4013;
        pub const IMAGE_UNPARSABLE: u32 = 4015;
    }
}

/// Which family of checks produced a code: the gateway's body shape or the capability's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Gateway,
    Capability,
}

/// One row of `fixtures/errors.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorEntry {
    pub code: u32,
    pub scope: Scope,
    /// HTTP status sent with this code, unless the configuration overrides it.
    pub status: u16,
    /// The manual's text: the gateway's `message`, or a capability's `details`.
    pub message: String,
    /// The face-quality and liveness APIs carry error codes as strings (`"4204"`).
    #[serde(default)]
    pub string_code: bool,
    /// Endpoint names that may return this code; `*` for all.
    pub endpoints: Vec<String>,
    /// The stage that refuses with this code (`signature`, `billing`, `capability`, …), as
    /// the journal names it. The file's `cause` and `retry` are for clients and the contract
    /// checker (docs/client-contract.md).
    pub check: String,
}

impl ErrorEntry {
    pub fn applies_to(&self, endpoint: &str) -> bool {
        self.endpoints.iter().any(|e| e == "*" || e == endpoint)
    }
}

/// What the emulator does with a request once the gateway admits it, with the limits and
/// the target each capability reads from `fixtures/routes.json` (`capability`, `looks_for`,
/// `images`, `max_size`). A capability never branches on an endpoint's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// hard-hat and work-clothes: one image in, coloured boxes of what is worn out.
    Detect {
        wear: Wear,
    },
    /// e-fence: `images` images in, the people inside an area out.
    Fence {
        images: Count,
    },
    FaceQuality {
        max_size: Size,
    },
    /// A liveness endpoint: frames in, whether they show `action` (a scene's action name).
    Liveness {
        action: String,
        frames: Count,
        max_size: Size,
    },
    /// fall and fight: frames in, the probability of `incident` out.
    Action {
        incident: Incident,
        frames: Count,
    },
}

/// What an action endpoint scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    Fall,
    Fight,
}

/// How many images (or frames) a request carries: `min`–`max` accepted; the manual's
/// advice, where it gives one, is data for explanations and lints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Count {
    pub min: usize,
    pub max: usize,
    #[serde(default)]
    pub advised_min: Option<usize>,
    #[serde(default)]
    pub advised_max: Option<usize>,
}

/// The largest image accepted, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// An endpoint's capability as written in `fixtures/routes.json`: flat fields, checked
/// together when the catalogue is built.
#[derive(Debug, Deserialize)]
struct CapabilityFields {
    capability: String,
    #[serde(default)]
    looks_for: Option<String>,
    #[serde(default)]
    images: Option<Count>,
    #[serde(default)]
    max_size: Option<Size>,
}

impl TryFrom<CapabilityFields> for Capability {
    type Error = String;

    fn try_from(f: CapabilityFields) -> Result<Capability, String> {
        let images = || f.images.ok_or("`images` {min, max} is missing");
        let max_size = || f.max_size.ok_or("`max_size` {width, height} is missing");
        let looks_for = |known: &[&str]| match f.looks_for.as_deref() {
            Some(name) if known.contains(&name) => Ok(name.to_string()),
            other => Err(format!("`looks_for` is {other:?}; expected one of {}", known.join(", "))),
        };
        Ok(match f.capability.as_str() {
            "detect" => {
                let wear = if looks_for(&["hat", "clothes"])? == "hat" { Wear::Hat } else { Wear::Clothes };
                Capability::Detect { wear }
            }
            "fence" => Capability::Fence { images: images()? },
            "face_quality" => Capability::FaceQuality { max_size: max_size()? },
            "liveness" => {
                Capability::Liveness { action: looks_for(&ACTIONS)?, frames: images()?, max_size: max_size()? }
            }
            "action" => {
                let incident = if looks_for(&["fall", "fight"])? == "fall" { Incident::Fall } else { Incident::Fight };
                Capability::Action { incident, frames: images()? }
            }
            other => return Err(format!("unknown capability `{other}`")),
        })
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Capability, D::Error> {
        Capability::try_from(CapabilityFields::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One endpoint of `fixtures/routes.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    /// The emulator's short name (`hat`, `fence`, …), used in config, logs and the catalogue.
    #[serde(rename = "endpoint")]
    pub name: String,
    pub api_id: String,
    /// The path after `{prefix}{api_id}/`.
    pub path: String,
    #[serde(flatten)]
    pub capability: Capability,
    /// Paid APIs need a claimed free quota or a package; the others only need enabling.
    pub paid: bool,
    pub formats: Vec<ImageFormat>,
    /// Largest accepted image, counted in base64 characters.
    pub image_limit: usize,
    /// Largest body held in memory; a larger one is hashed and discarded while read.
    pub body_limit: usize,
    /// The code for a body too large to read at all (over twice `body_limit`).
    pub too_large_code: u32,
    #[serde(default)]
    pub classes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RoutesFile {
    prefix: String,
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct ErrorsFile {
    codes: Vec<ErrorEntry>,
}

/// The parsed fixtures, shared by every request.
#[derive(Debug)]
pub struct Catalogue {
    pub prefix: String,
    pub endpoints: Vec<Endpoint>,
    pub errors: Vec<ErrorEntry>,
}

impl Catalogue {
    /// The compiled-in catalogue. The fixtures are checked by this crate's tests, so a
    /// malformed file fails the build's tests rather than a user's start-up.
    pub fn get() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            let routes: RoutesFile = serde_json::from_str(ROUTES_JSON).expect("fixtures/routes.json is valid");
            let errors: ErrorsFile = serde_json::from_str(ERRORS_JSON).expect("fixtures/errors.json is valid");
            Catalogue { prefix: routes.prefix, endpoints: routes.endpoints, errors: errors.codes }
        })
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// The entry for `code` as returned by `endpoint`; gateway codes apply to every endpoint.
    pub fn error(&self, endpoint: Option<&str>, code: u32) -> Option<&ErrorEntry> {
        self.errors.iter().find(|e| {
            e.code == code
                && match endpoint {
                    Some(name) => e.applies_to(name),
                    None => e.scope == Scope::Gateway,
                }
        })
    }

    /// Every code the endpoint may return, gateway codes included.
    pub fn codes_for(&self, endpoint: &str) -> Vec<u32> {
        self.errors.iter().filter(|e| e.applies_to(endpoint)).map(|e| e.code).collect()
    }
}

/// The vendor's request headers the emulator reads, named once (a lookup by a `&str`
/// parses the name every time).
pub(crate) mod header {
    use hyper::header::HeaderName;

    pub static AUTHORIZATION: HeaderName = HeaderName::from_static("eop-authorization");
    pub static EOP_DATE: HeaderName = HeaderName::from_static("eop-date");
    pub static APPKEY: HeaderName = HeaderName::from_static("appkey");
    pub static REQUEST_ID: HeaderName = HeaderName::from_static("ctyun-eop-request-id");
}

#[cfg(test)]
mod tests;
