//! A client for the emulated service, written independently of the server: its own EOP
//! signer, a small HTTP/1.1 client, and readers for the shared `fixtures/`.
//!
//! The contract tests drive the server only through this crate, over a real socket.

pub mod client;
pub mod fixtures;
pub mod signer;

pub use client::{Call, Client, Reply};
pub use signer::Signer;
