//! The OpenAPI 3.1 document of the thirteen endpoints, generated from the catalogue
//! (`fixtures/routes.json`, `fixtures/errors.json`) into `fixtures/openapi.json`, and the
//! endpoint reference `docs/endpoints.md` made from the same data.
//!
//! - [`catalogue`] reads the fixtures and holds each capability's request and success shapes;
//! - [`document`] builds the OpenAPI document, [`reference`] the Markdown page;
//! - [`schema`] validates a JSON value against the subset of JSON Schema the document uses.
//!
//! The contract suite regenerates both files and fails when they differ from the committed
//! ones (`MOCK_REGENERATE=1` rewrites them instead).

pub mod catalogue;
pub mod reference;
pub mod schema;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use catalogue::{request_schema, success_parts, Catalogue, Code, Route};

/// Where the document is kept, relative to the workspace.
pub const FILE: &str = "fixtures/openapi.json";

/// The document as committed: pretty JSON and a newline.
pub fn render(catalogue: &Catalogue) -> Result<String, String> {
    Ok(format!("{:#}\n", document(catalogue)?))
}

/// The whole OpenAPI 3.1 document.
pub fn document(catalogue: &Catalogue) -> Result<Value, String> {
    let mut paths = Map::new();
    for route in &catalogue.routes {
        paths.insert(catalogue.path(route), json!({ "post": operation(catalogue, route)? }));
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "China Telecom Cloud safety-production AI APIs (offline emulator)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The thirteen endpoints behind the signed EOP gateway, as the emulator serves them. \
                Generated from fixtures/routes.json and fixtures/errors.json; do not edit by hand. \
                Capability errors answer HTTP 200 (5000-class ones 500) with {code, message: \"error\", details}; \
                gateway errors answer 4xx/5xx with the EOP body. Every refusal carries x-mock-reason, the emulator's explanation. \
                A config file's status overrides change the gateway statuses shown here.",
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "the emulator's default address (mock-server --addr)"}],
        "security": [{"EopAuthorization": []}],
        "paths": paths,
        "components": components(catalogue),
    }))
}

fn operation(catalogue: &Catalogue, route: &Route) -> Result<Value, String> {
    let example: Value = serde_json::from_str(&reference::example_body(route)?).map_err(|e| e.to_string())?;
    let billing = if route.paid {
        "paid: the app needs the free quota or a package (51002 otherwise)"
    } else {
        "free: the app only has to enable it (50002 otherwise)"
    };
    let parameters =
        ["RequestId", "EopDate", "Appkey"].map(|p| json!({"$ref": format!("#/components/parameters/{p}")}));
    Ok(json!({
        "operationId": route.endpoint,
        "summary": format!("{} ({})", route.endpoint, route.capability),
        "description": format!("{billing}. The body may be at most {} bytes; larger ones answer {}.", route.body_limit, too_large(catalogue, route)),
        "tags": [route.capability],
        "parameters": parameters,
        "requestBody": {"required": true, "content": {"application/json": {
            "schema": request_schema(route),
            "examples": {"scenes": {"summary": "scenario images from fixtures/scenes/: code 0 (docs/endpoints.md)", "value": example}},
        }}},
        "responses": responses(catalogue, route),
    }))
}

fn too_large(catalogue: &Catalogue, route: &Route) -> String {
    let codes: Vec<String> = catalogue
        .codes_for(&route.endpoint)
        .iter()
        .filter(|c| !c.is_gateway() && (c.message.contains("大小") || c.message.contains("超限")))
        .map(|c| c.code.to_string())
        .collect();
    if codes.is_empty() {
        "a capability error".into()
    } else {
        format!("code {}", codes.join("/"))
    }
}

/// One response per HTTP status the endpoint can answer.
fn responses(catalogue: &Catalogue, route: &Route) -> Value {
    let mut by_status: BTreeMap<u16, Vec<&Code>> = BTreeMap::new();
    for code in catalogue.codes_for(&route.endpoint) {
        by_status.entry(code.status).or_default().push(code);
    }
    by_status.entry(200).or_default();
    let mut out = Map::new();
    for (status, codes) in by_status {
        let (own, gateway): (Vec<&Code>, Vec<&Code>) = codes.into_iter().partition(|c| !c.is_gateway());
        let response = if own.is_empty() && status != 200 {
            json!({"$ref": format!("#/components/responses/Gateway{status}")})
        } else {
            mixed_response(route, status, &own, !gateway.is_empty())
        };
        out.insert(status.to_string(), response);
    }
    Value::Object(out)
}

