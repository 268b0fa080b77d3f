//! The console page, `GET /__mock/ui` (docs/console.md): served under the control API's
//! access rule, and — loaded in headless Chromium against a server with traffic — showing
//! exactly the numbers the control API gives.
//!
//! The browser tests need Chromium, so they are `#[ignore]`d and a plain `cargo test`
//! reports them as ignored. `.ci/run` installs Debian's `chromium` and runs them with
//! `--ignored`; run that way they fail, never skip, when there is no browser: `MOCK_CHROMIUM`
//! names it, else `/usr/bin/chromium` must exist. With `MOCK_CONSOLE_SCREENSHOT=<file.png>`
//! the traffic test also writes a screenshot of the page there (how `docs/console.png` is made).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use contract_tests::client::Call;
use contract_tests::image::{png, Scene};
use contract_tests::{fixtures, Client};
use mock_server::Config;
use serde_json::{json, Value};

use crate::util::{image_body, start, start_with, DEFAULT_AK, DEFAULT_APPKEY};

const STANDARD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SECOND_AK: &str = "site-ak";
const SECOND_APPKEY: &str = "site-cam";

/// A plain GET of a control path, returning status, headers and body text.
async fn get(client: &Client, target: &str, token: Option<&str>) -> (u16, hyper::HeaderMap, String) {
    let mut headers = vec![("host".to_string(), client.addr.to_string())];
    if let Some(token) = token {
        headers.push(("x-mock-token".into(), token.into()));
    }
    let call =
        Call { method: "GET".into(), target: target.into(), headers, body: Vec::new(), string_to_sign: String::new() };
    let reply = client.send(call).await;
    (reply.status, reply.headers, String::from_utf8_lossy(&reply.raw).into_owned())
}

#[tokio::test]
async fn the_console_page_is_html_that_may_load_nothing_from_elsewhere() {
    let server = start().await;
    let (status, headers, page) = get(&server.client, "/__mock/ui", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:"
    );
    assert!(page.starts_with("<!doctype html>") && page.contains("/__mock/accounts"), "{page}");
}

#[tokio::test]
async fn the_console_page_follows_the_control_apis_token_and_takes_it_from_the_query() {
    let server = start_with(Config { admin_token: Some("s3cret/1".into()), ..Config::default() }).await;
    let client = &server.client;
    let (status, _, body) = get(client, "/__mock/ui", None).await;
    assert_eq!((status, body.as_str()), (401, "{\n  \"error\": \"the control api needs the configured token in x-mock-token (the console page: /__mock/ui?token=…)\"\n}\n"));
    assert_eq!(get(client, "/__mock/ui?token=wrong", None).await.0, 401);
    assert_eq!(get(client, "/__mock/ui?token=s3cret%2F1", None).await.0, 200);
    assert_eq!(get(client, "/__mock/ui", Some("s3cret/1")).await.0, 200);
    // Only the page takes the token from the query; its fetches send the header.
    assert_eq!(get(client, "/__mock/accounts?token=s3cret%2F1", None).await.0, 401);
}

#[tokio::test]
async fn the_account_list_names_aks_and_appkeys_and_never_an_sk() {
    let server = start().await;
    let client = &server.client;
    second_account(client).await;
    let (status, list) = client.control("GET", "accounts", Value::Null).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list,
        json!({"accounts": [
            {"ak": DEFAULT_AK, "appkeys": [DEFAULT_APPKEY]},
            {"ak": SECOND_AK, "appkeys": [SECOND_APPKEY]},
        ]})
    );
    assert!(!list.to_string().contains("sk\""), "{list}");
}

/// A second account, made through the control API, with one app that has a 5-call package.
async fn second_account(client: &Client) -> Client {
    let steps = [
        ("accounts", json!({"ak": SECOND_AK, "sk": "site-sk"})),
        ("accounts/site-ak/apps", json!({"name": "cameras", "appkey": SECOND_APPKEY})),
        ("apps/site-cam/apis/hat", Value::Null),
        ("apps/site-cam/apis/hat/packages", json!({"calls": 5})),
    ];
    for (path, body) in steps {
        let (status, answer) = client.control("POST", path, body).await;
        assert!(status == 200 || status == 201, "POST {path}: {status} {answer}");
    }
    client.as_account(SECOND_AK, "site-sk", SECOND_APPKEY)
}

