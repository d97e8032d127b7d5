//! A calendar month (`YYYY-MM`), the period a report covers, with its bounds in UTC.
//!
//! Runs are placed in a month by their start time in UTC, so that a report does not depend
//! on the time zone of the machine that writes it. A malformed month is an error as data
//! ([`MonthError`]) that says which part is wrong, for the command line to point at.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Serialize, Serializer};

/// One calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1–12.
    month: u32,
}

/// Why a text is not a `YYYY-MM` month: what is wrong, and which characters (1-based
/// column, width) are to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthError {
    pub message: String,
    pub column: usize,
    pub width: usize,
}

impl fmt::Display for MonthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MonthError {}

impl Month {
    /// `month` is 1–12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Month { year, month })
    }

    /// The month `at` falls in (UTC).
    pub fn of(at: DateTime<Utc>) -> Month {
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    #[cfg(test)]
    pub fn year(self) -> i32 {
        self.year
    }

    #[cfg(test)]
    pub fn month(self) -> u32 {
        self.month
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month has a first day")
    }

    /// The last day of the month.
    pub fn last_day(self) -> NaiveDate {
        self.next()
            .first_day()
            .pred_opt()
            .expect("a month's last day exists")
    }

    /// The first instant of the month (UTC), included.
    pub fn start(self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.first_day().and_hms_opt(0, 0, 0).expect("midnight"))
    }

    /// The first instant of the next month (UTC), excluded.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start() <= at && at < self.end()
    }

    /// `November 2026`.
    pub fn title(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(text: &str) -> Result<Month, MonthError> {
        let shape = || MonthError {
            message: format!("`{text}` is not a month: expected YYYY-MM, e.g. 2026-11"),
            column: 1,
            width: text.chars().count().max(1),
        };
        let (year, month) = text.split_once('-').ok_or_else(shape)?;
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(shape());
        }
        let year: i32 = year.parse().map_err(|_| shape())?;
        let number: u32 = month.parse().map_err(|_| shape())?;
        Month::new(year, number).ok_or_else(|| {
            if (1..=12).contains(&number) {
                MonthError {
                    message: format!("`{text}`: the year must be 0001–9999"),
                    column: 1,
                    width: 4,
                }
            } else {
                MonthError {
                    message: format!("`{text}`: there is no month {month}; months are 01–12"),
                    column: 6,
                    width: 2,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_yyyy_mm() {
        let m: Month = "2026-11".parse().unwrap();
        assert_eq!((m.year(), m.month()), (2026, 11));
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.title(), "November 2026");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2026-11\"");
    }

    #[test]
    fn malformed_months_say_what_is_wrong_and_where() {
        let e = "2026-13".parse::<Month>().unwrap_err();
        assert!(e.message.contains("no month 13"), "{}", e.message);
        assert_eq!((e.column, e.width), (6, 2));
        let e = "Nov".parse::<Month>().unwrap_err();
        assert!(e.message.contains("expected YYYY-MM"), "{}", e.message);
        assert_eq!((e.column, e.width), (1, 3));
        for bad in [
            "2026-1",
            "26-11",
            "2026-00",
            "2026/11",
            "",
            "2026-11-01",
            "+026-11",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad} accepted");
        }
        let e = "0000-05".parse::<Month>().unwrap_err();
        assert_eq!((e.column, e.width), (1, 4));
    }

    #[test]
    fn bounds_are_utc_and_the_end_is_excluded() {
        let m: Month = "2026-02".parse().unwrap();
        assert_eq!(m.start(), at("2026-02-01T00:00:00Z"));
        assert_eq!(m.end(), at("2026-03-01T00:00:00Z"));
        assert_eq!(m.last_day().to_string(), "2026-02-28");
        assert!(m.contains(at("2026-02-28T23:59:59Z")));
        assert!(!m.contains(at("2026-03-01T00:00:00Z")));
        assert!(!m.contains(at("2026-01-31T23:59:59Z")));
        // Late on the last day somewhere east of UTC is still the previous month in UTC.
        assert!(m.contains(at("2026-03-01T00:30:00+01:00")));
    }

    #[test]
    fn steps_over_year_ends() {
        let jan: Month = "2027-01".parse().unwrap();
        assert_eq!(jan.previous().to_string(), "2026-12");
        assert_eq!(jan.previous().next(), jan);
        assert_eq!(Month::of(at("2026-12-31T23:00:00Z")).end(), jan.start());
    }
}
