//! Accounts (AK/SK) and what they own: apps (appkey, enabled APIs, caller-IP allowlists)
//! and the ledgers of their paid APIs. Each account is its own world. Nothing else lives
//! here: no files, counters or signing keys.
//!
//! Every change returns the [`Event`] that describes it; whoever made the change hands it
//! to the store, if one is configured. The registry never writes anywhere itself, and it
//! depends only on the catalogue, the clock and the pure ledger.

mod account;
mod event;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use sha2::{Digest, Sha256};

use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::ledger::Ledger;

pub(crate) use account::{rules, Account, ApiSet, App, IpRule};
pub(crate) use event::Event;

/// Every account, indexed by AK, and every appkey's owner. Accounts are created at start
/// (from the config) or at run time (by the control API); each is its own world.
#[derive(Debug)]
pub(crate) struct Registry {
    clock: Clock,
    /// Read on every request, written only when an account or app is created: a `RwLock`.
    accounts: RwLock<HashMap<String, Arc<AccountCell>>>,
    /// appkey → AK of the owning account.
    appkeys: RwLock<HashMap<String, String>>,
}

/// One account and everything it owns. Requests of different accounts never share a lock.
#[derive(Debug)]
pub(crate) struct AccountCell {
    pub ak: String,
    pub sk: String,
    /// This account's clock: the server clock plus this offset. An atomic, read per request.
    offset_ms: AtomicI64,
    /// The apps, copy-on-write: every request reads them (the gateway checks the appkey)
    /// and almost none changes them, so a reader clones one `Arc` under a read lock and
    /// never waits for the ledgers. Nothing needs apps and ledgers changed as one: APIs are
    /// only ever enabled, and a reset takes both locks, this one first.
    apps: RwLock<Arc<Vec<Arc<App>>>>,
    /// The ledgers. A std `Mutex`: every critical section is a few map lookups, never held
    /// across an `.await`.
    state: Mutex<AccountState>,
    /// How often `state` and `apps` were locked: the request path promises a bound (see
    /// `service::tests::a_paid_call_locks_each_account_lock_once`).
    #[cfg(test)]
    pub locks_taken: AtomicU64,
    #[cfg(test)]
    pub app_reads: AtomicU64,
    /// What a reset returns to.
    seed: Account,
}

/// The ledgers of an account.
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    /// (appkey, api) → the ledger of a paid API.
    pub ledgers: HashMap<(String, String), Ledger>,
    /// One more at every reset: a call charged before a reset is not refunded after it.
    pub generation: u64,
}

impl AccountState {
    /// The ledgers an account starts with: the free quota claimed where an app asks for it.
    fn seeded(seed: &Account, now_ms: i64, generation: u64) -> AccountState {
        let mut state = AccountState { ledgers: HashMap::new(), generation };
        for app in seed.apps.iter().filter(|a| a.free_quota) {
            for endpoint in Catalogue::get().endpoints.iter().filter(|e| e.paid && app.apis.contains(&e.name)) {
                let ledger = state.ledgers.entry((app.appkey.clone(), endpoint.name.clone())).or_default();
                let _ = ledger.claim_free(now_ms);
            }
        }
        state
    }
}

impl AccountCell {
    fn new(seed: Account, now_ms: i64) -> AccountCell {
        let state = AccountState::seeded(&seed, now_ms, 0);
        let (ak, sk) = (seed.ak.clone(), seed.sk.clone());
        AccountCell {
            ak,
            sk,
            offset_ms: AtomicI64::new(0),
            apps: RwLock::new(seed_apps(&seed)),
            state: Mutex::new(state),
            #[cfg(test)]
            locks_taken: AtomicU64::new(0),
            #[cfg(test)]
            app_reads: AtomicU64::new(0),
            seed,
        }
    }

