//! The server's state, shared by every connection, each part with its own owner and lock:
//! the registry (accounts, apps, ledgers), the gateway (routes, signing keys), the
//! concurrency limits, the journal (log lines, counters), the store (the `--state` file).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::faults::Faults;
use crate::gateway::{Gateway, Router};
use crate::journal::Journal;
use crate::limits::Limits;
use crate::outcome::Outcome;
use crate::registry::{Event, Registry};
use crate::respond::Renderer;
use crate::store::{self, Store};

/// Everything a request may read.
#[derive(Debug)]
pub(crate) struct Shared {
    pub registry: Registry,
    pub gateway: Gateway,
    pub limits: Limits,
    pub journal: Journal,
    /// Fault rules per account and the fault rate.
    pub faults: Faults,
    /// Where changes are kept, with `--state`.
    store: Option<Box<dyn Store>>,
    pub renderer: Renderer,
    /// The control API's token; without one it answers loopback callers only.
    pub admin_token: Option<String>,
    /// Connections served at once; one more gets a 503.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and stay idle between
    /// requests.
    pub header_timeout: std::time::Duration,
    /// How long a response may wait for a client that does not read it.
    pub write_timeout: std::time::Duration,
    /// Numbers the request ids the server makes up when a client sends none.
    next_id: AtomicU64,
    /// Numbers the calls the gateway admitted: the fault rate's draw for each.
    calls: AtomicU64,
}

impl Shared {
    /// Builds the server's state; with `config.state`, replays and reopens the state file.
    pub fn new(config: &Config) -> std::io::Result<Shared> {
        if let Some(token) = &config.admin_token {
            crate::config::check_admin_token(token)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let registry = Registry::new(config.accounts.clone(), config.clock.clone());
        let store = match &config.state {
            Some(path) => Some(
                store::open(path, |event| registry.replay(event), || registry.snapshot())
                    .map_err(|e| std::io::Error::new(e.kind(), format!("state file {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let faults = Faults::new(config.seed, config.fault_rate);
        for (ak, rule) in &config.rules {
            faults.add(ak, rule.clone()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        Ok(Shared {
            faults,
            registry,
            gateway: Gateway::new(Router::new(&config.routes)),
            limits: Limits::default(),
            journal: Journal {
                log_all: config.log_all,
                quiet: config.quiet,
                rings: crate::journal::Rings::new(config.journal_capacity),
                ..Journal::default()
            },
            store,
            renderer: Renderer { status_overrides: config.status_overrides.clone() },
            admin_token: config.admin_token.clone(),
            max_connections: config.max_connections.max(1),
            header_timeout: config.header_timeout,
            write_timeout: config.write_timeout,
            next_id: AtomicU64::new(1),
            calls: AtomicU64::new(0),
        })
    }

    /// Hands a change to the store, if there is one.
    pub fn keep(&self, event: &Event) {
        if let Some(store) = &self.store {
            store.apply(event);
        }
    }

    /// Records a served request: its log line and counters, and the change it made.
    pub fn record(&self, outcome: &Outcome<'_>) {
        if let Some(event) = outcome.event() {
            self.keep(&event);
        }
        self.journal.record(outcome);
    }

    /// The number of the next call the gateway admitted.
    pub fn next_call(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed)
    }

    /// A request id for a client that sent none.
    pub fn next_request_id(&self) -> String {
        format!("mock-{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}
