//! The server's configuration: the built-in default (one account, one app, every API), or a
//! TOML file that declares accounts, apps, routes and HTTP-status overrides. A bad file is
//! refused with the file, the line and the field at fault.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::registry::{rules, Account, ApiSet, App, IpRule};

/// The default account's AK, SK and app: fixed and documented so the first call can succeed.
pub const DEFAULT_AK: &str = "mock-ak";
pub const DEFAULT_SK: &str = "mock-sk";
pub const DEFAULT_APPKEY: &str = "mock-appkey";
pub const DEFAULT_APP_NAME: &str = "default-app";

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub accounts: Vec<Account>,
    pub routes: Vec<RouteConfig>,
    /// HTTP status per code, replacing the catalogue's.
    pub status_overrides: HashMap<u32, u16>,
    /// The clock the gateway checks `eop-date` against; clone it to move time in a test.
    pub clock: Clock,
    /// Log every request, not only rejections.
    pub log_all: bool,
    /// Log nothing.
    pub quiet: bool,
    /// Keep accounts, apps and ledgers in this file across restarts.
    pub state: Option<std::path::PathBuf>,
    /// Require this token (header `x-mock-token`) on the control API, from any caller.
    pub admin_token: Option<String>,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and stay idle between
    /// requests on a kept-alive connection.
    pub header_timeout: Duration,
    /// How long a response may wait for a client that does not read it.
    pub write_timeout: Duration,
    /// The bytes all request bodies being kept (and the images of large ones decoded as
    /// they arrive) may take together (`--max-body-memory`).
    pub max_body_memory: u64,
    /// How long a request waits for room in `max_body_memory` before it is refused (503).
    pub body_memory_wait: Duration,
    /// Also accept an `eop-date` in UTC, 8 hours behind Beijing time (`--accept-utc-date`).
    pub accept_utc_eop_date: bool,
    /// Decode every accepted image in full before answering (`--full-decode`).
    pub full_decode: bool,
    /// Seeds every generator of `faults` that has no seed of its own (`--seed`).
    pub seed: u64,
    /// The share of all calls that answer a random retryable code (`--fault-rate`).
    pub fault_rate: f64,
    /// Fault rules armed at start, per account ak (`[[rules]]`).
    pub rules: Vec<(String, crate::faults::rule::Rule)>,
    /// Requests kept per account in the journal (`--journal-capacity`); 0 keeps none.
    pub journal_capacity: usize,
    /// Serve HTTPS with this certificate (`--tls`); plain HTTP without.
    pub tls: Option<crate::tls::Tls>,
}

/// The default connection limit. An idle connection costs a few KiB; bodies in flight are
/// bounded separately.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default budget of all bodies kept at once: room for two of the largest (liveness,
/// 35 frames) on a small CI machine.
pub const DEFAULT_MAX_BODY_MEMORY: u64 = 512 << 20;
/// The default wait for room in that budget.
pub const DEFAULT_BODY_MEMORY_WAIT: Duration = Duration::from_secs(5);
/// The default header (and keep-alive idle) timeout.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a response may wait for a client that does not read.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A route added for an endpoint, or replacing its default route.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub endpoint: String,
    pub api_id: String,
    pub path: String,
    pub replace: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            accounts: vec![default_account()],
            routes: Vec::new(),
            status_overrides: HashMap::new(),
            clock: Clock::system(),
            log_all: false,
            quiet: false,
            state: None,
            admin_token: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_body_memory: DEFAULT_MAX_BODY_MEMORY,
            body_memory_wait: DEFAULT_BODY_MEMORY_WAIT,
            accept_utc_eop_date: false,
            full_decode: false,
            seed: 0,
            fault_rate: 0.0,
            rules: Vec::new(),
            journal_capacity: crate::journal::DEFAULT_CAPACITY,
            tls: None,
        }
    }
}

fn default_account() -> Account {
    Account {
        ak: DEFAULT_AK.into(),
        sk: DEFAULT_SK.into(),
        apps: vec![App {
            name: DEFAULT_APP_NAME.into(),
            description: "the built-in app: every API enabled".into(),
            appkey: DEFAULT_APPKEY.into(),
            apis: ApiSet::All,
            allowed_ips: None,
            api_ips: HashMap::new(),
            free_quota: true,
            max_concurrency: None,
        }],
    }
}

