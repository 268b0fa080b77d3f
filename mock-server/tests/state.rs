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

/// Callers in the kill -9 test.
const CALLERS: u64 = 4;

fn kill_9(child: &mut Child) {
    Command::new("kill").args(["-9", &child.id().to_string()]).status().expect("kill");
    let _ = child.wait();
}

#[test]
fn a_server_killed_mid_stream_restarts_with_every_answered_call_counted() {
    let dir: PathBuf = std::env::temp_dir().join(format!("mock-kill9-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (state, ready) = (dir.join("state.db"), dir.join("ready.json"));
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
    // Four callers at once, so that commits are shared (group commit) when the kill comes.
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (answered, stop, addr, ak, sk, appkey, image) =
                (answered.clone(), stop.clone(), addr.clone(), ak.clone(), sk.clone(), appkey.clone(), image.clone());
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
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    kill_9(&mut child);
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().expect("caller");
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered > 10, "only {answered} calls before the kill");

    let (mut child, addr) = start(&state, &ready);
    let usage = control(&addr, "GET", &format!("apps/{appkey}/usage"), "");
    let used = usage["apis"]["hat"]["packages"][0]["used"].as_u64().expect("used");
    // Every answered call is counted; a call committed but killed before its answer was
    // sent may be counted too (one per caller at most).
    assert!((answered..=answered + CALLERS).contains(&used), "answered {answered}, counted {used}");
    assert_eq!(signed_call(&addr, &ak, &sk, &appkey, "AAAA"), Some(4003), "the account still works");
    kill_9(&mut child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the server on `state` expecting it to refuse; its exit code and standard error.
fn refused(state: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--addr", "127.0.0.1:0", "--state"])
        .arg(state)
        .output()
        .expect("run the server");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mock-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A state file with an account, an app and a package, closed cleanly and checkpointed so
/// that everything is in the main file.
fn made_state(dir: &Path) -> PathBuf {
    let (state, ready) = (dir.join("state.db"), dir.join("ready.json"));
    let (mut child, addr) = start(&state, &ready);
    let account = control(&addr, "POST", "accounts", r#"{"ak": "ak-kept", "sk": "sk-kept"}"#);
    assert_eq!(account["ak"], "ak-kept");
    let app = control(&addr, "POST", "accounts/ak-kept/apps", r#"{"name":"kept-app","appkey":"kept-key"}"#);
    assert_eq!(app["appkey"], "kept-key");
    control(&addr, "POST", "apps/kept-key/apis/hat", "");
    control(&addr, "POST", "apps/kept-key/apis/hat/packages", r#"{"calls": 5}"#);
    kill_9(&mut child);
    let db = rusqlite::Connection::open(&state).expect("open");
    db.pragma_update(None, "journal_mode", "DELETE").expect("checkpoint into the main file");
    drop(db);
    state
}

#[rstest::rstest]
#[case::junk(b"\x00\x01 not a database at all, just bytes".to_vec(), "is not a SQLite database")]
#[case::an_earlier_log(b"{\"event\":\"account\",\"ak\":\"a\",\"sk\":\"b\"}\n".to_vec(), "is a JSON-lines log of an earlier version")]
fn a_file_that_is_not_a_state_is_refused_and_left_alone(#[case] content: Vec<u8>, #[case] says: &str) {
    let dir = temp(&format!("junk-{}", content[0]));
    let state = dir.join("state.db");
    std::fs::write(&state, &content).expect("write");
    let (code, stderr) = refused(&state);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("state file {}: {says}", state.display())), "{stderr}");
    assert!(!stderr.contains("cannot listen"), "a state error is reported as one: {stderr}");
    assert!(std::fs::read(&state).expect("read") == content, "the file is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_of_another_program_is_refused_and_left_alone() {
    let dir = temp("other");
    let state = dir.join("state.db");
    let db = rusqlite::Connection::open(&state).expect("open");
    db.execute_batch(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);",
    )
    .expect("write");
    drop(db);
    let before = std::fs::read(&state).expect("read");
    let (code, stderr) = refused(&state);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is a SQLite database of another program"), "{stderr}");
    assert!(std::fs::read(&state).expect("read") == before, "the file is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_state_is_refused_naming_the_damage_and_left_alone() {
    let dir = temp("damaged");
    let state = made_state(&dir);
    let mut bytes = std::fs::read(&state).expect("read");
    assert!(bytes.len() >= 3 * 4096, "the state has several pages");
    // Page 2 holds a table's b-tree: its header and cell pointers become junk.
    bytes[4096..4096 + 64].fill(0xa5);
    std::fs::write(&state, &bytes).expect("write");
    let (code, stderr) = refused(&state);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("state file {}:", state.display())), "{stderr}");
    assert!(stderr.contains("damaged") || stderr.contains("malformed"), "{stderr}");
    assert!(std::fs::read(&state).expect("read") == bytes, "the file is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kept_state_comes_back_and_a_second_server_on_it_is_refused() {
    let dir = temp("second");
    let state = made_state(&dir);
    let (mut first, addr) = start(&state, &dir.join("ready.json"));
    let usage = control(&addr, "GET", "apps/kept-key/usage", "");
    assert_eq!(usage["apis"]["hat"]["packages"][0]["calls"], 5, "{usage}");
    let (code, stderr) = refused(&state);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is in use by another server"), "{stderr}");
    let usage = control(&addr, "GET", "apps/kept-key/usage", "");
    assert_eq!(usage["apis"]["hat"]["packages"][0]["calls"], 5, "the first server is unharmed");
    kill_9(&mut first);
    let _ = std::fs::remove_dir_all(&dir);
}
