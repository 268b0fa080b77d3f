//! `contract-tests server --url URL …` as a user runs it: the real binary as a child process,
//! pointed at an emulator on 127.0.0.1, port 0 — a correct one, one armed to answer a wrong
//! shape, one over HTTPS, and an address where nothing listens.

use std::collections::BTreeSet;

use contract_tests::Harness;
use mock_server::{Config, Tls};
use serde_json::{json, Value};

use crate::util::{self, DEFAULT_AK, DEFAULT_APPKEY, DEFAULT_SK};

/// A finished run: exit status, standard output and the JSON table.
struct Verified {
    status: Option<i32>,
    stdout: String,
    table: Value,
}

/// Runs `contract-tests server --url URL --ak --sk --appkey EXTRA… --format json --output FILE`.
async fn verify(url: &str, ak: &str, sk: &str, appkey: &str, extra: &[&str]) -> Verified {
    let dir = std::env::temp_dir().join(format!("contract-tests-verify-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("table.json");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_contract-tests"))
        .args(["server", "--url", url, "--ak", ak, "--sk", sk, "--appkey", appkey])
        .args(extra)
        .args(["--format", "json", "--output"])
        .arg(&file)
        .output()
        .await
        .expect("run the contract-tests binary");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let table = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the JSON table ({e}): {text}"));
    Verified { status: output.status.code(), stdout: String::from_utf8_lossy(&output.stdout).into_owned(), table }
}

fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn rows(table: &Value) -> &Vec<Value> {
    table["rows"].as_array().expect("rows")
}

fn failed(table: &Value) -> Vec<&Value> {
    rows(table).iter().filter(|r| r["result"] == "failed").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_passes_every_row_and_every_documented_code_has_one() {
    let harness = Harness::start().await;
    let run = verify(&harness.url(), harness.ak(), harness.sk(), harness.appkey(), &[]).await;
    assert!(failed(&run.table).is_empty(), "failed rows: {:#?}\n{}", failed(&run.table), run.stdout);
    assert_eq!(run.status, Some(0), "{}", run.stdout);
    assert_eq!(run.table["passed"], true);
    let seen: BTreeSet<(String, String)> = rows(&run.table)
        .iter()
        .map(|r| {
            let endpoint = r["endpoint"].as_str().unwrap_or_default();
            (endpoint.to_string(), r["expect"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    for endpoint in contract_tests::strategy::endpoints() {
        assert!(seen.contains(&(endpoint.clone(), "success".into())), "no success row for {endpoint}");
        for code in contract_tests::fixtures::codes_for(&endpoint) {
            let scope = contract_tests::fixtures::error(&endpoint, code)["scope"].clone();
            let row = if scope == "gateway" { "gateway".to_string() } else { endpoint.clone() };
            assert!(seen.contains(&(row.clone(), code.to_string())), "no row for {code} ({row}, sent to {endpoint})");
        }
    }
    let passed = rows(&run.table).iter().filter(|r| r["result"] == "passed").count();
    assert!(passed >= 100, "only {passed} rows passed:\n{}", run.stdout);
    assert!(run.stdout.ends_with("PASS\n"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_in_the_wrong_shape_fails_its_row_and_the_exit_status() {
    let harness = Harness::start().await;
    let wrong =
        json!({"code": 0, "message": "success", "result": [{"box": [1, 2, 3], "classname": "blue_hat", "score": 0.5}]});
    harness.arm(json!({"endpoint": "hat", "what": {"body": wrong}})).await;
    let run = verify(&harness.url(), harness.ak(), harness.sk(), harness.appkey(), &["--endpoints", "hat"]).await;
    assert_eq!(run.status, Some(1), "{}", run.stdout);
    let success = rows(&run.table).iter().find(|r| r["expect"] == "success").expect("a success row");
    assert_eq!(
        success,
        &json!({
            "endpoint": "hat", "expect": "success", "behaviour": "success shape (a valid request)", "result": "failed",
            "detail": "HTTP 200 code 0: not the documented success shape: /result/0/box: minItems 4 is not met by [1,2,3]",
        })
    );
    let bad_base64 = rows(&run.table).iter().find(|r| r["behaviour"] == "bad base64").expect("a bad base64 row");
    assert_eq!(bad_base64["detail"], "HTTP 200 code 0: expected code 4003");
    assert!(run.stdout.ends_with("FAIL\n"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_over_https_with_the_servers_ca() {
    let tls = Tls::generate().expect("a certificate");
    let pem = tls.trust_pem().to_string();
    let config = Config { tls: Some(tls), ..Config::default() };
    let server = util::start_with(config).await;
    let dir = std::env::temp_dir().join(format!("contract-tests-verify-ca-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).expect("write the CA");
    let url = format!("https://{}", server.handle.addr());
    let ca_arg = ca.to_string_lossy().into_owned();
    let trusted =
        verify(&url, DEFAULT_AK, DEFAULT_SK, DEFAULT_APPKEY, &["--endpoints", "fall", "--tls-ca", &ca_arg]).await;
    let untrusted = verify(&url, DEFAULT_AK, DEFAULT_SK, DEFAULT_APPKEY, &["--endpoints", "fall"]).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(trusted.status, Some(0), "{}", trusted.stdout);
    assert_eq!(untrusted.status, Some(1), "{}", untrusted.stdout);
    let detail = failed(&untrusted.table)[0]["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.starts_with("tls handshake with 127.0.0.1: "), "{detail}");
    assert!(detail.ends_with("; pass the server's CA with --tls-ca"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_there_fails_every_sent_row_and_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = listener.local_addr().expect("an address");
    drop(listener);
    let run = verify(&format!("http://{addr}"), "ak", "sk", "appkey", &["--endpoints", "fight"]).await;
    assert_eq!(run.status, Some(1), "{}", run.stdout);
    let failed = failed(&run.table);
    assert_eq!(failed.len(), rows(&run.table).iter().filter(|r| r["result"] != "skipped").count());
    let detail = failed[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with(&format!("cannot connect to 127.0.0.1:{}: ", addr.port())), "{detail}");
    assert!(detail.ends_with("; check --url"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_endpoint_is_a_problem_that_lists_the_names() {
    let run = verify("http://127.0.0.1:9", "ak", "sk", "appkey", &["--endpoints", "helmet"]).await;
    assert_eq!(run.status, Some(1));
    assert_eq!(
        run.table["problem"],
        "--endpoints: no endpoint `helmet`; choose from hat,clothes,fence,face_quality,liveness_shake,liveness_up,\
         liveness_down,liveness_left,liveness_mouth,liveness_eye,liveness_right,fall,fight"
    );
    assert_eq!(run.table["rows"], json!([]));
}
