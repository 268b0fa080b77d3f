//! The control API under `/__mock/`: create accounts and apps, enable APIs, claim the free
//! quota, buy packages, read usage and counters, move clocks, reset accounts. JSON in and
//! out, no signature; served to loopback callers only, unless a token is configured, and
//! then to whoever presents it in `x-mock-token`. The routes are listed in `docs/control-api.md`;
//! the console page that shows them in a browser is [`console`].

mod console;
mod routes;

use std::net::IpAddr;

use hyper::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

use crate::registry::Change;
use crate::shared::Shared;

/// Where the control API lives: a prefix no vendor path can start with.
pub(crate) const PREFIX: &str = "/__mock/";

/// The control API's own error: an HTTP status and a message.
#[derive(Debug)]
pub(crate) struct Failure(pub StatusCode, pub String);

impl From<Change> for Failure {
    fn from(change: Change) -> Failure {
        match change {
            Change::NotFound(m) => Failure(StatusCode::NOT_FOUND, m),
            Change::Conflict(m) => Failure(StatusCode::CONFLICT, m),
            Change::Invalid(m) => Failure(StatusCode::BAD_REQUEST, m),
        }
    }
}

/// A control request, with its body already read (bounded by the body limit of an
/// unknown route: nothing is kept, so bodies are capped separately below).
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The query string, empty when there is none.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub peer: IpAddr,
    pub body: &'a [u8],
}

/// What a control request answers, for `respond` to write.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A status and a JSON body.
    Json(StatusCode, Value),
    /// The console page (HTML).
    Page(&'static str),
}

/// Answers a control request.
pub(crate) fn handle(shared: &Shared, req: &Request<'_>) -> Reply {
    let authorised = authorise(shared.admin_token.as_deref(), req);
    let result = match authorised {
        Ok(()) if console::asked(req) => return Reply::Page(console::page()),
        Ok(()) => routes::route(shared, req),
        Err(refused) => Err(refused),
    };
    match result {
        Ok((status, body)) => Reply::Json(status, body),
        Err(Failure(status, message)) => Reply::Json(status, json!({ "error": message })),
    }
}

fn authorise(token: Option<&str>, req: &Request<'_>) -> Result<(), Failure> {
    match token {
        Some(token) => {
            let header = req.headers.get("x-mock-token").map(|v| v.as_bytes().to_vec());
            // A browser opening the console cannot send a header: that page takes `?token=`.
            let given = header.or_else(|| console::asked(req).then(|| console::query_token(req.query)).flatten());
            if given.is_some_and(|g| constant_time_eq(&g, token.as_bytes())) {
                Ok(())
            } else {
                Err(Failure(
                    StatusCode::UNAUTHORIZED,
                    "the control api needs the configured token in x-mock-token (the console page: /__mock/ui?token=…)"
                        .into(),
                ))
            }
        }
        None if req.peer.is_loopback() || ipv4_mapped_loopback(req.peer) => Ok(()),
        None => Err(Failure(
            StatusCode::FORBIDDEN,
            format!(
                "the control api answers loopback callers only ({} is not); configure admin_token to open it",
                req.peer
            ),
        )),
    }
}

fn ipv4_mapped_loopback(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses the body as a JSON object; an empty body is `{}`.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Failure(StatusCode::BAD_REQUEST, "the body must be a JSON object".into())),
        Err(e) => Err(Failure(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn request<'a>(peer: &str, headers: &'a HeaderMap) -> Request<'a> {
        Request {
            method: &Method::GET,
            path: "/__mock/clock",
            query: "",
            headers,
            peer: peer.parse().expect("ip"),
            body: b"",
        }
    }

    #[test]
    fn without_a_token_only_loopback_callers_are_served() {
        let headers = HeaderMap::new();
        assert!(authorise(None, &request("127.0.0.1", &headers)).is_ok());
        assert!(authorise(None, &request("::1", &headers)).is_ok());
        assert!(authorise(None, &request("::ffff:127.0.0.1", &headers)).is_ok());
        let refused = authorise(None, &request("192.0.2.7", &headers)).expect_err("refused");
        assert_eq!(refused.0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn with_a_token_everyone_must_present_it() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            authorise(Some("t"), &request("127.0.0.1", &headers)).expect_err("no token").0,
            StatusCode::UNAUTHORIZED
        );
        headers.insert("x-mock-token", HeaderValue::from_static("t"));
        assert!(authorise(Some("t"), &request("192.0.2.7", &headers)).is_ok());
    }

    #[test]
    fn only_the_console_page_takes_the_token_from_the_query() {
        let headers = HeaderMap::new();
        let with_query = |path, query| Request { path, query, ..request("192.0.2.7", &headers) };
        assert!(authorise(Some("a b"), &with_query("/__mock/ui", "token=a+b")).is_ok());
        assert!(authorise(Some("a b"), &with_query("/__mock/ui/", "token=a%20b")).is_ok());
        let wrong = authorise(Some("t"), &with_query("/__mock/ui", "token=u")).expect_err("a wrong token");
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        let elsewhere = authorise(Some("t"), &with_query("/__mock/clock", "token=t")).expect_err("not the page");
        assert_eq!(elsewhere.0, StatusCode::UNAUTHORIZED);
    }
}
