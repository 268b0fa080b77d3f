//! `contract-tests`: checks a client against the contract (`client`, handed over to
//! `contract_tests::runner`) or a server against the spec (`server`, handed over to
//! `contract_tests::verify`). Parses the arguments; writes the report and sets the exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use contract_tests::report::{Checks, Report};
use contract_tests::runner::{self, ClientRun};
use contract_tests::scenarios::Selection;
use contract_tests::verify::{self, Options};

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
    /// Runs the conformance suite against a server at URL (this emulator, or the real service
    /// with your credentials) and prints a pass/fail table per documented behaviour.
    Server(ServerArgs),
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// The server's base URL, e.g. https://ai-global.ctapi.ctyun.cn or http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The access key to sign with.
    #[arg(long)]
    ak: String,
    /// The secret key to sign with.
    #[arg(long)]
    sk: String,
    /// The app's key (every checked API enabled on it; paid ones need calls left).
    #[arg(long)]
    appkey: String,
    /// Check only these endpoints, e.g. hat,fence (default: all thirteen).
    #[arg(long, value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Trust the CA certificates in this PEM file instead of the usual roots (https only).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// How long one call may take (ms, s, m, h).
    #[arg(long, value_parser = runner::parse_timeout, default_value = "30s")]
    timeout: std::time::Duration,
    /// How to write the table.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the table here (the text table still goes to standard output).
    #[arg(long)]
    output: Option<PathBuf>,
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
    let command = Cli::parse().command;
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("contract-tests: cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        Commands::Client(args) => client(&runtime, args),
        Commands::Server(args) => server(&runtime, args),
    }
}

fn server(runtime: &tokio::runtime::Runtime, args: ServerArgs) -> ExitCode {
    let options = Options {
        url: args.url,
        ak: args.ak,
        sk: args.sk,
        appkey: args.appkey,
        endpoints: args.endpoints,
        tls_ca: args.tls_ca,
        timeout: args.timeout,
    };
    let verification = runtime.block_on(verify::run(&options));
    let formatted = match args.format {
        Format::Text => verification.text(),
        Format::Json => verification.json(),
        Format::Junit => verification.junit(),
    };
    emit(&formatted, &verification.text(), args.output.as_deref(), verification.passed)
}

fn client(runtime: &tokio::runtime::Runtime, args: ClientArgs) -> ExitCode {
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
    emit(&formatted, &report.text(), output, report.passed)
}

/// Prints `formatted` (or `text`, when it goes to `output`) and returns the exit status.
fn emit(formatted: &str, text: &str, output: Option<&std::path::Path>, passed: bool) -> ExitCode {
    match output {
        None => print!("{formatted}"),
        Some(path) => {
            print!("{text}");
            if let Err(e) = std::fs::write(path, formatted) {
                eprintln!("contract-tests: cannot write the report to {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
