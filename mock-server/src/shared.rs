//! The server's state, shared by every connection, each part with its own owner and lock:
//! the registry (accounts, apps, ledgers), the gateway (routes, signing keys), the
//! concurrency limits, the journal (log lines, counters), the store (the `--state` file).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::body::Budget;
use crate::config::Config;
use crate::faults::concurrency::Limits;
use crate::faults::Faults;
use crate::gateway::{Gateway, Router};
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::registry::{Event, Registry};
use crate::respond::Renderer;
use crate::store::{Receipt, StateError, Store};
use crate::vision::Depth;
use std::net::SocketAddr;

/// Everything a request may read.
#[derive(Debug)]
pub(crate) struct Shared {
    pub registry: Registry,
    pub gateway: Gateway,
    pub limits: Limits,
    /// The bytes all kept bodies may take together (`--max-body-memory`).
    pub budget: Budget,
    /// The control API's bodies (64 KiB at most each): apart, so that bodies in flight to
    /// the endpoints never hold the control API up.
    pub control_budget: Budget,
    /// How long a body waits for room in the budget before its request is refused.
    pub body_memory_wait: std::time::Duration,
    pub journal: Journal,
    /// Fault rules per account and the fault rate.
    pub faults: Faults,
    /// Where changes are kept, with `--state`.
    store: Option<Store>,
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
    /// How deep images are checked before a capability answers (`--full-decode`).
    pub depth: Depth,
    /// Numbers the request ids the server makes up when a client sends none.
    next_id: AtomicU64,
    /// Numbers the calls the gateway admitted: the fault rate's draw for each.
    calls: AtomicU64,
}

impl Shared {
    /// Builds the server's state; with `config.state`, replays and reopens the state file.
    pub fn new(config: &Config) -> Result<Shared, StartError> {
        if let Some(token) = &config.admin_token {
            crate::config::check_admin_token(token).map_err(StartError::Config)?;
        }
        let registry = Registry::new(config.accounts.clone(), config.clock.clone());
        let store = match &config.state {
            Some(path) => Some(
                Store::open(path, |event| registry.replay(event)).map_err(|e: StateError| StartError::State(e.0))?,
            ),
            None => None,
        };
        let faults = Faults::new(config.seed, config.fault_rate);
        for (ak, rule) in &config.rules {
            faults.add(ak, rule.clone()).map_err(StartError::Config)?;
        }
        Ok(Shared {
            faults,
            registry,
            gateway: Gateway::new(Router::new(&config.routes), config.accept_utc_eop_date),
            limits: Limits::default(),
            budget: Budget::new(config.max_body_memory, config.body_memory_wait),
            control_budget: Budget::new(u64::MAX, config.body_memory_wait),
            body_memory_wait: config.body_memory_wait,
            journal: Journal::new(config.journal_capacity, config.log_all, config.quiet),
            store,
            renderer: Renderer { status_overrides: config.status_overrides.clone() },
            admin_token: config.admin_token.clone(),
            max_connections: config.max_connections.max(1),
            header_timeout: config.header_timeout,
            write_timeout: config.write_timeout,
            depth: if config.full_decode { Depth::Full } else { Depth::Structure },
            next_id: AtomicU64::new(1),
            calls: AtomicU64::new(0),
        })
    }

    /// Hands a change to the store, if there is one; the receipt says when it is kept.
    pub fn keep(&self, event: Event) -> Receipt {
        match &self.store {
            Some(store) => store.apply(event),
            None => Receipt::none(),
        }
    }

    /// A receipt that resolves once every change handed to the store so far is kept.
    pub fn kept(&self) -> Receipt {
        match &self.store {
            Some(store) => store.barrier(),
            None => Receipt::none(),
        }
    }

    /// Records a served request: its log line and counters, and the change it made.
    /// The receipt resolves once the change is kept: a charged call's answer waits for it.
    pub fn record(&self, outcome: Outcome<'_>) -> Receipt {
        let receipt = outcome.event().map_or_else(Receipt::none, |event| self.keep(event));
        self.journal.record(outcome);
        receipt
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

/// Why a server did not start: each says what to do about it.
#[derive(Debug)]
pub enum StartError {
    /// The configuration cannot be used (an empty admin token, a bad rule).
    Config(String),
    /// The `--state` file cannot be used; it names the file and the reason, and the file
    /// is left as it was.
    State(String),
    /// The address cannot be bound.
    Listen { addr: SocketAddr, error: std::io::Error },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(why) => write!(f, "{why}"),
            StartError::State(why) => write!(f, "{why}"),
            StartError::Listen { addr, error } => {
                write!(f, "cannot listen on {addr}: {error}; pick another --addr (port 0 picks a free one)")
            }
        }
    }
}

impl std::error::Error for StartError {}
