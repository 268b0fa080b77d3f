//! `contract-tests client --explore N` as a user runs it: the real binary, the Python
//! clients of `tests/clients/` as real child processes, answers drawn from a fixed seed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

/// The exit status, what was printed, and the JSON report of one `--explore` check.
struct Explored {
    status: Option<i32>,
    stdout: String,
    report: Value,
}

fn explore(runs: &str, seed: &str, script: &str) -> Explored {
    let probe = Command::new("python3").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "python3 is not on PATH: these tests run the Python clients with it"
    );
    // Tests run in parallel, some with the same arguments: each gets its own directory.
    static N: AtomicU64 = AtomicU64::new(0);
    let unique = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("contract-tests-explore-{}-{unique}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("report.json");
    let file_arg = file.to_string_lossy().to_string();
    let args = [
        "client",
        "--explore",
        runs,
        "--seed",
        seed,
        "--format",
        "json",
        "--output",
        &file_arg,
        "--",
        "python3",
        script,
    ];
    let output = Command::new(env!("CARGO_BIN_EXE_contract-tests"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("clients"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the contract-tests binary: {e}"));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let report = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    Explored { status: output.status.code(), stdout, report }
}

#[test]
fn explore_finds_the_client_that_crashes_on_an_empty_result_and_shrinks_to_it() {
    let explored = explore("12", "7", "empty_result.py");
    assert_eq!(explored.status, Some(1), "{}", explored.stdout);
    let broken = &explored.report["explore"]["broken"];
    assert_eq!(
        broken["smallest"]["hat"],
        json!({"status": 200, "code": 0, "body": {"code": 0, "message": "success", "result": []}}),
        "{}",
        explored.stdout
    );
    assert_eq!(broken["shrink_bound_hit"], false);
    assert_ne!(broken["first"], broken["smallest"], "seed 7 first draws an answer with an extra field to shrink away");
    let seed = broken["seed"].as_u64().expect("the seed of the run");
    assert_eq!(broken["run"].as_u64().map(|run| 7 + run - 1), Some(seed));
    let replay = format!("replay: contract-tests client --explore 1 --seed {seed} -- python3 empty_result.py");
    assert!(explored.stdout.contains(&replay), "{}", explored.stdout);
    assert!(explored.stdout.contains("hat: HTTP 200 {\"code\":0,\"message\":\"success\",\"result\":[]}"));
    let line = format!(
        "explore: run {} broke the command (exited with 1); replay with --explore 1 --seed {seed}",
        broken["run"]
    );
    assert!(explored.report["failures"].as_array().is_some_and(|f| f.contains(&json!(line))), "{}", explored.report);
}

#[test]
fn the_printed_seed_replays_the_break_in_one_run() {
    let found = explore("12", "7", "empty_result.py");
    let seed = found.report["explore"]["broken"]["seed"].as_u64().expect("a break").to_string();
    let replayed = explore("1", &seed, "empty_result.py");
    let broken = &replayed.report["explore"]["broken"];
    assert_eq!(broken["run"], 1, "{}", replayed.stdout);
    assert_eq!(broken["first"], found.report["explore"]["broken"]["first"]);
    assert_eq!(broken["smallest"], found.report["explore"]["broken"]["smallest"]);
}

#[test]
fn a_client_that_reads_every_answer_survives_explore() {
    let explored = explore("6", "3", "reads_every_answer.py");
    assert_eq!(explored.status, Some(0), "{}", explored.stdout);
    let exploration = &explored.report["explore"];
    assert_eq!((&exploration["ran"], &exploration["broken"]), (&json!(6), &Value::Null), "{exploration}");
    let answered: Vec<&String> = exploration["endpoints"].as_object().expect("endpoints").keys().collect();
    assert_eq!(answered, ["face_quality", "hat"]);
    assert_eq!(exploration["endpoints"]["hat"], json!({"width": 96, "height": 64, "images": 1}));
    assert!(explored.stdout.contains("the command survived every answer"), "{}", explored.stdout);
}
