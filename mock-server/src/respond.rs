//! The only code that writes a response. Every vendor answer is one of: a success body, a
//! capability error body, or a gateway error body — in the vendor's exact shapes — plus the
//! emulator's own `x-mock-reason` header explaining any refusal. The control API's JSON
//! answers ([`control`]), the console page ([`html`]) and the 503 of a connection over the
//! limit ([`connection_limit`]) are written here too.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::catalogue::{code, Catalogue, Endpoint, Scope};

/// The header that says why a request was refused. The body stays as the vendor's.
pub const REASON_HEADER: &str = "x-mock-reason";

/// The one error type on the wire path: a vendor code and the emulator's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u32,
    /// Plain English: which check failed and what to do about it.
    pub reason: String,
    /// Fills `{index}` in messages that name a frame (liveness 4209).
    pub index: Option<usize>,
}

impl Refusal {
    pub fn new(code: u32, reason: impl Into<String>) -> Refusal {
        Refusal { code, reason: reason.into(), index: None }
    }
}

/// `refuse!(code, "format", args…)` builds a [`Refusal`].
#[macro_export]
macro_rules! refuse {
    ($code:expr, $($arg:tt)+) => {
        $crate::respond::Refusal::new($code, format!($($arg)+))
    };
}

/// What the pipeline decided.
#[derive(Debug)]
pub enum Answer {
    /// `{"code":0,"message":…,"result":…}`; `message` is `"success"` unless given.
    Success {
        message: Option<Value>,
        result: Value,
        /// Sent as `x-mock-reason`: why the answer is not what the request seemed to ask.
        note: Option<String>,
    },
    Refused(Refusal),
    /// The emulator itself is out of room (`--max-body-memory`): a 503 with its reason,
    /// not a vendor code; the journal records it as 50000.
    Busy(String),
}

/// How a response was rendered, for the journal.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub status: u16,
    pub code: u32,
    pub reason: Option<String>,
}

/// Per-server rendering settings.
#[derive(Debug, Default)]
pub struct Renderer {
    pub status_overrides: HashMap<u32, u16>,
}

#[derive(Serialize)]
struct SuccessBody<'a> {
    code: u32,
    message: &'a Value,
    result: &'a Value,
}

#[derive(Serialize)]
struct CapabilityError<'a> {
    code: Value,
    message: &'static str,
    details: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayError<'a> {
    request_id: &'a str,
    error: &'a str,
    code: &'a str,
    message: &'a str,
    eop_err_code: &'a str,
    status_code: &'a str,
    return_obj: serde_json::Map<String, Value>,
}

