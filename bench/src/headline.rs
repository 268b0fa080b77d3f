//! The headline ratios: each scenario's request sent to the emulator and to the raw hyper
//! server in the same round, rounds interleaved, the median of the per-round ratios
//! printed. The generator is `wrk` (light, as a peer would measure), optionally with the
//! servers and wrk pinned to separate cores, or the in-process one.

use std::time::Duration;

use crate::load::{self, Template};
use crate::scenarios::Setup;
use crate::servers::Server;
use crate::wrk;

/// The scenarios measured side by side, each against raw hyper with the same request.
pub const SCENARIOS: [&str; 6] =
    ["small-free", "small-free-plain", "small-metered", "small-metered-plain", "hat-1mb", "hat-5mb"];

/// Who sends the load.
#[derive(Clone, Copy)]
pub enum Generator {
    /// `wrk -t2`; with `Some(cpus)`, wrk runs under `taskset -c cpus`.
    Wrk(Option<&'static str>),
    InProcess,
}

impl Generator {
    fn label(self) -> &'static str {
        match self {
            Generator::Wrk(None) => "wrk",
            Generator::Wrk(Some(_)) => "wrk, pinned: servers on core 0, wrk on core 1",
            Generator::InProcess => "in-process generator",
        }
    }
}

/// How long and how often.
#[derive(Clone, Copy)]
pub struct Plan {
    pub rounds: usize,
    pub seconds: u64,
    pub connections: usize,
}

/// One server's turn in a round.
#[derive(Clone, Copy, Default)]
pub struct Measured {
    pub rate: f64,
    pub p99_ms: f64,
    /// Answers that were not a success.
    pub failed: u64,
    /// The server's CPU time (user and system, all threads) per request, in µs.
    pub cpu_us: f64,
}

/// Runs every scenario `plan.rounds` times on both servers and prints the ratios.
pub async fn run(generator: Generator, setup: &Setup, emulator: &Server, raw: &Server, plan: Plan) {
    println!(
        "headline [{}]: {} rounds of {} s per server, {} connections",
        generator.label(),
        plan.rounds,
        plan.seconds,
        plan.connections
    );
    check(setup, emulator).await;
    let mut ratios = vec![Vec::new(); SCENARIOS.len()];
    let mut rates = vec![(Vec::new(), Vec::new()); SCENARIOS.len()];
    let mut p99 = vec![Vec::new(); SCENARIOS.len()];
    let mut errors = vec![0u64; SCENARIOS.len()];
    let mut cpu = vec![(Vec::new(), Vec::new()); SCENARIOS.len()];
    for round in 0..plan.rounds {
        for (i, scenario) in SCENARIOS.iter().enumerate() {
            // Signed afresh each round, so the eop-date stays inside its 15 minutes.
            let template = setup.request(scenario, emulator.addr);
            let order = if round % 2 == 0 { [raw, emulator] } else { [emulator, raw] };
            let mut measured = [Measured::default(); 2];
            for (slot, server) in order.into_iter().enumerate() {
                measured[slot] = measure(generator, server, &template, plan).await;
            }
            let (floor, ours) = if round % 2 == 0 { (measured[0], measured[1]) } else { (measured[1], measured[0]) };
            ratios[i].push(ours.rate / floor.rate.max(1e-9));
            rates[i].0.push(ours.rate);
            p99[i].push(ours.p99_ms);
            rates[i].1.push(floor.rate);
            errors[i] += ours.failed;
            cpu[i].0.push(ours.cpu_us);
            cpu[i].1.push(floor.cpu_us);
        }
    }
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        let shown: Vec<String> = ratios[i].iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  {scenario:<20} emulator {:>8.0} req/s (p99 {:.2} ms), raw hyper {:>8.0} req/s; ratio {} → median {:.2}{}",
            median(&rates[i].0),
            median(&p99[i]),
            median(&rates[i].1),
            shown.join(" "),
            median(&ratios[i]),
            if errors[i] > 0 { format!("  ({} failed answers)", errors[i]) } else { String::new() }
        );
        let (ours, floor) = (median(&cpu[i].0), median(&cpu[i].1));
        println!(
            "  {:<20} server CPU per request: emulator {ours:.1} µs, raw hyper {floor:.1} µs; raw / emulator {:.2}",
            "",
            floor / ours.max(1e-9)
        );
    }
}

