//! The server's request journal as the client checker reads it
//! (`GET /__mock/accounts/{ak}/journal`), and the error catalogue (`fixtures/errors.json`)
//! that says, per code, whose fault a refusal is.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The error catalogue, built into the binary so it runs anywhere.
const ERRORS_JSON: &str = include_str!("../../fixtures/errors.json");

/// What the journal holds for one account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Journal {
    #[serde(default)]
    pub ak: String,
    #[serde(default)]
    pub capacity: u64,
    /// Requests recorded since the account started (or was reset), dropped ones included.
    #[serde(default)]
    pub recorded: u64,
    /// The oldest requests the ring let go of.
    #[serde(default)]
    pub dropped: u64,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// One request, with the server's verdict on it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Entry {
    pub seq: u64,
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub at_ms: i64,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    /// `None` when the path is no endpoint's.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub appkey: Option<String>,
    #[serde(default)]
    pub status: u16,
    /// Face quality and liveness send their codes as strings; read either.
    #[serde(deserialize_with = "code_number")]
    pub code: i64,
    pub verdict: Verdict,
    /// The stage that refused (`signature`, `capability`, …).
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub lints: Vec<Lint>,
    #[serde(default)]
    pub images: Vec<Value>,
    #[serde(default)]
    pub elapsed_ms: f64,
    #[serde(default)]
    pub bytes_in: u64,
    #[serde(default)]
    pub bytes_out: u64,
    #[serde(default)]
    pub charged: bool,
    /// A fingerprint of the body's JSON content: two calls with the same digest on the
    /// same endpoint are the same request (a retry). `None` when the body was not kept.
    #[serde(default)]
    pub body_digest: Option<String>,
}

/// How the answer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Code 0.
    Accepted,
    /// Any other code, from a natural check.
    Refused,
    /// Asked for with `x-mock-force`.
    Forced,
    /// An armed rule or `--fault-rate`.
    Injected,
}

/// Something the real service tolerates that points to a client bug or a portability risk.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Lint {
    pub id: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub manual: String,
    /// What to change, from `fixtures/lints.json`.
    #[serde(default)]
    pub fix: String,
}

fn code_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().ok_or_else(|| serde::de::Error::custom("code out of range")),
        Value::String(s) => s.parse().map_err(|_| serde::de::Error::custom(format!("code {s:?} is not a number"))),
        other => Err(serde::de::Error::custom(format!("code {other} is not a number"))),
    }
}

/// One code of the catalogue, as far as the checker needs it.
#[derive(Debug, Clone, Deserialize)]
struct CodeEntry {
    code: i64,
    endpoints: Vec<String>,
    /// `request`, `account`, `server` or `throttle`: whose fault the refusal is.
    cause: Option<String>,
    /// `retryable` or `permanent`: whether a client may send the same request again.
    #[serde(default)]
    retry: Option<String>,
}

/// The codes every endpoint documents and whose fault each one is.
#[derive(Debug, Clone)]
pub struct Catalogue {
    codes: Vec<CodeEntry>,
}

impl Catalogue {
    /// The catalogue this binary was built with.
    pub fn builtin() -> Result<Catalogue, String> {
        Catalogue::from_json("fixtures/errors.json", ERRORS_JSON)
    }

    /// Reads an `errors.json`; every code must say its `cause`.
    pub fn from_json(name: &str, text: &str) -> Result<Catalogue, String> {
        #[derive(Deserialize)]
        struct File {
            codes: Vec<CodeEntry>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        if let Some(c) = file.codes.iter().find(|c| c.cause.is_none()) {
            return Err(format!(
                "{name}: code {} has no `cause`; give every code one (docs/client-contract.md)",
                c.code
            ));
        }
        Ok(Catalogue { codes: file.codes })
    }

    /// Every code `endpoint` documents besides 0 (its own and the gateway's), ascending.
    pub fn documented(&self, endpoint: &str) -> Vec<i64> {
        let mut codes: Vec<i64> = self.codes.iter().filter(|c| applies(c, endpoint)).map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// Whose fault `code` is on `endpoint` (any endpoint when the path was no endpoint's).
    pub fn cause(&self, code: i64, endpoint: Option<&str>) -> Option<&str> {
        self.find(code, endpoint).and_then(|c| c.cause.as_deref())
    }

    /// Whether `code` on `endpoint` may be retried: `retryable` or `permanent`.
    pub fn retry(&self, code: i64, endpoint: Option<&str>) -> Option<&str> {
        self.find(code, endpoint).and_then(|c| c.retry.as_deref())
    }

    /// `code` is `endpoint`'s own (a capability code), not the gateway's.
    pub fn is_own(&self, code: i64, endpoint: &str) -> bool {
        self.codes.iter().any(|c| c.code == code && c.endpoints.iter().any(|e| e == endpoint))
    }

    fn find(&self, code: i64, endpoint: Option<&str>) -> Option<&CodeEntry> {
        let mut matching = self.codes.iter().filter(|c| c.code == code);
        match endpoint {
            Some(e) => matching.find(|c| applies(c, e)),
            None => matching.next(),
        }
    }
}

fn applies(code: &CodeEntry, endpoint: &str) -> bool {
    code.endpoints.iter().any(|e| e == "*" || e == endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_string_and_number_codes() {
        let entry = r#"{"seq":1,"code":"4201","verdict":"refused","endpoint":"face_quality"}"#;
        let entry: Entry = serde_json::from_str(entry).expect("entry");
        assert_eq!((entry.code, entry.verdict), (4201, Verdict::Refused));
        let bad = r#"{"seq":1,"code":"good","verdict":"refused"}"#;
        let err = serde_json::from_str::<Entry>(bad).expect_err("not a code").to_string();
        assert!(err.starts_with("code \"good\" is not a number"), "{err}");
    }

    #[test]
    fn a_catalogue_without_causes_is_refused_with_the_code_named() {
        let text = r#"{"codes":[{"code":10020,"endpoints":["*"]}]}"#;
        let err = Catalogue::from_json("errors.json", text).expect_err("no cause");
        assert_eq!(err, "errors.json: code 10020 has no `cause`; give every code one (docs/client-contract.md)");
    }
}
