//! Accounts (AK/SK) and what they own: apps (appkey, enabled APIs, caller-IP allowlists),
//! the ledgers of their paid APIs, and their counters. Each account is its own world.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use sha2::{Digest, Sha256};

use crate::billing::ledger::Ledger;
use crate::billing::store::{Event, Store};
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::journal::Stats;

/// An account: one AK/SK pair and its apps.
#[derive(Debug, Clone)]
pub struct Account {
    pub ak: String,
    pub sk: String,
    pub apps: Vec<App>,
}

/// An AI application, as created in the vendor's console.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub description: String,
    pub appkey: String,
    pub apis: ApiSet,
    /// Callers the app accepts; `None` accepts everyone.
    pub allowed_ips: Option<Vec<IpRule>>,
    /// Callers accepted per API (endpoint name); an API not listed accepts everyone.
    pub api_ips: HashMap<String, Vec<IpRule>>,
    /// Claim the free quota of every enabled paid API when the account is created or reset.
    pub free_quota: bool,
    /// Requests of this app served at once; one more is throttled (40029). None: no limit.
    pub max_concurrency: Option<u32>,
}

/// The APIs an app has enabled.
#[derive(Debug, Clone)]
pub enum ApiSet {
    All,
    Some(HashSet<String>),
}

impl ApiSet {
    pub fn contains(&self, endpoint: &str) -> bool {
        match self {
            ApiSet::All => true,
            ApiSet::Some(set) => set.contains(endpoint),
        }
    }
}

/// One address or CIDR block of an allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRule {
    addr: IpAddr,
    prefix: u8,
}

impl IpRule {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Result<IpRule, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("`{text}` is not an ip address or cidr block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a bad prefix length"))?,
        };
        Ok(IpRule { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), u128::from(ip), self.prefix, 128),
            _ => false,
        }
    }
}

fn masked(net: u128, ip: u128, prefix: u8, bits: u32) -> bool {
    let shift = bits - u32::from(prefix);
    shift == bits || (net >> shift) == (ip >> shift)
}

/// Every account, indexed by AK, and every appkey's owner. Accounts are created at start
/// (from the config) or at run time (by the control API); each is its own world.
#[derive(Debug)]
pub struct Registry {
    clock: Clock,
    /// Read on every request, written only when an account or app is created: a `RwLock`.
    accounts: RwLock<HashMap<String, Arc<AccountCell>>>,
    /// appkey → AK of the owning account.
    appkeys: RwLock<HashMap<String, String>>,
    /// The state file, attached once its log has been replayed.
    store: OnceLock<Store>,
}

/// One account and everything it owns. Requests of different accounts never share a lock.
#[derive(Debug)]
pub struct AccountCell {
    pub ak: String,
    pub sk: String,
    /// This account's clock: the server clock plus this offset. An atomic, read per request.
    offset_ms: AtomicI64,
    /// Apps, ledgers and counters. A std `Mutex`: every critical section is a few map
    /// lookups, never held across an `.await`.
    pub state: Mutex<AccountState>,
    /// The last signing key derived (eop-date → key): requests signed in the same second
    /// share it, saving four HMACs each. A lock held for a copy.
    key_cache: Mutex<Option<(String, [u8; 32])>>,
    /// What a reset returns to.
    seed: Account,
    /// Declared by the configuration (rather than created at run time).
    configured: bool,
}

/// The mutable part of an account.
#[derive(Debug, Default)]
pub struct AccountState {
    pub apps: Vec<Arc<App>>,
    /// (appkey, api) → the ledger of a paid API.
    pub ledgers: HashMap<(String, String), Ledger>,
    pub stats: Stats,
    /// appkey → requests being served now, for the concurrency limit.
    pub in_flight: HashMap<String, u32>,
}

impl AccountState {
    /// The state an account starts in: its declared apps, with the free quota claimed
    /// where an app asks for it.
    fn seeded(seed: &Account, now_ms: i64) -> AccountState {
        let mut state =
            AccountState { apps: seed.apps.iter().cloned().map(Arc::new).collect(), ..AccountState::default() };
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
    fn new(seed: Account, configured: bool, now_ms: i64) -> AccountCell {
        let state = AccountState::seeded(&seed, now_ms);
        let (ak, sk) = (seed.ak.clone(), seed.sk.clone());
        let key_cache = Mutex::new(None);
        AccountCell { ak, sk, offset_ms: AtomicI64::new(0), state: Mutex::new(state), key_cache, seed, configured }
    }

    /// Whether the app was declared with the account (rather than created later).
    pub fn is_seed_app(&self, appkey: &str) -> bool {
        self.seed.apps.iter().any(|a| a.appkey == appkey)
    }

    pub fn configured(&self) -> bool {
        self.configured
    }

    /// Locks the account's state. A poisoned lock (a panic elsewhere) is still usable:
    /// every update leaves the state consistent before it could panic.
    pub fn lock(&self) -> MutexGuard<'_, AccountState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn app(&self, appkey: &str) -> Option<Arc<App>> {
        self.lock().apps.iter().find(|a| a.appkey == appkey).cloned()
    }

