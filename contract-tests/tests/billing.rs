//! Apps, packages and quota: each billing code from a natural sequence of calls, the
//! deduction order, expiry, exactness under concurrency, isolation of accounts, and the
//! state file surviving a restart.

use contract_tests::client::SignOptions;
use contract_tests::{fixtures, Client};
use mock_server::Config;
use serde_json::{json, Value};

use crate::util::{image_body, start, start_with};

fn hat() -> String {
    fixtures::path("hat")
}

fn body() -> String {
    image_body(&fixtures::image_b64("scene-96x64.png"))
}

/// A fresh account with one app that has enabled hat; returns a client signing as it.
async fn fresh_app(admin: &Client) -> Client {
    let (status, account) = admin.control("POST", "accounts", Value::Null).await;
    assert_eq!(status, 201, "{account}");
    let (ak, sk) = (account["ak"].as_str().expect("ak"), account["sk"].as_str().expect("sk"));
    let (status, app) = admin.control("POST", &format!("accounts/{ak}/apps"), json!({"name": "site-cameras"})).await;
    assert_eq!(status, 201, "{app}");
    let appkey = app["appkey"].as_str().expect("appkey");
    let (status, enabled) = admin.control("POST", &format!("apps/{appkey}/apis/hat"), Value::Null).await;
    assert_eq!(status, 200, "{enabled}");
    admin.as_account(ak, sk, appkey)
}

/// Signs with the account's own clock, which the control API may have moved.
async fn call(client: &Client) -> i64 {
    let (_, clock) = client.control("GET", &format!("accounts/{}/clock", client.signer.ak), Value::Null).await;
    let options =
        SignOptions { eop_date: clock["eop_date"].as_str().expect("eop_date").to_string(), ..SignOptions::now() };
    client.send(client.call_with(&hat(), body(), options)).await.code()
}

async fn usage(client: &Client) -> Value {
    let (status, usage) = client.control("GET", &format!("apps/{}/usage", client.appkey), Value::Null).await;
    assert_eq!(status, 200);
    usage["apis"]["hat"].clone()
}

async fn buy(client: &Client, calls: u64) {
    let (status, p) =
        client.control("POST", &format!("apps/{}/apis/hat/packages", client.appkey), json!({"calls": calls})).await;
    assert_eq!(status, 201, "{p}");
}

#[tokio::test]
async fn an_app_that_bought_nothing_gets_51002_and_one_that_used_everything_51003() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    assert_eq!(call(&app).await, 51002);
    buy(&app, 2).await;
    assert_eq!(call(&app).await, 0);
    assert_eq!(call(&app).await, 0);
    let reply = app.send(app.call(&hat(), body())).await;
    assert_eq!((reply.status, reply.code()), (403, 51003));
    assert!(reply.reason().contains("no calls left for hat"), "{}", reply.reason());
    let hat = usage(&app).await;
    assert_eq!((hat["status"].as_str(), hat["remaining"].as_u64()), (Some("used_up"), Some(0)));
}

#[tokio::test]
async fn packages_expire_a_year_after_purchase_with_51001() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    let (status, _) = app.control("POST", &format!("apps/{}/apis/hat/free-quota", app.appkey), Value::Null).await;
    assert_eq!(status, 201);
    assert_eq!(call(&app).await, 0);
    let (status, _) =
        app.control("POST", &format!("accounts/{}/clock", app.signer.ak), json!({"advance": "364d"})).await;
    assert_eq!(status, 200);
    assert_eq!(call(&app).await, 0, "still within the year");
    app.control("POST", &format!("accounts/{}/clock", app.signer.ak), json!({"advance": "1d"})).await;
    assert_eq!(call(&app).await, 51001);
    assert_eq!(usage(&app).await["status"], "expired");
    // A new claim after expiry is allowed: the free quota is yearly.
    let (status, _) = app.control("POST", &format!("apps/{}/apis/hat/free-quota", app.appkey), Value::Null).await;
    assert_eq!(status, 201);
    assert_eq!(call(&app).await, 0);
}

#[tokio::test]
async fn calls_come_from_the_package_in_use_then_the_free_quota_then_the_earliest_package() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    buy(&app, 2).await; // package 1, in use after the first call
    assert_eq!(call(&app).await, 0);
    app.control("POST", &format!("apps/{}/apis/hat/free-quota", app.appkey), Value::Null).await; // package 2
    buy(&app, 3).await; // package 3
    buy(&app, 3).await; // package 4
    let used = |u: &Value| -> Vec<u64> {
        u["packages"].as_array().expect("packages").iter().map(|p| p["used"].as_u64().unwrap_or(0)).collect()
    };
    assert_eq!(call(&app).await, 0);
    assert_eq!(used(&usage(&app).await), [2, 0, 0, 0], "the package in use is finished first");
    assert_eq!(call(&app).await, 0);
    assert_eq!(used(&usage(&app).await), [2, 1, 0, 0], "then the free quota");
    let (status, _) =
        app.control("POST", &format!("accounts/{}/clock", app.signer.ak), json!({"advance": "365d"})).await;
    assert_eq!(status, 200);
    // Everything bought above has now expired; buy two packages and check the earliest goes first.
    buy(&app, 1).await;
    buy(&app, 1).await;
    assert_eq!(call(&app).await, 0);
    assert_eq!(used(&usage(&app).await), [2, 1, 0, 0, 1, 0], "then the earliest purchase");
    assert_eq!(call(&app).await, 0);
    assert_eq!(call(&app).await, 51003);
}

