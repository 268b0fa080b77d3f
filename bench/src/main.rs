//! `bench`: starts the emulator (and a raw hyper server as the floor) as child processes,
//! drives each over loopback with a fixed number of keep-alive connections for a fixed
//! time, and prints requests/s, p50/p99 latency, peak RSS and startup-to-ready time.
//!
//! Build and run: `cargo build --release --workspace && target/release/bench`
//! Options: `--seconds N` (default 5), `--connections C` (default 32), `--scenario NAME`
//! (repeatable; default all), `--soak N` (N small requests, RSS before and after),
//! `--state` (the emulator appends every charged call to a state file).

mod load;
mod scenarios;
mod servers;

use std::time::Duration;

use load::Summary;
use servers::Server;

struct Options {
    seconds: u64,
    connections: usize,
    scenarios: Vec<String>,
    soak: u64,
    state: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options { seconds: 5, connections: 32, scenarios: Vec::new(), soak: 0, state: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds is a whole number")?,
            "--connections" => o.connections = value()?.parse().map_err(|_| "--connections is a whole number")?,
            "--scenario" => o.scenarios.push(value()?),
            "--soak" => o.soak = value()?.parse().map_err(|_| "--soak is a whole number")?,
            "--state" => o.state = true,
            other => return Err(format!("unknown argument {other}; see the top of bench/src/main.rs")),
        }
    }
    Ok(o)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("raw-server") {
        servers::raw_server_main();
        return;
    }
    let o = match options() {
        Ok(o) => o,
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
        "machine: {} cores; {} connections, {} s per scenario",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        o.connections,
        o.seconds
    );
    let emulator = Server::emulator(o.state).await;
    if o.state {
        println!("emulator keeps its ledger in a state file (--state)");
    }
    println!(
        "emulator: ready in {:.1} ms, idle RSS {:.1} MB",
        emulator.ready.as_secs_f64() * 1000.0,
        emulator.rss_mb("VmRSS")
    );
    let raw = Server::raw().await;
    println!("raw hyper: ready in {:.1} ms, idle RSS {:.1} MB", raw.ready.as_secs_f64() * 1000.0, raw.rss_mb("VmRSS"));
    let setup = scenarios::Setup::new(&emulator).await;
    let duration = Duration::from_secs(o.seconds);
    let mut rows: Vec<(String, Summary, f64)> = Vec::new();
    for scenario in scenarios::ALL {
        if !o.scenarios.is_empty() && !o.scenarios.iter().any(|s| s == scenario) {
            continue;
        }
        let server = if scenario.starts_with("raw") { &raw } else { &emulator };
        let template = setup.request(scenario, server.addr);
        let connections = match scenario {
            "hat-5mb" | "raw-5mb" => 1,
            "hat-1mb" | "fence-32" | "fall-64" => o.connections.min(8),
            _ => o.connections,
        };
        let summary = load::drive(server.addr, template, connections, duration).await;
        let rss = server.rss_mb("VmHWM");
        println!("{scenario:<14} {}  peak RSS {rss:.1} MB", summary.line());
        rows.push((scenario.to_string(), summary, rss));
    }
    if o.scenarios.is_empty() {
        side_by_side(&setup, &emulator, &raw, o.connections).await;
    }
    scenarios::five_mb_cost(&rows.iter().map(|(n, s, _)| (n.clone(), s.clone())).collect::<Vec<_>>());
    if o.soak > 0 {
        let before = emulator.rss_mb("VmRSS");
        let template = setup.request("small-metered", emulator.addr);
        let summary = load::drive_count(emulator.addr, template, o.connections, o.soak).await;
        println!(
            "soak: {} requests, {}; RSS {before:.1} MB before, {:.1} MB after",
            o.soak,
            summary.line(),
            emulator.rss_mb("VmRSS")
        );
    }
}

/// The headline ratio, measured fairly on a noisy machine: five rounds, each running the
/// raw server, the metered request and the free request back to back for two seconds;
/// the median of the per-round ratios is printed.
async fn side_by_side(setup: &scenarios::Setup, emulator: &Server, raw: &Server, connections: usize) {
    let (mut metered, mut free) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let run = |name: &'static str, server: &Server| {
            let template = setup.request(name, server.addr);
            load::drive(server.addr, template, connections, Duration::from_secs(2))
        };
        let floor = run("raw-hyper", raw).await.rate();
        metered.push(run("small-metered", emulator).await.rate() / floor);
        free.push(run("small-free", emulator).await.rate() / floor);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 100.0
    };
    let shown = |v: &[f64]| v.iter().map(|r| format!("{:.0}%", r * 100.0)).collect::<Vec<_>>().join(" ");
    println!(
        "side by side, 5 rounds: metered / raw hyper {} → median {:.0}%",
        shown(&metered),
        median(&mut metered.clone())
    );
    println!("side by side, 5 rounds: free / raw hyper {} → median {:.0}%", shown(&free), median(&mut free.clone()));
}
