//! `contract-tests`: checks a client against the contract. Parses the arguments and hands
//! over to `contract_tests::runner`; writes the report and sets the exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use contract_tests::report::{Checks, Report};
use contract_tests::runner::{self, ClientRun};
use contract_tests::scenarios::Selection;

#[derive(Debug, Parser)]
#[command(name = "contract-tests", version, about = "Checks that a client honours the EOP contract")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Runs COMMAND against a fresh emulator (MOCK_URL, MOCK_AK, MOCK_SK, MOCK_APPKEY in its
    /// environment) and reports what the real service would refuse.
    Client(ClientArgs),
}

#[derive(Debug, clap::Args)]
struct ClientArgs {
    /// How to write the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Codes the client must have been shown, e.g. 51003,5000.
    #[arg(long, value_delimiter = ',', value_parser = runner::parse_code)]
    require: Vec<i64>,
    /// Lints fail the check too.
    #[arg(long)]
    strict: bool,
    /// Kill COMMAND after this long (ms, s, m, h).
    #[arg(long, value_parser = runner::parse_timeout, default_value = "10m")]
    timeout: std::time::Duration,
    /// A server configuration (TOML) to start the emulator with.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write the report here (the text report still goes to standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// After a clean run, run COMMAND again under each documented failure: all, or some
    /// (codes and throttle, slow, reset, clock), e.g. --scenarios 51003,5001,throttle.
    #[arg(long, num_args = 0..=1, value_delimiter = ',', value_parser = runner::parse_scenario)]
    scenarios: Option<Vec<String>>,
    /// How long the `slow` scenario's answer takes (ms, s, m, h).
    #[arg(long, value_parser = runner::parse_slow, default_value = "12s")]
    slow: std::time::Duration,
    /// Run COMMAND this many more times, each against generated answers (docs/client-contract.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    explore: Option<u32>,
    /// The seed of the first --explore run (printed; replays a run with --explore 1).
    #[arg(long, requires = "explore")]
    seed: Option<u64>,
    /// The client's command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

fn main() -> ExitCode {
    let Commands::Client(args) = Cli::parse().command;
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("contract-tests: cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let options = ClientRun {
        command: args.command,
        checks: Checks { require: args.require, strict: args.strict },
        timeout: args.timeout,
        config: args.config,
        scenarios: args.scenarios.map(|names| Selection { names, slow: args.slow }),
    };
    let report = match args.explore {
        Some(runs) => runtime.block_on(contract_tests::explore::run(&options, runs, args.seed)),
        None => runtime.block_on(runner::run(&options)),
    };
    write(&report, args.format, args.output.as_deref())
}

/// Writes the report where asked and returns the exit status: 0 only when it passed.
fn write(report: &Report, format: Format, output: Option<&std::path::Path>) -> ExitCode {
    let formatted = match format {
        Format::Text => report.text(),
        Format::Json => report.json(),
        Format::Junit => report.junit(),
    };
    match output {
        None => print!("{formatted}"),
        Some(path) => {
            print!("{}", report.text());
            if let Err(e) = std::fs::write(path, formatted) {
                eprintln!("contract-tests: cannot write the report to {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
