//! `bench`: starts the emulator (and a raw hyper server as the floor) as child processes
//! and measures them over loopback: a table of scenarios with the in-process generator,
//! the headline ratios to raw hyper with `wrk` (also pinned to separate cores), the
//! hardening group (memory, stall, slow clients, signature cost), what the journal, armed
//! rules and the state file cost side by side, and a soak.
//!
//! Build and run: `cargo build --release --workspace && target/release/bench`;
//! `bench --help` lists the options and scenarios (the text is in `cli.rs`).

mod cli;
mod costs;
mod hardening;
mod headline;
mod load;
mod scenarios;
mod servers;
mod wire;
mod wrk;

use std::time::Duration;

use cli::Options;
use headline::{Generator, Plan};
use load::Summary;
use scenarios::Setup;
use servers::Server;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("raw-server") {
        servers::raw_server_main();
        return;
    }
    let o = match cli::parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", cli::HELP);
            return;
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    println!(
        "machine: {} cores; {} connections, {} s per table scenario",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        o.connections,
        o.seconds
    );
    let emulator = Server::emulator(o.state, None).await;
    if o.state {
        println!("emulator keeps its ledger in a state file (--state)");
    }
    println!(
        "idle: emulator ready in {:.1} ms, idle RSS {:.1} MB",
        emulator.ready.as_secs_f64() * 1000.0,
        emulator.rss_mb("VmRSS")
    );
    let raw = Server::raw(None).await;
    println!(
        "idle: raw hyper ready in {:.1} ms, idle RSS {:.1} MB",
        raw.ready.as_secs_f64() * 1000.0,
        raw.rss_mb("VmRSS")
    );
    if o.wants("starts") {
        starts().await;
    }
    let setup = Setup::new(&emulator).await;
    table(&o, &setup, &emulator, &raw).await;
    headlines(&o, &setup, &emulator, &raw).await;
    hardening(&o).await;
    for name in costs::COSTS {
        if o.wants(name) {
            costs::run(name, Plan { rounds: o.rounds, seconds: o.round_seconds, connections: o.connections }).await;
        }
    }
    if o.soak > 0 {
        soak(&o, &setup, &emulator).await;
    }
}

/// Fresh starts of each server, one after another: one start is too few to quote, the
/// first after a build or a copy of the binary being the slowest.
async fn starts() {
    const STARTS: usize = 21;
    for name in ["emulator", "raw hyper"] {
        let (mut ready, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..STARTS {
            let server = if name == "emulator" { Server::emulator(false, None).await } else { Server::raw(None).await };
            ready.push(server.ready.as_secs_f64() * 1000.0);
            rss.push(server.rss_mb("VmRSS"));
        }
        let (least, most) = ready.iter().fold((f64::MAX, 0.0f64), |(l, m), &r| (l.min(r), m.max(r)));
        println!(
            "starts: {name} ready in {:.1} ms (median of {STARTS}; least {least:.1}, most {most:.1}), idle RSS {:.1} MB (median)",
            headline::median(&ready),
            headline::median(&rss)
        );
    }
}

/// Each scenario for `--seconds`, one after another, with the in-process generator.
async fn table(o: &Options, setup: &Setup, emulator: &Server, raw: &Server) {
    let mut rows: Vec<(String, Summary)> = Vec::new();
    for scenario in cli::TABLE {
        if !o.wants(scenario) {
            continue;
        }
        let server = if scenario.starts_with("raw") { raw } else { emulator };
        let template = setup.request(scenario, server.addr);
        let connections = match scenario {
            "hat-5mb" | "raw-5mb" => 1,
            "hat-1mb" | "fence-32" | "fall-64" => o.connections.min(8),
            _ => o.connections,
        };
        let summary = load::drive(server.addr, template, connections, Duration::from_secs(o.seconds)).await;
        let rss = server.rss_mb("VmHWM");
        println!("{scenario:<14} {}  peak RSS {rss:.1} MB [in-process]", summary.line());
        rows.push((scenario.to_string(), summary));
    }
    scenarios::five_mb_cost(&rows);
}

/// The headline ratios: wrk (or, without it, the in-process generator, saying so), wrk
/// with the servers pinned apart from it, and the in-process generator.
async fn headlines(o: &Options, setup: &Setup, emulator: &Server, raw: &Server) {
    let plan = Plan { rounds: o.rounds, seconds: o.round_seconds, connections: o.connections };
    let has_wrk = wrk::available();
    if o.wants("headline") {
        if has_wrk {
            headline::run(Generator::Wrk(None), setup, emulator, raw, plan).await;
        } else {
            println!("headline: wrk is not installed (apt-get install -y wrk); measuring with the in-process generator instead");
            headline::run(Generator::InProcess, setup, emulator, raw, plan).await;
        }
    }
    if o.wants("headline-pinned") {
        if !has_wrk || !servers::has_taskset() {
            println!("headline-pinned: skipped: needs wrk (apt-get install -y wrk) and taskset (util-linux)");
        } else if std::thread::available_parallelism().map_or(0, |n| n.get()) < 2 {
            println!("headline-pinned: skipped: needs two cores");
        } else {
            let emulator = Server::emulator(o.state, Some("0")).await;
            let raw = Server::raw(Some("0")).await;
            let setup = Setup::new(&emulator).await;
            headline::run(Generator::Wrk(Some("1")), &setup, &emulator, &raw, plan).await;
        }
    }
    if o.wants("headline-in-process") {
        headline::run(Generator::InProcess, setup, emulator, raw, plan).await;
    }
    if o.wants("small-floor") {
        let generator = if has_wrk { Generator::Wrk(None) } else { Generator::InProcess };
        let hashing = Server::raw_hashing().await;
        headline::signed_floor(generator, setup, [emulator, raw, &hashing], plan).await;
    }
}

async fn hardening(o: &Options) {
    if o.wants("memory") {
        hardening::memory().await;
    }
    if o.wants("stall") {
        hardening::stall().await;
    }
    if o.wants("slow-clients") {
        hardening::slow_clients().await;
    }
    if o.wants("signature-cost") {
        hardening::signature_cost(o.rounds, o.round_seconds).await;
    }
}

/// `--soak N` small metered requests in ten parts, the RSS after each: flat is the target.
async fn soak(o: &Options, setup: &Setup, emulator: &Server) {
    let before = emulator.rss_mb("VmRSS");
    let mut after = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..10 {
        let template = setup.request("small-metered", emulator.addr);
        let part = load::drive_count(emulator.addr, template, o.connections, o.soak.div_ceil(10)).await;
        rates.push(part.rate());
        after.push(format!("{:.1}", emulator.rss_mb("VmRSS")));
    }
    println!(
        "soak: {} small metered requests at {:.0} req/s (median of ten parts); RSS {before:.1} MB before, after each tenth: {} MB [in-process]",
        o.soak.div_ceil(10) * 10,
        headline::median(&rates),
        after.join(" ")
    );
}
