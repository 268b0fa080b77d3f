//! The `mock-server` binary: parses arguments, starts the server, prints the banner, writes
//! the ready file, and waits for Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mock_server::make_image::{self, Face, ImageFormat, Person, Scene};
use mock_server::Config;

/// jemalloc: glibc's allocator spends a tenth of a small request consolidating and trimming
/// its heaps (docs/performance.md); jemalloc serves the same requests ~9% faster, with the
/// same idle footprint and large-body times.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// An offline emulator of China Telecom Cloud's safety-production AI APIs and their signed
/// EOP gateway.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on, HOST:PORT (a host name uses its first address); port 0 picks a
    /// free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    addr: SocketAddr,
    /// TOML file declaring accounts, apps, routes and status overrides (see docs/configuration.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Once listening, write this JSON file (url, ak, sk, appkey) atomically.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Log every request to standard error, not only refusals.
    #[arg(long, conflicts_with = "quiet")]
    log_all: bool,
    /// Log nothing.
    #[arg(long)]
    quiet: bool,
    /// Keep accounts, apps and ledgers in this file across restarts (crash-safe).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Require this token (header x-mock-token) on the control API under /__mock/; without
    /// one, the control API answers loopback callers only.
    #[arg(long, env = "MOCK_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = mock_server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seed for fault rules without a seed of their own and for --fault-rate (docs/faults.md).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of all calls (0 to 1) that answer a random retryable code: an endpoint's
    /// 5000–5002, or the gateway's 50000 where it has none.
    #[arg(long, default_value_t = 0.0, value_parser = fault_rate)]
    fault_rate: f64,
    /// Requests kept per account in the journal (GET /__mock/accounts/{ak}/journal); 0 keeps
    /// none. Overrides the config file's journal_capacity; default 4096.
    #[arg(long, value_parser = journal_capacity)]
    journal_capacity: Option<usize>,
    /// How long a client may take to send a request's headers, and stay idle between
    /// requests (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: std::time::Duration,
    /// How long a response may wait for a client that does not read it (e.g. 30s).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    write_timeout: std::time::Duration,
    /// The bytes all request bodies being kept (and the images of large ones decoded as
    /// they arrive) may take together (e.g. 512MiB, 2GiB);
    /// beyond it a request waits up to 5 s, then gets a 503 [default: 512MiB, or the config's]
    #[arg(long, value_parser = parse_size)]
    max_body_memory: Option<u64>,
    /// Also accept an eop-date in UTC (8 hours behind Beijing time), named in the log
    #[arg(long)]
    accept_utc_date: bool,
    /// Also decode every accepted image in full before answering: catches damaged pixel data
    /// the default structure checks cannot see, at the cost of a decode (docs/decisions.md)
    #[arg(long)]
    full_decode: bool,
    /// Serve HTTPS with a certificate made at start for 127.0.0.1 and localhost; the PEM to
    /// trust is written to the file the banner and the ready file (ca_cert) name (docs/https.md).
    #[arg(long)]
    tls: bool,
    /// Serve HTTPS with this PEM certificate (chain) instead of a made one; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("", 1)];
    units
        .iter()
        .find_map(|(unit, scale)| {
            text.strip_suffix(unit).and_then(|n| n.trim().parse::<u64>().ok()?.checked_mul(*scale))
        })
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a size such as 512MiB, 2GiB or a number of bytes"))
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let hint = "give HOST:PORT, e.g. 127.0.0.1:8080 or localhost:0";
    let mut addrs = text.to_socket_addrs().map_err(|e| format!("`{text}`: {e}; {hint}"))?;
    addrs.next().ok_or_else(|| format!("`{text}` resolves to no address; {hint}"))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    mock_server::parse_duration_ms(text)
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|ms| *ms > 0)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is not a positive duration such as 500ms, 10s or 2m"))
}

fn journal_capacity(text: &str) -> Result<usize, String> {
    let n = text.parse::<i64>().map_err(|_| format!("`{text}` is not a whole number of requests, e.g. 4096"))?;
    mock_server::check_journal_capacity(n)
}

fn fault_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("`{text}` is not a share from 0 to 1, e.g. 0.05")),
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write a scenario image (or frames) whose embedded ground truth decides the answers.
    MakeImage(MakeImage),
}

