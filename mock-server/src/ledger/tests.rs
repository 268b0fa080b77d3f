//! The ledger against plain reference models, driven by random sequences of purchases,
//! claims, calls (charged, then kept on success or refunded on failure), and clock moves.
//!
//! Two models: one that follows the ledger's own rule for any interleaving of calls, and
//! the rule of DIGEST §3 as first written (reserve, then commit on success or release),
//! which calls made one after another must match exactly.

use super::*;
use proptest::prelude::*;

/// One package of a model: (free?, calls, used, bought at).
type Pack = (bool, u64, u64, i64);

fn valid(p: &Pack, now: i64) -> bool {
    now >= p.3 && now - p.3 < YEAR_MS
}

/// The deduction order: the package in use, then the free quota, then the earliest paid.
fn choose(packages: &[Pack], left: impl Fn(usize) -> u64, in_use: Option<usize>, now: i64) -> Result<usize, Denied> {
    let usable: Vec<usize> = (0..packages.len()).filter(|&i| valid(&packages[i], now) && left(i) > 0).collect();
    let rank = |i: &usize| match (Some(*i) == in_use, packages[*i].0) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2 + *i,
    };
    match usable.iter().min_by_key(|i| rank(i)) {
        Some(&i) => Ok(i),
        None if packages.is_empty() => Err(Denied::NotPurchased),
        None if packages.iter().all(|p| !valid(p, now)) => Err(Denied::Expired),
        None => Err(Denied::Exhausted),
    }
}

/// Charge at once, refund on failure; a refund of the latest standing charge puts the
/// package in use back.
#[derive(Debug, Default, Clone)]
struct Charging {
    packages: Vec<Pack>,
    in_use: Option<usize>,
    /// Charges standing, in order: (package, in use before it). Refunding the last pops it.
    stack: Vec<(usize, Option<usize>)>,
}

impl Charging {
    fn charge(&mut self, now: i64) -> Result<(usize, usize), Denied> {
        let i = choose(&self.packages, |i| self.packages[i].1 - self.packages[i].2, self.in_use, now)?;
        self.packages[i].2 += 1;
        self.stack.push((i, self.in_use));
        if !self.packages[i].0 {
            self.in_use = Some(i);
        }
        Ok((i, self.stack.len()))
    }

    fn refund(&mut self, i: usize, number: usize) {
        self.packages[i].2 -= 1;
        if number == self.stack.len() {
            if let Some((_, before)) = self.stack.pop() {
                self.in_use = before;
            }
        }
    }
}

/// Reserve, then commit on success (the package becomes the one in use) or release.
#[derive(Debug, Default, Clone)]
struct Reserving {
    packages: Vec<Pack>,
    reserved: Vec<u64>,
    in_use: Option<usize>,
}

impl Reserving {
    fn reserve(&mut self, now: i64) -> Result<usize, Denied> {
        let left = |i: usize| self.packages[i].1 - self.packages[i].2 - self.reserved[i];
        let i = choose(&self.packages, left, self.in_use, now)?;
        self.reserved[i] += 1;
        Ok(i)
    }

    fn settle(&mut self, i: usize, ok: bool) {
        self.reserved[i] -= 1;
        if ok {
            self.packages[i].2 += 1;
            if !self.packages[i].0 {
                self.in_use = Some(i);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Buy(u64),
    Claim,
    Charge,
    /// Settles the n-th call in flight (modulo their count).
    Settle(usize, bool),
    /// A call charged and settled before anything else happens.
    Call(bool),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1u64..6).prop_map(Op::Buy),
        1 => Just(Op::Claim),
        6 => Just(Op::Charge),
        6 => (any::<usize>(), any::<bool>()).prop_map(|(n, ok)| Op::Settle(n, ok)),
        1 => prop_oneof![0i64..1000, Just(YEAR_MS / 2), Just(YEAR_MS)].prop_map(Op::Advance),
    ]
}

fn sequential_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1u64..6).prop_map(Op::Buy),
        1 => Just(Op::Claim),
        8 => any::<bool>().prop_map(Op::Call),
        1 => prop_oneof![0i64..1000, Just(YEAR_MS / 2), Just(YEAR_MS)].prop_map(Op::Advance),
    ]
}