#[tokio::test]
async fn a_failed_call_costs_nothing() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    buy(&app, 1).await;
    let reply = app.post(&hat(), r#"{"image":"not base64!"}"#).await;
    assert_eq!(reply.code(), 4003);
    assert_eq!(usage(&app).await["remaining"], 1);
    assert_eq!(call(&app).await, 0);
}

#[tokio::test]
async fn free_apis_need_only_enabling() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    let face = fixtures::path("face_quality");
    assert_eq!(app.post(&face, "{}").await.code(), 50002);
    app.control("POST", &format!("apps/{}/apis/face_quality", app.appkey), Value::Null).await;
    assert_ne!(app.post(&face, "{}").await.code(), 50002);
    let (status, refusal) =
        app.control("POST", &format!("apps/{}/apis/face_quality/packages", app.appkey), json!({"size": 100000})).await;
    assert_eq!(status, 400, "{refusal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_n_calls_left_exactly_n_of_m_concurrent_requests_succeed() {
    const LEFT: usize = 1_000;
    const SENT: usize = 1_200;
    let s = start().await;
    let app = fresh_app(&s.client).await;
    buy(&app, LEFT as u64).await;
    let body = body();
    let calls: Vec<_> = (0..SENT).map(|_| app.call(&hat(), body.clone())).collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(SENT));
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.send(call).await.code()
            })
        })
        .collect();
    let mut codes = std::collections::BTreeMap::new();
    for task in tasks {
        *codes.entry(task.await.expect("task")).or_insert(0usize) += 1;
    }
    assert_eq!(codes, std::collections::BTreeMap::from([(0, LEFT), (51003, SENT - LEFT)]));
    let hat = usage(&app).await;
    assert_eq!((hat["remaining"].as_u64(), hat["packages"][0]["used"].as_u64()), (Some(0), Some(LEFT as u64)));
    let (_, stats) = app.control("GET", &format!("apps/{}/stats", app.appkey), Value::Null).await;
    assert_eq!(stats["apis"]["hat"]["requests"], SENT);
    assert_eq!(stats["apis"]["hat"]["codes"]["51003"], SENT - LEFT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_used_in_parallel_never_see_each_other() {
    let s = start().await;
    let (a, b) = (fresh_app(&s.client).await, fresh_app(&s.client).await);
    buy(&a, 5).await;
    buy(&b, 3).await;
    let run = |app: Client, n: usize| tokio::spawn(async move { futures_like_join(app, n).await });
    let (ra, rb) = (run(a.clone(), 7), run(b.clone(), 7));
    let (ra, rb) = (ra.await.expect("a"), rb.await.expect("b"));
    assert_eq!(ra.iter().filter(|c| **c == 0).count(), 5);
    assert_eq!(rb.iter().filter(|c| **c == 0).count(), 3);
    // Moving one account's clock past a year expires only its own packages.
    a.control("POST", &format!("accounts/{}/clock", a.signer.ak), json!({"advance": "400d"})).await;
    assert_eq!(call(&a).await, 51001);
    assert_eq!(usage(&b).await["status"], "used_up");
    buy(&b, 1).await;
    assert_eq!(call(&b).await, 0);
    // Resetting one account leaves the other as it was.
    let (status, _) = a.control("POST", &format!("accounts/{}/reset", a.signer.ak), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = a.control("GET", &format!("apps/{}", a.appkey), Value::Null).await;
    assert_eq!(status, 404, "the reset account's app is gone");
    assert_eq!(usage(&b).await["packages"].as_array().map(Vec::len), Some(2));
}

async fn futures_like_join(app: Client, n: usize) -> Vec<i64> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.send(app.call(&fixtures::path("hat"), image_body(&fixtures::image_b64("scene-96x64.png"))))
                    .await
                    .code()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.expect("task"));
    }
    codes
}