    /// The signing key for `eop_date` (`kdate`), derived once per distinct date.
    pub fn signing_key(&self, eop_date: &str) -> [u8; 32] {
        let mut cache = self.key_cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((date, key)) = cache.as_ref() {
            if date == eop_date {
                return *key;
            }
        }
        let key =
            crate::gateway::signature::signing_key(&self.sk, &self.ak, eop_date, &eop_date[..8.min(eop_date.len())]);
        *cache = Some((eop_date.to_string(), key));
        key
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// What can go wrong when the control API changes the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    NotFound(String),
    Conflict(String),
    Invalid(String),
}

impl Registry {
    /// A registry of the configured accounts.
    pub fn new(accounts: Vec<Account>, clock: Clock) -> Registry {
        let registry =
            Registry { clock, accounts: RwLock::default(), appkeys: RwLock::default(), store: OnceLock::new() };
        for account in accounts {
            registry.insert(account, true);
        }
        registry
    }

    /// From now on, every change is appended to `store`.
    pub fn attach(&self, store: Store) {
        let _ = self.store.set(store);
    }

    /// Every account, ordered by AK.
    pub fn cells(&self) -> Vec<Arc<AccountCell>> {
        let mut cells: Vec<_> = read(&self.accounts).values().cloned().collect();
        cells.sort_by(|a, b| a.ak.cmp(&b.ak));
        cells
    }

    fn insert(&self, seed: Account, configured: bool) -> Arc<AccountCell> {
        let cell = Arc::new(AccountCell::new(seed, configured, self.clock.now_ms()));
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

    /// The account that owns `appkey`.
    pub fn owner(&self, appkey: &str) -> Option<Arc<AccountCell>> {
        let ak = read(&self.appkeys).get(appkey).cloned()?;
        self.account(&ak)
    }

    /// Every account but the one given, for diagnosing a signature made with another's SK.
    pub fn others(&self, ak: &str) -> Vec<Arc<AccountCell>> {
        read(&self.accounts).values().filter(|c| c.ak != ak).cloned().collect()
    }

    /// Records a change in the state file, if there is one.
    pub fn log(&self, event: &Event) {
        if let Some(store) = self.store.get() {
            store.append(event);
        }
    }

    /// Creates an account; `ak`/`sk` are made up when not given.
    pub fn create_account(&self, ak: Option<String>, sk: Option<String>) -> Result<Arc<AccountCell>, Change> {
        let ak = ak.unwrap_or_else(|| fresh("ak"));
        let sk = sk.unwrap_or_else(|| fresh("sk"));
        if ak.is_empty() || sk.is_empty() || ak.contains(char::is_whitespace) || sk.contains(char::is_whitespace) {
            return Err(Change::Invalid("ak and sk must be non-empty, without spaces".into()));
        }
        if self.account(&ak).is_some() {
            return Err(Change::Conflict(format!("an account with ak `{ak}` exists")));
        }
        self.log(&Event::Account { ak: ak.clone(), sk: sk.clone() });
        Ok(self.insert(Account { ak, sk, apps: Vec::new() }, false))
    }

    /// Creates an app in an account; the appkey is made up when not given.
    pub fn create_app(
        &self,
        cell: &AccountCell,
        name: &str,
        description: &str,
        appkey: Option<String>,
    ) -> Result<Arc<App>, Change> {
        let chars = name.chars().count();
        if !(4..=15).contains(&chars) {
            return Err(Change::Invalid(format!("an app name has 4–15 characters, `{name}` has {chars}")));
        }
        let appkey = appkey.unwrap_or_else(|| fresh("").trim_start_matches('-').to_string());
        let mut appkeys = write(&self.appkeys);
        if appkeys.contains_key(&appkey) {
            return Err(Change::Conflict(format!("the appkey `{appkey}` is taken")));
        }
        let app = Arc::new(App::new(name, description, &appkey));
        appkeys.insert(appkey.clone(), cell.ak.clone());
        cell.lock().apps.push(app.clone());
        drop(appkeys);
        self.log(&Event::App { ak: cell.ak.clone(), name: name.into(), description: description.into(), appkey });
        Ok(app)
    }

    /// Enables an API for an app (idempotent).
    pub fn enable(&self, cell: &AccountCell, appkey: &str, api: &str) -> Result<(), Change> {
        let changed = update_app(cell, appkey, |app| match &mut app.apis {
            ApiSet::Some(set) => set.insert(api.to_string()),
            ApiSet::All => false,
        })?;
        if changed {
            self.log(&Event::Enable { appkey: appkey.into(), api: api.into() });
        }
        Ok(())
    }

    /// Sets an app's concurrency limit (`None` lifts it).
    pub fn set_concurrency(&self, cell: &AccountCell, appkey: &str, limit: Option<u32>) -> Result<(), Change> {
        if limit == Some(0) {
            return Err(Change::Invalid("a concurrency limit is at least 1 (null lifts it)".into()));
        }
        update_app(cell, appkey, |app| {
            app.max_concurrency = limit;
            true
        })?;
        self.log(&Event::Limit { appkey: appkey.into(), concurrency: limit });
        Ok(())
    }

    /// Moves one account's clock.
    pub fn set_offset(&self, cell: &AccountCell, offset_ms: i64) {
        cell.offset_ms.store(offset_ms, Ordering::Relaxed);
        self.log(&Event::Clock { ak: cell.ak.clone(), offset_ms });
    }

    /// Returns an account to its initial state: its seed apps, no ledgers, no counters,
    /// its clock on the server's.
    pub fn reset(&self, cell: &AccountCell) {
        let mut appkeys = write(&self.appkeys);
        let mut state = cell.lock();
        for app in &state.apps {
            appkeys.remove(&app.appkey);
        }
        cell.offset_ms.store(0, Ordering::Relaxed);
        *state = AccountState::seeded(&cell.seed, self.clock.now_ms());
        for app in &state.apps {
            appkeys.insert(app.appkey.clone(), cell.ak.clone());
        }
        drop((state, appkeys));
        self.log(&Event::Reset { ak: cell.ak.clone() });
    }
}

/// A place in an app's concurrency limit, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    account: Arc<AccountCell>,
    appkey: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(n) = self.account.lock().in_flight.get_mut(&self.appkey) {
            *n = n.saturating_sub(1);
        }
    }
}

