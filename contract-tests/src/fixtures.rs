//! Readers for the shared `fixtures/` directory: routes, error catalogue, signing vectors
//! and test images.

#![warn(missing_docs)]

use std::path::PathBuf;

use base64::prelude::{Engine, BASE64_STANDARD};
use serde::Deserialize;
use serde_json::Value;

/// The repository's `fixtures/` directory (found from this crate's manifest).
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("fixtures/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixtures/{name}: {e}"))
}

/// The full path of an endpoint, from `fixtures/routes.json`.
pub fn path(endpoint: &str) -> String {
    let routes = json("routes.json");
    let prefix = routes["prefix"].as_str().expect("prefix");
    let e = routes["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no endpoint {endpoint}"));
    format!("{prefix}{}/{}", e["api_id"].as_str().expect("api_id"), e["path"].as_str().expect("path"))
}

/// The catalogue entry of `code` for `endpoint` (gateway codes apply to all).
pub fn error(endpoint: &str, code: u32) -> Value {
    json("errors.json")["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .find(|e| {
            e["code"] == code && e["endpoints"].as_array().is_some_and(|l| l.iter().any(|n| n == "*" || n == endpoint))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no code {code} for {endpoint} in fixtures/errors.json"))
}

/// Every code `endpoint` may answer besides 0: its own and the gateway's, from
/// `fixtures/errors.json`.
pub fn codes_for(endpoint: &str) -> Vec<u32> {
    json("errors.json")["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .filter(|e| e["endpoints"].as_array().is_some_and(|l| l.iter().any(|n| n == "*" || n == endpoint)))
        .filter_map(|e| e["code"].as_u64().and_then(|c| u32::try_from(c).ok()))
        .collect()
}

/// The bytes of `fixtures/images/{name}`; panics, naming the file, when it cannot be read.
pub fn image(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("images").join(name)).unwrap_or_else(|e| panic!("fixtures/images/{name}: {e}"))
}

/// [`image`] in standard base64, as the endpoints' `image` field takes it.
pub fn image_b64(name: &str) -> String {
    BASE64_STANDARD.encode(image(name))
}

/// One vector of `fixtures/signing/vectors.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    /// What the vector shows.
    pub name: String,
    /// The access key signed with.
    pub ak: String,
    /// The secret key signed with.
    pub sk: String,
    /// The `eop-date` signed (Beijing time).
    pub eop_date: String,
    /// The signed headers, name and value.
    pub headers: Vec<(String, String)>,
    /// The query string, as sent.
    pub query: String,
    /// The body, as sent.
    pub body: String,
    /// The string to sign the vector expects.
    pub string_to_sign: String,
    /// The expected base64 signature.
    pub signature: String,
    /// The expected `Eop-Authorization` value.
    pub authorization: String,
}

/// Every vector of `fixtures/signing/vectors.json`.
pub fn vectors() -> Vec<Vector> {
    serde_json::from_value(json("signing/vectors.json")).expect("vectors.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoints_codes_include_the_gateways_and_only_its_own() {
        let hat = codes_for("hat");
        assert!(hat.contains(&10020) && hat.contains(&4001), "{hat:?}");
        assert!(!hat.contains(&4201), "face-quality codes are not the hard hat's: {hat:?}");
        assert!(codes_for("face_quality").contains(&4201));
        assert!(codes_for("no-such-endpoint").iter().all(|c| error("hat", *c)["scope"] == "gateway"));
    }
}
