//! An offline emulator of China Telecom Cloud's safety-production AI APIs and the signed
//! EOP gateway in front of them.
//!
//! # Layout
//! One request flows one way: `server` accepts it, `service` reads the body once and runs
//! the pipeline gateway → faults → concurrency limit → billing → capability → (delay) →
//! settle → `respond`, and the request's `outcome` goes to the `journal` and the `store`.
//! Paths under `/__mock/` go to `admin` instead.
//!
//! - `server`: the listener, connection tasks, graceful shutdown and the [`Handle`].
//! - `service`: the one request pipeline. `shared`: the state every connection reads.
//! - `body`: reads a body once, hashing it and enforcing the size limit while reading.
//! - `gateway`: EOP verification (route, signature, appkey, IP allowlists, enabled APIs),
//!   the signing-key cache (`keys`) and the explanation of a failed signature.
//! - `registry`: accounts, their apps and ledgers, the rules they obey, and the events
//!   their changes return. Nothing else.
//! - `store`: persistence of those events (`--state`). `ledger`: one ledger, pure.
//! - `billing`: the charge per call (charged, then kept or refunded), claims, purchases, usage.
//! - `journal`: log lines, counters, alerts, and
//!   per account the ring of recent requests with their contract lints.
//! - `outcome`: the record of a served request. `respond`: the only code that writes a
//!   response (vendor answers, control answers, the connection limit's 503).
//! - `faults`: every way of making a call fail on purpose: `x-mock-force`, rules armed
//!   per account, `--fault-rate`, image ground truth (`fault`, `delay_ms`, `fence_fail`),
//!   the per-app concurrency limit, and the response body that drips, truncates or resets.
//! - `admin`: the control API under `/__mock/`.
//! - `capabilities`: one module per capability. `vision`: images and their ground truth.
//! - `catalogue`: routes and error codes from `fixtures/`. `config`: the TOML
//!   configuration. `clock`: the injectable clock. [`make_image`]: the subcommand.
//! - `tls`: HTTPS (`--tls`), a certificate made at start or read from PEM files.
//!
//! Next: the OpenAPI document and the console page (`admin/`).

mod admin;
mod billing;
mod body;
mod capabilities;
mod catalogue;
mod clock;
mod config;
mod faults;
mod gateway;
mod journal;
mod ledger;
mod log;
pub mod make_image;
mod outcome;
mod registry;
mod respond;
mod scan;
mod server;
mod service;
mod shared;
mod stall;
mod store;
mod tls;
mod vision;

pub use clock::{parse_duration_ms, Clock};
pub use config::{check_journal_capacity, Config, ConfigError, RouteConfig, DEFAULT_MAX_CONNECTIONS};
pub use server::{start, Handle};
pub use shared::StartError;
pub use tls::{Tls, TlsError};
