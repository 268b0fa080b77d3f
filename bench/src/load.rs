//! The load generator: keep-alive connections, each sending the same request back to back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// A request to send again and again.
#[derive(Clone)]
pub struct Template {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// What one run measured.
#[derive(Clone, Default)]
pub struct Summary {
    pub count: u64,
    pub elapsed: Duration,
    /// Sorted latencies, in microseconds.
    pub latencies: Vec<u32>,
    /// Responses by code (`0` for success).
    pub codes: std::collections::BTreeMap<String, u64>,
}

impl Summary {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }

    pub fn line(&self) -> String {
        format!(
            "{:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  codes {:?}",
            self.rate(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.codes
        )
    }
}

/// Drives `connections` connections for `duration`.
pub async fn drive(addr: SocketAddr, template: Template, connections: usize, duration: Duration) -> Summary {
    run(addr, template, connections, Limit::Until(Instant::now() + duration)).await
}

/// Drives `connections` connections until `total` requests have been answered.
pub async fn drive_count(addr: SocketAddr, template: Template, connections: usize, total: u64) -> Summary {
    run(addr, template, connections, Limit::Count(Arc::new(AtomicU64::new(total)))).await
}

#[derive(Clone)]
enum Limit {
    Until(Instant),
    Count(Arc<AtomicU64>),
}

impl Limit {
    fn another(&self) -> bool {
        match self {
            Limit::Until(deadline) => Instant::now() < *deadline,
            Limit::Count(left) => left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok(),
        }
    }
}

async fn run(addr: SocketAddr, template: Template, connections: usize, limit: Limit) -> Summary {
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..connections).map(|_| tokio::spawn(connection(addr, template.clone(), limit.clone()))).collect();
    let mut total = Summary::default();
    for task in tasks {
        let part = task.await.unwrap_or_default();
        total.count += part.count;
        total.latencies.extend(part.latencies);
        for (code, n) in part.codes {
            *total.codes.entry(code).or_default() += n;
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

async fn connection(addr: SocketAddr, template: Template, limit: Limit) -> Summary {
    let mut summary = Summary::default();
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else { return summary };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return summary;
    };
    tokio::spawn(conn);
    while limit.another() {
        let mut request = Request::post(template.path.as_str());
        for (name, value) in &template.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let Ok(request) = request.body(Full::new(template.body.clone())) else { break };
        let sent = Instant::now();
        let Ok(response) = sender.send_request(request).await else { break };
        let Ok(body) = response.into_body().collect().await else { break };
        summary.latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        summary.count += 1;
        *summary.codes.entry(code_of(&body.to_bytes())).or_default() += 1;
    }
    summary
}

/// The body's `code` as text, read from the first bytes only.
pub fn code_of(body: &[u8]) -> String {
    let head = String::from_utf8_lossy(&body[..body.len().min(96)]);
    let Some(at) = head.find("\"code\":") else { return "?".into() };
    head[at + 7..].trim_start_matches('"').chars().take_while(char::is_ascii_digit).collect()
}
