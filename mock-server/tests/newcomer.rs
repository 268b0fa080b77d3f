//! The stumbles a newcomer met, each pinned: config errors that name the field path, the
//! 50002 that names where to enable an API, a make-image fault the endpoint cannot answer,
//! a control body that is too large, a host name in `--addr`, and a banner with no account.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use contract_tests::image::{png, Scene};
use contract_tests::Client;
use mock_server::Config;
use rstest::rstest;
use serde_json::json;

mod common;
use common::{binary, temp_dir};

const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";

const APP: &str = "[[accounts]]\nak = \"site-ak\"\nsk = \"site-sk\"\n\n[[accounts.apps]]\n";

#[rstest]
#[case::missing_appkey("name = \"site-cams\"\napis = [\"hat\"]\n", "mock.toml:5: accounts[0].apps[0].appkey: missing")]
#[case::missing_name("appkey = \"k\"\napis = [\"hat\"]\n", "mock.toml:5: accounts[0].apps[0].name: missing")]
#[case::missing_apis("name = \"site-cams\"\nappkey = \"k\"\n", "mock.toml:5: accounts[0].apps[0].apis: missing")]
#[case::appkey_not_a_string(
    "name = \"site-cams\"\nappkey = 5\napis = [\"hat\"]\n",
    "mock.toml:7: accounts[0].apps[0].appkey: invalid type: integer `5`, expected a string"
)]
#[case::apis_not_a_list(
    "name = \"site-cams\"\nappkey = \"k\"\napis = \"hat\"\n",
    "mock.toml:8: accounts[0].apps[0].apis: invalid type: string \"hat\", expected a sequence"
)]
#[case::free_quota_not_a_boolean(
    "name = \"site-cams\"\nappkey = \"k\"\napis = [\"hat\"]\nfree_quota = \"yes\"\n",
    "mock.toml:9: accounts[0].apps[0].free_quota: invalid type: string \"yes\", expected a boolean"
)]
fn a_config_error_of_type_or_presence_names_the_field_path(#[case] app: &str, #[case] says: &str) {
    let refused = Config::from_toml("mock.toml", &format!("{APP}{app}")).expect_err("refused");
    assert_eq!(refused.to_string(), says);
}

#[rstest]
#[case::missing_sk("[[accounts]]\nak = \"a\"\n", "mock.toml:1: accounts[0].sk: missing")]
#[case::top_level_type(
    "journal_capacity = \"big\"\n",
    "mock.toml:1: journal_capacity: invalid type: string \"big\", expected i64"
)]
#[case::second_account(
    "[[accounts]]\nak = \"a1\"\nsk = \"s1\"\n[[accounts]]\nak = 7\nsk = \"s2\"\n",
    "mock.toml:5: accounts[1].ak: invalid type: integer `7`, expected a string"
)]
fn a_config_error_outside_apps_names_the_field_path_too(#[case] toml: &str, #[case] says: &str) {
    let refused = Config::from_toml("mock.toml", toml).expect_err("refused");
    assert_eq!(refused.to_string(), says);
}

async fn start() -> (mock_server::Handle, Client) {
    let config = Config { quiet: true, ..Config::default() };
    let handle = mock_server::start(config, ([127, 0, 0, 1], 0).into()).await.expect("start");
    let client = Client::new(handle.addr(), "mock-ak", "mock-sk", "mock-appkey");
    (handle, client)
}