impl AccountCell {
    /// Takes a place among the app's requests in flight, or says the limit is reached.
    pub fn enter(self: &Arc<Self>, app: &App) -> Result<Slot, u32> {
        let mut state = self.lock();
        let n = state.in_flight.entry(app.appkey.clone()).or_default();
        if app.max_concurrency.is_some_and(|limit| *n >= limit) {
            return Err(*n);
        }
        *n += 1;
        Ok(Slot { account: self.clone(), appkey: app.appkey.clone() })
    }
}

impl App {
    /// An app as the control API creates it: no API enabled, no IP rules.
    pub fn new(name: &str, description: &str, appkey: &str) -> App {
        App {
            name: name.into(),
            description: description.into(),
            appkey: appkey.into(),
            apis: ApiSet::Some(HashSet::new()),
            allowed_ips: None,
            api_ips: HashMap::new(),
            free_quota: false,
            max_concurrency: None,
        }
    }
}

/// Changes an app copy-on-write (requests in flight keep the `Arc` they hold); `change`
/// says whether it changed anything.
fn update_app(cell: &AccountCell, appkey: &str, change: impl FnOnce(&mut App) -> bool) -> Result<bool, Change> {
    let mut state = cell.lock();
    let slot = state
        .apps
        .iter_mut()
        .find(|a| a.appkey == appkey)
        .ok_or_else(|| Change::NotFound(format!("no app `{appkey}`")))?;
    let mut app = (**slot).clone();
    let changed = change(&mut app);
    if changed {
        *slot = Arc::new(app);
    }
    Ok(changed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rules_match_what_they_cover() {
        let net = IpRule::parse("10.1.0.0/16").expect("rule");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(IpRule::parse("0.0.0.0/0").expect("rule").contains("8.8.8.8".parse().expect("ip")));
        assert!(IpRule::parse("127.0.0.1").expect("rule").contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(IpRule::parse("::1").expect("rule").contains("::1".parse().expect("ip")));
        assert!(IpRule::parse("10.0.0.0/33").is_err());
        assert!(IpRule::parse("localhost").is_err());
    }
}
