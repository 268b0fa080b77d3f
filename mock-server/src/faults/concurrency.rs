//! The per-app concurrency limit, a failure the client meets without asking: how many
//! requests of each app are being served, against the app's `max_concurrency`. A call over
//! the limit is refused 40029 / HTTP 429, and (like every 40029, see `apply`) carries
//! `Retry-After: 2`, its reason ending `retry after 2 s`. Its own lock, apart from the
//! accounts: a place is taken before billing and given back when the response is written.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::catalogue::code;
use crate::refuse;
use crate::registry::App;
use crate::respond::Refusal;

/// The seconds a client is told to wait after a 40029: the manual's FAQ advises backing
/// off 2–5 s on a concurrency error, and the shortest advised wait is what a well-behaved
/// client needs to see honoured.
pub const RETRY_AFTER_S: u64 = 2;

/// Requests in flight, per appkey.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    /// appkey → requests being served now. A std `Mutex`: one map update per request.
    in_flight: Mutex<HashMap<String, u32>>,
}

/// A place in an app's concurrency limit, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    limits: &'a Limits,
    appkey: String,
}

impl Limits {
    /// Takes a place among the app's requests in flight, or refuses the call (40029) when
    /// the app's limit is reached. Apps without a limit are counted too, so a limit set
    /// while requests are in flight counts them.
    pub fn enter(&self, app: &App) -> Result<Slot<'_>, Refusal> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let n = in_flight.entry(app.appkey.clone()).or_default();
        if app.max_concurrency.is_some_and(|limit| *n >= limit) {
            return Err(refuse!(
                code::THROTTLED,
                "app `{}` already has {n} requests in flight, its max_concurrency",
                app.name
            ));
        }
        *n += 1;
        Ok(Slot { limits: self, appkey: app.appkey.clone() })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.limits.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = in_flight.get_mut(&self.appkey) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_given_back_when_its_slot_drops() {
        let limits = Limits::default();
        let app = App { max_concurrency: Some(1), ..App::new("cams", "", "k") };
        let slot = limits.enter(&app).expect("a free place");
        let refusal = limits.enter(&app).expect_err("the app is at its limit");
        assert_eq!(refusal.code, code::THROTTLED);
        // `apply` adds "; retry after 2 s" to the reason, with the header.
        assert_eq!(refusal.reason, "app `cams` already has 1 requests in flight, its max_concurrency");
        drop(slot);
        assert!(limits.enter(&app).is_ok());
    }
}
