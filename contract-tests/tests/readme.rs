//! The documentation cannot drift from the product.
//!
//! - README.md: every fenced block marked `<!-- runnable -->` (on the line before the
//!   fence) is run against a server on port 0: `python` blocks in one Python process, in
//!   order, each continuing the ones before (with MOCK_PYTHON, else python3), the
//!   `http://127.0.0.1:8080` they use rewritten to that server's url; `sh` blocks, which
//!   may only be `make-image` commands, before them, in the same directory. A block marked
//!   `<!-- output -->` is what the runnable block before it prints (`…` stands for any
//!   text within a line). A marked block that fails, or prints anything else, fails.
//! - docs/embedding.md and docs/ci.md: a fenced block after `<!-- include: PATH -->` is
//!   the whole file at PATH, byte for byte.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_server::make_image::{self, Order, Scene};

/// The url the README's snippets use: the default `--addr`.
const README_URL: &str = "http://127.0.0.1:8080";
/// Printed after each Python block, to cut the process's output into the blocks' outputs.
const SEPARATOR: &str = "---- end of a readme block ----";
/// Runs the blocks in one namespace; tracebacks name the README's own line numbers.
const DRIVER: &str = r#"import json, sys
namespace = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1], encoding="utf-8")):
    exec(compile("\n" * (block["line"] - 1) + block["code"], "README.md", "exec"), namespace)
    print(sys.argv[2], flush=True)
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, PartialEq)]
enum Mark {
    None,
    Runnable,
    Output,
    Include(String),
}

/// A fenced block: its mark, its language, the line of its first content line, its text.
#[derive(Debug, Clone)]
struct Block {
    mark: Mark,
    lang: String,
    line: usize,
    text: String,
}

/// The fenced blocks of a markdown page, each with the marker comment on the line before.
fn blocks(page: &str) -> Vec<Block> {
    let lines: Vec<&str> = page.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let mark = i.checked_sub(1).map_or(Mark::None, |before| mark_of(lines[before]));
        let end = (i + 1..lines.len()).find(|&j| lines[j] == "```").unwrap_or(lines.len());
        let text = lines[i + 1..end].iter().map(|l| format!("{l}\n")).collect();
        found.push(Block { mark, lang: lang.trim().to_string(), line: i + 2, text });
        i = end + 1;
    }
    found
}

fn mark_of(line: &str) -> Mark {
    let Some(inner) = line.trim().strip_prefix("<!--").and_then(|l| l.strip_suffix("-->")) else {
        return Mark::None;
    };
    match inner.trim() {
        "runnable" => Mark::Runnable,
        "output" => Mark::Output,
        other => other.strip_prefix("include:").map_or(Mark::None, |path| Mark::Include(path.trim().to_string())),
    }
}

/// Whether `actual` is `expected` line for line, `…` standing for any text in a line.
fn matches(expected: &str, actual: &str) -> bool {
    let (expected, actual): (Vec<&str>, Vec<&str>) =
        (expected.trim_end().lines().collect(), actual.trim_end().lines().collect());
    expected.len() == actual.len()
        && expected.iter().zip(&actual).all(|(e, a)| line_matches(e.trim_end(), a.trim_end()))
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let Some(rest) = line.strip_prefix(parts[0]) else { return false };
    if parts.len() == 1 {
        return rest.is_empty();
    }
    let mut rest = rest;
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(parts[parts.len() - 1])
}

/// A scratch directory with the repository's test images, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("readme-{}-{nanos}", std::process::id()));
        let images = dir.join("fixtures/images");
        std::fs::create_dir_all(&images).expect("create the scratch directory");
        for entry in std::fs::read_dir(repo().join("fixtures/images")).expect("fixtures/images") {
            let path = entry.expect("an entry").path();
            if path.is_file() {
                std::fs::copy(&path, images.join(path.file_name().expect("a name"))).expect("copy an image");
            }
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a README `sh` block: only `cargo run --release -p mock-server -- make-image …`
/// commands with `--size`, `--person` and `-o`, through the library the binary calls.
fn run_make_image(block: &Block, dir: &Path) {
    let command = block.text.replace("\\\n", " ");
    for line in command.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let prefix = ["cargo", "run", "--release", "-p", "mock-server", "--", "make-image"];
        let args = words.strip_prefix(&prefix[..]).unwrap_or_else(|| {
            panic!("README.md:{}: a runnable sh block runs only `{}`, not {line:?}", block.line, prefix.join(" "))
        });
        let order = make_image_order(args, dir).unwrap_or_else(|e| panic!("README.md:{}: {e}", block.line));
        make_image::run(&order).unwrap_or_else(|e| panic!("README.md:{}: make-image: {e}", block.line));
    }
}

fn make_image_order(args: &[&str], dir: &Path) -> Result<Order, String> {
    let (mut size, mut people, mut output) = ((640, 480), Vec::new(), None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match *flag {
            "--size" => size = make_image::parse_size(value)?,
            "--person" => people.push(make_image::parse_person(value)?),
            "-o" | "--output" => output = Some(dir.join(value)),
            other => return Err(format!("readme.rs runs make-image with --size, --person and -o only, not {other}")),
        }
    }
    let output = output.ok_or("make-image needs -o")?;
    let scene = Scene { people, ..Scene::default() };
    Ok(Order { scene, width: size.0, height: size.1, format: None, frames: 1, action_at: None, output })
}

