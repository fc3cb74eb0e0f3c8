//! # utc — Warden's one UTC calendar
//!
//! Unix seconds as civil UTC dates and times, written as RFC 3339 (`2026-12-04T21:00:00Z`, with
//! milliseconds for STIX, or the date alone), and RFC 3339 text read back as Unix seconds (for API
//! filters such as `since` and `until`). Every crate that shows or reads a UTC timestamp calls this
//! one place, so the calendar arithmetic is written once.
//!
//! The arithmetic is the proleptic Gregorian calendar on days since 1970-01-01 (H. Hinnant's
//! `days_from_civil` / `civil_from_days`), for the years 0000–9999 that RFC 3339 can write. Nothing
//! here panics on input: text that is not RFC 3339 gets an error that says what is wrong.

use std::fmt;

/// Unix seconds of 0000-01-01T00:00:00Z, the first instant written here.
pub const MIN_SECS: i64 = -62_167_219_200;
/// Unix seconds of 9999-12-31T23:59:59Z, the last instant written here.
pub const MAX_SECS: i64 = 253_402_300_799;

/// A civil UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Civil {
    /// 0–9999.
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59.
    pub second: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12); // March is 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in a month of a year (0 for a month that is not 1–12).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Civil {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Civil = Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 };

    /// The civil UTC time of Unix seconds, if its year is 0000–9999.
    pub fn from_unix(secs: i64) -> Option<Civil> {
        if !(MIN_SECS..=MAX_SECS).contains(&secs) {
            return None;
        }
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400) as u32;
        Some(Civil { year, month, day, hour: s / 3600, minute: s / 60 % 60, second: s % 60 })
    }

    /// Unix seconds.
    pub fn unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Civil {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), self.hour, self.minute, self.second)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds; `None` outside the years 0000–9999.
pub fn rfc3339(secs: i64) -> Option<String> {
    Civil::from_unix(secs).map(|c| c.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` (millisecond precision, as STIX 2.1 asks for `created` and
/// `modified`); `None` outside the years 0000–9999.
pub fn rfc3339_millis(secs: i64) -> Option<String> {
    Civil::from_unix(secs).map(|c| format!("{}T{:02}:{:02}:{:02}.000Z", c.date(), c.hour, c.minute, c.second))
}

/// `YYYY-MM-DD` of Unix seconds; `None` outside the years 0000–9999.
pub fn date(secs: i64) -> Option<String> {
    Civil::from_unix(secs).map(|c| c.date())
}

/// Why text is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} (RFC 3339, e.g. 2026-12-04T21:00:00Z or 2026-12-04T22:00:00+01:00)")]
pub struct ParseError(String);

/// Reads an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS`, optional fraction of a second
/// (dropped: the result is whole seconds, rounded down), then `Z` or `±HH:MM`. `T` and `Z` may be
/// lower case. A leap second (`:60`) reads as the second after `:59`.
pub fn parse_rfc3339(text: &str) -> Result<i64, ParseError> {
    let err = |what: &str| ParseError(format!("{text:?}: {what}"));
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let (Some(year), true, Some(month), true, Some(day)) = (num(0, 4), at(4, b'-'), num(5, 2), at(7, b'-'), num(8, 2))
    else {
        return Err(err("the date is not YYYY-MM-DD"));
    };
    if !at(10, b'T') {
        return Err(err("a 'T' must separate the date and the time"));
    }
    let (Some(hour), true, Some(minute), true, Some(second)) =
        (num(11, 2), at(13, b':'), num(14, 2), at(16, b':'), num(17, 2))
    else {
        return Err(err("the time is not HH:MM:SS"));
    };
    let year = i64::from(year);
    if !(1..=12).contains(&month) {
        return Err(err(&format!("month {month} is not 1–12")));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(err(&format!("{year:04}-{month:02} has no day {day}")));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err(&format!("{hour:02}:{minute:02}:{second:02} is not a time of day")));
    }
    let mut i = 19;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err("a '.' must be followed by digits"));
        }
        i += 1 + digits;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let (Some(h), true, Some(m)) = (num(i + 1, 2), at(i + 3, b':'), num(i + 4, 2)) else {
                return Err(err("the offset is not ±HH:MM"));
            };
            if h > 23 || m > 59 {
                return Err(err("the offset is not ±HH:MM"));
            }
            let o = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        None => return Err(err("the time zone is missing (Z or ±HH:MM)")),
        _ => return Err(err("the time zone is not Z or ±HH:MM, or text follows it")),
    };
    let local = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Ok(local - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z", "a leap day of a year / 400");
        assert_eq!(rfc3339(2_147_483_648).unwrap(), "2038-01-19T03:14:08Z", "the second after i32");
        assert_eq!(rfc3339(4_107_542_399).unwrap(), "2100-02-28T23:59:59Z", "2100 is no leap year");
        assert_eq!(rfc3339(-1).unwrap(), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_millis(1_796_299_200).unwrap(), "2026-12-03T12:00:00.000Z");
        assert_eq!(date(951_868_799).unwrap(), "2000-02-29");
        assert_eq!(rfc3339(MIN_SECS).unwrap(), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(MAX_SECS).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!((rfc3339(MIN_SECS - 1), rfc3339(MAX_SECS + 1)), (None, None));
        assert_eq!(rfc3339(i64::MIN), None);
        assert_eq!(Civil::from_unix(0), Some(Civil::EPOCH));
        assert_eq!(Civil::EPOCH.unix(), 0);
    }

    #[test]
    fn parses_known_dates_and_offsets() {
        for (text, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("2038-01-19T03:14:08Z", 2_147_483_648),
            ("2038-01-19t03:14:08z", 2_147_483_648),
            ("2038-01-19T04:14:08+01:00", 2_147_483_648),
            ("2038-01-18T22:14:08-05:00", 2_147_483_648),
            ("2038-01-19T03:14:08.999Z", 2_147_483_648),
            ("1998-12-31T23:59:60Z", 915_148_800),
            ("1969-12-31T23:59:59Z", -1),
        ] {
            assert_eq!(parse_rfc3339(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_rfc_3339_and_says_why() {
        for (text, why) in [
            ("", "YYYY-MM-DD"),
            ("1733346000", "YYYY-MM-DD"),
            ("2026-12-04", "'T'"),
            ("2026-12-04 21:00:00Z", "'T'"),
            ("2026-12-04T21:00Z", "HH:MM:SS"),
            ("2026-13-01T00:00:00Z", "month 13"),
            ("2025-02-29T00:00:00Z", "no day 29"),
            ("2026-04-31T00:00:00Z", "no day 31"),
            ("2026-12-04T24:00:00Z", "not a time of day"),
            ("2026-12-04T21:00:00", "missing"),
            ("2026-12-04T21:00:00+0100", "±HH:MM"),
            ("2026-12-04T21:00:00+24:00", "±HH:MM"),
            ("2026-12-04T21:00:00ZZ", "not Z"),
            ("2026-12-04T21:00:00.Z", "digits"),
            ("２026-12-04T21:00:00Z", "YYYY-MM-DD"),
        ] {
            let e = parse_rfc3339(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    proptest! {
        /// The `time` crate (not written here) writes the same text for every second of 0000–9999,
        /// and the text reads back as the same second.
        #[test]
        fn agrees_with_the_time_crate_and_round_trips(secs in MIN_SECS..=MAX_SECS) {
            let ours = rfc3339(secs).unwrap();
            let theirs = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            prop_assert_eq!(&ours, &theirs.format(&format).unwrap());
            prop_assert_eq!(parse_rfc3339(&ours), Ok(secs));
        }
    }
}