    /// Locks the account's ledgers. A poisoned lock (a panic elsewhere) is still usable:
    /// every update leaves the state consistent before it could panic.
    pub fn lock(&self) -> MutexGuard<'_, AccountState> {
        #[cfg(test)]
        self.locks_taken.fetch_add(1, Ordering::Relaxed);
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The apps as they are now; later changes make a new list.
    pub fn apps(&self) -> Arc<Vec<Arc<App>>> {
        #[cfg(test)]
        self.app_reads.fetch_add(1, Ordering::Relaxed);
        read(&self.apps).clone()
    }

    pub fn app(&self, appkey: &str) -> Option<Arc<App>> {
        self.apps().iter().find(|a| a.appkey == appkey).cloned()
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Whether the configuration declares this app (rather than the control API making it).
    pub fn declares(&self, appkey: &str) -> bool {
        self.seed.apps.iter().any(|a| a.appkey == appkey)
    }
}

/// What can go wrong when the control API changes the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    NotFound(String),
    Conflict(String),
    Invalid(String),
}

impl Registry {
    /// A registry of the configured accounts.
    pub fn new(accounts: Vec<Account>, clock: Clock) -> Registry {
        let registry = Registry { clock, accounts: RwLock::default(), appkeys: RwLock::default() };
        for account in accounts {
            registry.insert(account);
        }
        registry
    }

