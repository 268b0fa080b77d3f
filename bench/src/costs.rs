//! What a feature costs, side by side: the same charged small request (hard-hat, the 3 KB
//! fixture image, metered) sent with `wrk` to two emulators that differ only in that
//! feature, in interleaved rounds (which goes first alternates); the median of the
//! per-round ratios with / without is printed. Without `wrk`, the in-process generator.

use serde_json::json;

use crate::headline::{self, Generator, Plan};
use crate::scenarios::Setup;
use crate::servers::Server;
use crate::wrk;

/// The cost measurements, in the order a full run takes them.
pub const COSTS: [&str; 7] =
    ["journal-cost", "faults-cost", "state-cost", "large-floor", "baseline", "baseline-plain", "baseline-no-journal"];

/// The environment variable naming an older `mock-server` binary for `baseline`.
pub const BASELINE_ENV: &str = "BENCH_BASELINE";

/// One pair: the server with the feature and the one without, each with its account.
struct Pair {
    with: (Server, Setup),
    without: (Server, Setup),
}

/// Runs the cost measurement `name` (one of [`COSTS`]).
pub async fn run(name: &str, plan: Plan) {
    if name == "large-floor" {
        return large_floor(plan).await;
    }
    let (what, pair) = match name {
        "journal-cost" => ("the journal ring on (default capacity) / --journal-capacity 0", journal().await),
        "faults-cost" => ("another account's rules armed / no rule on the server", faults().await),
        "baseline" | "baseline-plain" | "baseline-no-journal" => match std::env::var_os(BASELINE_ENV) {
            Some(exe) if name != "baseline-no-journal" => {
                ("this build / the build at $BENCH_BASELINE", baseline(exe.into(), &[]).await)
            }
            Some(exe) => (
                "this build with --journal-capacity 0 / the build at $BENCH_BASELINE",
                baseline(exe.into(), &["--journal-capacity", "0"]).await,
            ),
            None => {
                println!("{name}: skipped: set {BASELINE_ENV} to an older target/release/mock-server");
                return;
            }
        },
        _ => ("--state (SQLite, every charge committed) / no state", state().await),
    };
    let generator = if wrk::available() { Generator::Wrk(None) } else { Generator::InProcess };
    let label = if matches!(generator, Generator::Wrk(_)) { "wrk" } else { "in-process generator" };
    let mut ratios = Vec::new();
    let mut rates = (Vec::new(), Vec::new());
    // The server's CPU time per request: what the feature costs in work, in µs (on a shared
    // machine it scatters as the throughput does: a core's speed moves with its neighbours).
    let (mut cpu_ratios, mut cpu) = (Vec::new(), (Vec::new(), Vec::new()));
    // The plain png (no ground truth) for baseline-plain; the fixture for every other.
    let scenario = if name == "baseline-plain" { "small-metered-plain" } else { "small-metered" };
    for round in 0..plan.rounds {
        let with = pair.with.1.request(scenario, pair.with.0.addr);
        let without = pair.without.1.request(scenario, pair.without.0.addr);
        let mut measured = [headline::Measured::default(); 2];
        for step in 0..2 {
            // Which server goes first alternates with the round.
            let slot = (step + round) % 2;
            let (server, template) = if slot == 0 { (&pair.with.0, &with) } else { (&pair.without.0, &without) };
            measured[slot] = headline::measure(generator, server, template, plan).await;
        }
        let micros = [measured[0].cpu_us, measured[1].cpu_us];
        ratios.push(measured[0].rate / measured[1].rate.max(1e-9));
        cpu_ratios.push(micros[1] / micros[0].max(1e-9));
        cpu.0.push(micros[0]);
        cpu.1.push(micros[1]);
        rates.0.push(measured[0].rate);
        rates.1.push(measured[1].rate);
        let failed = measured[0].failed + measured[1].failed;
        if failed > 0 {
            println!("  warning: {name}: {failed} answers were not code 0");
        }
    }
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "{name:<13} {what}: {:.0} / {:.0} req/s {scenario}; ratio {} → median {:.3} [{label}]",
        headline::median(&rates.0),
        headline::median(&rates.1),
        shown.join(" "),
        headline::median(&ratios)
    );
    let shown: Vec<String> = cpu_ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "{:<13} server CPU per request: {:.2} / {:.2} µs; ratio without / with {} → median {:.3}",
        "",
        headline::median(&cpu.0),
        headline::median(&cpu.1),
        shown.join(" "),
        headline::median(&cpu_ratios)
    );
}

