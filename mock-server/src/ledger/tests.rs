//! The ledger against a plain reference model, driven by random sequences of purchases,
//! claims, calls (reserved, then settled as success or failure), and clock moves.

use super::*;
use proptest::prelude::*;

/// The rules of DIGEST §3 written out as directly as possible.
#[derive(Debug, Default, Clone)]
struct Model {
    /// (free?, calls, used, reserved, bought at); purchase order.
    packages: Vec<(bool, u64, u64, u64, i64)>,
    in_use: Option<usize>,
}

impl Model {
    fn valid(&self, i: usize, now: i64) -> bool {
        let bought = self.packages[i].4;
        now >= bought && now - bought < YEAR_MS
    }

    fn left(&self, i: usize) -> u64 {
        let (_, calls, used, reserved, _) = self.packages[i];
        calls - used - reserved
    }

    fn reserve(&mut self, now: i64) -> Result<usize, Denied> {
        let usable: Vec<usize> = (0..self.packages.len()).filter(|&i| self.valid(i, now) && self.left(i) > 0).collect();
        let rank = |i: &usize| match (Some(*i) == self.in_use, self.packages[*i].0) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2 + *i,
        };
        match usable.iter().min_by_key(|i| rank(i)) {
            Some(&i) => {
                self.packages[i].3 += 1;
                Ok(i)
            }
            None if self.packages.is_empty() => Err(Denied::NotPurchased),
            None if (0..self.packages.len()).all(|i| !self.valid(i, now)) => Err(Denied::Expired),
            None => Err(Denied::Exhausted),
        }
    }

    fn settle(&mut self, i: usize, ok: bool) {
        self.packages[i].3 -= 1;
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
    Reserve,
    /// Settles the n-th pending reservation (modulo their count).
    Settle(usize, bool),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1u64..6).prop_map(Op::Buy),
        1 => Just(Op::Claim),
        6 => Just(Op::Reserve),
        6 => (any::<usize>(), any::<bool>()).prop_map(|(n, ok)| Op::Settle(n, ok)),
        1 => prop_oneof![0i64..1000, Just(YEAR_MS / 2), Just(YEAR_MS)].prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut ledger = Ledger::default();
        let mut model = Model::default();
        let mut now = 1_700_000_000_000i64;
        let mut pending: Vec<(u64, usize)> = Vec::new();
        for op in ops {
            match op {
                Op::Buy(calls) => {
                    ledger.buy(Kind::Custom, calls, now);
                    model.packages.push((false, calls, 0, 0, now));
                }
                Op::Claim => {
                    let model_can = !model.packages.iter().any(|p| p.0 && now - p.4 < YEAR_MS);
                    prop_assert_eq!(ledger.claim_free(now).is_ok(), model_can);
                    if model_can {
                        model.packages.push((true, FREE_QUOTA, 0, 0, now));
                    }
                }
                Op::Reserve => match (ledger.reserve(now), model.reserve(now)) {
                    (Ok(id), Ok(i)) => {
                        prop_assert_eq!(ledger.packages[i].id, id, "charged a different package");
                        pending.push((id, i));
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "ledger {:?}, model {:?}", a, b),
                },
                Op::Settle(n, ok) if !pending.is_empty() => {
                    let (id, i) = pending.swap_remove(n % pending.len());
                    if ok { ledger.commit(id) } else { ledger.release(id) }
                    model.settle(i, ok);
                }
                Op::Settle(..) => {}
                Op::Advance(ms) => now += ms,
            }
            for (p, m) in ledger.packages.iter().zip(&model.packages) {
                prop_assert_eq!((p.used, p.reserved), (m.2, m.3));
                prop_assert!(p.used + p.reserved <= p.calls);
            }
        }
    }
}

#[test]
fn the_paid_package_in_use_is_finished_before_the_free_quota() {
    let mut ledger = Ledger::default();
    let now = 0;
    ledger.buy(Kind::Custom, 2, now);
    let first = ledger.reserve(now).expect("a call");
    ledger.commit(first);
    ledger.claim_free(now).expect("claim");
    ledger.buy(Kind::Custom, 5, now);
    // The custom package of 2 is in use: its last call comes first, then the free quota.
    assert_eq!(ledger.reserve(now), Ok(1));
    ledger.commit(1);
    assert_eq!(ledger.reserve(now), Ok(2));
}

#[test]
fn codes_follow_the_state_of_the_packages() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.reserve(0), Err(Denied::NotPurchased));
    ledger.buy(Kind::Custom, 1, 0);
    let id = ledger.reserve(0).expect("a call");
    assert_eq!(ledger.reserve(0), Err(Denied::Exhausted), "the only call is reserved");
    ledger.release(id);
    assert_eq!(ledger.reserve(YEAR_MS), Err(Denied::Expired));
}
