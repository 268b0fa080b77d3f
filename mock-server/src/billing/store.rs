//! `--state PATH`: accounts, apps and ledgers kept across restarts.
//!
//! The file is an append-only log of JSON lines, one per change, each written with a
//! single `write` on a file opened for appending. A process killed at any point (even by
//! `kill -9`) leaves every completed line in the file: the kernel holds what was written.
//! A torn last line (power loss mid-write) is ignored on load. At start-up the log is
//! replayed and then rewritten compacted — to a temporary file, synced, and renamed over
//! the old one — so it never grows without bound across restarts. Counters and alerts are
//! not kept.
//!
//! Why not an embedded database: the state is small, changes are appends, and recovery is
//! "replay what is complete" — a few dozen lines that need no new dependency.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::ledger::Kind;
use crate::registry::{ApiSet, Registry};

/// One change to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Account {
        ak: String,
        sk: String,
    },
    App {
        ak: String,
        name: String,
        description: String,
        appkey: String,
    },
    Enable {
        appkey: String,
        api: String,
    },
    Claim {
        appkey: String,
        api: String,
        at_ms: i64,
    },
    Buy {
        appkey: String,
        api: String,
        kind: Kind,
        calls: u64,
        at_ms: i64,
    },
    /// One successful call charged to a package.
    Use {
        appkey: String,
        api: String,
        package: u64,
    },
    /// `count` calls charged to a package (written by compaction).
    Used {
        appkey: String,
        api: String,
        package: u64,
        count: u64,
    },
    Clock {
        ak: String,
        offset_ms: i64,
    },
    /// An app's concurrency limit (`None`: none).
    Limit {
        appkey: String,
        concurrency: Option<u32>,
    },
    Reset {
        ak: String,
    },
}

/// The open log.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// Appends are serialised so lines never interleave.
    file: Mutex<File>,
    /// A failed write is reported once, not once per request.
    reported: AtomicBool,
}

impl Store {
    /// Replays the log at `path` into `registry` (if it exists), rewrites it compacted, and
    /// opens it for appending.
    pub fn open(path: &Path, registry: &Registry) -> std::io::Result<Store> {
        if path.exists() {
            let file = BufReader::new(File::open(path)?);
            for line in file.split(b'\n') {
                // A line that does not parse is a torn tail: everything before it counts.
                let Ok(event) = serde_json::from_slice::<Event>(&line?) else { break };
                replay(registry, event);
            }
        }
        compact(path, registry)?;
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(Store { path: path.to_path_buf(), file: Mutex::new(file), reported: AtomicBool::new(false) })
    }

    /// Appends one event as one line, in one write.
    pub fn append(&self, event: &Event) {
        let mut line = serde_json::to_vec(event).unwrap_or_default();
        line.push(b'\n');
        let result = self.file.lock().unwrap_or_else(PoisonError::into_inner).write_all(&line);
        if let Err(e) = result {
            if !self.reported.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "mock-server: cannot write the state file {}: {e}; changes are kept in memory only",
                    self.path.display()
                );
            }
        }
    }
}