#[tokio::test]
async fn an_app_made_through_the_control_api_is_told_the_route_that_enables_the_api() {
    let (handle, client) = start().await;
    let (_, account) = client.control("POST", "accounts", json!({"ak": "new-ak", "sk": "new-sk"})).await;
    let (status, app) =
        client.control("POST", "accounts/new-ak/apps", json!({"name": "newcomer", "appkey": "newcomer-key"})).await;
    assert_eq!(status, 201, "{app}");
    let as_new = client.as_account("new-ak", "new-sk", "newcomer-key");
    let image = png(&Scene::default(), 64, 48).expect("image");
    let body = format!(r#"{{"image":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(image));

    let refused = as_new.post(HAT, body.clone()).await;
    assert_eq!(refused.code(), 50002, "{account} {}", refused.reason());
    assert_eq!(
        refused.reason(),
        "app `newcomer` has not enabled the hat api; enable it with POST /__mock/apps/newcomer-key/apis/hat"
    );
    let (status, _) = client.control("POST", "apps/newcomer-key/apis/hat", json!(null)).await;
    assert!((200..300).contains(&status), "the route named is the one that enables it: {status}");
    let after = as_new.post(HAT, body).await;
    assert_ne!(after.code(), 50002, "enabled by the route the explanation named: {}", after.reason());
    handle.shutdown().await;
}

#[tokio::test]
async fn an_image_asking_for_a_code_its_endpoint_lacks_is_answered_and_explained() {
    let (handle, client) = start().await;
    let image = png(&Scene { fault: Some(5001), ..Scene::default() }, 64, 48).expect("image");
    let body = format!(r#"{{"image":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(image));
    let reply = client.post(HAT, body).await;
    assert_eq!((reply.status, reply.code()), (200, 0));
    assert_eq!(
        reply.reason(),
        "the image carries ground truth that asks for code 5001, which hat does not have (it has 4001, 4002, 4003, 4006); answered without it: make-image --endpoint hat refuses such an image"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_control_body_over_64_kib_is_told_it_is_too_large() {
    let (handle, client) = start().await;
    let big = json!({ "name": "x".repeat(70 * 1024) });
    let (status, answer) = client.control("POST", "accounts/mock-ak/apps", big).await;
    assert_eq!(status, 413);
    assert_eq!(answer, json!({"error": "the body is over 64 KiB; control requests are small json"}));
    let (status, _) = client.control("GET", "server", json!(null)).await;
    assert_eq!(status, 200, "the server still answers");
    handle.shutdown().await;
}

#[rstest]
#[case::hat_lacks_5001(&["--endpoint", "hat", "--fault", "5001"], "mock-server make-image: --fault 5001: hat cannot answer it (it has 4001, 4002, 4003, 4006); pick one of those, or another --endpoint\n")]
#[case::unknown_endpoint(&["--endpoint", "hats"], "mock-server make-image: --endpoint `hats` is not an api; use one of hat, clothes, fence, face_quality, liveness_shake, liveness_up, liveness_down, liveness_left, liveness_mouth, liveness_eye, liveness_right, fall, fight\n")]
fn make_image_refuses_a_fault_its_endpoint_cannot_answer(#[case] args: &[&str], #[case] says: &str) {
    let dir = temp_dir(&format!("refuse-{}", args[1]));
    let out = binary().arg("make-image").args(args).arg("-o").arg(dir.join("x.png")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), says);
    assert!(!dir.join("x.png").exists(), "nothing is written");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn make_image_with_a_fault_its_endpoint_has_writes_the_image() {
    let dir = temp_dir("accept");
    let output = dir.join("x.png");
    let out = binary()
        .args(["make-image", "--endpoint", "fight", "--fault", "5001", "-o"])
        .arg(&output)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(output.exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts the binary with `args`, waits for its ready file, stops it, and returns the
/// ready file and what it printed.
fn run_until_ready(dir: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let ready_file = dir.join("ready.json");
    let mut child = binary()
        .args(["--quiet", "--ready-file"])
        .arg(&ready_file)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ready = None;
    while ready.is_none() && Instant::now() < deadline {
        ready = std::fs::read_to_string(&ready_file).ok();
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
    let ready = ready.expect("a ready file within 10 s");
    (serde_json::from_str(&ready).expect("json"), stdout)
}

#[test]
fn a_host_name_in_addr_listens_on_its_first_address() {
    let dir = temp_dir("localhost");
    let (ready, _) = run_until_ready(&dir, &["--addr", "localhost:0"]);
    let url = ready["url"].as_str().expect("url");
    assert!(url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:"), "{url}");
    assert!(!url.ends_with(":0"), "a port was picked: {url}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_address_that_does_not_resolve_is_refused_with_an_example() {
    let out = binary().args(["--addr", "no-port-here"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("give HOST:PORT, e.g. 127.0.0.1:8080 or localhost:0"), "{stderr}");
}

#[rstest]
#[case::no_account(
    "default_account = false\n",
    "  warning: no accounts configured, so every signed call is refused; add one with\n    POST {url}/__mock/accounts, or [[accounts]] in --config (docs/configuration.md)\n"
)]
#[case::no_app(
    "default_account = false\n[[accounts]]\nak = \"lonely-ak\"\nsk = \"lonely-sk\"\n",
    "  warning: account lonely-ak has no app, so every signed call is refused; add one with\n    POST {url}/__mock/accounts/lonely-ak/apps, or [[accounts.apps]] in --config\n"
)]
fn a_banner_without_credentials_warns_and_says_how_to_add_them(#[case] toml: &str, #[case] warning: &str) {
    let dir = temp_dir(&format!("banner-{}", toml.len()));
    let config = dir.join("mock.toml");
    std::fs::write(&config, toml).expect("write config");
    let (ready, stdout) = run_until_ready(&dir, &["--addr", "127.0.0.1:0", "--config", path(&config)]);
    let url = ready["url"].as_str().expect("url");
    assert!(stdout.contains(&warning.replace("{url}", url)), "{stdout}");
    assert!(!stdout.contains("credentials:"), "no empty credentials are printed: {stdout}");
    let _ = std::fs::remove_dir_all(dir);
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a utf-8 temp path")
}
