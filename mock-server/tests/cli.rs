//! The binary as a CI script uses it: start on port 0 with a ready file, find the server,
//! get an answer, stop it with SIGTERM; and refuse a bad config with file, line and field.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{binary, temp_dir, terminate, wait_for};

#[test]
fn starts_on_port_0_writes_the_ready_file_answers_and_stops_on_sigterm() {
    let dir = temp_dir("ready");
    let ready = dir.join("ready.json");
    let mut child = binary()
        .args(["--addr", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let info = wait_for(&ready);
    assert_eq!(
        (info["ak"].as_str(), info["sk"].as_str(), info["appkey"].as_str()),
        (Some("mock-ak"), Some("mock-sk"), Some("mock-appkey"))
    );
    let url = info["url"].as_str().expect("url");
    let addr = url.strip_prefix("http://").expect("an http url");

    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = "POST /v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("\"code\":\"10020\""), "{response}");
    assert!(response.contains("x-mock-reason: no Eop-Authorization header"), "{response}");

    let exit = terminate(&mut child, Duration::from_secs(10)).expect("still running 10 s after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
    assert!(
        stdout.contains(&format!("listening on {url}")) && stdout.contains("ak=mock-ak sk=mock-sk appkey=mock-appkey"),
        "{stdout}"
    );
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    assert!(
        stderr.contains("status=401 code=10020") && stderr.contains("reason=\"no Eop-Authorization header"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_config_stops_start_up_naming_file_line_and_field() {
    let dir = temp_dir("config");
    let config = dir.join("mock.toml");
    std::fs::write(
        &config,
        "[[accounts]]\nak = \"a\"\nsk = \"b\"\n\n[[accounts.apps]]\nname = \"ab\"\nappkey = \"k\"\napis = [\"*\"]\n",
    )
    .expect("write");
    let output = binary().arg("--config").arg(&config).args(["--addr", "127.0.0.1:0"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected =
        format!("{}:6: accounts[0].apps[0].name: an app name has 4–15 characters, `ab` has 2", config.display());
    assert!(stderr.contains(&expected), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON of a PNG's first `tEXt` chunk, read chunk by chunk.
fn png_text(png: &[u8]) -> Option<serde_json::Value> {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().ok()?) as usize;
        let data = png.get(at + 8..at + 8 + len)?;
        if &png[at + 4..at + 8] == b"tEXt" {
            let text = &data[data.iter().position(|&b| b == 0)? + 1..];
            return serde_json::from_slice(text).ok();
        }
        at += 12 + len;
    }
    None
}

#[test]
fn make_image_writes_frames_that_carry_their_scene() {
    let dir = temp_dir("make-image");
    let output = binary()
        .args([
            "make-image",
            "--size",
            "200x150",
            "--action",
            "shake",
            "--frames",
            "4",
            "--action-at",
            "3",
            "--face",
            "medium",
            "-o",
        ])
        .arg(dir.join("shake.png"))
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for (n, action) in [(1, None), (2, None), (3, Some("shake")), (4, Some("shake"))] {
        let bytes = std::fs::read(dir.join(format!("shake-{n:02}.png"))).expect("a frame");
        let scene = png_text(&bytes).expect("ground truth in a tEXt chunk");
        assert_eq!(scene["action"].as_str(), action, "frame {n}");
        assert_eq!(scene["faces"][0]["quality"], "medium");
        assert_eq!(
            (&bytes[16..20], &bytes[20..24]),
            (&200u32.to_be_bytes()[..], &150u32.to_be_bytes()[..]),
            "IHDR size"
        );
    }
    let bad = binary().args(["make-image", "--person", "1,2,3", "-o"]).arg(dir.join("x.png")).output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("LEFT,TOP,WIDTH,HEIGHT"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn make_image_fence_fail_marks_the_image_and_refuses_a_format_e_fence_refuses() {
    let dir = temp_dir("make-image-fence-fail");
    let output = binary().args(["make-image", "--fence-fail", "-o"]).arg(dir.join("fail.png")).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let scene = png_text(&std::fs::read(dir.join("fail.png")).expect("the image")).expect("ground truth");
    assert_eq!(scene["fence_fail"], true, "{scene}");
    let gif = binary().args(["make-image", "--fence-fail", "-o"]).arg(dir.join("fail.gif")).output().expect("run");
    assert_eq!(gif.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&gif.stderr),
        "mock-server make-image: --fence-fail: e-fence refuses gif images as a whole; use --format png, jpg, bmp\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the binary with `args` on port 0 and returns it with its address. Its standard
/// error is a pipe that nobody reads, as in a harness that reads it only on failure.
fn start_unread(name: &str, args: &[&str]) -> (std::process::Child, String, PathBuf) {
    let dir = temp_dir(name);
    let ready = dir.join("ready.json");
    let child = binary()
        .args(["--addr", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let info = wait_for(&ready);
    let url = info["url"].as_str().expect("url").trim_start_matches("http://").to_string();
    (child, url, dir)
}

#[test]
fn a_standard_error_nobody_reads_never_stops_the_server() {
    let (mut child, addr, dir) = start_unread("unread-stderr", &[]);
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // Each refusal is logged; a pipe holds about 64 KiB, some 300 lines.
    let request = "POST /v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    let mut buf = vec![0u8; 4096];
    for i in 0..3000 {
        stream.write_all(request.as_bytes()).expect("send");
        let n = stream.read(&mut buf).unwrap_or_else(|e| {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().map(|mut err| err.read_to_string(&mut stderr));
            let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join("\n");
            panic!("refusal {i} was never answered: {e}; the server's last lines:\n{tail}")
        });
        assert!(buf[..n].starts_with(b"HTTP/1.1 401"), "refusal {i}: {}", String::from_utf8_lossy(&buf[..n]));
    }
    let mut control = TcpStream::connect(&addr).expect("connect");
    control.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    control.write_all(b"GET /__mock/server HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    control.read_to_string(&mut answer).expect("the control api still answers");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"log_lines_dropped\""), "{answer}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[rstest::rstest]
#[case::flag(&["--admin-token", ""], &[])]
#[case::environment(&[], &[("MOCK_ADMIN_TOKEN", "")])]
fn an_empty_admin_token_is_refused_at_start(#[case] args: &[&str], #[case] env: &[(&str, &str)]) {
    let output = binary().args(["--addr", "127.0.0.1:0"]).args(args).envs(env.iter().copied()).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the admin token is empty"), "{stderr}");
}

#[rstest::rstest]
#[case::not_a_number("many", "`many` is not a whole number of requests, e.g. 4096")]
#[case::too_large("1000001", "1000001 is not a journal capacity; keep 0 (no journal) to 1000000 requests per account")]
fn a_bad_journal_capacity_is_refused_at_start(#[case] value: &str, #[case] says: &str) {
    let output = binary().args(["--addr", "127.0.0.1:0", "--journal-capacity", value]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(says), "{stderr}");
}

#[test]
fn an_empty_admin_token_in_the_config_is_refused_with_file_and_line() {
    let dir = temp_dir("empty-token");
    let config = dir.join("mock.toml");
    std::fs::write(&config, "default_account = true\nadmin_token = \"\"\n").expect("write");
    let output = binary().arg("--config").arg(&config).args(["--addr", "127.0.0.1:0"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}:2: admin_token: the admin token is empty", config.display())), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One request on its own connection; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string()))
}

#[rstest::rstest]
#[case::package_of_2_64_calls(
    "/__mock/apps/mock-appkey/apis/hat/packages",
    r#"{"calls": 18446744073709551615}"#,
    "1 to 1000000000000"
)]
#[case::clock_centuries_ahead("/__mock/clock", r#"{"advance": "10000y"}"#, "1970")]
#[case::clock_past_i64("/__mock/accounts/mock-ak/clock", r#"{"advance_ms": 9223372036854775807}"#, "1970")]
#[case::clock_set_before_1970("/__mock/clock", r#"{"set_ms": -1}"#, "1970")]
#[case::advance_that_overflows("/__mock/clock", r#"{"advance": "9223372036854775807y"}"#, "number and a unit")]
fn control_numbers_that_would_overflow_are_refused(#[case] path: &str, #[case] body: &str, #[case] says: &str) {
    let (mut child, addr, dir) = start_unread("overflow", &[]);
    let (status, answer) = http(&addr, "POST", path, body);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains(says), "{answer}");
    let (status, clock) = http(&addr, "GET", "/__mock/clock", "");
    assert_eq!(status, 200, "the server still answers: {clock}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_chunked_framing_gets_a_4xx() {
    let (mut child, addr, dir) = start_unread("chunked", &[]);
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request = "POST /v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"code\":\"40008\"") && answer.contains("chunked framing"), "{answer}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// True when the server closes `stream` within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn idle_trickling_and_non_reading_clients_are_let_go() {
    let (mut child, addr, dir) = start_unread("let-go", &["--header-timeout", "1s", "--write-timeout", "1s"]);
    // Connects and sends nothing.
    let mut silent = TcpStream::connect(&addr).expect("connect");
    // Trickles its headers, a byte at a time.
    let mut trickler = TcpStream::connect(&addr).expect("connect");
    trickler.write_all(b"POST /v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect HTTP/1.1\r\n").expect("send");
    // Gets an answer, then keeps the connection open and idle.
    let mut idle = TcpStream::connect(&addr).expect("connect");
    idle.write_all(b"GET /__mock/clock HTTP/1.1\r\nhost: x\r\n\r\n").expect("send");
    let mut buf = [0u8; 4096];
    assert!(idle.read(&mut buf).expect("an answer") > 0);
    // Sends requests and never reads an answer. (A write that waits on such a client is
    // cut off by the write timeout: see the unit tests of `stall`.)
    let mut deaf = TcpStream::connect(&addr).expect("connect");
    let body = format!("{{\"calls\": 1, \"pad\": \"{}\"}}", "x".repeat(60_000));
    let request = format!(
        "POST /__mock/apps/unknown/apis/hat/packages HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    deaf.set_write_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let started = Instant::now();
    while deaf.write_all(request.as_bytes()).is_ok() && started.elapsed() < Duration::from_secs(5) {}
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let _ = trickler.write_all(b"h");
    }
    assert!(closed_within(&mut silent, Duration::from_secs(5)), "a silent client is let go");
    assert!(closed_within(&mut trickler, Duration::from_secs(5)), "a trickling client is let go");
    assert!(closed_within(&mut idle, Duration::from_secs(5)), "an idle kept-alive client is let go");
    assert!(closed_within(&mut deaf, Duration::from_secs(10)), "a client that never reads is let go");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A GIF of noise with 40 bytes of its LZW data set to `FF`: sound to the default checks,
/// refused by a decoder.
fn gif_with_bad_lzw_codes() -> Vec<u8> {
    let pixels: Vec<u8> = (0u32..64 * 64 * 3).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let image = image::RgbImage::from_raw(64, 64, pixels).expect("size");
    let mut gif = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut gif, image::ImageFormat::Gif).expect("encode");
    let mut gif = gif.into_inner();
    let mid = gif.len() / 2;
    gif[mid..mid + 40].fill(0xff);
    gif
}

#[test]
fn the_full_decode_flag_refuses_an_image_the_default_accepts() {
    use base64::Engine;
    let body =
        format!(r#"{{"image":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(gif_with_bad_lzw_codes()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut codes = Vec::new();
    for flags in [&[][..], &["--full-decode"][..]] {
        let ready = temp_dir("full-decode").join("ready.json");
        let mut child = binary()
            .args(["--addr", "127.0.0.1:0", "--quiet", "--ready-file"])
            .arg(&ready)
            .args(flags)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the binary");
        let info = wait_for(&ready);
        let addr = info["url"].as_str().and_then(|u| u.strip_prefix("http://")).expect("an http url");
        let client = contract_tests::Client::new(addr.parse().expect("addr"), "mock-ak", "mock-sk", "mock-appkey");
        let reply = runtime.block_on(client.post(&contract_tests::fixtures::path("hat"), body.clone()));
        codes.push((reply.code(), reply.reason()));
        child.kill().expect("stop the server");
        child.wait().expect("reap the server");
        let _ = std::fs::remove_dir_all(ready.parent().expect("the temp dir"));
    }
    assert_eq!((codes[0].0, codes[1].0), (0, 4003), "{codes:?}");
    assert!(codes[1].1.starts_with("the gif cannot be decoded: "), "{codes:?}");
}