/// Buys or claims on the ledger and returns the package a model should add, if any.
fn purchase(ledger: &mut Ledger, packages: &[Pack], op: &Op, now: i64) -> Option<Pack> {
    match op {
        Op::Buy(calls) => {
            ledger.buy(Kind::Custom, *calls, now);
            Some((false, *calls, 0, now))
        }
        Op::Claim => {
            let model_can = !packages.iter().any(|p| p.0 && now - p.3 < YEAR_MS);
            assert_eq!(ledger.claim_free(now).is_ok(), model_can, "claim at {now}");
            model_can.then_some((true, FREE_QUOTA, 0, now))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_matches_the_charging_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut ledger = Ledger::default();
        let mut model = Charging::default();
        let mut now = 1_700_000_000_000i64;
        let mut in_flight: Vec<(Charged, usize, usize)> = Vec::new();
        for op in ops {
            match op {
                Op::Buy(_) | Op::Claim => {
                    if let Some(p) = purchase(&mut ledger, &model.packages, &op, now) {
                        model.packages.push(p);
                    }
                }
                Op::Charge => match (ledger.charge(now), model.charge(now)) {
                    (Ok(charged), Ok((i, number))) => {
                        prop_assert_eq!(ledger.packages[i].id, charged.package, "charged a different package");
                        in_flight.push((charged, i, number));
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "ledger {:?}, model {:?}", a, b),
                },
                Op::Settle(n, ok) if !in_flight.is_empty() => {
                    let (charged, i, number) = in_flight.remove(n % in_flight.len());
                    if !ok {
                        ledger.refund(&charged);
                        model.refund(i, number);
                    }
                }
                Op::Settle(..) | Op::Call(_) => {}
                Op::Advance(ms) => now += ms,
            }
            for (p, m) in ledger.packages.iter().zip(&model.packages) {
                prop_assert_eq!(p.used, m.2);
                prop_assert!(p.used <= p.calls);
            }
            prop_assert_eq!(ledger.in_use, model.in_use.map(|i| ledger.packages[i].id));
        }
    }

    #[test]
    fn calls_one_after_another_are_charged_as_reserve_then_commit(
        ops in proptest::collection::vec(sequential_op(), 1..120),
    ) {
        let mut ledger = Ledger::default();
        let mut model = Reserving::default();
        let mut now = 1_700_000_000_000i64;
        for op in ops {
            match op {
                Op::Buy(_) | Op::Claim => {
                    if let Some(p) = purchase(&mut ledger, &model.packages, &op, now) {
                        model.packages.push(p);
                        model.reserved.push(0);
                    }
                }
                Op::Call(ok) => match (ledger.charge(now), model.reserve(now)) {
                    (Ok(charged), Ok(i)) => {
                        prop_assert_eq!(ledger.packages[i].id, charged.package, "charged a different package");
                        if !ok {
                            ledger.refund(&charged);
                        }
                        model.settle(i, ok);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "ledger {:?}, model {:?}", a, b),
                },
                Op::Charge | Op::Settle(..) => {}
                Op::Advance(ms) => now += ms,
            }
            for (p, m) in ledger.packages.iter().zip(&model.packages) {
                prop_assert_eq!(p.used, m.2);
            }
            prop_assert_eq!(ledger.in_use, model.in_use.map(|i| ledger.packages[i].id));
        }
    }
}

#[test]
fn the_paid_package_in_use_is_finished_before_the_free_quota() {
    let mut ledger = Ledger::default();
    let now = 0;
    ledger.buy(Kind::Custom, 2, now);
    ledger.charge(now).expect("a call");
    ledger.claim_free(now).expect("claim");
    ledger.buy(Kind::Custom, 5, now);
    // The custom package of 2 is in use: its last call comes first, then the free quota.
    assert_eq!(ledger.charge(now).map(|c| c.package), Ok(1));
    assert_eq!(ledger.charge(now).map(|c| c.package), Ok(2));
}

#[test]
fn a_refunded_call_leaves_no_trace() {
    let mut ledger = Ledger::default();
    ledger.buy(Kind::Custom, 1, 0);
    let before = ledger.clone();
    let charged = ledger.charge(0).expect("a call");
    assert_eq!((ledger.in_use, ledger.remaining(0)), (Some(1), 0));
    ledger.refund(&charged);
    assert_eq!(ledger, before);
}

#[test]
fn codes_follow_the_state_of_the_packages() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.charge(0), Err(Denied::NotPurchased));
    ledger.buy(Kind::Custom, 1, 0);
    let charged = ledger.charge(0).expect("a call");
    assert_eq!(ledger.charge(0), Err(Denied::Exhausted), "the only call is charged");
    ledger.refund(&charged);
    assert_eq!(ledger.charge(YEAR_MS), Err(Denied::Expired));
}
