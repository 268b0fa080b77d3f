//! Persistence: what keeps accounts, apps and ledgers across restarts. The registry
//! returns an [`Event`] for every change; the request pipeline and the control API hand it
//! to the configured [`Store`]. A store never reads the registry: it is given events to
//! keep, returns them at start-up, and is given a snapshot to compact to.
//!
//! Today's store is [`log::LogStore`], the `--state` file of JSON lines. Another store (an
//! embedded database) implements the same trait and is chosen in `Shared::new`.

mod log;

use std::path::Path;

use crate::registry::Event;

pub(crate) use log::LogStore;

/// Where changes are kept.
pub(crate) trait Store: Send + Sync + std::fmt::Debug {
    /// Keeps one change. A failure is reported (once) and the server goes on in memory.
    fn apply(&self, event: &Event);
}

/// Opens the state at `path`: replays what it holds through `replay`, rewrites it as
/// `snapshot()` then returns, and keeps it open for the changes to come.
pub(crate) fn open(
    path: &Path,
    replay: impl FnMut(Event),
    snapshot: impl FnOnce() -> Vec<Event>,
) -> std::io::Result<Box<dyn Store>> {
    Ok(Box::new(LogStore::open(path, replay, snapshot)?))
}