/// Runs the Python blocks in one process against `url`; returns each block's output.
async fn run_python(python_blocks: &[&Block], url: &str, dir: &Path) -> Vec<String> {
    let blocks: Vec<serde_json::Value> = python_blocks
        .iter()
        .map(|b| serde_json::json!({"line": b.line, "code": b.text.replace(README_URL, url)}))
        .collect();
    std::fs::write(dir.join("blocks.json"), serde_json::to_string(&blocks).expect("json")).expect("write blocks");
    std::fs::write(dir.join("driver.py"), DRIVER).expect("write the driver");
    let python = std::env::var("MOCK_PYTHON").unwrap_or_else(|_| "python3".into());
    let child = tokio::process::Command::new(&python)
        .args(["driver.py", "blocks.json", SEPARATOR])
        .current_dir(dir)
        .env("PYTHONIOENCODING", "utf-8")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("the README's python blocks finish within 2 minutes")
        .unwrap_or_else(|e| panic!("cannot run {python} (set MOCK_PYTHON to a python 3): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "a runnable README block failed:\n{stderr}\nits output:\n{stdout}");
    stdout.split(&format!("{SEPARATOR}\n")).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_runnable_blocks_run_and_print_what_it_shows() {
    let readme = blocks(&read(&repo().join("README.md")));
    let runnable: Vec<&Block> = readme.iter().filter(|b| b.mark == Mark::Runnable).collect();
    let python: Vec<&Block> = runnable.iter().copied().filter(|b| b.lang == "python").collect();
    let shell: Vec<&Block> = runnable.iter().copied().filter(|b| b.lang == "sh").collect();
    assert!(python.len() >= 3 && !shell.is_empty(), "README.md lost its runnable blocks: {runnable:?}");
    assert!(runnable.len() == python.len() + shell.len(), "runnable blocks are python or sh: {runnable:?}");
    assert!(python[0].text.contains(README_URL), "the first python block no longer uses {README_URL}");

    let scratch = Scratch::new();
    shell.iter().for_each(|block| run_make_image(block, &scratch.0));
    let config = mock_server::Config { quiet: true, ..mock_server::Config::default() };
    let handle = mock_server::start(config, ([127, 0, 0, 1], 0).into()).await.expect("bind 127.0.0.1:0");
    let outputs = run_python(&python, &handle.url(), &scratch.0).await;

    let mut checked = 0;
    for (i, block) in readme.iter().enumerate().filter(|(_, b)| b.mark == Mark::Output) {
        let Some(source) = readme[..i].iter().rev().find(|b| b.mark == Mark::Runnable && b.lang == "python") else {
            panic!("README.md:{}: an output block with no runnable python block before it", block.line);
        };
        let at = python.iter().position(|b| b.line == source.line).expect("a python block");
        let printed = outputs.get(at).map_or("", String::as_str);
        assert!(
            matches(&block.text, printed),
            "README.md:{}: the block at line {} printed\n{printed}\nbut the README shows\n{}",
            block.line,
            source.line,
            block.text
        );
        checked += 1;
    }
    assert!(checked >= 3, "README.md shows fewer outputs than it did: {checked}");
}

#[rstest::rstest]
#[case("docs/embedding.md", 1)]
#[case("docs/ci.md", 8)]
fn a_page_shows_the_files_it_includes_as_they_are(#[case] page: &str, #[case] at_least: usize) {
    let included: Vec<(String, Block)> = blocks(&read(&repo().join(page)))
        .into_iter()
        .filter_map(|b| match &b.mark {
            Mark::Include(path) => Some((path.clone(), b)),
            _ => None,
        })
        .collect();
    assert!(included.len() >= at_least, "{page} includes {} files, fewer than {at_least}", included.len());
    for (path, block) in included {
        let file = read(&repo().join(&path));
        assert!(
            block.text == file,
            "{page}:{}: the block differs from {path}: copy the file into the page",
            block.line
        );
    }
}

#[rstest::rstest]
#[case("(200, {'box': […]})", "(200, {'box': [1, 2]})", true)]
#[case("a … b … c", "a 1 b 2 c", true)]
#[case("a … c", "a 1 b", false)]
#[case("exact", "exact ", true)]
#[case("exact", "exactly", false)]
#[case("one\ntwo", "one", false)]
fn output_patterns_take_an_ellipsis_for_any_text_in_a_line(
    #[case] expected: &str,
    #[case] actual: &str,
    #[case] matching: bool,
) {
    assert_eq!(matches(expected, actual), matching);
}

#[test]
fn a_marker_applies_to_the_fence_on_the_next_line_only() {
    let page = "<!-- runnable -->\n```python\nprint(1)\n```\n\n<!-- output -->\n\n```\n1\n```\n";
    let found = blocks(page);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].mark.clone(), found[0].lang.as_str(), found[0].line), (Mark::Runnable, "python", 3));
    assert_eq!(found[1].mark, Mark::None);
}
