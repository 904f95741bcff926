//! Calendar days as consents and care-team records use them.
//!
//! A practitioner types days (`--expires 2025-06-30`, `--informed-on
//! 2025-01-15`) and means them in French legal time. The protocol reads no
//! time zone database: [`french_date`] applies the rule of metropolitan
//! France (CET, UTC+1; CEST, UTC+2, from the last Sunday of March at 01:00
//! UTC to the last Sunday of October at 01:00 UTC, the EU rule since 1996).
//! Overseas practices see the same day boundaries as Paris.

use time::{Date, Duration, Month, OffsetDateTime};

use crate::time::UnixTime;

/// Why a written day is refused. No variant carries the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not written `YYYY-MM-DD`.
    #[error("a day is written YYYY-MM-DD")]
    Format,
    /// Not a day of the calendar (a 30 February), or year 0000.
    #[error("not a day of the calendar")]
    NotReal,
}

/// Length of a written day, `YYYY-MM-DD`.
pub const DATE_LEN: usize = 10;

/// Parses a day written exactly `YYYY-MM-DD` (years 0001 to 9999).
pub fn parse_date(s: &str) -> Result<Date, DateError> {
    let b = s.as_bytes();
    let shape = b.len() == DATE_LEN
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(DateError::Format);
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    date_from_ymd(year, month, day)
}

/// A day from its numbers (years 1 to 9999).
pub(crate) fn date_from_ymd(year: u16, month: u16, day: u16) -> Result<Date, DateError> {
    if !(1..=9999).contains(&year) {
        return Err(DateError::NotReal);
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(DateError::NotReal)?;
    let day = u8::try_from(day).map_err(|_| DateError::NotReal)?;
    Date::from_calendar_date(i32::from(year), month, day).map_err(|_| DateError::NotReal)
}

/// Whether a day can be written `YYYY-MM-DD` (years 1 to 9999).
pub(crate) fn is_writable(d: Date) -> bool {
    (1..=9999).contains(&d.year())
}

/// The written form, `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The day `at` falls on in the legal time of metropolitan France, or
/// `None` if `at` is outside the calendar's range.
pub fn french_date(at: UnixTime) -> Option<Date> {
    let utc = OffsetDateTime::from_unix_timestamp(at.as_secs()).ok()?;
    let hours = if summer_time(utc) { 2 } else { 1 };
    utc.checked_add(Duration::hours(hours)).map(|t| t.date())
}

/// Whether the EU summer time (CEST) is in force at `utc`.
fn summer_time(utc: OffsetDateTime) -> bool {
    let year = utc.year();
    match (
        last_sunday_1am_utc(year, Month::March),
        last_sunday_1am_utc(year, Month::October),
    ) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    }
}

/// 01:00 UTC on the last Sunday of `month` (a month of 31 days).
fn last_sunday_1am_utc(year: i32, month: Month) -> Option<OffsetDateTime> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    let back = i64::from(last.weekday().number_days_from_sunday());
    let sunday = last.checked_sub(Duration::days(back))?;
    Some(sunday.with_hms(1, 0, 0).ok()?.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> UnixTime {
        UnixTime::parse_rfc3339(s).expect("instant")
    }

    fn day(s: &str) -> Date {
        parse_date(s).expect("day")
    }

    #[test]
    fn days_parse_exactly() {
        assert_eq!(format_date(day("2025-06-30")), "2025-06-30");
        assert_eq!(format_date(day("0001-01-01")), "0001-01-01");
        assert_eq!(parse_date("2025-6-30"), Err(DateError::Format));
        assert_eq!(parse_date("2025/06/30"), Err(DateError::Format));
        assert_eq!(parse_date(" 2025-06-30"), Err(DateError::Format));
        assert_eq!(parse_date("2025-06-3x"), Err(DateError::Format));
        assert_eq!(parse_date(""), Err(DateError::Format));
        assert_eq!(parse_date("2025-02-30"), Err(DateError::NotReal));
        assert_eq!(parse_date("2025-13-01"), Err(DateError::NotReal));
        assert_eq!(parse_date("2025-00-10"), Err(DateError::NotReal));
        assert_eq!(parse_date("0000-01-01"), Err(DateError::NotReal));
    }

    #[test]
    fn winter_days_end_at_23_utc() {
        // CET: UTC+1.
        assert_eq!(
            french_date(at("2025-01-15T22:59:59Z")),
            Some(day("2025-01-15"))
        );
        assert_eq!(
            french_date(at("2025-01-15T23:00:00Z")),
            Some(day("2025-01-16"))
        );
        assert_eq!(
            french_date(at("2024-12-31T23:30:00Z")),
            Some(day("2025-01-01"))
        );
    }

    #[test]
    fn summer_days_end_at_22_utc() {
        // CEST: UTC+2.
        assert_eq!(
            french_date(at("2025-06-30T21:59:59Z")),
            Some(day("2025-06-30"))
        );
        assert_eq!(
            french_date(at("2025-06-30T22:00:00Z")),
            Some(day("2025-07-01"))
        );
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_last_sundays() {
        // 2025: Sunday 30 March and Sunday 26 October, at 01:00 UTC.
        assert!(!summer_time(at_odt("2025-03-30T00:59:59Z")));
        assert!(summer_time(at_odt("2025-03-30T01:00:00Z")));
        assert!(summer_time(at_odt("2025-10-26T00:59:59Z")));
        assert!(!summer_time(at_odt("2025-10-26T01:00:00Z")));
        // 2024: Sunday 31 March (the 31st itself) and Sunday 27 October.
        assert!(!summer_time(at_odt("2024-03-31T00:59:59Z")));
        assert!(summer_time(at_odt("2024-03-31T01:00:00Z")));
        assert!(!summer_time(at_odt("2024-10-27T01:00:00Z")));
    }

    fn at_odt(s: &str) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(at(s).as_secs()).expect("in range")
    }

    #[test]
    fn out_of_range_instants_have_no_day() {
        assert_eq!(french_date(UnixTime::from_secs(i64::MAX)), None);
    }
}