/// Draws a scene and embeds it as ground truth. Example:
/// mock-server make-image --size 640x480 --person 10,20,120,300:blue_hat:blue -o scene.jpg
#[derive(Debug, clap::Args)]
struct MakeImage {
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480", value_parser = make_image::parse_size)]
    size: (u32, u32),
    /// A person: LEFT,TOP,WIDTH,HEIGHT[:HAT[:CLOTHES]] ("-" for none), e.g. 10,20,120,300:blue_hat:blue. Repeat for more.
    #[arg(long, value_parser = make_image::parse_person)]
    person: Vec<Person>,
    /// A face: good, medium or bad, with :spoof for a photo or screen. Repeat for several. Default: one good face.
    #[arg(long, value_parser = make_image::parse_face)]
    face: Vec<Face>,
    /// The image shows no face.
    #[arg(long, conflicts_with = "face")]
    no_face: bool,
    /// The head movement shown: shake, up, down, left, right, mouth or eye.
    #[arg(long)]
    action: Option<String>,
    /// Fall probability in [0, 1].
    #[arg(long)]
    fall: Option<f64>,
    /// Fight probability in [0, 1].
    #[arg(long)]
    fight: Option<f64>,
    /// A capability error code the endpoint should answer for this image (e.g. 5001).
    #[arg(long)]
    fault: Option<u32>,
    /// The API the image is for (hat, fight, …): --fault is refused unless it can answer it.
    #[arg(long)]
    endpoint: Option<String>,
    /// How long the endpoint takes to answer for this image, in milliseconds (≤ 60000).
    #[arg(long)]
    delay_ms: Option<u64>,
    /// In an e-fence batch, this image fails inside the successful answer (message.fail).
    #[arg(long)]
    fence_fail: bool,
    /// Write this many frames, NAME-01.EXT, NAME-02.EXT, ….
    #[arg(long, default_value_t = 1)]
    frames: usize,
    /// With --frames and --action: the first frame showing the action (default: the middle one).
    #[arg(long)]
    action_at: Option<usize>,
    /// png, jpg, bmp, gif or tif (default: from the output's extension).
    #[arg(long, value_parser = parse_format)]
    format: Option<ImageFormat>,
    /// Where to write the image.
    #[arg(short, long)]
    output: PathBuf,
}

fn parse_format(text: &str) -> Result<ImageFormat, String> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase()))
        .map_err(|_| format!("`{text}` is not png, jpg, bmp, gif or tif"))
}

