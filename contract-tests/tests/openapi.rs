//! The OpenAPI document and the endpoint reference: both are what the catalogue generates
//! (so they cannot drift), the server serves the committed document, and real answers of
//! every endpoint — successes, capability errors, gateway errors — validate against it.
//!
//! `MOCK_REGENERATE=1` rewrites `fixtures/openapi.json` and `docs/endpoints.md` instead of
//! comparing them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use contract_tests::openapi::catalogue::{request_schema, Catalogue};
use contract_tests::openapi::reference::{self, Example};
use contract_tests::openapi::{self, schema};
use contract_tests::{Client, Reply};
use serde_json::{json, Value};

use crate::util::start;

fn workspace(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(file)
}

fn catalogue() -> Catalogue {
    Catalogue::load().expect("the catalogue in fixtures/")
}

/// Compares a generated file with the committed one, or rewrites it under `MOCK_REGENERATE=1`.
fn compare_or_write(file: &str, generated: &str) {
    let path = workspace(file);
    if std::env::var_os("MOCK_REGENERATE").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap_or_else(|e| panic!("{file}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!("{file} differs from what the catalogue generates (first at line {line}); rerun with MOCK_REGENERATE=1 and commit it");
    }
}

fn document() -> Value {
    let text = std::fs::read_to_string(workspace(openapi::FILE)).expect("fixtures/openapi.json");
    serde_json::from_str(&text).expect("fixtures/openapi.json is JSON")
}

/// The schema the document gives for an answer of `status` on `path`.
fn response_schema<'a>(doc: &'a Value, path: &str, status: u16) -> Result<&'a Value, String> {
    let responses = &doc["paths"][path]["post"]["responses"];
    let response = responses.get(status.to_string()).ok_or_else(|| format!("{path} documents no status {status}"))?;
    let response = match response.get("$ref") {
        Some(r) => schema::resolve(doc, r)?,
        None => response,
    };
    Ok(&response["content"]["application/json"]["schema"])
}

/// Checks a real answer against the document: its status is listed, its content type is
/// JSON, and its body fits the schema.
fn conforms(doc: &Value, path: &str, reply: &Reply) -> Result<(), String> {
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("content type {content_type}"));
    }
    let body: Value = serde_json::from_slice(&reply.raw).map_err(|e| format!("not JSON: {e}"))?;
    schema::validate(doc, response_schema(doc, path, reply.status)?, &body)
        .map_err(|e| format!("HTTP {} {body}: {e}", reply.status))
}

async fn examples(client: &Client, catalogue: &Catalogue) -> BTreeMap<String, Example> {
    let mut out = BTreeMap::new();
    for route in &catalogue.routes {
        let request = reference::example_body(route).expect("the example's images");
        let reply = client.post(&catalogue.path(route), request.clone()).await;
        out.insert(route.endpoint.clone(), Example { request, status: reply.status, answer: reply.json() });
    }
    out
}

#[test]
fn the_committed_openapi_document_is_what_the_catalogue_generates() {
    compare_or_write(openapi::FILE, &openapi::render(&catalogue()).expect("the example images"));
}

#[tokio::test]
async fn the_endpoint_reference_is_what_the_catalogue_and_a_default_server_give() {
    let (s, catalogue) = (start().await, catalogue());
    let examples = examples(&s.client, &catalogue).await;
    for (endpoint, example) in &examples {
        assert_eq!((example.status, &example.answer["code"]), (200, &json!(0)), "{endpoint}'s example fails");
    }
    compare_or_write(reference::FILE, &reference::render(&catalogue, &examples));
}

#[test]
fn the_reference_links_only_to_sections_codes_md_has() {
    let codes = std::fs::read_to_string(workspace("docs/codes.md")).expect("docs/codes.md");
    let anchors: Vec<String> = codes
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.to_lowercase().replace(|c: char| !c.is_alphanumeric() && c != ' ' && c != '-', "").replace(' ', "-"))
        .collect();
    let page = std::fs::read_to_string(workspace(reference::FILE)).expect("docs/endpoints.md");
    for link in page.split("(codes.md#").skip(1).filter_map(|rest| rest.split(')').next()) {
        assert!(anchors.iter().any(|a| a == link), "docs/endpoints.md links codes.md#{link}; codes.md has {anchors:?}");
    }
}

