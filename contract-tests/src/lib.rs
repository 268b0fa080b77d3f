//! A client for the emulated service, written independently of the server: its own EOP
//! signer and `eop-date` arithmetic, a small HTTP/1.1 client, readers for the shared
//! `fixtures/`, and a writer of test images that carry their own ground truth.
//!
//! The contract tests drive the server only through this crate, over a real socket.

pub mod client;
pub mod eop_date;
pub mod fixtures;
pub mod image;
pub mod openapi;
pub mod signer;

pub use client::{Call, Client, Reply};
pub use signer::Signer;
