//! `contract-tests client --explore N [--seed S] -- COMMAND…`: fuzzes a client with the
//! answers the spec allows (`crate::strategy`).
//!
//! A baseline run finds the endpoints COMMAND calls and the size of the images it sends.
//! Then COMMAND runs N times, each against a fresh emulator whose account has one rule per
//! endpoint answering every call with an answer drawn from the seeded strategy (run *i*
//! uses seed S + *i*, so `--explore 1 --seed S+i` replays it). At the first run COMMAND
//! fails, proptest shrinks the answer: each step re-runs COMMAND with a simpler one, at
//! most [`SHRINK_STEPS`] times, and the smallest answer that still breaks it is reported.

mod render;

use std::collections::BTreeMap;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;
use serde_json::{json, Value};

use crate::harness::{control, read_journal, Harness};
use crate::journal::{Catalogue, Journal};
use crate::report::{CommandRun, Report};
use crate::runner::{run_command, ClientRun};
use crate::strategy::{self, Answer, Shape};

/// Most re-runs of COMMAND spent shrinking one failure.
pub const SHRINK_STEPS: u32 = 64;

/// What `--explore` did, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Exploration {
    /// Runs asked for (`--explore N`).
    pub runs: u32,
    /// Runs made; fewer than `runs` when one broke the command.
    pub ran: u32,
    /// The first run's seed (`--seed`, or drawn and printed).
    pub seed: u64,
    /// The endpoints answered, with the request shape the answers fit.
    pub endpoints: BTreeMap<String, Shape>,
    /// Why nothing was explored, when so.
    pub skipped: Option<String>,
    pub broken: Option<Broken>,
}

/// A run whose answer broke the command, and the smallest answer that still does.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    /// 1 for the first run.
    pub run: u32,
    /// The seed that replays it: `--explore 1 --seed SEED`.
    pub seed: u64,
    /// The answers that first broke it, per endpoint.
    pub first: BTreeMap<String, Answer>,
    /// The smallest answers that still break it, per endpoint.
    pub smallest: BTreeMap<String, Answer>,
    /// How the command failed on the smallest answer.
    pub command: String,
    /// Re-runs spent shrinking.
    pub shrink_steps: u32,
    /// Shrinking stopped at [`SHRINK_STEPS`]: a smaller answer may still break it.
    pub shrink_bound_hit: bool,
    /// The command line that replays the run.
    pub replay: String,
}

impl Exploration {
    /// The line `failures` carries when the exploration found a break.
    pub(crate) fn failure(&self) -> Option<String> {
        if let Some(why) = &self.skipped {
            return Some(format!("explore: {why}"));
        }
        self.broken.as_ref().map(|b| {
            format!(
                "explore: run {} broke the command ({}); replay with --explore 1 --seed {}",
                b.run, b.command, b.seed
            )
        })
    }

    /// The exploration as text, for the text report.
    pub(crate) fn text(&self, out: &mut String) {
        render::text(self, out);
    }

    /// One JUnit testcase per run made: its name and, when it failed, why.
    pub(crate) fn junit_cases(&self) -> Vec<(String, Option<String>)> {
        render::junit_cases(self)
    }
}

/// Runs the baseline check, then the exploration; returns the baseline's report with the
/// exploration in it.
pub async fn run(options: &ClientRun, runs: u32, seed: Option<u64>) -> Report {
    let seed = seed.unwrap_or_else(random_seed);
    let config = match load_config(options) {
        Ok(config) => config,
        Err(e) => return Report::problem(e, &options.checks),
    };
    let (report, journal) = baseline(options, &config).await;
    let mut exploration = Exploration { runs, ran: 0, seed, endpoints: shapes(&journal), skipped: None, broken: None };
    exploration.skipped = skip_reason(&report, &exploration);
    if exploration.skipped.is_none() {
        if let Err(e) = explore(options, &config, &mut exploration).await {
            exploration.skipped = Some(e);
        }
    }
    report.with_exploration(exploration)
}

fn load_config(options: &ClientRun) -> Result<mock_server::Config, String> {
    match &options.config {
        None => Ok(mock_server::Config::default()),
        Some(path) => mock_server::Config::load(path).map_err(|e| format!("--config: {e}")),
    }
}

/// COMMAND with the emulator's own answers: its report and journal.
async fn baseline(options: &ClientRun, config: &mock_server::Config) -> (Report, Journal) {
    let harness = match Harness::try_start(config.clone()).await {
        Ok(harness) => harness,
        Err(e) => {
            return (Report::problem(format!("cannot start the emulator: {e}"), &options.checks), Journal::default())
        }
    };
    let command = run_command(&options.command, &harness.url(), harness.account(), options.timeout).await;
    let read = match Catalogue::builtin() {
        Ok(catalogue) => read_journal(harness.addr(), harness.ak()).await.map(|j| (j, catalogue)),
        Err(e) => Err(e),
    };
    match read {
        Ok((journal, catalogue)) => {
            (Report::build(&journal, &catalogue, &options.checks).with_command(command), journal)
        }
        Err(e) => (Report::problem(e, &options.checks).with_command(command), Journal::default()),
    }
}

