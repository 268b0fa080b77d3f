//! The vendor's own Python clients against the emulator: the manual's §4.2 sample and the
//! official SDK core from PyPI, run in Beijing local time; and the sample over HTTPS
//! (`--tls`), `requests` verifying the certificate against the PEM the server made.
//!
//! They need a Python with `requests` and `ctyun-python-sdk-core`
//! (`contract-tests/python/requirements.txt`), so they are `#[ignore]`d and a plain
//! `cargo test` reports them as ignored. `.ci/run` installs the packages in a virtualenv,
//! sets `MOCK_PYTHON` and runs them with `--ignored`. Run that way they fail, never skip,
//! when there is no such Python: `MOCK_PYTHON` names it, else `python3` must import both.

use std::path::PathBuf;
use std::process::Command;

use contract_tests::fixtures;

use crate::util::{start_with, DEFAULT_AK, DEFAULT_APPKEY, DEFAULT_SK};

/// The Python to run the clients with; fails the test when there is none.
fn python() -> String {
    if let Ok(python) = std::env::var("MOCK_PYTHON") {
        return python;
    }
    let probe = Command::new("python3").args(["-c", "import requests, ctyun_python_sdk_core"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "no MOCK_PYTHON, and python3 lacks requests or ctyun-python-sdk-core: set MOCK_PYTHON to a python with \
         contract-tests/python/requirements.txt installed (.ci/run makes one)"
    );
    "python3".into()
}

/// Runs `script` against a fresh server; with `tls`, over HTTPS with `requests` trusting
/// the server's certificate (and only it) through `REQUESTS_CA_BUNDLE`.
async fn run_script(script: &str, tls: Option<mock_server::Tls>) {
    let python = python();
    let trust_pem = tls.as_ref().map(|t| t.trust_pem().to_string());
    let https = trust_pem.is_some();
    let s = start_with(mock_server::Config { tls, ..mock_server::Config::default() }).await;
    let tag = if https { "https" } else { "http" };
    let dir = std::env::temp_dir().join(format!("mock-python-{script}-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready.json");
    let info = serde_json::json!({"url": s.handle.url(), "ak": DEFAULT_AK, "sk": DEFAULT_SK, "appkey": DEFAULT_APPKEY});
    std::fs::write(&ready, info.to_string()).expect("ready file");
    let ca_cert = dir.join("ca.pem");
    if let Some(pem) = &trust_pem {
        std::fs::write(&ca_cert, pem).expect("ca file");
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python").join(script);
    let image = fixtures::dir().join("images/scene-96x64.jpg");
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(python);
        command.arg(path).arg(&ready).arg(image).env("TZ", "Asia/Shanghai");
        if https {
            command.env("REQUESTS_CA_BUNDLE", &ca_cert);
        }
        command.output()
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("cannot run {script} with the python named by MOCK_PYTHON or python3: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("'code': 0") || stdout.contains("\"code\":0"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MOCK_PYTHON: a python with contract-tests/python/requirements.txt"]
async fn the_manuals_python_sample_gets_code_0() {
    run_script("manual_example.py", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MOCK_PYTHON: a python with contract-tests/python/requirements.txt"]
async fn the_manuals_python_sample_gets_code_0_over_https_verifying_the_certificate() {
    let tls = mock_server::Tls::generate().expect("a certificate");
    run_script("manual_example.py", Some(tls)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MOCK_PYTHON: a python with contract-tests/python/requirements.txt"]
async fn the_official_python_sdk_core_gets_code_0() {
    run_script("sdk_core_example.py", None).await;
}
