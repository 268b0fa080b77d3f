//! `docs/endpoints.md`: per endpoint its path, request fields, success body, codes and one
//! request/answer pair, all from the catalogue and the shapes in [`super::catalogue`]. The
//! answers are given by the caller (the contract suite asks a default server for them).

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};

use super::catalogue::{request_schema, success_parts, Catalogue, Route};

/// Where the page is kept, relative to the workspace.
pub const FILE: &str = "docs/endpoints.md";

/// One worked example: the body sent and the answer's status and body.
#[derive(Debug, Clone)]
pub struct Example {
    pub request: String,
    pub status: u16,
    pub answer: Value,
}

/// The section of `docs/codes.md` that explains a capability's codes.
pub fn codes_anchor(capability: &str) -> &'static str {
    match capability {
        "detect" => "hard-hat-and-work-clothes",
        "fence" => "e-fence",
        "face_quality" => "face-quality",
        "liveness" => "liveness-all-seven-actions",
        _ => "fall-and-fight",
    }
}

const INTRO: &str = "# The thirteen endpoints

Generated from `fixtures/routes.json` and `fixtures/errors.json` by `contract-tests`
(`contract_tests::openapi::reference`); do not edit by hand. The contract suite regenerates
this page and fails when it differs (`MOCK_REGENERATE=1 cargo test -p contract-tests --test
contract openapi` rewrites it). The same data makes the OpenAPI 3.1 document
`fixtures/openapi.json`, served at `GET /__mock/openapi.json`; [openapi.md](openapi.md) says
how it is checked.

Every call is `POST` with `Content-Type: application/json` and the signed EOP headers
`ctyun-eop-request-id`, `eop-date` (Beijing time), `appkey` and `Eop-Authorization`
(DIGEST §1; the README shows how to sign). Images are base64 without a `data:` prefix, standard
or URL-safe, padded or not; limits on images count the base64 text. Success is
`{\"code\":0,\"message\":\"success\",\"result\":…}` in HTTP 200; a capability error is
`{\"code\":…,\"message\":\"error\",\"details\":\"…\"}` in the status listed below; a gateway
error is the EOP body `{\"requestId\",\"error\",\"code\",\"message\",\"eopErrCode\",\"statusCode\",\"returnObj\"}`
(codes as strings) in a 4xx/5xx status. Every refusal carries `x-mock-reason`, the
emulator's explanation. What triggers each code: [codes.md](codes.md).

The examples were answered by a server started with no configuration (`mock-server`), whose
app `mock-appkey` has every API enabled.
";

/// The whole page.
pub fn render(catalogue: &Catalogue, examples: &BTreeMap<String, Example>) -> String {
    let mut out = String::from(INTRO);
    out.push_str("\n| endpoint | path | capability | billing |\n|---|---|---|---|\n");
    for r in &catalogue.routes {
        let billing = if r.paid { "paid" } else { "free" };
        let _ = writeln!(out, "| [{0}](#{0}) | `{1}` | {2} | {billing} |", r.endpoint, catalogue.path(r), r.capability);
    }
    for route in &catalogue.routes {
        out.push('\n');
        endpoint(&mut out, catalogue, route, examples.get(&route.endpoint));
    }
    out
}

fn endpoint(out: &mut String, catalogue: &Catalogue, route: &Route, example: Option<&Example>) {
    let _ = writeln!(out, "## {}\n\n`POST {}`\n", route.endpoint, catalogue.path(route));
    let billing = if route.paid {
        "Paid: the app needs the free quota or a package (51002 otherwise)."
    } else {
        "Free: the app only has to enable it (50002 otherwise)."
    };
    let _ =
        writeln!(out, "{billing} Formats: {}. Body at most {} bytes.\n", route.formats.join(", "), route.body_limit);
    out.push_str("Request fields:\n\n| field | type | required | limits | notes |\n|---|---|---|---|---|\n");
    for row in collapse(fields(&request_schema(route), "")) {
        out.push_str(&row.markdown(true));
    }
    let (message, result) = success_parts(route);
    out.push_str("\nSuccess body (HTTP 200):\n\n| field | type | limits | notes |\n|---|---|---|---|\n");
    out.push_str("| `code` | integer |  | always 0 |\n");
    for row in fields(&message, "message").into_iter().chain(fields(&result, "result")) {
        out.push_str(&row.markdown(false));
    }
    codes(out, catalogue, route);
    if let Some(example) = example {
        let answer = example.answer.to_string();
        let _ = writeln!(
            out,
            "\nExample request body:\n\n```json\n{}\n```\n\nIts answer (HTTP {}):\n\n```json\n{answer}\n```",
            example.request, example.status
        );
    }
}

fn codes(out: &mut String, catalogue: &Catalogue, route: &Route) {
    out.push_str("\nCodes besides 0:\n\n| code | HTTP | body `code` | message |\n|---|---|---|---|\n");
    for code in catalogue.codes_for(&route.endpoint) {
        let anchor = if code.is_gateway() { "gateway-every-endpoint" } else { codes_anchor(&route.capability) };
        let _ = writeln!(
            out,
            "| [{}](codes.md#{anchor}) | {} | {} | {} |",
            code.code,
            code.status,
            code.wire(),
            code.message
        );
    }
}

