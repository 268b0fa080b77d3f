//! An offline emulator of China Telecom Cloud's safety-production AI APIs and the signed
//! EOP gateway in front of them.
//!
//! # Layout
//! One request flows one way: `server` accepts it, `service` reads the body once and runs
//! the pipeline gateway → (concurrency limit) → billing → capability → `respond`, and
//! `journal` records the outcome. Paths under `/__mock/` go to [`admin`] instead.
//!
//! - [`server`]: the listener, connection tasks, graceful shutdown and the [`Handle`] a test
//!   embeds.
//! - [`service`]: the one request pipeline.
//! - [`body`]: reads a body once, hashing it and enforcing the size limit while reading.
//! - [`gateway`]: EOP verification — route, signature, appkey, IP allowlists, enabled APIs —
//!   and the explanation of a failed signature.
//! - [`registry`]: accounts and what they own: apps, ledgers, counters.
//! - [`billing`]: free quota, packages and the charge per call; the `--state` file.
//! - [`admin`]: the control API under `/__mock/`.
//! - [`capabilities`]: one module per capability (parse → validate → perceive → reply).
//! - [`vision`]: base64, image sniffing and dimensions, the scene an image shows (ground
//!   truth, catalogue or derived), detections, fence geometry, drawing scenario images.
//! - [`make_image`]: the `make-image` subcommand's syntax and output.
//! - [`catalogue`]: the vendor's routes and error codes, read from `fixtures/`.
//! - [`respond`]: the only code that writes a response.
//! - [`journal`]: the log line each request leaves, per-app counters and alerts.
//! - [`config`]: the TOML configuration and its defaults.
//! - [`clock`]: the injectable clock and Beijing-time formatting.

mod admin;
mod billing;
mod body;
mod capabilities;
mod catalogue;
mod clock;
mod config;
mod gateway;
mod journal;
mod ledger;
mod limits;
pub mod make_image;
mod outcome;
mod registry;
mod respond;
mod server;
mod service;
mod shared;
mod store;
mod vision;

pub use clock::Clock;
pub use config::{Config, ConfigError, RouteConfig, DEFAULT_MAX_CONNECTIONS};
pub use server::{start, Handle};

/// TEMPORARY, not part of the library's face: what the contract suite and the `--state`
/// test still borrow from the server (dates, signing, scenario images, the catalogue).
/// Remove once they make their own.
#[doc(hidden)]
pub mod internals {
    pub use crate::body::hex;
    pub use crate::catalogue::Catalogue;
    pub use crate::clock::{format_eop_date, parse_eop_date};
    pub use crate::gateway::signature::{sign, signing_key, string_to_sign};
    pub use crate::vision::compose::compose;
    pub use crate::vision::scene::{embedded, Person, Scene};
    pub use crate::vision::{dimensions, ImageFormat};
}
