//! Judges a reply against what a case expects, by the OpenAPI document
//! (`fixtures/openapi.json`): the body's exact shape, its code, the HTTP status (exact for
//! capability answers; in the documented class for gateway codes, whose exact status the
//! vendor does not publish) and, for gateway codes, the EOP body echoing the request id.

use serde_json::Value;

use super::cases::Expect;
use crate::client::Reply;
use crate::openapi::catalogue::Code;
use crate::openapi::schema;

/// What the judge needs to know of the call it judges.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    /// The endpoint's path, as the OpenAPI document names it.
    pub path: &'a str,
    pub request_id: &'a str,
}

/// `Ok` when the reply is what `expect` documents; else what was wrong, in one line.
pub fn judge(doc: &Value, codes: &[Code], sent: Sent<'_>, expect: Expect, reply: &Reply) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&reply.raw).map_err(|_| {
        let text = String::from_utf8_lossy(&reply.raw);
        format!("HTTP {}: the body is not JSON: {}", reply.status, clip(&text))
    })?;
    let answered = describe(reply.status, &body);
    match expect {
        Expect::Success => success(doc, sent, reply, &body).map_err(|e| format!("{answered}: {e}")),
        Expect::Code(code) => {
            let documented = codes
                .iter()
                .find(|c| c.code == code)
                .ok_or_else(|| format!("code {code} is not in fixtures/errors.json"))?;
            error(doc, documented, sent, reply, &body).map_err(|e| format!("{answered}: {e}"))
        }
    }
}

fn success(doc: &Value, sent: Sent<'_>, reply: &Reply, body: &Value) -> Result<(), String> {
    if reply.status != 200 || code_of(body) != Some(0) {
        return Err("expected HTTP 200 and code 0".into());
    }
    let schema = branch(response_schema(doc, sent.path, 200)?, "result");
    schema::validate(doc, schema, body).map_err(|e| format!("not the documented success shape: {e}"))
}

fn error(doc: &Value, code: &Code, sent: Sent<'_>, reply: &Reply, body: &Value) -> Result<(), String> {
    let expected = format!("expected code {}", code.code);
    if code_of(body) != Some(i64::from(code.code)) {
        return Err(expected);
    }
    if code.is_gateway() {
        if reply.status / 100 != code.status / 100 {
            return Err(format!("{expected} with an HTTP status in the {}xx class", code.status / 100));
        }
        let schema = format!("#/components/schemas/GatewayError{}", code.status);
        let schema = schema::resolve(doc, &Value::from(schema))?;
        schema::validate(doc, schema, body).map_err(|e| format!("not the documented EOP body: {e}"))?;
        if body["requestId"] != sent.request_id {
            return Err(format!("requestId {} does not echo the request's id {}", body["requestId"], sent.request_id));
        }
        return Ok(());
    }
    if reply.status != code.status {
        return Err(format!("{expected} with HTTP {}", code.status));
    }
    if body["code"] != code.wire() {
        return Err(format!("code sent as {}; the spec sends it as {}", body["code"], code.wire()));
    }
    let schema = branch(response_schema(doc, sent.path, code.status)?, "details");
    schema::validate(doc, schema, body).map_err(|e| format!("not the documented error body: {e}"))
}

/// The schema of the answer with `status` to a POST on `path`.
fn response_schema<'a>(doc: &'a Value, path: &str, status: u16) -> Result<&'a Value, String> {
    let mut response = &doc["paths"][path]["post"]["responses"][status.to_string()];
    if let Some(reference) = response.get("$ref") {
        response = schema::resolve(doc, reference)?;
    }
    let schema = &response["content"]["application/json"]["schema"];
    if schema.is_null() {
        return Err(format!("fixtures/openapi.json documents no HTTP {status} answer for {path}"));
    }
    Ok(schema)
}

/// Of a `oneOf`, the option that requires `member` (`result` for a success, `details` for a
/// capability error), so a failure names the rule broken rather than every option's.
fn branch<'a>(schema: &'a Value, member: &str) -> &'a Value {
    let options = schema["oneOf"].as_array().into_iter().flatten();
    let mut requiring = options.filter(|o| o["required"].as_array().is_some_and(|r| r.iter().any(|m| m == member)));
    requiring.next().unwrap_or(schema)
}

/// The body's `code`, a number or a string of digits.
fn code_of(body: &Value) -> Option<i64> {
    match &body["code"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `HTTP 200 code 4003`, as a failure names what came back.
fn describe(status: u16, body: &Value) -> String {
    match code_of(body) {
        Some(code) => format!("HTTP {status} code {code}"),
        None => format!("HTTP {status} with no code"),
    }
}

fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(80).collect();
    if clipped.len() < text.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}
