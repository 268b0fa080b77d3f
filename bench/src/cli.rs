//! The command line: what `bench --help` prints and the options it parses.

/// Every named measurement, in the order a full run takes them.
pub const TABLE: [&str; 8] =
    ["small-free", "small-metered", "raw-hyper", "hat-1mb", "hat-5mb", "raw-5mb", "fence-32", "fall-64"];
pub const HEADLINE: [&str; 4] = ["headline", "headline-pinned", "headline-in-process", "small-floor"];
pub const HARDENING: [&str; 4] = ["memory", "stall", "slow-clients", "signature-cost"];
pub const IDLE: [&str; 1] = ["starts"];
pub use crate::costs::COSTS;

pub const HELP: &str = "\
bench: the emulator against a raw hyper server, over loopback, from separate processes

usage: cargo build --release --workspace && target/release/bench [OPTIONS]
       target/release/bench raw-server --ready-file FILE   (the floor, started by bench itself)

options:
  --seconds N          seconds per scenario of the in-process table (default 5)
  --connections C      connections for the table and the headline (default 32)
  --rounds R           interleaved rounds of the headline and signature-cost (default 5)
  --round-seconds S    seconds per server per scenario in one round (default 2)
  --scenario NAME      run only NAME (repeatable); without it, everything runs
  --headline           the headline groups: headline, headline-pinned, headline-in-process,
                       small-floor
  --hardening          the hardening group: memory, stall, slow-clients, signature-cost
  --costs              the cost group: journal-cost, faults-cost, state-cost, large-floor,
                       baseline, baseline-plain, baseline-no-journal
  --soak N             N small metered requests afterwards; RSS printed every tenth
  --idle               the idle group: starts
  --state              the emulator keeps its ledger in a state file
  -h, --help           this text

scenarios:
  table (in-process generator, one after another):
    small-free small-metered raw-hyper hat-1mb hat-5mb raw-5mb fence-32 fall-64
  headline (ratios to raw hyper, same request, interleaved rounds, medians):
    headline             wrk -t2 -c32 (falls back to the in-process generator, saying so)
    headline-pinned      the same with the servers on core 0 and wrk on core 1 (taskset)
    headline-in-process  the same with the in-process generator
    small-floor          small-metered and small-metered-plain with wrk against raw hyper and
                         raw hyper that hashes each body with SHA-256 (what verifying the
                         signature needs at least): ratios and each server's CPU per request
  hardening (a fresh emulator each):
    memory               eight concurrent unsigned 250 MB uploads to fall: peak RSS
    stall                one signed 250 MB {\"images\":[0,0,...]} to fall while a client
                         calls hard-hat every 50 ms: its max and p99 latency
    slow-clients         2,000 sockets trickling headers at one byte a second while a client
                         calls hard-hat for 10 s: the share of its calls that succeeded
                         (needs an open-files limit of at least 4096: ulimit -n 4096)
    signature-cost       the 5 MB hard-hat request signed right and wrong: time per request
  costs (small-metered with wrk to two emulators differing in one thing, interleaved
  rounds, the median ratio with / without; then each server's CPU time per request in
  the same rounds, and its ratio without / with):
    journal-cost         the journal ring on (default) / --journal-capacity 0
    faults-cost          another account's rule armed / no rule on the server
    state-cost           --state (SQLite) / no state
    large-floor          hat-1mb and hat-5mb p50 (1 connection, in-process) against the
                         floor: max(raw hyper receiving the body, its SHA-256) + one
                         base64 decode of the image; target ≤ 1.3; with BENCH_BASELINE,
                         that build too, in the same rounds (this build / it)
    baseline             this build / an older mock-server named by BENCH_BASELINE
                         (e.g. one built from the commit before a restructure)
    baseline-plain       the same with small-metered-plain (a png without ground truth)
    baseline-no-journal  the same with this build's journal off (--journal-capacity 0):
                         what changed apart from the journal, which journal-cost prices

  idle:
    starts               21 fresh starts of each server: time from spawn to its ready file
                         (median, least, most) and idle RSS (median); targets < 5 ms, < 10 MB

wrk: Debian's package (apt-get install -y wrk); taskset comes with util-linux.
";

pub struct Options {
    pub seconds: u64,
    pub connections: usize,
    pub rounds: usize,
    pub round_seconds: u64,
    pub scenarios: Vec<String>,
    pub soak: u64,
    pub state: bool,
}

impl Options {
    /// Whether `name` runs: every scenario when none was named.
    pub fn wants(&self, name: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == name)
    }
}

/// Parses the arguments; `Ok(None)` when help was asked for.
pub fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        seconds: 5,
        connections: 32,
        rounds: 5,
        round_seconds: 2,
        scenarios: Vec::new(),
        soak: 0,
        state: false,
    };
    let mut args = args;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value; see bench --help"));
        let number = |v: String, name: &str| v.parse::<u64>().map_err(|_| format!("{name} is a whole number"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seconds" => o.seconds = number(value()?, "--seconds")?,
            "--connections" => o.connections = number(value()?, "--connections")?.max(1) as usize,
            "--rounds" => o.rounds = number(value()?, "--rounds")?.max(1) as usize,
            "--round-seconds" => o.round_seconds = number(value()?, "--round-seconds")?.max(1),
            "--scenario" => o.scenarios.push(known(value()?)?),
            "--headline" => o.scenarios.extend(HEADLINE.map(String::from)),
            "--hardening" => o.scenarios.extend(HARDENING.map(String::from)),
            "--costs" => o.scenarios.extend(COSTS.map(String::from)),
            "--idle" => o.scenarios.extend(IDLE.map(String::from)),
            "--soak" => o.soak = number(value()?, "--soak")?,
            "--state" => o.state = true,
            other => return Err(format!("unknown argument {other}; see bench --help")),
        }
    }
    Ok(Some(o))
}

fn known(name: String) -> Result<String, String> {
    let all = TABLE.iter().chain(&HEADLINE).chain(&HARDENING).chain(&COSTS).chain(&IDLE);
    if all.clone().any(|s| *s == name) {
        Ok(name)
    } else {
        Err(format!("no scenario {name}; see bench --help for the list"))
    }
}
