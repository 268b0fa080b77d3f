//! Persistence: what keeps accounts, apps and ledgers across restarts (`--state`). The
//! registry returns an [`Event`] for every change; the request pipeline and the control API
//! hand it to the store, which keeps it as rows of a SQLite database ([`sqlite`]) and
//! returns the events that rebuild its content at start-up. A store never reads the
//! registry.

mod sqlite;

pub(crate) use sqlite::{Receipt, SqliteStore as Store, StateError};