#[tokio::test]
async fn the_server_serves_the_committed_document_byte_for_byte() {
    let s = start().await;
    let call = s.client.call("/__mock/openapi.json", Vec::new()).method("GET");
    let reply = s.client.send(call).await;
    let committed = std::fs::read(workspace(openapi::FILE)).expect("fixtures/openapi.json");
    assert_eq!(reply.status, 200);
    assert!(reply.raw == committed, "GET /__mock/openapi.json differs from fixtures/openapi.json");
}

#[test]
fn every_example_request_fits_its_request_body_schema() {
    let doc = document();
    for route in &catalogue().routes {
        let body: Value = serde_json::from_str(&reference::example_body(route).expect("images")).expect("json");
        let schema =
            &doc["paths"][catalogue().path(route)]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema, &request_schema(route), "{}", route.endpoint);
        schema::validate(&doc, schema, &body).unwrap_or_else(|e| panic!("{}: {e}", route.endpoint));
    }
}

/// Every code each endpoint documents, forced with `x-mock-force`, and the answers a few
/// plain mistakes get.
async fn answers(client: &Client, path: &str, codes: &[u32], example: &str) -> Vec<Reply> {
    let mut calls = vec![
        client.call(path, example.to_string()),
        client.call(path, "{}"),
        client.call(path, "[]"),
        client.call(path, example.to_string()).without("appkey"),
        client.call(path, example.to_string()).body("{\"image\":\"\"}"),
        client.call(path, example.to_string()).header("appkey", "no-such-appkey"),
    ];
    calls.extend(
        codes.iter().map(|code| client.call(path, example.to_string()).header("x-mock-force", &code.to_string())),
    );
    let mut replies = Vec::new();
    for call in calls {
        replies.push(client.send(call).await);
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_every_endpoint_validates_against_the_document() {
    let (s, catalogue, doc) = (start().await, catalogue(), document());
    for route in &catalogue.routes {
        let path = catalogue.path(route);
        let codes: Vec<u32> = catalogue.codes_for(&route.endpoint).iter().map(|c| c.code).collect();
        let example = reference::example_body(route).expect("images");
        let replies = answers(&s.client, &path, &codes, &example).await;
        let mut seen: Vec<i64> = replies.iter().map(Reply::code).collect();
        for reply in &replies {
            conforms(&doc, &path, reply).unwrap_or_else(|e| panic!("{}: {e}", route.endpoint));
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), codes.len() + 1, "{}: codes answered {seen:?}", route.endpoint);
    }
}

#[tokio::test]
async fn an_answer_that_breaks_the_contract_does_not_validate() {
    let (s, catalogue, doc) = (start().await, catalogue(), document());
    let hat = catalogue.routes.iter().find(|r| r.endpoint == "hat").expect("hat");
    let fence = catalogue.path(catalogue.routes.iter().find(|r| r.endpoint == "fence").expect("fence"));
    let hat_answer = s.client.post(&catalogue.path(hat), reference::example_body(hat).expect("images")).await;
    assert_eq!(conforms(&doc, &catalogue.path(hat), &hat_answer), Ok(()));
    assert!(conforms(&doc, &fence, &hat_answer).is_err(), "a hard-hat answer passed as an e-fence one");
    let schema = response_schema(&doc, &catalogue.path(hat), 200).expect("200");
    let broken = [
        json!({"code": 0, "message": "success", "result": [{"box": [1, 2, 3], "classname": "blue_hat", "score": 0.5}]}),
        json!({"code": 0, "message": "success", "result": [{"box": [1, 2, 3, 4], "classname": "green_hat", "score": 0.5}]}),
        json!({"code": "4001", "message": "error", "details": "请求未包含图片"}),
        json!({"code": 4201, "message": "error", "details": "请求内容错误"}),
    ];
    for body in broken {
        assert!(schema::validate(&doc, schema, &body).is_err(), "{body} passed as a hard-hat answer");
    }
    let gateway = response_schema(&doc, &catalogue.path(hat), 401).expect("401");
    let wrong_status = json!({"requestId": "r", "error": "40008", "code": "40008", "message": "m",
                              "eopErrCode": "40008", "statusCode": "CTAPI_40008", "returnObj": {}});
    assert!(schema::validate(&doc, gateway, &wrong_status).is_err(), "a 400 code passed as a 401 answer");
}