fn make_image(m: MakeImage) -> ExitCode {
    if let Some(endpoint) = &m.endpoint {
        if let Err(e) = make_image::check_endpoint(endpoint, m.fault) {
            eprintln!("mock-server make-image: {e}");
            return ExitCode::from(2);
        }
    }
    let faces = if m.no_face {
        Some(Vec::new())
    } else if m.face.is_empty() {
        None
    } else {
        Some(m.face)
    };
    let scene = Scene {
        people: m.person,
        faces,
        action: m.action,
        fall: m.fall,
        fight: m.fight,
        fault: m.fault,
        delay_ms: m.delay_ms,
        fence_fail: m.fence_fail,
    };
    let action_at = m.action_at.or((m.frames > 1).then_some(m.frames / 2 + 1));
    let order = make_image::Order {
        scene,
        width: m.size.0,
        height: m.size.1,
        format: m.format,
        frames: m.frames,
        action_at,
        output: m.output,
    };
    match make_image::run(&order) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mock-server make-image: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(Command::MakeImage(m)) = args.command.take() {
        return make_image(m);
    }
    let mut config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("mock-server: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    config.log_all = args.log_all;
    config.quiet = args.quiet;
    config.state = args.state.clone();
    config.max_connections = args.max_connections;
    config.seed = args.seed;
    config.fault_rate = args.fault_rate;
    config.header_timeout = args.header_timeout;
    config.write_timeout = args.write_timeout;
    if let Some(capacity) = args.journal_capacity {
        config.journal_capacity = capacity;
    }
    if let Some(bytes) = args.max_body_memory {
        config.max_body_memory = bytes;
    }
    config.accept_utc_eop_date |= args.accept_utc_date;
    config.full_decode |= args.full_decode;
    // clap reads an empty MOCK_ADMIN_TOKEN as absent: an empty token set either way is refused.
    let token = args
        .admin_token
        .clone()
        .or_else(|| std::env::var_os("MOCK_ADMIN_TOKEN").map(|t| t.to_string_lossy().into_owned()));
    if let Some(token) = token {
        if let Err(problem) = config.set_admin_token(token) {
            eprintln!("mock-server: --admin-token / MOCK_ADMIN_TOKEN: {problem}");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mock-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ca_cert = match https(&args, &mut config) {
        Ok(ca_cert) => ca_cert,
        Err(e) => {
            eprintln!("mock-server: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run(args, config, ca_cert.as_ref()));
    if let Some(CaCert { path, generated: true }) = &ca_cert {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// The PEM file a client trusts: the one written for a made certificate (removed at exit),
/// or the user's `--tls-cert`.
#[derive(Debug)]
struct CaCert {
    path: PathBuf,
    generated: bool,
}

/// Sets up HTTPS as the flags ask; returns the file a client should trust.
fn https(args: &Args, config: &mut Config) -> Result<Option<CaCert>, String> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(mock_server::Tls::from_pem_files(cert, key).map_err(|e| e.to_string())?);
        return Ok(Some(CaCert { path: cert.clone(), generated: false }));
    }
    if !args.tls {
        return Ok(None);
    }
    let tls = mock_server::Tls::generate().map_err(|e| e.to_string())?;
    let path = std::env::temp_dir().join(format!("mock-server-ca-{}.pem", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot write the certificate to {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, tls.trust_pem().as_bytes())
        .map_err(|e| format!("cannot write the certificate to {}: {e}", path.display()))?;
    config.tls = Some(tls);
    Ok(Some(CaCert { path, generated: true }))
}

async fn run(args: Args, config: Config, ca_cert: Option<&CaCert>) -> ExitCode {
    let credentials = Credentials::of(&config);
    let handle = match mock_server::start(config, args.addr).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("mock-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ca_cert = ca_cert.map(|c| c.path.as_path());
    print_banner(&handle.url(), &credentials, ca_cert);
    if let Some(path) = &args.ready_file {
        if let Err(e) = write_ready_file(path, &handle.url(), &credentials, ca_cert) {
            eprintln!("mock-server: cannot write the ready file {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    wait_for_signal().await;
    eprintln!("mock-server: shutting down");
    handle.shutdown().await;
    ExitCode::SUCCESS
}

/// The credentials a newcomer should use: the first account's first app.
#[derive(Debug, Default, serde::Serialize)]
struct Credentials {
    ak: String,
    sk: String,
    appkey: String,
}

impl Credentials {
    fn of(config: &Config) -> Credentials {
        let Some(account) = config.accounts.first() else { return Credentials::default() };
        let appkey = account.apps.first().map(|a| a.appkey.clone()).unwrap_or_default();
        Credentials { ak: account.ak.clone(), sk: account.sk.clone(), appkey }
    }
}

fn print_banner(url: &str, c: &Credentials, ca_cert: Option<&Path>) {
    println!("mock-server {} listening on {url}", env!("CARGO_PKG_VERSION"));
    if let Some(path) = ca_cert {
        println!("  https: trust the certificate in {} (docs/https.md)", path.display());
    }
    if c.ak.is_empty() {
        println!("  warning: no accounts configured, so every signed call is refused; add one with");
        println!("    POST {url}/__mock/accounts, or [[accounts]] in --config (docs/configuration.md)");
    } else if c.appkey.is_empty() {
        println!("  warning: account {} has no app, so every signed call is refused; add one with", c.ak);
        println!("    POST {url}/__mock/accounts/{}/apps, or [[accounts.apps]] in --config", c.ak);
    } else {
        println!("  credentials: ak={} sk={} appkey={}", c.ak, c.sk, c.appkey);
    }
    println!("  hard-hat: POST {url}/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect");
    println!("  refusals explain themselves in the x-mock-reason header and on stderr");
    println!("  control api: {url}/__mock/ (accounts, apps, quota, packages, usage, clock)");
    println!("  docs: README.md and docs/ in the repository; Ctrl-C stops");
}

/// Writes the ready file next to its final name, then renames it, so a reader never sees
/// half of it.
fn write_ready_file(path: &Path, url: &str, c: &Credentials, ca_cert: Option<&Path>) -> std::io::Result<()> {
    let mut ready = serde_json::json!({ "url": url, "ak": c.ak, "sk": c.sk, "appkey": c.appkey });
    if let Some(ca_cert) = ca_cert {
        ready["ca_cert"] = serde_json::Value::String(ca_cert.display().to_string());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{ready:#}\n"))?;
    std::fs::rename(&tmp, path)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
