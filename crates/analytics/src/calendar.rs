//! The calendar behind `time_dimension` (day grain) and the `YYYY-MM` months of the
//! HTTP API: date keys, months, quarters. Pure.
//!
//! A day is the UTC calendar day of an event's `occurred_at`: every service stamps
//! its events in UTC, so the same instant falls on the same day whichever feed it
//! came from.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// One row of `time_dimension`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// `YYYYMMDD`, the dimension's key: sortable and readable in a fact row.
    pub date_key: i32,
    pub date: NaiveDate,
    pub day: i16,
    pub month: i16,
    pub quarter: i16,
    pub year: i32,
}

impl Day {
    pub fn of(date: NaiveDate) -> Self {
        let month = date.month() as i16;
        Self {
            date_key: date.year() * 10_000 + i32::from(month) * 100 + date.day() as i32,
            date,
            day: date.day() as i16,
            month,
            quarter: quarter_of(month),
            year: date.year(),
        }
    }

    /// The UTC day of an instant.
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self::of(instant.date_naive())
    }
}

/// Months 1-3 are quarter 1, 4-6 quarter 2, ...
pub fn quarter_of(month: i16) -> i16 {
    (month - 1) / 3 + 1
}

/// A calendar month, as the API names it (`2026-03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// `YYYYMM`, the month key of the cubes.
    pub fn key(self) -> i32 {
        self.year * 100 + self.month as i32
    }

    /// The month of a `YYYYMM` key.
    pub fn from_key(key: i32) -> Self {
        Self {
            year: key / 100,
            month: (key % 100) as u32,
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month: expected YYYY-MM")]
pub struct BadMonth(pub String);

impl std::str::FromStr for Month {
    type Err = BadMonth;

    fn from_str(text: &str) -> Result<Self, BadMonth> {
        let bad = || BadMonth(text.to_string());
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
    }

    #[test]
    fn a_day_has_a_sortable_key_and_its_month_quarter_and_year() {
        let day = Day::of(date(2026, 8, 5));
        assert_eq!(day.date_key, 20260805);
        assert_eq!((day.day, day.month, day.quarter, day.year), (5, 8, 3, 2026));
    }

    #[test]
    fn every_month_falls_in_its_quarter() {
        let quarters: Vec<i16> = (1..=12).map(quarter_of).collect();
        assert_eq!(quarters, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }

    #[test]
    fn an_instant_late_on_the_last_day_of_a_quarter_stays_in_it_in_utc() {
        let instant = "2026-03-31T23:59:59.999Z"
            .parse::<DateTime<Utc>>()
            .expect("an instant");
        let day = Day::at(instant);
        assert_eq!((day.date_key, day.quarter), (20260331, 1));
    }

    #[test]
    fn a_month_is_read_from_yyyy_mm_and_written_back_the_same() {
        let month: Month = "2026-03".parse().expect("a month");
        assert_eq!(
            month,
            Month {
                year: 2026,
                month: 3
            }
        );
        assert_eq!(month.key(), 202603);
        assert_eq!(Month::from_key(202603), month);
        assert_eq!(month.to_string(), "2026-03");
    }

    #[test]
    fn malformed_months_are_refused() {
        for text in [
            "2026-13",
            "2026-00",
            "2026-3",
            "26-03",
            "2026/03",
            "",
            "2026-03-01",
        ] {
            assert!(text.parse::<Month>().is_err(), "{text}");
        }
    }
}