/// A configuration file that cannot be used: `file:line: field: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and checks a TOML configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read the config file: {e}", path.display())))?;
        Config::from_toml(&path.display().to_string(), &text)
    }

    /// Parses TOML text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigError> {
        let raw: FileToml = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| ConfigError(format!("{file}:{}", located(text, &e))))?;
        let at = |span: std::ops::Range<usize>, field: &str, problem: String| {
            ConfigError(format!("{file}:{}: {field}: {problem}", line_of(text, span.start)))
        };
        let mut config = Config::default();
        if !raw.default_account.unwrap_or(true) {
            config.accounts.clear();
        }
        if let Some(token) = raw.admin_token {
            check_admin_token(token.get_ref()).map_err(|problem| at(token.span(), "admin_token", problem))?;
            config.admin_token = Some(token.into_inner());
        }
        if let Some(bytes) = raw.max_body_memory {
            if *bytes.get_ref() == 0 {
                return Err(at(
                    bytes.span(),
                    "max_body_memory",
                    "must be at least 1 byte; the default is 536870912".into(),
                ));
            }
            config.max_body_memory = bytes.into_inner();
        }
        config.accept_utc_eop_date = raw.accept_utc_eop_date.unwrap_or(false);
        config.full_decode = raw.full_decode.unwrap_or(false);
        for (i, account) in raw.accounts.into_iter().enumerate() {
            config.accounts.push(account.check(i, &at)?);
        }
        check_unique(&config.accounts, &at)?;
        for (i, route) in raw.routes.into_iter().enumerate() {
            config.routes.push(route.check(i, &at)?);
        }
        for (code, status) in raw.status {
            let field = format!("status.{code}");
            let known = code.parse::<u32>().ok().filter(|c| Catalogue::get().errors.iter().any(|e| e.code == *c));
            let code = known.ok_or_else(|| at(status.span(), &field, "not a code in the error catalogue".into()))?;
            if !(100..=599).contains(status.get_ref()) {
                return Err(at(status.span(), &field, "an http status is 100–599".into()));
            }
            config.status_overrides.insert(code, *status.get_ref());
        }
        if let Some(capacity) = raw.journal_capacity {
            config.journal_capacity = check_journal_capacity(*capacity.get_ref())
                .map_err(|problem| at(capacity.span(), "journal_capacity", problem))?;
        }
        for (i, rule) in raw.rules.into_iter().enumerate() {
            let (ak, checked) = crate::faults::config::from_toml(rule.get_ref()).map_err(|problem| {
                let (field, problem) = problem.split_once(": ").unwrap_or(("", problem.as_str()));
                at(rule.span(), &format!("rules[{i}].{field}"), problem.to_string())
            })?;
            if !config.accounts.iter().any(|a| a.ak == ak) {
                let problem = format!("no account `{ak}` in this config; declare it in [[accounts]]");
                return Err(at(rule.span(), &format!("rules[{i}].ak"), problem));
            }
            config.rules.push((ak, checked));
        }
        Ok(config)
    }
}

impl Config {
    /// Sets the control API's token, refusing an empty one.
    pub fn set_admin_token(&mut self, token: String) -> Result<(), String> {
        check_admin_token(&token)?;
        self.admin_token = Some(token);
        Ok(())
    }
}

/// An admin token, when one is set, is not empty: an empty one would let in anyone who
/// sends an empty `x-mock-token`.
pub(crate) fn check_admin_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the admin token is empty: it would open the control api to anyone; set a non-empty token, or none to serve loopback callers only".into());
    }
    Ok(())
}

/// A journal capacity, from the file or `--journal-capacity`: 0 (no journal) up to
/// `journal::MAX_CAPACITY` requests per account.
pub fn check_journal_capacity(capacity: i64) -> Result<usize, String> {
    usize::try_from(capacity).ok().filter(|c| *c <= crate::journal::MAX_CAPACITY).ok_or_else(|| {
        format!(
            "{capacity} is not a journal capacity; keep 0 (no journal) to {} requests per account",
            crate::journal::MAX_CAPACITY
        )
    })
}