/// The small signed requests against raw hyper and against raw hyper that also hashes each
/// body with SHA-256 (`hashing`), three servers interleaved: how much of the gap to raw
/// hyper the body's hash alone accounts for, in throughput and in the servers' CPU time.
pub async fn signed_floor(generator: Generator, setup: &Setup, servers: [&Server; 3], plan: Plan) {
    const NAMES: [&str; 3] = ["emulator", "raw hyper", "raw hyper + SHA-256"];
    println!(
        "small-floor [{}]: {} rounds of {} s per server, {} connections",
        generator.label(),
        plan.rounds,
        plan.seconds,
        plan.connections
    );
    for scenario in ["small-metered", "small-metered-plain"] {
        let mut rates: [Vec<f64>; 3] = Default::default();
        let mut cpu: [Vec<f64>; 3] = Default::default();
        let mut ratios: [Vec<f64>; 2] = Default::default();
        for round in 0..plan.rounds {
            let template = setup.request(scenario, servers[0].addr);
            let mut rate = [0.0; 3];
            for step in 0..3 {
                // Which server goes first turns with the round.
                let slot = (step + round) % 3;
                let measured = measure(generator, servers[slot], &template, plan).await;
                rate[slot] = measured.rate;
                rates[slot].push(measured.rate);
                cpu[slot].push(measured.cpu_us);
            }
            ratios[0].push(rate[0] / rate[1].max(1e-9));
            ratios[1].push(rate[2] / rate[1].max(1e-9));
        }
        let line: Vec<String> = (0..3)
            .map(|i| format!("{} {:.0} req/s, {:.1} µs CPU", NAMES[i], median(&rates[i]), median(&cpu[i])))
            .collect();
        println!("  {scenario:<20} {}", line.join("; "));
        println!(
            "  {:<20} ratio to raw hyper: emulator {:.2}, raw hyper + SHA-256 {:.2}",
            "",
            median(&ratios[0]),
            median(&ratios[1])
        );
    }
}

/// One request of each scenario through the in-process client: a figure for a request
/// the emulator refuses would be meaningless, so say so up front.
async fn check(setup: &Setup, emulator: &Server) {
    for scenario in SCENARIOS {
        let summary = load::drive_count(emulator.addr, setup.request(scenario, emulator.addr), 1, 1).await;
        if summary.codes.keys().any(|code| code != "0") {
            println!("  warning: {scenario} is answered {:?}, not code 0", summary.codes);
        }
    }
}

pub async fn measure(generator: Generator, server: &Server, template: &Template, plan: Plan) -> Measured {
    let duration = Duration::from_secs(plan.seconds);
    let cpu_before = server.cpu_seconds();
    let per_request = |requests: f64| (server.cpu_seconds() - cpu_before) * 1e6 / requests.max(1.0);
    match generator {
        Generator::InProcess => {
            let s = load::drive(server.addr, template.clone(), plan.connections, duration).await;
            let failed = s.codes.iter().filter(|(code, _)| code.as_str() != "0").map(|(_, n)| n).sum();
            let cpu_us = per_request(s.rate() * duration.as_secs_f64());
            Measured { rate: s.rate(), p99_ms: s.percentile(0.99), failed, cpu_us }
        }
        Generator::Wrk(cpus) => {
            let script = match wrk::Script::new(template) {
                Ok(script) => script,
                Err(e) => {
                    eprintln!("bench: cannot write the wrk script: {e}");
                    return Measured::default();
                }
            };
            let (addr, path, connections) = (server.addr, template.path.clone(), plan.connections);
            let run = tokio::task::spawn_blocking(move || script.run(addr, &path, connections, duration, cpus))
                .await
                .unwrap_or_default();
            Measured {
                rate: run.rate(),
                p99_ms: run.p99_ms,
                failed: run.errors,
                cpu_us: per_request(run.requests as f64),
            }
        }
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}
