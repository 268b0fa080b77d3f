//! `--state` against `kill -9`: a server killed in the middle of a stream of calls restarts
//! from its state file with every answered call counted and at most the call in flight lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contract_tests::{signer, Signer};

// The child is returned to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
fn start(state: &Path, ready: &Path) -> (Child, String) {
    let _ = std::fs::remove_file(ready);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--addr", "127.0.0.1:0", "--quiet", "--state"])
        .arg(state)
        .arg("--ready-file")
        .arg(ready)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(ready) {
            let info: serde_json::Value = serde_json::from_str(&text).expect("ready json");
            let url = info["url"].as_str().expect("url");
            return (child, url.trim_start_matches("http://").to_string());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no ready file after 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body).
fn http(addr: &str, method: &str, path: &str, headers: &[(String, String)], body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn control(addr: &str, method: &str, path: &str, body: &str) -> serde_json::Value {
    let (status, text) = http(addr, method, &format!("/__mock/{path}"), &[], body).expect("control answer");
    assert!(status < 300, "{status} {text}");
    serde_json::from_str(&text).expect("json")
}

/// A correctly signed hard-hat call.
fn signed_call(addr: &str, ak: &str, sk: &str, appkey: &str, image: &str) -> Option<i64> {
    let body = format!(r#"{{"image":"{image}"}}"#);
    let date = signer::eop_date(signer::unix_now(), 8);
    let signed =
        Signer::new(ak, sk).sign(&date, &[("ctyun-eop-request-id", "r1"), ("eop-date", &date)], "", body.as_bytes());
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        ("ctyun-eop-request-id".to_string(), "r1".to_string()),
        ("eop-date".to_string(), date),
        ("appkey".to_string(), appkey.to_string()),
        ("eop-authorization".to_string(), signed.authorization),
    ];
    let (_, text) = http(addr, "POST", "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect", &headers, &body)?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["code"].as_i64()
}

fn kill_9(child: &mut Child) {
    Command::new("kill").args(["-9", &child.id().to_string()]).status().expect("kill");
    let _ = child.wait();
}

#[test]
fn a_server_killed_mid_stream_restarts_with_every_answered_call_counted() {
    let dir: PathBuf = std::env::temp_dir().join(format!("mock-kill9-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (state, ready) = (dir.join("state.jsonl"), dir.join("ready.json"));
    let _ = std::fs::remove_file(&state);
    let (mut child, addr) = start(&state, &ready);

    let account = control(&addr, "POST", "accounts", "");
    let (ak, sk) = (account["ak"].as_str().expect("ak").to_string(), account["sk"].as_str().expect("sk").to_string());
    let app = control(&addr, "POST", &format!("accounts/{ak}/apps"), r#"{"name":"kill-nine"}"#);
    let appkey = app["appkey"].as_str().expect("appkey").to_string();
    control(&addr, "POST", &format!("apps/{appkey}/apis/hat"), "");
    control(&addr, "POST", &format!("apps/{appkey}/apis/hat/packages"), r#"{"size":100000}"#);

    let image = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/scene-96x64.png")).expect("image"),
    );
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (answered, stop, addr, ak, sk, appkey) =
            (answered.clone(), stop.clone(), addr.clone(), ak.clone(), sk.clone(), appkey.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match signed_call(&addr, &ak, &sk, &appkey, &image) {
                    Some(0) => {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(code) => panic!("unexpected code {code}"),
                    None => break,
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    kill_9(&mut child);
    stop.store(true, Ordering::Relaxed);
    caller.join().expect("caller");
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered > 10, "only {answered} calls before the kill");

    let (mut child, addr) = start(&state, &ready);
    let usage = control(&addr, "GET", &format!("apps/{appkey}/usage"), "");
    let used = usage["apis"]["hat"]["packages"][0]["used"].as_u64().expect("used");
    assert!(used == answered || used == answered + 1, "answered {answered}, counted {used}");
    assert_eq!(signed_call(&addr, &ak, &sk, &appkey, "AAAA"), Some(4003), "the account still works");
    kill_9(&mut child);
    let _ = std::fs::remove_dir_all(&dir);
}
