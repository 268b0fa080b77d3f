//! The changes an account goes through, as plain data: what the registry returns from
//! every change and what a store keeps. [`Registry::replay`] applies one; [`Registry::snapshot`]
//! lists the shortest sequence that rebuilds the current state.

use serde::{Deserialize, Serialize};

use super::{ApiSet, Registry};
use crate::ledger::Kind;

/// One change to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
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

impl Registry {
    /// Applies one recorded change. Events that no longer apply (say, to an account that a
    /// later config no longer declares) are skipped.
    pub fn replay(&self, event: Event) {
        match event {
            Event::Account { ak, sk } => {
                let _ = self.create_account(Some(ak), Some(sk));
            }
            Event::App { ak, name, description, appkey } => {
                if let Some(cell) = self.account(&ak) {
                    let _ = self.create_app(&cell, &name, &description, Some(appkey));
                }
            }
            Event::Enable { appkey, api } => {
                if let Some(cell) = self.owner(&appkey) {
                    let _ = self.enable(&cell, &appkey, &api);
                }
            }
            Event::Claim { appkey, api, at_ms } => {
                if let Some(cell) = self.owner(&appkey) {
                    let _ = cell.lock().ledgers.entry((appkey, api)).or_default().claim_free(at_ms);
                }
            }
            Event::Buy { appkey, api, kind, calls, at_ms } => {
                if let Some(cell) = self.owner(&appkey) {
                    cell.lock().ledgers.entry((appkey, api)).or_default().buy(kind, calls, at_ms);
                }
            }
            Event::Use { appkey, api, package } => self.replay_use(appkey, api, package, 1),
            Event::Used { appkey, api, package, count } => self.replay_use(appkey, api, package, count),
            Event::Clock { ak, offset_ms } => {
                if let Some(cell) = self.account(&ak) {
                    self.set_offset(&cell, offset_ms);
                }
            }
            Event::Limit { appkey, concurrency } => {
                if let Some(cell) = self.owner(&appkey) {
                    let _ = self.set_concurrency(&cell, &appkey, concurrency);
                }
            }
            Event::Reset { ak } => {
                if let Some(cell) = self.account(&ak) {
                    self.reset(&cell);
                }
            }
        }
    }

    fn replay_use(&self, appkey: String, api: String, package: u64, count: u64) {
        if let Some(cell) = self.owner(&appkey) {
            if let Some(ledger) = cell.lock().ledgers.get_mut(&(appkey, api)) {
                for _ in 0..count {
                    ledger.replay_use(package);
                }
            }
        }
    }

    /// The current state as events, in an order that replays to it.
    pub fn snapshot(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for cell in self.cells() {
            if !cell.configured() {
                events.push(Event::Account { ak: cell.ak.clone(), sk: cell.sk.clone() });
            }
            for app in cell.apps().iter() {
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
            let state = cell.lock();
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
