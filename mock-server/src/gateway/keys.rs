//! The signing-key cache: the last key derived per account (eop-date → `kdate`). Requests
//! signed in the same second share it, saving four HMACs each.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::signature;
use crate::registry::AccountCell;

/// AK → (eop-date, key). A std `Mutex` held for a lookup or an insert; keys are derived
/// outside it.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    cache: Mutex<HashMap<String, (String, [u8; 32])>>,
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
}