async fn pair(with: Server, without: Server) -> Pair {
    let with_setup = Setup::new(&with).await;
    let without_setup = Setup::new(&without).await;
    Pair { with: (with, with_setup), without: (without, without_setup) }
}

async fn journal() -> Pair {
    pair(Server::emulator(false, None).await, Server::emulator_with(false, &["--journal-capacity", "0"], None).await)
        .await
}

/// The measured account has no rules; on the server "with", another account has a rule
/// armed on the same endpoint (one that never fires during the run: calls 10⁹ to 10⁹+1).
async fn faults() -> Pair {
    let pair = pair(Server::emulator(false, None).await, Server::emulator(false, None).await).await;
    let other = Setup::new(&pair.with.0).await;
    let rule =
        json!({"endpoint": "hat", "when": {"calls": [1_000_000_000u64, 1_000_000_001u64]}, "what": {"code": 50000}});
    let admin = contract_tests::Client::new(pair.with.0.addr, "", "", "");
    let (status, answer) = admin.control("POST", &format!("accounts/{}/rules", other.ak()), rule).await;
    if status != 200 && status != 201 {
        println!("  warning: faults-cost: arming the rule was answered {status}: {answer}");
    }
    pair
}

/// This build (with `args`) against an older binary run as it was.
async fn baseline(exe: std::path::PathBuf, args: &[&str]) -> Pair {
    pair(Server::emulator_with(false, args, None).await, Server::emulator_at(exe, false, &[], None).await).await
}

async fn state() -> Pair {
    pair(Server::emulator(true, None).await, Server::emulator(false, None).await).await
}

/// The 1 MB and 5 MB hard-hat requests against their physical floor, one connection each
/// (in-process, per-request latency): the floor is the raw hyper server's p50 for the same
/// body (receiving it) or SHA-256 of the body, whichever is longer (hashing overlaps
/// receiving), plus base64-decoding the image once, both timed here in the same rounds.
/// With `$BENCH_BASELINE`, the older emulator is measured in the same rounds too, so that a
/// change on a large body's path is compared side by side, not across runs.
async fn large_floor(plan: Plan) {
    let (emulator, raw) = (Server::emulator(false, None).await, Server::raw(None).await);
    let setup = Setup::new(&emulator).await;
    let older = match std::env::var_os(BASELINE_ENV) {
        Some(exe) => {
            let server = Server::emulator_at(exe.into(), false, &[], None).await;
            let setup = Setup::new(&server).await;
            Some((server, setup))
        }
        None => None,
    };
    let duration = std::time::Duration::from_secs(plan.seconds);
    for scenario in ["hat-1mb", "hat-5mb"] {
        let (mut ratios, mut ours, mut floors) = (Vec::new(), Vec::new(), Vec::new());
        let (mut older_ratios, mut older_p50, mut against_older) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..plan.rounds {
            let mut targets = vec![
                (emulator.addr, setup.request(scenario, emulator.addr)),
                (raw.addr, setup.request(scenario, raw.addr)),
            ];
            if let Some((server, setup)) = &older {
                targets.push((server.addr, setup.request(scenario, server.addr)));
            }
            // Which server goes first turns with the round.
            let mut p50 = vec![0.0; targets.len()];
            for step in 0..targets.len() {
                let slot = (step + round) % targets.len();
                let (addr, template) = &targets[slot];
                p50[slot] = crate::load::drive(*addr, template.clone(), 1, duration).await.percentile(0.5);
            }
            let (hash, decode) = crate::scenarios::hash_and_decode(scenario);
            let floor = p50[1].max(hash) + decode;
            ratios.push(p50[0] / floor);
            ours.push(p50[0]);
            floors.push(format!("{floor:.2} (receive {:.2}, sha-256 {hash:.2}, decode {decode:.2})", p50[1]));
            if let Some(older) = p50.get(2) {
                older_ratios.push(older / floor);
                older_p50.push(*older);
                against_older.push(p50[0] / older);
            }
        }
        let shown = |ratios: &[f64]| ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(" ");
        println!(
            "{scenario:<13} p50 {:.2} ms; floor {}; ratio {} → median {:.2} (target ≤ 1.3) [in-process, 1 connection]",
            headline::median(&ours),
            floors.last().map_or("", String::as_str),
            shown(&ratios),
            headline::median(&ratios)
        );
        if !older_p50.is_empty() {
            println!(
                "{:<13} ${BASELINE_ENV}: p50 {:.2} ms; ratio to the floor {} → median {:.2}; this build / it {} → median {:.3}",
                "",
                headline::median(&older_p50),
                shown(&older_ratios),
                headline::median(&older_ratios),
                shown(&against_older),
                headline::median(&against_older)
            );
        }
    }
}
