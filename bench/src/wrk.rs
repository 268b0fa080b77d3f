//! `wrk` as the load generator: a light one, as a peer would measure with. The request
//! (a signed POST with headers and a body) goes into a Lua script generated in a temp
//! dir; the script's `done` prints one line this module reads back.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::load::Template;

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub requests: u64,
    pub seconds: f64,
    pub p99_ms: f64,
    /// Connect, read, write and timeout errors, and answers outside 2xx/3xx.
    pub errors: u64,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}

/// Whether `wrk` can be run here.
pub fn available() -> bool {
    Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// A temp dir holding one request's body and script, removed when dropped.
pub struct Script {
    dir: PathBuf,
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Script {
    /// Writes `template` as a wrk script (wrk sets `Host` and `Content-Length` itself).
    pub fn new(template: &Template) -> std::io::Result<Script> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bench-wrk-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let script = Script { dir };
        std::fs::write(script.body_path(), &template.body)?;
        std::fs::write(script.script_path(), lua(template, &script.body_path()))?;
        Ok(script)
    }

    fn body_path(&self) -> PathBuf {
        self.dir.join("body.json")
    }

    fn script_path(&self) -> PathBuf {
        self.dir.join("request.lua")
    }

    /// `wrk -t2 -cC -dNs` against `addr`; with `cpus`, under `taskset -c cpus`.
    pub fn run(&self, addr: SocketAddr, path: &str, connections: usize, duration: Duration, cpus: Option<&str>) -> Run {
        let mut command = match cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus, "wrk"]);
                c
            }
            None => Command::new("wrk"),
        };
        command
            .args([
                "-t2",
                &format!("-c{connections}"),
                &format!("-d{}s", duration.as_secs().max(1)),
                "--timeout",
                "10s",
            ])
            .arg("-s")
            .arg(self.script_path())
            .arg(format!("http://{addr}{path}"));
        match command.stderr(Stdio::inherit()).output() {
            Ok(out) => parse(&String::from_utf8_lossy(&out.stdout)).unwrap_or_default(),
            Err(e) => {
                eprintln!("bench: wrk did not run: {e}");
                Run::default()
            }
        }
    }
}

fn lua(template: &Template, body: &Path) -> String {
    let mut lua = format!("wrk.method = \"POST\"\nwrk.path = {}\n", quoted(&template.path));
    for (name, value) in &template.headers {
        if name != "host" {
            lua += &format!("wrk.headers[{}] = {}\n", quoted(name), quoted(value));
        }
    }
    lua += &format!(
        "local f = assert(io.open({}, \"rb\"))\nwrk.body = f:read(\"*a\")\nf:close()\n",
        quoted(&body.to_string_lossy())
    );
    lua += r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench-wrk %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"#;
    lua
}

/// A Lua string literal.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out + "\""
}

/// The `bench-wrk` line: requests, duration (µs), p50 and p99 (µs), errors.
fn parse(stdout: &str) -> Option<Run> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("bench-wrk "))?;
    let n: Vec<f64> = line.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    let [requests, micros, _p50, p99, errors] = n[..] else { return None };
    Some(Run { requests: requests as u64, seconds: micros / 1e6, p99_ms: p99 / 1000.0, errors: errors as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_line_is_read_back() {
        let run = parse("Running 2s test\nbench-wrk 1000 2000000 310 1250 3\n").unwrap_or_default();
        assert_eq!((run.requests, run.errors), (1000, 3));
        assert!((run.rate() - 500.0).abs() < 1e-9 && (run.p99_ms - 1.25).abs() < 1e-9);
    }

    #[test]
    fn output_without_the_line_is_no_run() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused\n").is_none());
    }

    #[test]
    fn lua_strings_escape_quotes_and_backslashes() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