fn skip_reason(baseline: &Report, exploration: &Exploration) -> Option<String> {
    if !baseline.command.as_ref().is_some_and(CommandRun::succeeded) {
        return Some("the command fails with the emulator's own answers: make that pass first".into());
    }
    if exploration.endpoints.is_empty() {
        return Some("the command called no endpoint: there is nothing to answer".into());
    }
    None
}

/// Per endpoint the baseline called, the shape of its last request with an image.
fn shapes(journal: &Journal) -> BTreeMap<String, Shape> {
    let mut shapes = BTreeMap::new();
    for entry in &journal.entries {
        let Some(endpoint) = &entry.endpoint else { continue };
        let known = shape_of(&entry.images);
        let slot = shapes.entry(endpoint.clone()).or_insert_with(Shape::default);
        if let Some(shape) = known {
            *slot = shape;
        }
    }
    shapes
}

/// The first image's size and the number of images, when the journal could read them.
fn shape_of(images: &[Value]) -> Option<Shape> {
    let first = images.first()?;
    let side = |key: &str| first[key].as_u64().and_then(|n| u32::try_from(n).ok()).filter(|&n| n > 0);
    Some(Shape { width: side("width")?, height: side("height")?, images: images.len() })
}

/// The runs, stopping at the first that breaks the command, then the shrinking.
async fn explore(
    options: &ClientRun,
    config: &mock_server::Config,
    exploration: &mut Exploration,
) -> Result<(), String> {
    let names: Vec<String> = exploration.endpoints.keys().cloned().collect();
    let strategies = exploration
        .endpoints
        .iter()
        .map(|(endpoint, shape)| strategy::answer(endpoint, *shape))
        .collect::<Result<Vec<BoxedStrategy<Answer>>, String>>()?;
    for i in 0..exploration.runs {
        let seed = exploration.seed.wrapping_add(u64::from(i));
        let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng(seed));
        let mut tree = strategies.new_tree(&mut runner).map_err(|e| format!("cannot draw an answer: {e}"))?;
        let first = tree.current();
        exploration.ran = i + 1;
        let outcome = attempt(options, config, &names, &first).await?;
        if outcome.succeeded() {
            continue;
        }
        let shrunk = shrink(options, config, &names, &mut tree, outcome).await?;
        exploration.broken = Some(Broken {
            run: i + 1,
            seed,
            first: names.iter().cloned().zip(first).collect(),
            smallest: names.iter().cloned().zip(shrunk.answers).collect(),
            command: shrunk.failure.message,
            shrink_steps: shrunk.steps,
            shrink_bound_hit: shrunk.bound_hit,
            replay: replay(&options.command, seed),
        });
        break;
    }
    Ok(())
}

/// The end of shrinking.
struct Shrunk {
    answers: Vec<Answer>,
    failure: CommandRun,
    steps: u32,
    bound_hit: bool,
}

/// proptest's shrinking loop, with COMMAND as the test: simplify while it still fails,
/// complicate back when it passes, at most [`SHRINK_STEPS`] re-runs.
async fn shrink(
    options: &ClientRun,
    config: &mock_server::Config,
    names: &[String],
    tree: &mut impl ValueTree<Value = Vec<Answer>>,
    failure: CommandRun,
) -> Result<Shrunk, String> {
    let mut shrunk = Shrunk { answers: tree.current(), failure, steps: 0, bound_hit: false };
    if !tree.simplify() {
        return Ok(shrunk);
    }
    loop {
        if shrunk.steps == SHRINK_STEPS {
            shrunk.bound_hit = true;
            return Ok(shrunk);
        }
        shrunk.steps += 1;
        let candidate = tree.current();
        let outcome = attempt(options, config, names, &candidate).await?;
        let more = if outcome.succeeded() {
            tree.complicate()
        } else {
            (shrunk.answers, shrunk.failure) = (candidate, outcome);
            tree.simplify()
        };
        if !more {
            return Ok(shrunk);
        }
    }
}

/// One run of COMMAND against a fresh emulator answering each endpoint with its answer.
async fn attempt(
    options: &ClientRun,
    config: &mock_server::Config,
    names: &[String],
    answers: &[Answer],
) -> Result<CommandRun, String> {
    let harness = Harness::try_start(config.clone()).await.map_err(|e| format!("cannot start the emulator: {e}"))?;
    let path = format!("accounts/{}/rules", harness.ak());
    for (endpoint, answer) in names.iter().zip(answers) {
        let rule = json!({ "endpoint": endpoint, "what": answer.rule_what() });
        match control(harness.addr(), "POST", &path, Some(rule)).await? {
            (201, _) => {}
            (status, refused) => {
                return Err(format!(
                    "the emulator refused the answer for `{endpoint}` ({status}): {}",
                    refused["error"]
                ))
            }
        }
    }
    Ok(run_command(&options.command, &harness.url(), harness.account(), options.timeout).await)
}

/// proptest's ChaCha generator, from a seed.
fn rng(seed: u64) -> TestRng {
    let bytes: Vec<u8> = seed.to_le_bytes().iter().copied().cycle().take(32).collect();
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// `contract-tests client --explore 1 --seed SEED -- COMMAND…`, quoted for a shell.
fn replay(argv: &[String], seed: u64) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| render::shell_quote(a)).collect();
    format!("contract-tests client --explore 1 --seed {seed} -- {}", quoted.join(" "))
}

#[cfg(test)]
mod tests;