/// Successes, a forced code, an injected one, refusals and an alert, over two accounts.
async fn traffic(client: &Client) {
    let hat = fixtures::path("hat");
    let body = image_body(&STANDARD.encode(png(&Scene::default(), 96, 64).expect("png")));
    for _ in 0..3 {
        assert_eq!(client.post(&hat, body.clone()).await.code(), 0);
    }
    assert_eq!(client.send(client.call(&hat, body.clone()).header("x-mock-force", "4001")).await.code(), 4001);
    let rule = json!({"id": "flaky-hat", "endpoint": "hat", "when": {"next": 1}, "what": {"code": 50000}});
    let (status, armed) = client.control("POST", &format!("accounts/{DEFAULT_AK}/rules"), rule).await;
    assert_eq!(status, 201, "{armed}");
    assert_eq!(client.post(&hat, body.clone()).await.code(), 50000);
    let second = second_account(client).await;
    for _ in 0..2 {
        assert_eq!(second.post(&hat, body.clone()).await.code(), 0);
    }
    // Five signature failures in a row raise the account's `signature_failures` alert.
    for _ in 0..5 {
        assert_eq!(second.send(second.call(&hat, body.clone()).body("{}")).await.code(), 10020);
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Runs headless Chromium on `url` with a fresh profile and returns what it printed.
async fn chromium(url: &str, output: &[&str]) -> String {
    let browser = std::env::var_os("MOCK_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        browser.is_file(),
        "no chromium at {}: install Debian's chromium (`apt-get install chromium`, as .ci/run does) or set MOCK_CHROMIUM",
        browser.display()
    );
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("mock-console-{}-{run}", std::process::id()));
    let mut command = tokio::process::Command::new(&browser);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(output)
        .arg(url)
        .kill_on_drop(true);
    let ran = tokio::time::timeout(Duration::from_secs(60), command.output()).await;
    let _ = std::fs::remove_dir_all(&profile);
    let done = ran
        .unwrap_or_else(|_| panic!("chromium did not finish within 60 s on {url}"))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "chromium failed on {url} ({}):\n{stderr}", done.status);
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// Every element's `data-key` and its text, from the DOM Chromium dumped.
fn shown(dom: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for piece in dom.split("data-key=\"").skip(1) {
        let Some((key, rest)) = piece.split_once('"') else { continue };
        let text = rest.split_once('>').map_or("", |(_, t)| t.split('<').next().unwrap_or(""));
        let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
        found.insert(key.to_string(), text);
    }
    found
}

/// What the page shows for `key`; fails with the page's status line when it shows nothing.
fn at<'a>(page: &'a HashMap<String, String>, dom: &str, key: &str) -> &'a str {
    page.get(key).map_or_else(|| panic!("the page shows no `{key}`; it rendered:\n{dom}"), String::as_str)
}

/// The body's `data-state`: `ready` once the page has drawn what it fetched.
fn state(dom: &str) -> &str {
    let body = dom.split_once("<body").and_then(|(_, rest)| rest.split_once('>')).map_or("", |(tag, _)| tag);
    body.split_once("data-state=\"").and_then(|(_, rest)| rest.split_once('"')).map_or("", |(state, _)| state)
}

async fn control(client: &Client, path: &str) -> Value {
    let (status, answer) = client.control("GET", path, Value::Null).await;
    assert_eq!(status, 200, "GET {path}: {answer}");
    answer
}

/// The page's numbers for one app equal its usage and stats.
async fn check_app(client: &Client, page: &HashMap<String, String>, dom: &str, ak: &str, appkey: &str) {
    let usage = control(client, &format!("apps/{appkey}/usage")).await;
    let stats = control(client, &format!("apps/{appkey}/stats")).await;
    let apis = stats["apis"].as_object().expect("apis");
    assert!(!apis.is_empty(), "no traffic counted for {appkey}");
    for (api, s) in apis {
        let key = format!("{ak}/{appkey}/{api}");
        for field in ["requests", "succeeded", "bytes_in", "bytes_out"] {
            assert_eq!(at(page, dom, &format!("{key}/{field}")), s[field].to_string(), "{key}/{field}");
        }
        for field in ["mean_ms", "max_ms"] {
            let text = at(page, dom, &format!("{key}/{field}"));
            let value: f64 = text.parse().unwrap_or_else(|_| panic!("{key}/{field} shows {text:?}"));
            assert!((value - s[field].as_f64().expect("ms")).abs() <= 0.005, "{key}/{field}: {text} vs {}", s[field]);
        }
        let codes: Vec<String> =
            s["codes"].as_object().expect("codes").iter().map(|(c, n)| format!("{c}×{n}")).collect();
        assert_eq!(at(page, dom, &format!("{key}/codes")), codes.join(" "));
        let u = &usage["apis"][api];
        assert_eq!(at(page, dom, &format!("{key}/remaining")), u["remaining"].to_string(), "{key}/remaining");
        assert_eq!(at(page, dom, &format!("{key}/status")), u["status"].as_str().expect("status"));
    }
}

