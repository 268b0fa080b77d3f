//! The servers under test, each a child process killed when dropped: the emulator's
//! release binary, and this binary's `raw-server` — a hyper server that reads the body and
//! answers fixed JSON, the floor any hyper server can reach.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use sha2::Digest;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// From spawn to the ready file appearing.
    pub ready: Duration,
    _dir: TempDir,
    /// The directory of the `--state` file (with SQLite's -wal and -shm), removed with it.
    _state: Option<TempDir>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The emulator; with `state`, keeping its ledger in a state file (one append per call);
    /// with `cpus`, started under `taskset -c cpus`.
    pub async fn emulator(state: bool, cpus: Option<&str>) -> Server {
        Server::emulator_with(state, &[], cpus).await
    }

    /// The emulator with `extra` arguments (`--journal-capacity 0`, …).
    pub async fn emulator_with(state: bool, extra: &[&str], cpus: Option<&str>) -> Server {
        let exe = std::env::current_exe().expect("own path").with_file_name("mock-server");
        Server::emulator_at(exe, state, extra, cpus).await
    }

    /// The `mock-server` binary at `exe` (an older build, for a before/after comparison).
    pub async fn emulator_at(exe: PathBuf, state: bool, extra: &[&str], cpus: Option<&str>) -> Server {
        assert!(exe.exists(), "{} is missing: run cargo build --release --workspace first", exe.display());
        let mut command = pinned(exe, cpus);
        command.args(["--addr", "127.0.0.1:0", "--quiet"]).args(extra);
        let state_dir = state.then(|| {
            static NEXT_STATE: AtomicU32 = AtomicU32::new(0);
            let n = NEXT_STATE.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("bench-state-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("state dir");
            command.arg("--state").arg(dir.join("state.db"));
            TempDir(dir)
        });
        let mut server = Server::spawn(&mut command, "emulator").await;
        server._state = state_dir;
        server
    }

    /// The raw hyper server; with `cpus`, started under `taskset -c cpus`.
    pub async fn raw(cpus: Option<&str>) -> Server {
        Server::spawn(pinned(std::env::current_exe().expect("own path"), cpus).arg("raw-server"), "raw").await
    }

    /// Raw hyper that also takes the SHA-256 of each body before it answers: the least any
    /// server verifying a signature over the body does.
    pub async fn raw_hashing() -> Server {
        let mut command = pinned(std::env::current_exe().expect("own path"), None);
        Server::spawn(command.args(["raw-server", "--sha256"]), "raw-sha256").await
    }

    async fn spawn(command: &mut Command, name: &str) -> Server {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bench-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ready_file = dir.join("ready.json");
        let started = Instant::now();
        let child = command
            .arg("--ready-file")
            .arg(&ready_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ready: Duration::ZERO,
            _dir: TempDir(dir),
            _state: None,
        };
        loop {
            // A file still being written reads as empty or cut short: not ready yet.
            let text = std::fs::read_to_string(&ready_file).unwrap_or_default();
            if let Ok(info) = serde_json::from_str::<serde_json::Value>(&text) {
                server.ready = started.elapsed();
                server.addr = info["url"]
                    .as_str()
                    .and_then(|u| u.strip_prefix("http://"))
                    .and_then(|a| a.parse().ok())
                    .expect("url");
                return server;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{name} did not start");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// The CPU time the server has used so far, all threads, user and system, in seconds
    /// (`/proc/<pid>/stat`, counted in the kernel's 100 ticks a second).
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The command name may hold spaces; the fields counted here come after its `)`.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// A `/proc/<pid>/status` memory line (VmRSS now, VmHWM peak), in MB.
    pub fn rss_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

/// `exe`, or `taskset -c cpus exe` when `cpus` is given.
fn pinned(exe: PathBuf, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}

/// Whether `taskset` can be run here.
pub fn has_taskset() -> bool {
    Command::new("taskset").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// `bench raw-server [--sha256] --ready-file F`: the floor; with `--sha256`, the floor of a
/// server that hashes the body, as verifying its signature needs.
pub fn raw_server_main() {
    let ready_file = std::env::args().skip_while(|a| a != "--ready-file").nth(1).expect("--ready-file");
    let hash = std::env::args().any(|a| a == "--sha256");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        std::fs::write(&ready_file, serde_json::json!({ "url": url }).to_string()).expect("ready file");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| async move {
                    // Hashed a frame at a time as it arrives, as the emulator hashes; without
                    // `--sha256` the body is collected as the floor always has been.
                    if hash {
                        let (mut body, mut sha256) = (request.into_body(), sha2::Sha256::new());
                        while let Some(Ok(frame)) = body.frame().await {
                            if let Ok(data) = frame.into_data() {
                                sha256.update(&data);
                            }
                        }
                        std::hint::black_box(sha256.finalize());
                    } else {
                        let _ = request.into_body().collect().await;
                    }
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                        br#"{"code":0,"message":"success","result":[]}"#,
                    ))))
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}
