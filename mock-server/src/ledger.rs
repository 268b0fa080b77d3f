//! One app's ledger for one paid API: the packages it holds and how a call is charged
//! (DIGEST §3, manual §5.1).
//!
//! Deduction order: the paid package in use is finished first; then the free quota; then
//! the other paid packages, earliest purchase first. A call is *charged* before the
//! capability runs and *refunded* unless it answers code 0, so balances never go negative
//! and nothing is charged twice or lost. This is reserve-then-commit in one step: a call in
//! flight is no longer available either way, and the success path needs no second visit.
//!
//! A call charged to a paid package makes it the package in use at once; a refund puts
//! back the package in use from before the call when no call was charged since (calls one
//! after another behave exactly as if charged on success only; see the tests).

use serde::{Deserialize, Serialize};

/// A year, as packages count it: 365 days.
pub const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
/// Calls in the free quota a paid API grants per year.
pub const FREE_QUOTA: u64 = 10_000;
/// The package sizes the vendor sells.
pub const PACKAGE_SIZES: [u64; 5] = [100_000, 400_000, 800_000, 4_000_000, 8_000_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The yearly free quota.
    Free,
    /// A package of one of the vendor's sizes.
    Paid,
    /// A package of any size: the emulator's own, for tests that need few calls left.
    Custom,
}

/// A package of calls, valid from `start_ms` for a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub id: u64,
    pub kind: Kind,
    pub calls: u64,
    /// Calls charged, including those of requests still in flight.
    pub used: u64,
    pub start_ms: i64,
    pub expires_ms: i64,
}

impl Package {
    pub fn valid(&self, now_ms: i64) -> bool {
        self.start_ms <= now_ms && now_ms < self.expires_ms
    }

    pub fn available(&self) -> u64 {
        self.calls - self.used
    }

    fn usable(&self, now_ms: i64) -> bool {
        self.valid(now_ms) && self.available() > 0
    }
}

/// Why a call cannot be charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// 51002: neither the free quota claimed nor a package bought.
    NotPurchased,
    /// 51001: every package has expired.
    Expired,
    /// 51003: the valid packages are used up.
    Exhausted,
}

/// Why a claim of the free quota was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyClaimed {
    pub expires_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub packages: Vec<Package>,
    /// The paid package calls are being taken from, finished before anything else.
    pub in_use: Option<u64>,
    next_id: u64,
    /// The number of the latest charge that stands, for [`Ledger::refund`]: one more per
    /// charge, one less when the latest is refunded.
    #[serde(skip)]
    top: u64,
}

/// A call charged to a package, until it is known to have succeeded: hand it back to
/// [`Ledger::refund`] if it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub package: u64,
    /// The charge's number (see `Ledger::top`).
    number: u64,
    /// The package in use before this charge.
    in_use_before: Option<u64>,
}

impl Ledger {
    /// Claims the yearly free quota, unless an unexpired one is held.
    pub fn claim_free(&mut self, now_ms: i64) -> Result<&Package, AlreadyClaimed> {
        if let Some(p) = self.packages.iter().find(|p| p.kind == Kind::Free && now_ms < p.expires_ms) {
            return Err(AlreadyClaimed { expires_ms: p.expires_ms });
        }
        Ok(self.add(Kind::Free, FREE_QUOTA, now_ms))
    }

    /// Adds a bought package of `calls`.
    pub fn buy(&mut self, kind: Kind, calls: u64, now_ms: i64) -> &Package {
        self.add(kind, calls, now_ms)
    }

    fn add(&mut self, kind: Kind, calls: u64, now_ms: i64) -> &Package {
        self.next_id += 1;
        let package =
            Package { id: self.next_id, kind, calls, used: 0, start_ms: now_ms, expires_ms: now_ms + YEAR_MS };
        self.packages.push(package);
        &self.packages[self.packages.len() - 1]
    }

    /// Charges one call to the package the deduction order chooses.
    pub fn charge(&mut self, now_ms: i64) -> Result<Charged, Denied> {
        let id = self.choose(now_ms)?;
        let package = self.packages.iter_mut().find(|p| p.id == id).ok_or(Denied::Exhausted)?;
        package.used += 1;
        let charged = Charged { package: id, number: self.top + 1, in_use_before: self.in_use };
        self.top += 1;
        if package.kind != Kind::Free {
            self.in_use = Some(id);
        }
        Ok(charged)
    }

    /// The call of `charged` failed or was abandoned: it is available again. When it is
    /// the latest charge, the package in use goes back to what it was before it.
    pub fn refund(&mut self, charged: &Charged) {
        if let Some(p) = self.packages.iter_mut().find(|p| p.id == charged.package && p.used > 0) {
            p.used -= 1;
        }
        if charged.number == self.top {
            self.top -= 1;
            self.in_use = charged.in_use_before;
        }
    }

    /// The package the next call would be charged to, or why none can be.
    pub fn choose(&self, now_ms: i64) -> Result<u64, Denied> {
        let in_use = self.in_use.and_then(|id| self.packages.iter().find(|p| p.id == id && p.usable(now_ms)));
        let free = || self.packages.iter().find(|p| p.kind == Kind::Free && p.usable(now_ms));
        // Packages are kept in purchase order, so the first usable one is the earliest.
        let earliest = || self.packages.iter().find(|p| p.kind != Kind::Free && p.usable(now_ms));
        if let Some(p) = in_use.or_else(free).or_else(earliest) {
            return Ok(p.id);
        }
        if self.packages.is_empty() {
            Err(Denied::NotPurchased)
        } else if self.packages.iter().all(|p| !p.valid(now_ms)) {
            Err(Denied::Expired)
        } else {
            Err(Denied::Exhausted)
        }
    }

    /// Marks one call of package `id` used (replaying a journal of calls that succeeded).
    pub fn replay_use(&mut self, id: u64) {
        if let Some(p) = self.packages.iter_mut().find(|p| p.id == id && p.used < p.calls) {
            p.used += 1;
            if p.kind != Kind::Free {
                self.in_use = Some(id);
            }
        }
    }

    /// Calls in valid packages, used or not.
    pub fn valid_calls(&self, now_ms: i64) -> u64 {
        self.packages.iter().filter(|p| p.valid(now_ms)).map(|p| p.calls).sum()
    }

    /// Calls still available in valid packages.
    pub fn remaining(&self, now_ms: i64) -> u64 {
        self.packages.iter().filter(|p| p.valid(now_ms)).map(Package::available).sum()
    }
}

#[cfg(test)]
mod tests;