/// Applies one logged change. Events that no longer apply (say, to an account that a
/// later config no longer declares) are skipped.
fn replay(registry: &Registry, event: Event) {
    let in_app = |appkey: &str| registry.owner(appkey);
    match event {
        Event::Account { ak, sk } => {
            let _ = registry.create_account(Some(ak), Some(sk));
        }
        Event::App { ak, name, description, appkey } => {
            if let Some(cell) = registry.account(&ak) {
                let _ = registry.create_app(&cell, &name, &description, Some(appkey));
            }
        }
        Event::Enable { appkey, api } => {
            if let Some(cell) = in_app(&appkey) {
                let _ = registry.enable(&cell, &appkey, &api);
            }
        }
        Event::Claim { appkey, api, at_ms } => {
            if let Some(cell) = in_app(&appkey) {
                let _ = cell.lock().ledgers.entry((appkey, api)).or_default().claim_free(at_ms);
            }
        }
        Event::Buy { appkey, api, kind, calls, at_ms } => {
            if let Some(cell) = in_app(&appkey) {
                cell.lock().ledgers.entry((appkey, api)).or_default().buy(kind, calls, at_ms);
            }
        }
        Event::Use { appkey, api, package } => replay_use(registry, appkey, api, package, 1),
        Event::Used { appkey, api, package, count } => replay_use(registry, appkey, api, package, count),
        Event::Clock { ak, offset_ms } => {
            if let Some(cell) = registry.account(&ak) {
                registry.set_offset(&cell, offset_ms);
            }
        }
        Event::Limit { appkey, concurrency } => {
            if let Some(cell) = in_app(&appkey) {
                let _ = registry.set_concurrency(&cell, &appkey, concurrency);
            }
        }
        Event::Reset { ak } => {
            if let Some(cell) = registry.account(&ak) {
                registry.reset(&cell);
            }
        }
    }
}

fn replay_use(registry: &Registry, appkey: String, api: String, package: u64, count: u64) {
    if let Some(cell) = registry.owner(&appkey) {
        if let Some(ledger) = cell.lock().ledgers.get_mut(&(appkey, api)) {
            for _ in 0..count {
                ledger.replay_use(package);
            }
        }
    }
}

/// Writes the registry's state as the shortest log that rebuilds it.
fn compact(path: &Path, registry: &Registry) -> std::io::Result<()> {
    let mut out = Vec::new();
    for event in registry.events() {
        serde_json::to_writer(&mut out, &event).map_err(std::io::Error::other)?;
        out.push(b'\n');
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&out)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable where the platform allows it.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

impl Registry {
    /// The current state as events, in an order that replays to it.
    pub fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for cell in self.cells() {
            if !cell.configured() {
                events.push(Event::Account { ak: cell.ak.clone(), sk: cell.sk.clone() });
            }
            let state = cell.lock();
            for app in &state.apps {
                if !cell.is_seed_app(&app.appkey) {
                    events.push(Event::App {
                        ak: cell.ak.clone(),
                        name: app.name.clone(),
                        description: app.description.clone(),
                        appkey: app.appkey.clone(),
                    });
                }
                if app.max_concurrency.is_some() && !cell.is_seed_app(&app.appkey) {
                    events.push(Event::Limit { appkey: app.appkey.clone(), concurrency: app.max_concurrency });
                }
                if let ApiSet::Some(apis) = &app.apis {
                    let mut apis: Vec<&String> = apis.iter().collect();
                    apis.sort();
                    events.extend(
                        apis.into_iter().map(|api| Event::Enable { appkey: app.appkey.clone(), api: api.clone() }),
                    );
                }
            }
            let mut ledgers: Vec<_> = state.ledgers.iter().collect();
            ledgers.sort_by(|a, b| a.0.cmp(b.0));
            for ((appkey, api), ledger) in ledgers {
                for p in &ledger.packages {
                    let (appkey, api) = (appkey.clone(), api.clone());
                    events.push(match p.kind {
                        Kind::Free => Event::Claim { appkey, api, at_ms: p.start_ms },
                        kind => Event::Buy { appkey, api, kind, calls: p.calls, at_ms: p.start_ms },
                    });
                }
                // The package in use goes last, so that replaying its calls marks it in use.
                let mut packages: Vec<_> = ledger.packages.iter().filter(|p| p.used > 0).collect();
                packages.sort_by_key(|p| Some(p.id) == ledger.in_use);
                for p in packages {
                    events.push(Event::Used { appkey: appkey.clone(), api: api.clone(), package: p.id, count: p.used });
                }
            }
            if cell.offset_ms() != 0 {
                events.push(Event::Clock { ak: cell.ak.clone(), offset_ms: cell.offset_ms() });
            }
        }
        events
    }
}