#[tokio::test]
async fn the_state_file_keeps_accounts_apps_and_ledgers_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("mock-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    let config = || Config { state: Some(path.clone()), ..Config::default() };

    let first = start_with(config()).await;
    let app = fresh_app(&first.client).await;
    buy(&app, 4).await;
    assert_eq!(call(&app).await, 0); // the package is now in use
    app.control("POST", &format!("apps/{}/apis/hat/free-quota", app.appkey), Value::Null).await;
    assert_eq!(call(&app).await, 0);
    let before = usage(&app).await;
    first.handle.shutdown().await;

    let second = start_with(config()).await;
    let app = Client { addr: second.handle.addr(), ..app };
    let after = usage(&app).await;
    assert_eq!(after["packages"], before["packages"]);
    assert_eq!(after["in_use"], before["in_use"]);
    assert_eq!(call(&app).await, 0);
    assert_eq!(usage(&app).await["packages"][0]["used"], 3, "the package in use is still in use");
    second.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_control_api_refuses_bad_input_clearly() {
    let s = start().await;
    let (status, e) = s.client.control("POST", "accounts/mock-ak/apps", json!({"name": "abc"})).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("an app name has 4–15 characters, `abc` has 3")));
    let (status, e) = s.client.control("POST", "apps/mock-appkey/apis/hat/packages", json!({"size": 12})).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap_or("").contains("[100000, 400000, 800000, 4000000, 8000000]"));
    let (status, e) = s.client.control("POST", "apps/mock-appkey/apis/hat/free-quota", Value::Null).await;
    assert_eq!(status, 409, "the default app starts with its free quota claimed: {e}");
    let (status, _) = s.client.control("GET", "accounts/nobody", Value::Null).await;
    assert_eq!(status, 404);
    let (status, e) = s.client.control("POST", "clock", json!({"advance": "soon"})).await;
    assert_eq!(status, 400, "{e}");
}

#[tokio::test]
async fn a_configured_token_is_required_on_the_control_api() {
    let s = start_with(Config { admin_token: Some("s3cret".into()), ..Config::default() }).await;
    let (status, _) = s.client.control("GET", "clock", Value::Null).await;
    assert_eq!(status, 401);
    let call = contract_tests::Call {
        method: "GET".into(),
        target: "/__mock/clock".into(),
        headers: vec![("x-mock-token".into(), "s3cret".into()), ("host".into(), "x".into())],
        body: Vec::new(),
        string_to_sign: String::new(),
    };
    assert_eq!(s.client.send(call).await.status, 200);
}

#[tokio::test]
async fn alerts_report_calls_running_low_and_repeated_signature_failures() {
    let s = start().await;
    let app = fresh_app(&s.client).await;
    buy(&app, 10).await;
    for _ in 0..9 {
        assert_eq!(call(&app).await, 0);
    }
    let (_, stats) = app.control("GET", &format!("apps/{}/stats", app.appkey), Value::Null).await;
    let kinds: Vec<&str> =
        stats["alerts"].as_array().expect("alerts").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(kinds, ["calls_low"], "{stats}");
    assert_eq!(stats["apis"]["hat"]["succeeded"], 9);
    assert!(stats["apis"]["hat"]["bytes_in"].as_u64().unwrap_or(0) > 9 * 300);
    let wrong = Client { signer: contract_tests::Signer::new(&app.signer.ak, "not-the-sk"), ..app.clone() };
    for _ in 0..5 {
        assert_eq!(wrong.post(&hat(), body()).await.code(), 10020);
    }
    let (_, account) = app.control("GET", &format!("accounts/{}", app.signer.ak), Value::Null).await;
    assert_eq!(account["refused"]["10020"], 5);
    assert_eq!(account["alerts"][1]["kind"], "signature_failures", "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_over_its_concurrency_limit_is_throttled_and_charged_nothing() {
    use contract_tests::image::{png, Scene};
    let s = start().await;
    let app = fresh_app(&s.client).await;
    buy(&app, 10).await;
    let (status, view) = app.control("POST", &format!("apps/{}/limits", app.appkey), json!({"concurrency": 1})).await;
    assert_eq!((status, view["max_concurrency"].as_u64()), (200, Some(1)), "{view}");
    // An image whose ground truth makes the "AI" take 800 ms holds the app's only place.
    let slow = png(&Scene { delay_ms: Some(800), ..Scene::default() }, 64, 48).expect("image");
    let slow_body = image_body(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, slow));
    let started = std::time::Instant::now();
    let slow_call = tokio::spawn({
        let app = app.clone();
        async move { app.post(&hat(), slow_body).await.code() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let throttled = app.post(&hat(), body()).await;
    assert_eq!((throttled.status, throttled.code()), (429, 40029), "{}", throttled.reason());
    assert!(throttled.reason().contains("max_concurrency; retry after 2 s"), "{}", throttled.reason());
    assert_eq!(throttled.headers["retry-after"], "2", "the manual's FAQ: back off 2–5 s");
    assert_eq!(slow_call.await.expect("slow call"), 0);
    assert!(started.elapsed() >= std::time::Duration::from_millis(800), "the delay was honoured");
    assert_eq!(call(&app).await, 0, "the place is free again");
    assert_eq!(usage(&app).await["packages"][0]["used"], 2, "the throttled call cost nothing");
    let (status, _) = app.control("POST", &format!("apps/{}/limits", app.appkey), json!({"concurrency": 0})).await;
    assert_eq!(status, 400);
}