/// `line: field.path: problem` for an error of syntax, type or presence. serde names a
/// missing field in its message and leaves it out of the path: it is moved into the path.
fn located(text: &str, e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    let inner = e.inner();
    let line = inner.span().map_or(0, |s| line_of(text, s.start));
    let mut message = inner.message().trim().to_string();
    let path = field_path(e.path());
    if let Some(rest) = message.strip_prefix("unknown field `").and_then(|m| m.split_once("`, ")) {
        message = format!("unknown field, {}", rest.1);
    }
    let missing = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`'));
    match missing {
        Some(field) if path.is_empty() => format!("{line}: {field}: missing"),
        Some(field) => format!("{line}: {path}.{field}: missing"),
        None if path.is_empty() => format!("{line}: {message}"),
        None => format!("{line}: {path}: {message}"),
    }
}

/// `accounts[0].apps[0].appkey`: serde's path without the private keys of `Spanned`.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out += &format!("[{index}]"),
            Segment::Map { key } | Segment::Enum { variant: key } if !key.starts_with("$__") => {
                if !out.is_empty() {
                    out.push('.');
                }
                out += key;
            }
            _ => {}
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

type At<'a> = dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError + 'a;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    default_account: Option<bool>,
    admin_token: Option<Spanned<String>>,
    accept_utc_eop_date: Option<bool>,
    full_decode: Option<bool>,
    max_body_memory: Option<Spanned<u64>>,
    #[serde(default)]
    accounts: Vec<AccountToml>,
    #[serde(default)]
    routes: Vec<RouteToml>,
    #[serde(default)]
    status: BTreeMap<String, Spanned<u16>>,
    #[serde(default)]
    rules: Vec<Spanned<toml::Value>>,
    journal_capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountToml {
    ak: Spanned<String>,
    sk: Spanned<String>,
    #[serde(default)]
    apps: Vec<AppToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppToml {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    appkey: Spanned<String>,
    apis: Spanned<Vec<String>>,
    allowed_ips: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    api_ips: BTreeMap<String, Spanned<Vec<String>>>,
    #[serde(default = "yes")]
    free_quota: bool,
    max_concurrency: Option<Spanned<u32>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteToml {
    endpoint: Spanned<String>,
    api_id: Spanned<String>,
    path: Spanned<String>,
    #[serde(default)]
    replace: bool,
}

impl AccountToml {
    fn check(self, i: usize, at: &At) -> Result<Account, ConfigError> {
        for (field, value) in [("ak", &self.ak), ("sk", &self.sk)] {
            rules::credential(value.get_ref())
                .map_err(|problem| at(value.span(), &format!("accounts[{i}].{field}"), problem))?;
        }
        let apps = self.apps.into_iter().enumerate().map(|(j, app)| app.check(&format!("accounts[{i}].apps[{j}]"), at));
        Ok(Account { ak: self.ak.into_inner(), sk: self.sk.into_inner(), apps: apps.collect::<Result<_, _>>()? })
    }
}

impl AppToml {
    fn check(self, field: &str, at: &At) -> Result<App, ConfigError> {
        rules::app_name(self.name.get_ref()).map_err(|p| at(self.name.span(), &format!("{field}.name"), p))?;
        rules::appkey(self.appkey.get_ref()).map_err(|p| at(self.appkey.span(), &format!("{field}.appkey"), p))?;
        if let Some(limit) = &self.max_concurrency {
            rules::concurrency(Some(*limit.get_ref()))
                .map_err(|p| at(limit.span(), &format!("{field}.max_concurrency"), p))?;
        }
        let apis = if self.apis.get_ref().iter().any(|a| a == "*") {
            ApiSet::All
        } else {
            for api in self.apis.get_ref() {
                check_endpoint(api, &self.apis, &format!("{field}.apis"), at)?;
            }
            ApiSet::Some(self.apis.get_ref().iter().cloned().collect())
        };
        let allowed_ips = match &self.allowed_ips {
            Some(list) => Some(ip_rules(list, &format!("{field}.allowed_ips"), at)?),
            None => None,
        };
        let mut api_ips = HashMap::new();
        for (api, list) in &self.api_ips {
            let field = format!("{field}.api_ips.{api}");
            check_endpoint(api, list, &field, at)?;
            api_ips.insert(api.clone(), ip_rules(list, &field, at)?);
        }
        Ok(App {
            name: self.name.into_inner(),
            description: self.description,
            appkey: self.appkey.into_inner(),
            apis,
            allowed_ips,
            api_ips,
            free_quota: self.free_quota,
            max_concurrency: self.max_concurrency.map(|m| m.into_inner()),
        })
    }
}

impl RouteToml {
    fn check(self, i: usize, at: &At) -> Result<RouteConfig, ConfigError> {
        check_endpoint(self.endpoint.get_ref(), &self.endpoint, &format!("routes[{i}].endpoint"), at)?;
        for (field, value) in [("api_id", &self.api_id), ("path", &self.path)] {
            let v = value.get_ref();
            if v.is_empty() || v.starts_with('/') || v.contains(['?', '#', ' ']) {
                return Err(at(
                    value.span(),
                    &format!("routes[{i}].{field}"),
                    "a path segment without a leading /, ? or #".into(),
                ));
            }
        }
        Ok(RouteConfig {
            endpoint: self.endpoint.into_inner(),
            api_id: self.api_id.into_inner(),
            path: self.path.into_inner(),
            replace: self.replace,
        })
    }
}

fn check_endpoint<T>(name: &str, span_of: &Spanned<T>, field: &str, at: &At) -> Result<(), ConfigError> {
    rules::api(name).map_err(|problem| at(span_of.span(), field, problem))
}

fn ip_rules(list: &Spanned<Vec<String>>, field: &str, at: &At) -> Result<Vec<IpRule>, ConfigError> {
    list.get_ref().iter().map(|t| IpRule::parse(t).map_err(|p| at(list.span(), field, p))).collect()
}

fn check_unique(accounts: &[Account], at: &At) -> Result<(), ConfigError> {
    let mut aks = HashSet::new();
    let mut appkeys = HashSet::new();
    for account in accounts {
        if !aks.insert(account.ak.as_str()) {
            return Err(at(0..0, "accounts", format!("the ak `{}` is declared twice", account.ak)));
        }
        for app in &account.apps {
            if !appkeys.insert(app.appkey.as_str()) {
                return Err(at(0..0, "accounts", format!("the appkey `{}` is declared twice", app.appkey)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Config::from_toml("mock.toml", text).expect_err("a bad config").0
    }

    #[test]
    fn a_full_config_is_read() {
        let config = Config::from_toml(
            "mock.toml",
            r#"
            [status]
            "10020" = 403

            [[accounts]]
            ak = "ak-2"
            sk = "sk-2"

            [[accounts.apps]]
            name = "site-cameras"
            appkey = "k2"
            apis = ["hat", "fence"]
            allowed_ips = ["127.0.0.1", "10.0.0.0/8"]
            api_ips = { fence = ["10.1.2.3"] }

            [[routes]]
            endpoint = "hat"
            api_id = "2f3uquanbrpc"
            path = "SafeHat/v2/hat_detect"
            "#,
        )
        .expect("a good config");
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.status_overrides[&10020], 403);
        assert!(config.accounts[1].apps[0].apis.contains("fence"));
        assert!(!config.accounts[1].apps[0].apis.contains("fall"));
        assert_eq!(config.routes[0].path, "SafeHat/v2/hat_detect");
    }

    #[test]
    fn a_short_app_name_is_refused_with_its_line() {
        let text =
            "[[accounts]]\nak = \"a\"\nsk = \"b\"\n[[accounts.apps]]\nname = \"abc\"\nappkey = \"k\"\napis = [\"*\"]\n";
        assert_eq!(error(text), "mock.toml:5: accounts[0].apps[0].name: an app name has 4–15 characters, `abc` has 3");
    }

    #[test]
    fn an_unknown_api_is_refused_with_the_known_ones() {
        let text = "[[accounts]]\nak = \"a\"\nsk = \"b\"\n[[accounts.apps]]\nname = \"abcd\"\nappkey = \"k\"\napis = [\"hats\"]\n";
        assert!(
            error(text).starts_with("mock.toml:7: accounts[0].apps[0].apis: unknown api `hats`; known: hat, clothes")
        );
    }

    #[test]
    fn fault_rules_are_read_and_a_bad_one_is_refused_with_its_line() {
        let config =
            Config::from_toml("mock.toml", "[[rules]]\nak = \"mock-ak\"\nendpoint = \"hat\"\nwhat = { code = 4001 }\n")
                .expect("a good config");
        assert_eq!(config.rules.len(), 1);
        assert_eq!(config.rules[0].0, "mock-ak");
        assert_eq!(
            error("[status]\n\"10020\" = 403\n\n[[rules]]\nak = \"mock-ak\"\nwhat = { gateway = 500 }\n"),
            "mock.toml:4: rules[0].what.gateway: 502, 503 or 504"
        );
        assert_eq!(
            error("[[rules]]\nak = \"nobody\"\nwhat = { gateway = 502 }\n"),
            "mock.toml:1: rules[0].ak: no account `nobody` in this config; declare it in [[accounts]]"
        );
    }

    #[test]
    fn an_unknown_field_and_a_bad_status_are_refused() {
        assert_eq!(
            error("[[accounts]]\nak = \"a\"\nsk = \"b\"\ncolour = 1\n"),
            "mock.toml:4: accounts[0].colour: unknown field, expected one of `ak`, `sk`, `apps`"
        );
        assert_eq!(
            error("[status]\n\"99999\" = 400\n"),
            "mock.toml:2: status.99999: not a code in the error catalogue"
        );
        assert_eq!(
            error("[[routes]]\nendpoint = \"hat\"\napi_id = \"x\"\npath = \"/a\"\n"),
            "mock.toml:4: routes[0].path: a path segment without a leading /, ? or #"
        );
    }

    #[test]
    fn the_body_budget_and_the_utc_switch_are_read_and_an_empty_budget_is_refused() {
        let config = Config::from_toml("mock.toml", "max_body_memory = 1048576\naccept_utc_eop_date = true\n");
        let config = config.expect("a valid config");
        assert_eq!((config.max_body_memory, config.accept_utc_eop_date), (1 << 20, true));
        assert_eq!(Config::default().max_body_memory, DEFAULT_MAX_BODY_MEMORY);
        assert_eq!(
            error("max_body_memory = 0\n"),
            "mock.toml:1: max_body_memory: must be at least 1 byte; the default is 536870912"
        );
    }
}
