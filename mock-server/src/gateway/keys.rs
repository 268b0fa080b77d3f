//! The signing-key cache: the last key derived per account (eop-date → `kdate`). Requests
//! signed in the same second share it, saving four HMACs each. And the index a failed
//! signature is diagnosed with: every other account's key for this AK and eop-date, derived
//! once per (AK, eop-date, set of accounts) rather than on every failure.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::signature;
use std::sync::Arc;

use crate::registry::{AccountCell, Registry};

/// The other accounts' keys for one AK and eop-date, and which accounts they came from.
#[derive(Debug)]
struct OtherKeys {
    eop_date: String,
    /// The accounts, by address: the index is rebuilt when one is added or removed.
    accounts: Vec<usize>,
    keys: Arc<Vec<[u8; 32]>>,
}

/// AK → (eop-date, key). A std `Mutex` held for a lookup or an insert; keys are derived
/// outside it.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    cache: Mutex<HashMap<String, (String, [u8; 32])>>,
    /// AK → the other accounts' keys for its last failed eop-date. A std `Mutex` held for a
    /// lookup or an insert; keys are derived outside it.
    others: Mutex<HashMap<String, OtherKeys>>,
}

impl Keys {
    /// The signing key of `account` for `eop_date`, derived once per distinct date.
    pub fn get(&self, account: &AccountCell, eop_date: &str) -> [u8; 32] {
        let lock = || self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((date, key)) = lock().get(&account.ak) {
            if date == eop_date {
                return *key;
            }
        }
        let date_part = eop_date.get(..8).unwrap_or(eop_date);
        let key = signature::signing_key(&account.sk, &account.ak, eop_date, date_part);
        lock().insert(account.ak.clone(), (eop_date.to_string(), key));
        key
    }

    /// The key every other account would sign `ak`'s request of `eop_date` with: what a
    /// request signed with the wrong account's SK is recognised by.
    pub fn others(&self, registry: &Registry, ak: &str, eop_date: &str) -> Arc<Vec<[u8; 32]>> {
        let cells = registry.others(ak);
        let accounts: Vec<usize> = cells.iter().map(|c| Arc::as_ptr(c) as usize).collect();
        let lock = || self.others.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = lock().get(ak) {
            if index.eop_date == eop_date && index.accounts == accounts {
                return index.keys.clone();
            }
        }
        let date_part = eop_date.get(..8).unwrap_or(eop_date);
        let keys: Arc<Vec<[u8; 32]>> =
            Arc::new(cells.iter().map(|c| signature::signing_key(&c.sk, ak, eop_date, date_part)).collect());
        lock().insert(ak.to_string(), OtherKeys { eop_date: eop_date.to_string(), accounts, keys: keys.clone() });
        keys
    }
}