fn mixed_response(route: &Route, status: u16, own: &[&Code], gateway: bool) -> Value {
    let mut options = Vec::new();
    if status == 200 {
        options.push(success_schema(route));
    }
    if !own.is_empty() {
        options.push(capability_error(own));
    }
    if gateway {
        options.push(json!({"$ref": format!("#/components/schemas/GatewayError{status}")}));
    }
    let schema = if options.len() == 1 { options.remove(0) } else { json!({ "oneOf": options }) };
    let listed: Vec<String> = own.iter().map(|c| c.code.to_string()).collect();
    let description = match (status, listed.is_empty()) {
        (200, true) => "success".to_string(),
        (200, false) => format!("success, or a capability error: {}", listed.join(", ")),
        _ => format!("a capability error ({}){}", listed.join(", "), if gateway { " or a gateway error" } else { "" }),
    };
    let mut response = json!({"description": description, "content": {"application/json": {"schema": schema}}});
    if !own.is_empty() {
        response["headers"] = json!({"x-mock-reason": {"$ref": "#/components/headers/XMockReason"}});
    }
    response
}

fn success_schema(route: &Route) -> Value {
    let (message, result) = success_parts(route);
    json!({
        "type": "object", "required": ["code", "message", "result"],
        "properties": {"code": {"type": "integer", "enum": [0]}, "message": message, "result": result},
    })
}

/// `{code, message: "error", details}` for these codes; `code` a number or a string as the
/// catalogue says.
fn capability_error(codes: &[&Code]) -> Value {
    let (strings, numbers): (Vec<&&Code>, Vec<&&Code>) = codes.iter().partition(|c| c.string_code);
    let mut kinds = Vec::new();
    if !numbers.is_empty() {
        kinds.push(json!({"type": "integer", "enum": numbers.iter().map(|c| c.wire()).collect::<Vec<_>>()}));
    }
    if !strings.is_empty() {
        kinds.push(json!({"type": "string", "enum": strings.iter().map(|c| c.wire()).collect::<Vec<_>>()}));
    }
    let code = if kinds.len() == 1 { kinds.remove(0) } else { json!({ "oneOf": kinds }) };
    json!({
        "type": "object", "required": ["code", "message", "details"],
        "properties": {
            "code": code,
            "message": {"type": "string", "enum": ["error"]},
            "details": {"type": "string", "description": "the vendor's Chinese message for the code (docs/codes.md)"},
        },
    })
}

fn components(catalogue: &Catalogue) -> Value {
    let mut gateway: BTreeMap<u16, Vec<&Code>> = BTreeMap::new();
    for code in catalogue.codes.iter().filter(|c| c.is_gateway()) {
        gateway.entry(code.status).or_default().push(code);
    }
    let mut schemas = Map::new();
    let mut responses = Map::new();
    for (status, codes) in &gateway {
        let wire: Vec<Value> = codes.iter().map(|c| c.wire()).collect();
        let ctapi: Vec<String> = codes.iter().map(|c| format!("CTAPI_{}", c.code)).collect();
        let text = json!({"type": "string", "enum": wire});
        schemas.insert(format!("GatewayError{status}"), json!({
            "type": "object",
            "required": ["requestId", "error", "code", "message", "eopErrCode", "statusCode", "returnObj"],
            "properties": {
                "requestId": {"type": "string", "description": "the request's ctyun-eop-request-id"},
                "error": text, "code": text, "eopErrCode": text,
                "message": {"type": "string", "description": "the vendor's Chinese message for the code (docs/codes.md)"},
                "statusCode": {"type": "string", "enum": ctapi},
                "returnObj": {"type": "object", "additionalProperties": false},
            },
        }));
        let listed: Vec<String> = codes.iter().map(|c| c.code.to_string()).collect();
        responses.insert(format!("Gateway{status}"), json!({
            "description": format!("a gateway error: {}", listed.join(", ")),
            "headers": {"x-mock-reason": {"$ref": "#/components/headers/XMockReason"}},
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/GatewayError{status}")}}},
        }));
    }
    json!({
        "securitySchemes": {"EopAuthorization": {
            "type": "apiKey", "in": "header", "name": "Eop-Authorization",
            "description": "`<AK> Headers=<h1;h2;…> Signature=<base64>`: HMAC-SHA256 chain SK → eop-date → AK → yyyymmdd over \
                the signed headers (name:value lines, sorted; ctyun-eop-request-id and eop-date at least), an empty line for the \
                query, and the hex SHA-256 of the body bytes as sent (docs/decisions.md, DIGEST §1). Not a static key: sign every call.",
        }},
        "parameters": {
            "RequestId": {"name": "ctyun-eop-request-id", "in": "header", "required": true,
                          "description": "a client-chosen id (a UUID usually); must be signed",
                          "schema": {"type": "string", "minLength": 1}},
            "EopDate": {"name": "eop-date", "in": "header", "required": true,
                        "description": "yyyymmddTHHMMSSZ in Beijing time (UTC+8) with a literal Z, valid 15 minutes; must be signed",
                        "schema": {"type": "string", "minLength": 16, "maxLength": 16}},
            "Appkey": {"name": "appkey", "in": "header", "required": true,
                       "description": "the AI application's key (40002 without it, 40006 when unknown)",
                       "schema": {"type": "string", "minLength": 1}},
        },
        "headers": {"XMockReason": {
            "description": "the emulator's explanation of a refusal: which check failed and what to do (the real service sends none)",
            "schema": {"type": "string"},
        }},
        "schemas": schemas,
        "responses": responses,
    })
}
