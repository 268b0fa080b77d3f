//! The server's clock: system time plus an offset that tests and users can move, and the
//! `eop-date` format (Beijing time, UTC+8, written with a literal `Z`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds Beijing time is ahead of UTC.
pub const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

/// A cheaply cloned handle on one shared clock. Every clone sees every move.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time. An atomic, not a lock: it is read on every
    /// request and written only when a test moves time.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock, not moved.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in milliseconds since the Unix epoch (UTC).
    pub fn now_ms(&self) -> i64 {
        system_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, in seconds since the Unix epoch (UTC).
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Makes the clock read `unix_ms` now; it keeps ticking from there.
    pub fn set_ms(&self, unix_ms: i64) {
        self.offset_ms.store(unix_ms - system_ms(), Ordering::Relaxed);
    }

    /// Moves the clock by `delta_ms` (negative moves it back).
    pub fn advance_ms(&self, delta_ms: i64) {
        self.offset_ms.fetch_add(delta_ms, Ordering::Relaxed);
    }
}

fn system_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Formats Unix seconds as an `eop-date` in Beijing time: `yyyymmddTHHMMSSZ`.
pub fn format_eop_date(unix_secs: i64) -> String {
    format_compact(unix_secs + BEIJING_OFFSET_SECS)
}

/// Formats Unix seconds as `yyyymmddTHHMMSSZ` in UTC (what a client gets wrong).
pub fn format_compact(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Parses an `eop-date` read as Beijing time into Unix seconds. `None` unless the text is
/// exactly `yyyymmddTHHMMSSZ` with a real date and time.
pub fn parse_eop_date(text: &str) -> Option<i64> {
    parse_compact(text).map(|secs| secs - BEIJING_OFFSET_SECS)
}

fn parse_compact(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let valid_day = (1..=days_in_month(y, mo)).contains(&d);
    if !(1..=12).contains(&mo) || !valid_day || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms (public domain), proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A duration written as a number and a unit: `500ms`, `90s`, `15m`, `2h`, `366d`, `1y`
/// (365 days); negative allowed. `None` when malformed or out of range.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.trim().parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "y" => 365 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_beijing_time_with_a_literal_z() {
        // 2021-12-21T08:30:14Z is 16:30:14 in Beijing.
        assert_eq!(format_eop_date(1_640_075_414), "20211221T163014Z");
        assert_eq!(parse_eop_date("20211221T163014Z"), Some(1_640_075_414));
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in ["20210230T000000Z", "20211221T240000Z", "20211221 163014Z", "2021122T163014Z"] {
            assert_eq!(parse_eop_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_moved_clock_is_seen_by_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        clock.set_ms(1_000_000);
        assert!((other.now_ms() - 1_000_000).abs() < 1_000);
        other.advance_ms(-500_000);
        assert!((clock.now_ms() - 500_000).abs() < 1_000);
    }

    proptest! {
        #[test]
        fn format_and_parse_round_trip(secs in -2_000_000_000i64..8_000_000_000) {
            prop_assert_eq!(parse_eop_date(&format_eop_date(secs)), Some(secs));
        }
    }

    #[test]
    fn durations_read_their_units() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("-15m"), Some(-900_000));
        assert_eq!(parse_duration_ms("1y"), Some(365 * 86_400_000));
        assert_eq!(parse_duration_ms("3 weeks"), None);
        assert_eq!(parse_duration_ms("d"), None);
    }
}
