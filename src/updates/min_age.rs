//! Soak time: `update: { min_age: 3d }` takes only versions released at least that long
//! ago, so that a release pulled or fixed within days of coming out never reaches a site.
//!
//! Written as one or more numbers with a unit — `h` (hours), `d` (days), `w` (weeks) —
//! one after the other: `12h`, `3d`, `2w`, `1w3d`. Anything else is refused with the
//! character it went wrong at, inside the playbook's own file:line:column.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::de::{self, Deserialize, Deserializer};

/// How long ago a version must have been released to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinAge {
    hours: i64,
}

/// Why a `min_age` text is not a duration: what, at which character (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {reason} at character {at} (write e.g. 12h, 3d or 2w)")]
pub struct MinAgeError {
    pub text: String,
    pub at: usize,
    pub reason: String,
}

/// Hours in each unit.
const UNITS: [(char, i64); 3] = [('h', 1), ('d', 24), ('w', 24 * 7)];

/// The longest soak time taken: a year, far beyond any sensible wait, so that no sum of
/// parts can overflow the date arithmetic.
const MAX_HOURS: i64 = 366 * 24;

impl MinAge {
    pub fn parse(text: &str) -> Result<MinAge, MinAgeError> {
        let error = |at: usize, reason: String| MinAgeError {
            text: text.to_owned(),
            at,
            reason,
        };
        if text.is_empty() {
            return Err(error(1, "it is empty".to_owned()));
        }
        let mut hours: i64 = 0;
        let mut number = String::new();
        let mut number_at = 1;
        for (i, c) in text.chars().enumerate() {
            let at = i + 1;
            if c.is_ascii_digit() {
                if number.is_empty() {
                    number_at = at;
                }
                number.push(c);
                continue;
            }
            let Some((_, per)) = UNITS.iter().find(|(unit, _)| *unit == c) else {
                let reason = if number.is_empty() && c != ' ' {
                    format!("expected a number, found `{c}`")
                } else {
                    format!("`{c}` is not a unit (h, d or w)")
                };
                return Err(error(at, reason));
            };
            if number.is_empty() {
                return Err(error(at, format!("`{c}` has no number before it")));
            }
            let count: i64 = number
                .parse()
                .ok()
                .filter(|n| *n <= MAX_HOURS)
                .ok_or_else(|| error(number_at, "the number is too large".to_owned()))?;
            hours += count * per;
            if hours > MAX_HOURS {
                return Err(error(number_at, "it is longer than a year".to_owned()));
            }
            number.clear();
        }
        if !number.is_empty() {
            return Err(error(
                text.chars().count() + 1,
                format!("`{number}` needs a unit (h, d or w)"),
            ));
        }
        Ok(MinAge { hours })
    }

    pub fn duration(self) -> Duration {
        Duration::hours(self.hours)
    }

    /// When a version released at `released` may be taken.
    pub fn taken_from(self, released: DateTime<Utc>) -> DateTime<Utc> {
        released + self.duration()
    }
}

impl fmt::Display for MinAge {
    /// The shortest exact form: `2w`, `3d`, `36h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hours = self.hours;
        if hours > 0 && hours % (24 * 7) == 0 {
            write!(f, "{}w", hours / (24 * 7))
        } else if hours > 0 && hours % 24 == 0 {
            write!(f, "{}d", hours / 24)
        } else {
            write!(f, "{hours}h")
        }
    }
}

impl<'de> Deserialize<'de> for MinAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        MinAge::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hours_days_weeks_and_sums() {
        assert_eq!(
            MinAge::parse("12h").unwrap().duration(),
            Duration::hours(12)
        );
        assert_eq!(MinAge::parse("3d").unwrap().duration(), Duration::days(3));
        assert_eq!(MinAge::parse("2w").unwrap().duration(), Duration::days(14));
        assert_eq!(
            MinAge::parse("1w3d").unwrap().duration(),
            Duration::days(10)
        );
        assert_eq!(MinAge::parse("0d").unwrap().duration(), Duration::zero());
        assert_eq!(MinAge::parse("3d").unwrap().to_string(), "3d");
        assert_eq!(MinAge::parse("1w3d").unwrap().to_string(), "10d");
        assert_eq!(MinAge::parse("36h").unwrap().to_string(), "36h");
        assert_eq!(MinAge::parse("14d").unwrap().to_string(), "2w");
    }

    #[test]
    fn refuses_bad_text_naming_the_character() {
        let at = |text: &str| {
            let e = MinAge::parse(text).unwrap_err();
            (e.at, e.reason)
        };
        assert_eq!(at("3x"), (2, "`x` is not a unit (h, d or w)".into()));
        assert_eq!(at("3"), (2, "`3` needs a unit (h, d or w)".into()));
        assert_eq!(at("d"), (1, "`d` has no number before it".into()));
        assert_eq!(at("3 d"), (2, "` ` is not a unit (h, d or w)".into()));
        assert_eq!(at("-3d"), (1, "expected a number, found `-`".into()));
        assert_eq!(at(""), (1, "it is empty".into()));
        assert_eq!(at("2d99999999999999999999h").0, 3);
        assert_eq!(at("60w").1, "it is longer than a year");
        let e = MinAge::parse("3days").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`3days` is not a duration: expected a number, found `a` at character 3 (write e.g. 12h, 3d or 2w)"
        );
    }
}
