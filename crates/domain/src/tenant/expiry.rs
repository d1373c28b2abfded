//! A tenant's end (`expiresAt`): the rules an end must pass when it is set, and where the
//! sweep stands with a tenant that has one.
//!
//! The sweep finds tenants by an index on what it must do next, never by reading them all:
//! a tenant not yet warned is watched at its end ([`ExpiryStage::Ahead`]: the sweep asks
//! for those ending within the warning window), a warned one at the moment it is due
//! ([`ExpiryStage::Due`]: its end, or, once deletion protection kept it past its end, a
//! day after that was last reported). So a tenant the sweep has dealt with leaves the
//! part of the index the next sweep reads, and cannot crowd out those behind it.

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::error::Error;

/// The latest end that may be set, from now: a control plane is not a place for records
/// meant to outlive the people who asked for them, and a typo of a year (2207 for 2027)
/// must not become a tenant that never ends.
pub const MAX_AHEAD: Duration = Duration::days(5 * 365 + 1);

/// How often deletion protection keeping a tenant past its end is reported again.
pub const BLOCKED_REPORT_EVERY: Duration = Duration::days(1);

/// Days of warning before a tenant's end, unless configured (`TENANCY_EXPIRY_WARNING_DAYS`).
pub const DEFAULT_WARNING_DAYS: i64 = 7;

/// The warnings that may be configured, in days: 0 sends none.
pub const WARNING_DAYS: std::ops::RangeInclusive<i64> = 0..=365;

/// What the sweep does next with a tenant that has an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpiryStage {
    /// Not yet warned: watched at its end; the sweep warns once it is within the window
    /// (and deletes it, or reports it, if it ended before it was ever warned).
    Ahead,
    /// Warned (or reported): watched at the moment it is due for deletion or for the next
    /// report.
    Due,
}

/// Where a tenant stands with the sweep: the stage, and the instant that orders it in
/// the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryWatch {
    /// The stage.
    pub stage: ExpiryStage,
    /// Its end (`Ahead`), or when it is due (`Due`).
    pub at: OffsetDateTime,
}

/// The end of `text`'s day in UTC (its last second), `text` being a date `YYYY-MM-DD`.
/// Strict: exactly four, two and two digits, a real calendar day.
pub fn end_of_day(field: &str, text: &str) -> Result<OffsetDateTime, Error> {
    let refuse =
        || Error::invalid(field, format!("'{}' is not a date YYYY-MM-DD", text.chars().take(32).collect::<String>()));
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(refuse());
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u16>().map_err(|_| refuse());
    let month = Month::try_from(number(5..7)? as u8).map_err(|_| refuse())?;
    let date = Date::from_calendar_date(i32::from(number(0..4)?), month, number(8..10)? as u8).map_err(|_| refuse())?;
    let last_second = Time::from_hms(23, 59, 59).map_err(|_| refuse())?;
    Ok(date.with_time(last_second).assume_utc())
}

/// Checks an end being set now: in the future, and at most [`MAX_AHEAD`] away.
pub fn check_new(field: &str, at: OffsetDateTime, now: OffsetDateTime) -> Result<(), Error> {
    let shown = at.format(&Rfc3339).unwrap_or_default();
    if at <= now {
        return Err(Error::invalid(field, format!("{shown} is not in the future; a tenant's end must be")));
    }
    if at > now + MAX_AHEAD {
        return Err(Error::invalid(
            field,
            format!("{shown} is more than {} days ahead; set a nearer end and extend it later", MAX_AHEAD.whole_days()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_date_ends_at_the_last_second_of_its_day_in_utc() {
        assert_eq!(end_of_day("expires", "2027-06-30").unwrap(), datetime!(2027-06-30 23:59:59 UTC));
        assert_eq!(end_of_day("expires", "2028-02-29").unwrap(), datetime!(2028-02-29 23:59:59 UTC));
    }

    #[test]
    fn only_real_dates_in_the_one_shape_are_read() {
        for bad in [
            "",
            "2027-6-30",
            "2027-06-31",
            "2027-02-29",
            "27-06-30",
            "+027-06-30",
            "2027/06/30",
            "2027-06-30T00:00:00Z",
            "２０２７-06-30",
            "2027-13-01",
            "2027-00-10",
        ] {
            let error = end_of_day("settings.expires", bad).expect_err(bad).to_string();
            assert!(error.starts_with("settings.expires:"), "{error}");
        }
    }

    #[test]
    fn a_new_end_is_in_the_future_and_within_five_years() {
        let now = datetime!(2026-11-28 10:00 UTC);
        check_new("expiresAt", now + Duration::seconds(1), now).unwrap();
        check_new("expiresAt", now + MAX_AHEAD, now).unwrap();
        assert!(check_new("expiresAt", now, now).unwrap_err().to_string().contains("not in the future"));
        assert!(check_new("expiresAt", now + MAX_AHEAD + Duration::seconds(1), now).is_err());
    }
}
