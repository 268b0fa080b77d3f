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

pub mod admin;
pub mod billing;
pub mod body;
pub mod capabilities;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod gateway;
pub mod journal;
mod log;
pub mod make_image;
pub mod registry;
pub mod respond;
pub mod server;
pub mod service;
mod stall;
pub mod vision;

pub use clock::Clock;
pub use config::Config;
pub use server::{start, Handle};
