//! A client for the emulated service, written independently of the server: its own EOP
//! signer and `eop-date` arithmetic, a small HTTP/1.1 client, readers for the shared
//! `fixtures/`, and a writer of test images that carry their own ground truth.
//!
//! The contract tests drive the server only through this crate, over a real socket. A
//! user's own tests can too: [`Client`] signs with [`Signer`] against a server embedded
//! on port 0 (docs/embedding.md, `examples/embedded_server.rs`).
//!
//! It also checks *other* clients against the contract (docs/client-contract.md):
//! - `harness`: [`Harness`], the emulator in a Rust test's runtime with a fresh account.
//! - `journal`: the server's request journal and the error catalogue, as the checker reads them.
//! - `report`: the verdict on a client (violations, lints, coverage) as text, JSON or JUnit.
//! - `runner`: `contract-tests client -- COMMAND…` (the binary in `src/bin/` only parses
//!   arguments and writes the report).
//! - `scenarios`: `--scenarios`, the client run again under each documented failure, and
//!   the judgement of its retries.
//! - `explore`: `--explore N`, the client fuzzed with the answers of `strategy`, the
//!   proptest strategies of every answer and valid request the spec allows.
//! - `verify`: `contract-tests server --url URL …`, the conformance suite run against any
//!   server that claims to be this API (provider verification).

pub mod client;
pub mod eop_date;
pub mod explore;
pub mod fixtures;
pub mod harness;
pub mod image;
pub mod journal;
pub mod openapi;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod signer;
pub mod strategy;
pub mod verify;

pub use client::{Call, Client, Reply};
pub use harness::Harness;
pub use report::{Checks, Report};
pub use signer::Signer;