/// The page's journal, rules, alerts and refusals of one account equal the control API's.
async fn check_account(client: &Client, page: &HashMap<String, String>, dom: &str, ak: &str) {
    let journal = control(client, &format!("accounts/{ak}/journal?limit=50")).await;
    assert_eq!(at(page, dom, &format!("{ak}/journal/recorded")), journal["recorded"].to_string());
    let entries = journal["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "no journal for {ak}");
    for e in entries {
        let key = format!("{ak}/journal/{}", e["seq"]);
        assert_eq!(at(page, dom, &format!("{key}/code")), e["code"].to_string());
        assert_eq!(at(page, dom, &format!("{key}/verdict")), e["verdict"].as_str().expect("verdict"));
        let lints: Vec<&str> = e["lints"].as_array().expect("lints").iter().filter_map(|l| l["id"].as_str()).collect();
        assert_eq!(at(page, dom, &format!("{key}/lints")), lints.join(" "), "{key}/lints");
    }
    for rule in control(client, &format!("accounts/{ak}/rules")).await["rules"].as_array().expect("rules") {
        for field in ["calls", "fired"] {
            let key = format!("{ak}/rules/{}/{field}", rule["id"].as_str().expect("id"));
            assert_eq!(at(page, dom, &key), rule[field].to_string(), "{key}");
        }
    }
    let account = control(client, &format!("accounts/{ak}")).await;
    let alerts = account["alerts"].as_array().expect("alerts").len();
    assert_eq!(at(page, dom, &format!("{ak}/alerts/count")), alerts.to_string());
    for (code, n) in account["refused"].as_object().expect("refused") {
        assert_eq!(at(page, dom, &format!("{ak}/refused/{code}")), n.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: .ci/run installs it and runs this with --ignored"]
async fn the_console_shows_in_chromium_the_numbers_the_control_api_gives() {
    let server = start().await;
    let client = &server.client;
    traffic(client).await;
    let url = format!("http://{}/__mock/ui", server.handle.addr());
    let dom = chromium(&url, &["--dump-dom"]).await;
    assert_eq!(state(&dom), "ready", "the page did not draw the control api's answers:\n{dom}");
    let page = shown(&dom);
    check_app(client, &page, &dom, DEFAULT_AK, DEFAULT_APPKEY).await;
    check_app(client, &page, &dom, SECOND_AK, SECOND_APPKEY).await;
    check_account(client, &page, &dom, DEFAULT_AK).await;
    check_account(client, &page, &dom, SECOND_AK).await;
    // What the traffic made, so the checks above cannot pass on an empty page.
    assert_eq!(at(&page, &dom, &format!("{DEFAULT_AK}/{DEFAULT_APPKEY}/hat/requests")), "5");
    assert_eq!(at(&page, &dom, &format!("{SECOND_AK}/{SECOND_APPKEY}/hat/remaining")), "3");
    assert_eq!(at(&page, &dom, &format!("{DEFAULT_AK}/rules/flaky-hat/fired")), "1");
    assert_eq!(at(&page, &dom, &format!("{SECOND_AK}/alerts/count")), "1");
    assert_eq!(at(&page, &dom, &format!("{SECOND_AK}/refused/10020")), "5");
    let verdicts: Vec<&str> = ["accepted", "forced", "injected", "refused"]
        .into_iter()
        .filter(|v| page.iter().any(|(k, t)| k.ends_with("/verdict") && t == v))
        .collect();
    assert_eq!(verdicts, ["accepted", "forced", "injected", "refused"]);
    if let Some(file) = std::env::var_os("MOCK_CONSOLE_SCREENSHOT") {
        let shot = format!("--screenshot={}", PathBuf::from(file).display());
        chromium(&url, &[&shot, "--window-size=1280,900", "--hide-scrollbars"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: .ci/run installs it and runs this with --ignored"]
async fn the_console_in_chromium_passes_the_token_from_its_address_on_every_fetch() {
    let server = start_with(Config { admin_token: Some("console token".into()), ..Config::default() }).await;
    let client = &server.client;
    let hat = fixtures::path("hat");
    let body = image_body(&STANDARD.encode(png(&Scene::default(), 96, 64).expect("png")));
    assert_eq!(client.post(&hat, body).await.code(), 0);
    let url = format!("http://{}/__mock/ui?token=console+token", server.handle.addr());
    let dom = chromium(&url, &["--dump-dom"]).await;
    assert_eq!(state(&dom), "ready", "the page's fetches were refused:\n{dom}");
    let page = shown(&dom);
    assert_eq!(at(&page, &dom, &format!("{DEFAULT_AK}/{DEFAULT_APPKEY}/hat/requests")), "1");
}
