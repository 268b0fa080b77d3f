//! A small HTTP/1.1 client that signs calls the way a vendor client does, and lets a test
//! change any header, the body or the signature afterwards.

#![warn(missing_docs)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::signer::{self, Signer};

/// Where a server is and whose credentials to sign with.
#[derive(Debug, Clone)]
pub struct Client {
    /// The server's address (`Handle::addr` of an embedded server).
    pub addr: SocketAddr,
    /// Signs every call with the account's AK and SK.
    pub signer: Signer,
    /// The app's key, sent (and by default signed) as the `appkey` header.
    pub appkey: String,
}

/// How to sign a call; [`SignOptions::now`] is what a correct client does.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// The `eop-date` sent and signed: Beijing time, `yyyymmddTHHMMSSZ`.
    pub eop_date: String,
    /// The `ctyun-eop-request-id` sent.
    pub request_id: String,
    /// Header names to sign, from the call's headers.
    pub signed: Vec<String>,
    /// The query string, without `?` (empty for none).
    pub query: String,
}

impl SignOptions {
    /// Signs `appkey`, `ctyun-eop-request-id` and `eop-date` (as the manual's sample does)
    /// with the current Beijing time.
    pub fn now() -> SignOptions {
        SignOptions {
            eop_date: signer::eop_date(signer::unix_now(), 8),
            request_id: "33dfa732-b27b-464f-b15a-21ed6845afd5".into(),
            signed: vec!["appkey".into(), "ctyun-eop-request-id".into(), "eop-date".into()],
            query: String::new(),
        }
    }

    /// Signs only the two headers the official SDKs sign.
    pub fn sdk_default() -> SignOptions {
        SignOptions { signed: vec!["ctyun-eop-request-id".into(), "eop-date".into()], ..SignOptions::now() }
    }
}

/// A request about to be sent; every part can still be changed.
#[derive(Debug, Clone)]
pub struct Call {
    /// The HTTP method (`POST` for every endpoint).
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The headers, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body sent.
    pub body: Vec<u8>,
    /// The string the client signed, for error messages.
    pub string_to_sign: String,
}

impl Call {
    /// Replaces (or adds) a header.
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes a header (to send a call that lacks it).
    pub fn without(mut self, name: &str) -> Call {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Changes the method (after signing: the signature does not cover it).
    pub fn method(mut self, method: &str) -> Call {
        self.method = method.to_string();
        self
    }

    /// Replaces the body after signing: the signature no longer covers it.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Call {
        self.body = body.into();
        self
    }

    /// The value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The response headers (`x-mock-reason` among them on a refusal).
    pub headers: hyper::HeaderMap,
    /// The body, as received.
    pub raw: Bytes,
}

impl Reply {
    /// The body as JSON; panics, showing the body, when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.raw)
            .unwrap_or_else(|e| panic!("body is not json ({e}): {:?}", String::from_utf8_lossy(&self.raw)))
    }

    /// The body's `code`, as a number whether it was sent as a number or a string.
    pub fn code(&self) -> i64 {
        let json = self.json();
        match &json["code"] {
            Value::Number(n) => n.as_i64().unwrap_or(-1),
            Value::String(s) => s.parse().unwrap_or(-1),
            other => panic!("no code in {other}"),
        }
    }

    /// The emulator's explanation of a refusal.
    pub fn reason(&self) -> String {
        self.headers.get("x-mock-reason").map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default()
    }
}

impl Client {
    /// A client of the server at `addr`, signing as account `ak`/`sk` for app `appkey`.
    pub fn new(addr: SocketAddr, ak: &str, sk: &str, appkey: &str) -> Client {
        Client { addr, signer: Signer::new(ak, sk), appkey: appkey.into() }
    }

    /// A correctly signed POST of `body` to `path`.
    pub fn call(&self, path: &str, body: impl Into<Vec<u8>>) -> Call {
        self.call_with(path, body, SignOptions::now())
    }

    /// A POST of `body` to `path`, signed as `options` say.
    pub fn call_with(&self, path: &str, body: impl Into<Vec<u8>>, options: SignOptions) -> Call {
        let body = body.into();
        let headers = vec![
            ("Content-Type".to_string(), "application/json;charset=UTF-8".to_string()),
            ("ctyun-eop-request-id".to_string(), options.request_id.clone()),
            ("eop-date".to_string(), options.eop_date.clone()),
            ("appkey".to_string(), self.appkey.clone()),
            ("host".to_string(), self.addr.to_string()),
        ];
        let mut call =
            Call { method: "POST".into(), target: path.to_string(), headers, body, string_to_sign: String::new() };
        if !options.query.is_empty() {
            call.target = format!("{path}?{}", options.query);
        }
        let signed: Vec<(&str, &str)> =
            options.signed.iter().map(|name| (name.as_str(), call.get(name).unwrap_or_default())).collect();
        let signature = self.signer.sign(&options.eop_date, &signed, &options.query, &call.body);
        call.string_to_sign = signature.string_to_sign;
        call.header("Eop-Authorization", &signature.authorization)
    }

    /// Sends a call on a fresh connection and reads the whole reply. A test helper: it
    /// panics, saying why, when the server cannot be reached or the answer is not HTTP.
    pub async fn send(&self, call: Call) -> Reply {
        let stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect to the server");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        let mut request = Request::builder().method(call.method.as_str()).uri(call.target.as_str());
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Full::new(Bytes::from(call.body))).expect("a valid request");
        let response = sender.send_request(request).await.expect("a response");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response.into_body().collect().await.expect("the body").to_bytes();
        Reply { status, headers, raw }
    }

    /// Sends an unsigned control-API request (`/__mock/...`) and returns status and JSON.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("host".to_string(), self.addr.to_string()),
        ];
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let call = Call {
            method: method.into(),
            target: format!("/__mock/{path}"),
            headers,
            body,
            string_to_sign: String::new(),
        };
        let reply = self.send(call).await;
        (reply.status, reply.json())
    }

    /// The same client, signing as another account and app.
    pub fn as_account(&self, ak: &str, sk: &str, appkey: &str) -> Client {
        Client::new(self.addr, ak, sk, appkey)
    }

    /// Signs and sends a correct POST.
    pub async fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.send(self.call(path, body)).await
    }
}
