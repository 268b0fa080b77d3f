//! HTTPS (`--tls`): a client that verifies the certificate against the PEM the ready file
//! names gets its answers; one that does not trust it, or that speaks plain HTTP, is
//! refused cleanly; one's own certificate (`--tls-cert`/`--tls-key`) is served as given.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use contract_tests::{eop_date, Signer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{binary, temp_dir, terminate, wait_for};

const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";

/// The binary started with `args` and a ready file; stopped with SIGTERM when dropped.
struct Server {
    child: std::process::Child,
    ready: serde_json::Value,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        let ready_file = dir.join("ready.json");
        let child = binary()
            .args(["--addr", "127.0.0.1:0", "--quiet", "--ready-file"])
            .arg(&ready_file)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary");
        // Owned at once, so a failed start still stops the child (on drop).
        let mut server = Server { child, ready: serde_json::Value::Null };
        server.ready = wait_for(&ready_file);
        server
    }

    fn addr(&self) -> SocketAddr {
        let url = self.ready["url"].as_str().expect("url");
        url.strip_prefix("https://").expect("an https url").parse().expect("an address")
    }

    fn ca_cert(&self) -> PathBuf {
        PathBuf::from(self.ready["ca_cert"].as_str().expect("the ready file names ca_cert"))
    }

    /// Stops the server with SIGTERM and returns what it printed.
    fn stop(mut self) -> String {
        let exit = terminate(&mut self.child, Duration::from_secs(10)).expect("stopped within 10 s of SIGTERM");
        assert!(exit.success(), "{exit:?}");
        let mut stdout = String::new();
        self.child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
        stdout
    }
}

impl Drop for Server {
    /// SIGTERM first, so that the server removes the certificate file it made (SIGKILL
    /// would leave it in the temp dir); SIGKILL if it has not stopped within 5 s.
    fn drop(&mut self) {
        if terminate(&mut self.child, Duration::from_secs(5)).is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS client that trusts only the certificates in `pem`.
fn connector(pem: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.expect("a PEM certificate")).expect("a usable root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A signed hard-hat request for the built-in account, as raw HTTP/1.1.
fn signed_hat_request() -> String {
    let image =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/scene-96x64.jpg")).expect("image");
    let body = format!(r#"{{"image":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(image));
    let date = eop_date::format(contract_tests::signer::unix_now());
    let headers = [("appkey", "mock-appkey"), ("ctyun-eop-request-id", "tls-1"), ("eop-date", date.as_str())];
    let signed = Signer::new("mock-ak", "mock-sk").sign(&date, &headers, "", body.as_bytes());
    format!(
        "POST {HAT} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         ctyun-eop-request-id: tls-1\r\neop-date: {date}\r\nappkey: mock-appkey\r\n\
         eop-authorization: {}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        signed.authorization
    )
}

/// Sends `request` over TLS to `addr` as `name`, verifying the certificate; the whole answer.
async fn https(addr: SocketAddr, name: &str, trust: &[u8], request: &str) -> std::io::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    let mut tls = connector(trust).connect(name, stream).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    // The server closes after `connection: close` without a TLS close_notify on some paths.
    match tls.read_to_end(&mut answer).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_verifying_the_made_certificate_gets_answers_by_ip_and_by_name() {
    let dir = temp_dir("made");
    let server = Server::start(&dir, &["--tls"]);
    let ca_cert = server.ca_cert();
    let pem = std::fs::read(&ca_cert).expect("the ca_cert file exists");
    for name in ["127.0.0.1", "localhost"] {
        let answer = https(server.addr(), name, &pem, &signed_hat_request()).await.expect("an https answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
        assert!(answer.contains(r#"{"code":0,"message":"success","result":[{"#), "{name}: {answer}");
    }
    let url = format!("https://{}", server.addr());
    let stdout = server.stop();
    assert!(stdout.contains(&format!("listening on {url}")), "{stdout}");
    assert!(stdout.contains(&format!("trust the certificate in {}", ca_cert.display())), "{stdout}");
    assert!(!ca_cert.exists(), "the made certificate's file is removed at exit");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_trusting_another_certificate_fails_the_handshake() {
    let dir = temp_dir("untrusted");
    let first = Server::start(&dir, &["--tls"]);
    let other_dir = temp_dir("untrusted-other");
    let other = Server::start(&other_dir, &["--tls"]);
    let other_pem = std::fs::read(other.ca_cert()).expect("the other ca_cert");
    let refused = https(first.addr(), "localhost", &other_pem, &signed_hat_request()).await;
    let error = refused.expect_err("a certificate signed by an untrusted CA is refused");
    assert!(error.to_string().contains("invalid peer certificate"), "{error}");
    let made = [first.ca_cert(), other.ca_cert()];
    drop((first, other));
    for file in made {
        assert!(!file.exists(), "{} is removed when the server is stopped", file.display());
    }
    let _ = (std::fs::remove_dir_all(dir), std::fs::remove_dir_all(other_dir));
}

#[tokio::test]
async fn plain_http_to_the_https_port_is_told_to_use_https() {
    let dir = temp_dir("plain");
    let server = Server::start(&dir, &["--tls"]);
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    stream.write_all(b"GET /__mock/server HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("send");
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(_))), "the connection is answered and closed: {read:?}");
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(
        answer.contains("x-mock-reason: the server speaks https (--tls): use an https:// url and trust the ready file's ca_cert\r\n"),
        "{answer}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_silent_client_is_let_go_after_the_header_timeout() {
    let dir = temp_dir("silent");
    let server = Server::start(&dir, &["--tls", "--header-timeout", "300ms"]);
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let (mut byte, started) = ([0u8; 1], Instant::now());
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed within 5 s: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "closed after the timeout, not at once");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn ones_own_certificate_and_key_are_served() {
    let dir = temp_dir("own");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
    let server = Server::start(&dir, &["--tls-cert", path(&cert), "--tls-key", path(&key)]);
    assert_eq!(server.ca_cert(), cert, "ca_cert names one's own certificate");
    let answer = https(server.addr(), "localhost", made.cert.pem().as_bytes(), &signed_hat_request()).await;
    let answer = answer.expect("an https answer");
    assert!(answer.contains(r#"{"code":0,"message":"success""#), "{answer}");
    drop(server);
    assert!(cert.exists(), "one's own certificate is left in place");
    let _ = std::fs::remove_dir_all(dir);
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a utf-8 temp path")
}

#[test]
fn a_key_file_that_is_not_pem_is_refused_at_start() {
    let dir = temp_dir("bad-key");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, "not a key").expect("write key");
    let out = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--addr", "127.0.0.1:0", "--tls-cert", path(&cert), "--tls-key", path(&key)])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("mock-server: --tls-key {}: no PEM private key read", key.display())),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