/// One table row: a field's dotted name and what its schema says.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    /// The last frame of a collapsed run of `imageNContent` rows.
    through: Option<String>,
    kind: String,
    required: bool,
    limits: String,
    notes: String,
}

impl Row {
    fn markdown(&self, with_required: bool) -> String {
        let required = if with_required {
            if self.required {
                "yes | "
            } else {
                "no | "
            }
        } else {
            ""
        };
        let name = match &self.through {
            Some(last) => format!("`{}` … `{last}`", self.name),
            None => format!("`{}`", self.name),
        };
        format!("| {name} | {} | {required}{} | {} |\n", self.kind, self.limits, self.notes)
    }

    /// Whether `next` is the frame after this row's last one, alike in everything else.
    fn continued_by(&self, next: &Row) -> bool {
        let last = self.through.as_deref().unwrap_or(&self.name);
        frame_number(last) > 0
            && frame_number(last) + 1 == frame_number(&next.name)
            && (&self.kind, self.required, &self.limits, &self.notes)
                == (&next.kind, next.required, &next.limits, &next.notes)
    }
}

/// The rows of a schema and everything under it; `name` is its own place (empty at the top).
fn fields(schema: &Value, name: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    walk(schema, name, true, &mut rows);
    rows
}

fn walk(schema: &Value, name: &str, required: bool, rows: &mut Vec<Row>) {
    if !name.is_empty() {
        let (kind, limits, notes) = (kind(schema), limits(schema), notes(schema));
        rows.push(Row { name: name.into(), through: None, kind, required, limits, notes });
    }
    children(schema, name, rows);
    if schema["items"]["properties"].is_object() {
        children(&schema["items"], &format!("{name}[]"), rows);
    }
}

fn children(schema: &Value, name: &str, rows: &mut Vec<Row>) {
    let needed: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut properties: Vec<(&String, &Value)> = schema["properties"].as_object().into_iter().flatten().collect();
    properties.sort_by_key(|(n, _)| (frame_number(n), (*n).clone()));
    for (field, sub) in properties {
        let dotted = if name.is_empty() { field.clone() } else { format!("{name}.{field}") };
        walk(sub, &dotted, needed.contains(&field.as_str()), rows);
    }
}

/// `imageNContent` sorts by N; other names come first, by name.
fn frame_number(name: &str) -> usize {
    name.strip_prefix("image").and_then(|r| r.strip_suffix("Content")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Runs of liveness frames alike in all but the number become one row, `image4Content` … `image35Content`.
fn collapse(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(last) if last.continued_by(&row) => last.through = Some(row.name),
            _ => out.push(row),
        }
    }
    out
}

fn kind(schema: &Value) -> String {
    let base = schema["type"].as_str().unwrap_or("any");
    match base {
        "array" => format!("array of {}", kind(&schema["items"])),
        _ => base.into(),
    }
}

fn limits(schema: &Value) -> String {
    let mut parts = Vec::new();
    let number = |k: &str| schema[k].as_f64().map(|n| n.to_string());
    if let (Some(lo), Some(hi)) = (number("minItems"), number("maxItems")) {
        parts.push(if lo == hi { format!("exactly {lo} items") } else { format!("{lo}–{hi} items") });
    }
    if let (Some(lo), Some(hi)) = (number("minimum"), number("maximum")) {
        parts.push(format!("{lo}–{hi}"));
    }
    let length = |s: &Value| s["maxLength"].as_u64().map(|n| format!("≤ {n} characters"));
    if let Some(text) = length(schema).or_else(|| length(&schema["items"])) {
        parts.push(if schema["items"].is_object() { format!("each {text}") } else { text });
    }
    if let Some(values) = schema["enum"].as_array() {
        let listed: Vec<String> = values.iter().map(Value::to_string).collect();
        parts.push(format!("one of {}", listed.join(", ")));
    }
    parts.join("; ")
}

fn notes(schema: &Value) -> String {
    let own = schema["description"].as_str().or_else(|| schema["items"]["description"].as_str());
    own.unwrap_or_default().replace('|', "\\|")
}

/// The request body of an endpoint's example: scenario images from `fixtures/scenes/`,
/// whose ground truth decides the answer on any server.
pub fn example_body(route: &Route) -> Result<String, String> {
    let image = |name: &str| {
        let path = crate::fixtures::dir().join("scenes").join(name);
        std::fs::read(&path).map(|bytes| BASE64_STANDARD.encode(bytes)).map_err(|e| format!("{}: {e}", path.display()))
    };
    let body = match route.capability.as_str() {
        "detect" => json!({ "image": image("workers.png")? }),
        "fence" => json!({ "image": [image("workers.png")?], "area": "0,0,200,0,200,240,0,240" }),
        "face_quality" => json!({ "imageContent": image("face-medium.png")? }),
        "liveness" => {
            let still = image("still-01.png")?;
            json!({ "image1Content": still, "image2Content": still, "image3Content": still })
        }
        _ if route.endpoint == "fight" => json!({ "images": [image("fight-01.png")?] }),
        _ => json!({ "images": [image("fall-01.jpg")?] }),
    };
    Ok(body.to_string())
}
