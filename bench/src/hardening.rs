//! Measurements of what a shared server must survive, each on a fresh emulator so its
//! peak RSS is its own: huge uploads (memory), one huge request among small ones
//! (stall), thousands of trickling sockets (slow clients), and a wrong signature's cost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use contract_tests::fixtures;

use crate::headline::median;
use crate::load::{self, Template};
use crate::scenarios::{self, Setup};
use crate::servers::Server;
use crate::wire::{self, Outcome};

/// Near the fall endpoint's 250 MiB body limit.
const HUGE: usize = 250_000_000;
const TRICKLERS: usize = 2_000;
/// Open files needed for the tricklers, the bench's own sockets and some margin.
const FILES_NEEDED: u64 = 4_096;

/// Eight concurrent unsigned 250 MB uploads to fall: the server's peak RSS.
pub async fn memory() {
    let server = Server::emulator(false, None).await;
    let before = server.rss_mb("VmHWM");
    let path = fixtures::path("fall");
    let headers = vec![("host".into(), server.addr.to_string()), ("content-type".into(), "application/json".into())];
    let template = Template { path, headers, body: scenarios::zeros_body(HUGE) };
    let started = Instant::now();
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let template = template.clone();
            tokio::spawn(async move { wire::send(server_addr(&template), &template, Duration::from_secs(300)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for send in sends {
        outcomes.extend(send.await.ok());
    }
    println!(
        "memory: 8 unsigned {HUGE}-byte uploads to fall in {:.1} s; answers {}; peak RSS {:.1} MB (idle {before:.1} MB) [raw sockets]",
        started.elapsed().as_secs_f64(),
        answers(&outcomes),
        server.rss_mb("VmHWM")
    );
}

/// The address a template's `host` header names.
fn server_addr(template: &Template) -> std::net::SocketAddr {
    template
        .headers
        .iter()
        .find(|(name, _)| name == "host")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// One signed 250 MB `{"images":[0,0,…]}` to fall while two clients call hard-hat every
/// 50 ms, one on a new connection each time and one keeping its connection: their
/// slowest and p99 latencies.
pub async fn stall() {
    let server = Server::emulator(false, None).await;
    let setup = Setup::new(&server).await;
    let big = setup.sign_body("fall", scenarios::zeros_body(HUGE), server.addr, true);
    let small = setup.request("small-metered", server.addr);
    let addr = server.addr;
    let mut kept = wire::KeepAlive::new(addr);
    kept.call(&small, Duration::from_secs(5)).await;
    let huge = tokio::spawn(async move { wire::send(addr, &big, Duration::from_secs(300)).await });
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut fresh_calls, mut kept_calls) = (Vec::new(), Vec::new());
    while !huge.is_finished() {
        tick.tick().await;
        let (fresh, again) =
            tokio::join!(wire::call(addr, &small, Duration::from_secs(30)), kept.call(&small, Duration::from_secs(30)));
        fresh_calls.push(fresh);
        kept_calls.push(again);
    }
    let huge =
        huge.await.unwrap_or_else(|_| Outcome { elapsed: Duration::ZERO, status: "lost".into(), code: String::new() });
    println!(
        "stall: a signed {HUGE}-byte list of zeros to fall took {:.1} s (answer {}), peak RSS {:.1} MB; meanwhile hard-hat every 50 ms (target: none over 1000 ms) [raw sockets]",
        huge.elapsed.as_secs_f64(),
        answers(std::slice::from_ref(&huge)),
        server.rss_mb("VmHWM")
    );
    for (label, calls) in [("a new connection each call", &fresh_calls), ("one kept-alive connection", &kept_calls)] {
        let (max, p99) = latency(calls);
        let failed = calls.iter().filter(|c| !c.ok()).count();
        println!("  {label}: {} calls, {failed} failed, max {max:.0} ms, p99 {p99:.0} ms", calls.len());
    }
}

/// 2,000 sockets trickling headers while a client calls hard-hat for 10 s: the share of
/// its calls that succeeded.
pub async fn slow_clients() {
    let limit = open_files_limit();
    if limit.is_some_and(|n| n < FILES_NEEDED) {
        println!(
            "slow-clients: skipped: the open-files limit is {}, {TRICKLERS} sockets need {FILES_NEEDED}; run `ulimit -n {FILES_NEEDED}` first",
            limit.unwrap_or(0)
        );
        return;
    }
    let server = Server::emulator(false, None).await;
    let setup = Setup::new(&server).await;
    let small = setup.request("small-metered", server.addr);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tricklers: Vec<_> =
        (0..TRICKLERS).map(|_| tokio::spawn(wire::trickle(server.addr, small.path.clone(), stopped.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (started, mut calls) = (Instant::now(), Vec::new());
    while started.elapsed() < Duration::from_secs(10) {
        tick.tick().await;
        calls.push(wire::call(server.addr, &small, Duration::from_secs(2)).await);
    }
    let _ = stop.send(true);
    let mut reconnects = 0;
    for trickler in tricklers {
        reconnects += trickler.await.unwrap_or(0);
    }
    let succeeded = calls.iter().filter(|c| c.ok()).count();
    let (_, p99) = latency(&calls);
    println!(
        "slow-clients: {TRICKLERS} sockets trickling one byte a second (open-files limit {}); hard-hat every 100 ms for 10 s, 2 s deadline, a new connection each: {succeeded} of {} succeeded ({:.0}%, target ≥ 95%), p99 {p99:.0} ms; answers {}; the server let tricklers go {reconnects} times [raw sockets]",
        limit.map_or("unknown".into(), |n| n.to_string()),
        calls.len(),
        100.0 * succeeded as f64 / calls.len().max(1) as f64,
        answers(&calls)
    );
}

/// The same 5 MB hard-hat request signed right and wrong, interleaved rounds on one
/// connection: the median time per request of each and their ratio.
pub async fn signature_cost(rounds: usize, seconds: u64) {
    let server = Server::emulator(false, None).await;
    let setup = Setup::new(&server).await;
    let body = Bytes::from(scenarios::body("hat-5mb").1);
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    let mut codes = BTreeMap::new();
    for _ in 0..rounds {
        for (ok, times) in [(true, &mut right), (false, &mut wrong)] {
            let template = setup.sign_body("hat", body.clone(), server.addr, ok);
            let summary = load::drive(server.addr, template, 1, Duration::from_secs(seconds)).await;
            times.push(summary.percentile(0.5));
            for (code, n) in summary.codes {
                *codes.entry(format!("{}:{code}", if ok { "right" } else { "wrong" })).or_insert(0) += n;
            }
        }
    }
    let (r, w) = (median(&right), median(&wrong));
    println!(
        "signature-cost: 5 MB hard-hat, one connection, {rounds} rounds: right signature {r:.2} ms, wrong {w:.2} ms per request; wrong / right {:.2} (target ≤ 2); codes {codes:?} [in-process]",
        w / r.max(1e-9)
    );
}

/// The slowest and the 99th-percentile latency of `calls`, in ms.
fn latency(calls: &[Outcome]) -> (f64, f64) {
    let mut ms: Vec<f64> = calls.iter().map(|c| c.elapsed.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let p99 = ms.get(((ms.len().max(1) - 1) as f64 * 0.99).round() as usize).copied().unwrap_or(0.0);
    (ms.last().copied().unwrap_or(0.0), p99)
}

/// How the calls were answered: `status/code` (or what happened instead) and how often.
fn answers(outcomes: &[Outcome]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        let key = if o.code.is_empty() { o.status.clone() } else { format!("{}/{}", o.status, o.code) };
        *counts.entry(key).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n}× {k}")).collect::<Vec<_>>().join(", ")
}

/// The soft limit on open files, from /proc/self/limits (the server inherits it).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
