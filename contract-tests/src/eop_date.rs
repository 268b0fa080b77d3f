//! The `eop-date` header: `yyyymmddTHHMMSSZ` in Beijing time (UTC+8, despite the `Z`), as
//! the vendor's clients send it (DIGEST §1). Formatting and parsing use the proleptic
//! Gregorian calendar's day-number arithmetic, so any Unix second round-trips.

/// Beijing time's offset from UTC, in seconds.
pub const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

/// Unix seconds as an `eop-date` (Beijing time), what a correct client sends.
pub fn format(unix_secs: i64) -> String {
    format_with_offset(unix_secs, BEIJING_OFFSET_SECS)
}

/// Unix seconds as `yyyymmddTHHMMSSZ` after adding `offset_secs` (0 gives the UTC text a
/// client gets wrong).
pub fn format_with_offset(unix_secs: i64, offset_secs: i64) -> String {
    let t = unix_secs + offset_secs;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// An `eop-date` read as Beijing time, in Unix seconds; `None` unless the text is exactly
/// `yyyymmddTHHMMSSZ` naming a real day and time.
pub fn parse(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        digits.bytes().all(|c| c.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (y, m, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hh, mm, ss) = (num(9, 11)?, num(11, 13)?, num(13, 15)?);
    if !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - BEIJING_OFFSET_SECS)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 as (year, month, day), counting in 400-year eras that start on
/// 1 March (so the leap day ends each year).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let shifted_month = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Walks the calendar a year and a month at a time: slow, but obviously right.
    fn walked(days: i64) -> (i64, i64, i64) {
        let (mut year, mut day) = (1970, days);
        while day < 0 {
            year -= 1;
            day += if is_leap(year) { 366 } else { 365 };
        }
        while day >= if is_leap(year) { 366 } else { 365 } {
            day -= if is_leap(year) { 366 } else { 365 };
            year += 1;
        }
        let mut month = 1;
        while day >= days_in_month(year, month) {
            day -= days_in_month(year, month);
            month += 1;
        }
        (year, month, day + 1)
    }

    #[test]
    fn formats_the_manuals_date_and_dates_across_years() {
        assert_eq!(format(1_640_075_414), "20211221T163014Z");
        assert_eq!(format_with_offset(0, 0), "19700101T000000Z");
        assert_eq!(format_with_offset(951_825_600, 0), "20000229T120000Z");
        assert_eq!(format_with_offset(-1, 0), "19691231T235959Z");
        assert_eq!(format_with_offset(4_107_542_400, 0), "21000301T000000Z");
    }

    #[test]
    fn parses_the_manuals_date_as_beijing_time() {
        assert_eq!(parse("20211221T163014Z"), Some(1_640_075_414));
        assert_eq!(parse("19700101T080000Z"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_a_real_compact_date() {
        for bad in [
            "20210230T000000Z",
            "21000229T000000Z",
            "20211221T240000Z",
            "20211221T236000Z",
            "20211221 163014Z",
            "2021122T163014Z",
            "2021-12-21T16:30",
            "2021122xT163014Z",
            "+0211221T163014Z",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("20000229T000000Z").map(format), Some("20000229T000000Z".into()));
    }

    proptest! {
        #[test]
        fn day_arithmetic_agrees_with_walking_the_calendar(days in -200_000i64..200_000) {
            prop_assert_eq!(civil_from_days(days), walked(days));
            let (y, m, d) = walked(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn format_and_parse_round_trip(secs in -2_000_000_000i64..8_000_000_000) {
            prop_assert_eq!(parse(&format(secs)), Some(secs));
        }
    }
}