    fn insert(&self, seed: Account) -> Arc<AccountCell> {
        let cell = Arc::new(AccountCell::new(seed, self.clock.now_ms()));
        let mut appkeys = write(&self.appkeys);
        for app in &cell.seed.apps {
            appkeys.insert(app.appkey.clone(), cell.ak.clone());
        }
        write(&self.accounts).insert(cell.ak.clone(), cell.clone());
        cell
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Now, on this account's clock (milliseconds since the epoch).
    pub fn now_ms(&self, cell: &AccountCell) -> i64 {
        self.clock.now_ms() + cell.offset_ms()
    }

    pub fn account(&self, ak: &str) -> Option<Arc<AccountCell>> {
        read(&self.accounts).get(ak).cloned()
    }

    /// Every account, ordered by AK.
    pub fn accounts(&self) -> Vec<Arc<AccountCell>> {
        let mut cells: Vec<Arc<AccountCell>> = read(&self.accounts).values().cloned().collect();
        cells.sort_unstable_by(|a, b| a.ak.cmp(&b.ak));
        cells
    }

    /// The account that owns `appkey`.
    pub fn owner(&self, appkey: &str) -> Option<Arc<AccountCell>> {
        let ak = read(&self.appkeys).get(appkey).cloned()?;
        self.account(&ak)
    }

    /// Every account but the one given, for diagnosing a signature made with another's SK.
    pub fn others(&self, ak: &str) -> Vec<Arc<AccountCell>> {
        read(&self.accounts).values().filter(|c| c.ak != ak).cloned().collect()
    }

    /// Creates an account; `ak`/`sk` are made up when not given.
    pub fn create_account(&self, ak: Option<String>, sk: Option<String>) -> Result<(Arc<AccountCell>, Event), Change> {
        let ak = ak.unwrap_or_else(|| fresh("ak"));
        let sk = sk.unwrap_or_else(|| fresh("sk"));
        if rules::credential(&ak).is_err() || rules::credential(&sk).is_err() {
            return Err(Change::Invalid("ak and sk must be non-empty, without spaces".into()));
        }
        if self.account(&ak).is_some() {
            return Err(Change::Conflict(format!("an account with ak `{ak}` exists")));
        }
        let event = Event::Account { ak: ak.clone(), sk: sk.clone() };
        Ok((self.insert(Account { ak, sk, apps: Vec::new() }), event))
    }

    /// Creates an app in an account; the appkey is made up when not given.
    pub fn create_app(
        &self,
        cell: &AccountCell,
        name: &str,
        description: &str,
        appkey: Option<String>,
    ) -> Result<(Arc<App>, Event), Change> {
        rules::app_name(name).map_err(Change::Invalid)?;
        let appkey = appkey.unwrap_or_else(|| fresh("").trim_start_matches('-').to_string());
        rules::appkey(&appkey).map_err(|problem| Change::Invalid(format!("`appkey` {problem}")))?;
        let mut appkeys = write(&self.appkeys);
        if appkeys.contains_key(&appkey) {
            return Err(Change::Conflict(format!("the appkey `{appkey}` is taken")));
        }
        let app = Arc::new(App::new(name, description, &appkey));
        appkeys.insert(appkey.clone(), cell.ak.clone());
        let mut apps = write(&cell.apps);
        let mut changed = Vec::clone(&apps);
        changed.push(app.clone());
        *apps = Arc::new(changed);
        drop((apps, appkeys));
        let event = Event::App { ak: cell.ak.clone(), name: name.into(), description: description.into(), appkey };
        Ok((app, event))
    }

    /// Enables an API for an app (idempotent: no event when it was enabled already).
    pub fn enable(&self, cell: &AccountCell, appkey: &str, api: &str) -> Result<Option<Event>, Change> {
        let changed = update_app(cell, appkey, |app| match &mut app.apis {
            ApiSet::Some(set) => set.insert(api.to_string()),
            ApiSet::All => false,
        })?;
        Ok(changed.then(|| Event::Enable { appkey: appkey.into(), api: api.into() }))
    }

    /// Sets an app's concurrency limit (`None` lifts it).
    pub fn set_concurrency(&self, cell: &AccountCell, appkey: &str, limit: Option<u32>) -> Result<Event, Change> {
        rules::concurrency(limit).map_err(|problem| Change::Invalid(format!("{problem} (null lifts it)")))?;
        update_app(cell, appkey, |app| {
            app.max_concurrency = limit;
            true
        })?;
        Ok(Event::Limit { appkey: appkey.into(), concurrency: limit })
    }

    /// Moves one account's clock.
    pub fn set_offset(&self, cell: &AccountCell, offset_ms: i64) -> Event {
        cell.offset_ms.store(offset_ms, Ordering::Relaxed);
        Event::Clock { ak: cell.ak.clone(), offset_ms }
    }

    /// Returns an account to its initial state: its seed apps, no ledgers, its clock on
    /// the server's. (Its counters are the journal's to forget.)
    pub fn reset(&self, cell: &AccountCell) -> Event {
        let mut appkeys = write(&self.appkeys);
        let mut apps = write(&cell.apps);
        let mut state = cell.lock();
        let before: Vec<String> = apps.iter().map(|app| app.appkey.clone()).collect();
        for appkey in &before {
            appkeys.remove(appkey);
        }
        cell.offset_ms.store(0, Ordering::Relaxed);
        *apps = seed_apps(&cell.seed);
        *state = AccountState::seeded(&cell.seed, self.clock.now_ms(), state.generation + 1);
        for app in apps.iter() {
            appkeys.insert(app.appkey.clone(), cell.ak.clone());
        }
        drop((state, apps, appkeys));
        Event::Reset { ak: cell.ak.clone(), appkeys: before }
    }
}

/// Changes an app copy-on-write (requests in flight keep the `Arc` they hold); `change`
/// says whether it changed anything.
fn update_app(cell: &AccountCell, appkey: &str, change: impl FnOnce(&mut App) -> bool) -> Result<bool, Change> {
    let mut apps = write(&cell.apps);
    let i =
        apps.iter().position(|a| a.appkey == appkey).ok_or_else(|| Change::NotFound(format!("no app `{appkey}`")))?;
    let mut app = (*apps[i]).clone();
    let changed = change(&mut app);
    if changed {
        let mut list = Vec::clone(&apps);
        list[i] = Arc::new(app);
        *apps = Arc::new(list);
    }
    Ok(changed)
}

/// An account's declared apps, as it starts and after a reset.
fn seed_apps(seed: &Account) -> Arc<Vec<Arc<App>>> {
    Arc::new(seed.apps.iter().cloned().map(Arc::new).collect())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A new credential: unique in this process and unlikely to repeat across runs.
fn fresh(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{prefix}{n}{:?}{:?}", std::time::SystemTime::now(), std::thread::current().id());
    let digest = Sha256::digest(seed.as_bytes());
    format!("{prefix}-{}", &crate::body::hex(&digest)[..32])
}