impl Renderer {
    /// Renders an answer. `close` asks the client to close the connection (after a body
    /// that was not read to its end).
    pub fn render(
        &self,
        endpoint: Option<&Endpoint>,
        request_id: &str,
        answer: &Answer,
        close: bool,
    ) -> (Response<Full<Bytes>>, Rendered) {
        let (status, body, rendered) = match answer {
            Answer::Success { message, result, note } => {
                let success = Value::from("success");
                let body = SuccessBody { code: 0, message: message.as_ref().unwrap_or(&success), result };
                (200, to_vec(&body), Rendered { status: 200, code: 0, reason: note.clone() })
            }
            Answer::Refused(refusal) => self.refusal(endpoint, request_id, refusal),
            Answer::Busy(reason) => {
                let body = to_vec(&serde_json::json!({ "error": reason }));
                (503, body, Rendered { status: 503, code: code::INTERNAL, reason: Some(reason.clone()) })
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
        if let Some(reason) = &rendered.reason {
            headers.insert(REASON_HEADER, header_safe(reason));
        }
        if close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        (response, rendered)
    }

    fn refusal(&self, endpoint: Option<&Endpoint>, request_id: &str, refusal: &Refusal) -> (u16, Vec<u8>, Rendered) {
        let catalogue = Catalogue::get();
        let entry = catalogue
            .error(endpoint.map(|e| e.name.as_str()), refusal.code)
            .or_else(|| catalogue.error(None, code::INTERNAL));
        let Some(entry) = entry else {
            return (
                500,
                b"{}".to_vec(),
                Rendered { status: 500, code: code::INTERNAL, reason: Some(refusal.reason.clone()) },
            );
        };
        let status = self.status_overrides.get(&entry.code).copied().unwrap_or(entry.status);
        let text = match refusal.index {
            Some(i) => entry.message.replace("{index}", &i.to_string()),
            None => entry.message.clone(),
        };
        let body = match entry.scope {
            Scope::Gateway => {
                let code = entry.code.to_string();
                to_vec(&GatewayError {
                    request_id,
                    error: &code,
                    code: &code,
                    message: &text,
                    eop_err_code: &code,
                    status_code: &format!("CTAPI_{code}"),
                    return_obj: serde_json::Map::new(),
                })
            }
            Scope::Capability => {
                let code =
                    if entry.string_code { Value::from(entry.code.to_string()) } else { Value::from(entry.code) };
                to_vec(&CapabilityError { code, message: "error", details: &text })
            }
        };
        (status, body, Rendered { status, code: entry.code, reason: Some(refusal.reason.clone()) })
    }
}

/// A control-API answer: pretty JSON and a newline, with the given status.
pub fn control(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{body:#}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What the console page may load: only what it embeds, and fetches of its own server.
const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:";

/// A page of the emulator's own (the console), never cached, loading nothing from elsewhere.
pub fn html(page: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(page.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The emulator's own refusal of a request it cannot honour as asked (not a vendor answer):
/// `{"error": message}`, with the message in `x-mock-reason` too.
pub fn emulator_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = control(status, &serde_json::json!({ "error": message }));
    response.headers_mut().insert(REASON_HEADER, header_safe(message));
    response
}

/// The whole HTTP/1.1 response a connection over the limit gets before it is closed: it is
/// written straight to the socket, since no request of it is read.
pub fn connection_limit(limit: usize) -> Vec<u8> {
    let body = format!(
        "{{\"error\":\"the server holds its limit of {limit} connections; retry later or raise --max-connections\"}}"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n{REASON_HEADER}: connection limit {limit} reached\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The raw answer to a plain-HTTP request sent to the HTTPS port (`--tls`), then closed.
pub fn plain_http_on_tls() -> Vec<u8> {
    let why = "the server speaks https (--tls): use an https:// url and trust the ready file's ca_cert";
    let body = format!("{{\"error\":\"{why}\"}}");
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n{REASON_HEADER}: {why}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// Longest `x-mock-reason`, in bytes; the whole text is in the log line and the journal.
pub(crate) const REASON_HEADER_MAX: usize = 1024;

/// A header value carrying any text, readable by any client: typographic punctuation
/// becomes its ASCII equivalent, other non-ASCII text is sent as UTF-8, control characters
/// are escaped, and the value is cut at [`REASON_HEADER_MAX`] bytes.
pub fn header_safe(text: &str) -> HeaderValue {
    let mut safe = String::with_capacity(text.len().min(REASON_HEADER_MAX));
    for c in text.chars() {
        match c {
            '\n' => safe.push_str("\\n"),
            '\u{2026}' => safe.push_str("..."),
            '\u{2013}' | '\u{2014}' => safe.push('-'),
            '\u{2192}' => safe.push_str("->"),
            '\u{2018}' | '\u{2019}' => safe.push('\''),
            '\u{201c}' | '\u{201d}' => safe.push('"'),
            '\u{2264}' => safe.push_str("<="),
            '\u{2265}' => safe.push_str(">="),
            '\u{00d7}' => safe.push('x'),
            c if c.is_control() => safe.extend(c.escape_unicode()),
            c => safe.push(c),
        }
        if safe.len() > REASON_HEADER_MAX {
            let mut end = REASON_HEADER_MAX - 3;
            while !safe.is_char_boundary(end) {
                end -= 1;
            }
            safe.truncate(end);
            safe.push_str("...");
            break;
        }
    }
    HeaderValue::from_bytes(safe.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("unprintable reason"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response<Full<Bytes>>) -> Value {
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn a_gateway_refusal_has_the_eop_shape_and_an_explanation() {
        let renderer = Renderer::default();
        let refusal = Answer::Refused(Refusal::new(code::SIGNATURE, "signed the wrong body"));
        let (response, rendered) = renderer.render(None, "req-1", &refusal, false);
        assert_eq!(rendered.code, 10020);
        assert_eq!(response.headers()[REASON_HEADER], "signed the wrong body");
        let body = body_of(response).await;
        assert_eq!(body["statusCode"], "CTAPI_10020");
        assert_eq!(body["eopErrCode"], "10020");
        assert_eq!(body["requestId"], "req-1");
        assert_eq!(body["message"], "签名错误");
    }

    #[tokio::test]
    async fn a_status_override_changes_only_the_status() {
        let renderer = Renderer { status_overrides: HashMap::from([(code::SIGNATURE, 403)]) };
        let (response, _) = renderer.render(None, "r", &Answer::Refused(Refusal::new(code::SIGNATURE, "x")), false);
        assert_eq!(response.status(), 403);
    }

    #[test]
    fn the_connection_limit_answer_is_a_whole_http_response() {
        let text = String::from_utf8(connection_limit(2)).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
        let body: Value = serde_json::from_str(body).expect("json");
        assert_eq!(
            body["error"],
            "the server holds its limit of 2 connections; retry later or raise --max-connections"
        );
    }

    #[test]
    fn reasons_with_newlines_and_chinese_fit_in_a_header() {
        assert_eq!(header_safe("a\nb 签 \u{2026} 4\u{2013}5").as_bytes(), "a\\nb 签 ... 4-5".as_bytes());
        let long = header_safe(&"x".repeat(5000));
        assert_eq!(long.len(), REASON_HEADER_MAX);
        assert!(long.as_bytes().ends_with(b"xx..."));
    }
}
