//! CMS and plugin versions, normalised so that update policies can compare them.
//!
//! Why: the versions tend meets are not all semver. WordPress has `6.5` (two parts) and
//! `4.9.26.1` (four parts), Magento has `2.4.7-p3` (a patch release that comes *after*
//! 2.4.7), some plugins use dates (`20230101`) or a leading `v` (`v1.2.3`), and `5.0` is the
//! same version as `5.0.0`. [`Version`] takes all of these shapes into one comparable value,
//! and anything else is a [`VersionError`] with a reason: a policy decision never rests on a
//! version that failed to parse.
//!
//! # Shapes
//!
//! - Surrounding whitespace is trimmed and one leading `v` or `V` is stripped.
//! - The core is 1 to 4 dot-separated components of ASCII digits (`6`, `6.5`, `6.5.2`,
//!   `4.9.26.1`); missing components are 0, so `6.5` = `6.5.0` and `4.9.26` = `4.9.26.0`.
//!   Leading zeros are allowed and ignored (`6.05` = `6.5`). Signs, letters, empty
//!   components (`1..2`, `1.`), wildcards (`1.2.x`), more than 4 components and numbers that
//!   do not fit in a `u64` are errors.
//! - Major, minor and patch are the first three components; the fourth is only used to
//!   order (`4.9.26` < `4.9.26.1` < `4.9.27`).
//! - After the core, one optional suffix, introduced by `-` and case-insensitive:
//!   - `-pN` (Magento patch release, `N` required): ordered after the base version and by
//!     `N`: 2.4.7 < 2.4.7-p1 < 2.4.7-p3 < 2.4.8.
//!   - a pre-release, `-alpha`, `-beta` or `-rc`, optionally followed by a number, written
//!     directly or after a dot (`-beta1`, `-RC2`, `-rc.1`, `-alpha`): ordered before the
//!     release, alpha < beta < rc, then by number, with no number before any number:
//!     6.5-alpha < 6.5-alpha1 < 6.5-beta1 < 6.5-RC1 < 6.5-RC2 < 6.5. `-rc1` = `-rc.1`.
//!
//!   Anything else after `-` (`-dev`, `-p`, `-beta-2`, `-p3-beta1`) is an error, as is build
//!   metadata (`+build`), which would otherwise be a non-digit in a component.
//! - A date version (`20230101`) is a single component, so it needs no special case: its
//!   major is the whole number, minor and patch are 0, and dates order numerically. A move
//!   from one date to a later one is therefore always a [`Level::Major`] move, even a day
//!   apart; a policy that wants date-versioned plugins updated must allow `major`.
//!
//! # Ordering
//!
//! Versions compare by normalised value, never by text: first the four components, then the
//! suffix (pre-release < release < `-pN`). Two texts that normalise to the same value are
//! equal (`5.0` = `5.0.0` = `v5.0`); [`Version::as_str`] and `Display` still give the
//! original (trimmed) text.
//!
//! # Levels
//!
//! Update levels are semver levels of the normalised version: [`Level::Patch`] stays within
//! x.y (this includes the fourth component, `-pN` and pre-release to release moves),
//! [`Level::Minor`] stays within x, [`Level::Major`] takes anything newer, [`Level::None`]
//! allows nothing. WordPress calls 6.1 → 6.2 a "major release"; here it is `Minor`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A CMS/plugin version, normalised for comparison.
#[derive(Debug, Clone)]
pub struct Version {
    /// The text it was parsed from, trimmed.
    text: String,
    /// Major, minor, patch and the fourth component; missing ones are 0.
    numbers: [u64; 4],
    suffix: Suffix,
}

/// What follows the numbers. The variant order is the sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Suffix {
    /// `-alpha`, `-beta2`, `-rc.1`: before the release. `None` sorts before any number.
    Pre(Stage, Option<u64>),
    /// No suffix.
    Release,
    /// Magento's `-pN`: after the release.
    Patch(u64),
}

/// The pre-release stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    Alpha,
    Beta,
    Rc,
}

/// Most components a version may have.
const MAX_COMPONENTS: usize = 4;

impl Version {
    /// Parses any of the shapes in the module documentation; anything else is an error
    /// saying why.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let fail = |reason: String| VersionError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty".to_string()));
        }
        let body = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
        if body.is_empty() {
            return Err(fail("there is nothing after the `v`".to_string()));
        }
        let (core, suffix) = match body.split_once('-') {
            Some(("", _)) => {
                return Err(fail("versions cannot be negative".to_string()));
            }
            Some((core, suffix)) => (core, Some(suffix)),
            None => (body, None),
        };

        let components: Vec<&str> = core.split('.').collect();
        if components.len() > MAX_COMPONENTS {
            return Err(fail(format!(
                "it has {} components; at most {MAX_COMPONENTS} are supported",
                components.len()
            )));
        }
        let mut numbers = [0u64; MAX_COMPONENTS];
        for (slot, component) in numbers.iter_mut().zip(&components) {
            *slot = parse_component(component).map_err(fail)?;
        }

        let suffix = match suffix {
            None => Suffix::Release,
            Some(suffix) => parse_suffix(suffix).map_err(fail)?,
        };
        Ok(Version {
            text: trimmed.to_string(),
            numbers,
            suffix,
        })
    }

    /// The original text, trimmed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn major(&self) -> u64 {
        self.numbers[0]
    }

    pub fn minor(&self) -> u64 {
        self.numbers[1]
    }

    #[cfg(test)]
    pub fn patch(&self) -> u64 {
        self.numbers[2]
    }
}

/// One dot-separated component: ASCII digits only, fitting in a `u64`.
fn parse_component(component: &str) -> Result<u64, String> {
    if component.is_empty() {
        return Err("it has an empty component (two dots in a row, or a dot at an end)".into());
    }
    if !component.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("component `{component}` is not a number"));
    }
    component
        .parse()
        .map_err(|_| format!("component `{component}` is too large"))
}

/// The text after the first `-`: `pN`, or `alpha`/`beta`/`rc` with an optional number.
fn parse_suffix(suffix: &str) -> Result<Suffix, String> {
    let unknown = || {
        format!(
            "unknown suffix `-{suffix}` (expected -pN, or -alpha, -beta or -rc with an \
             optional number)"
        )
    };
    let lower = suffix.to_ascii_lowercase();
    let stages = [
        ("alpha", Stage::Alpha),
        ("beta", Stage::Beta),
        ("rc", Stage::Rc),
    ];
    for (name, stage) in stages {
        if let Some(rest) = lower.strip_prefix(name) {
            let digits = rest.strip_prefix('.').unwrap_or(rest);
            if digits.is_empty() {
                // `-rc.` has a dot promising a number that is not there.
                return if rest.is_empty() {
                    Ok(Suffix::Pre(stage, None))
                } else {
                    Err(unknown())
                };
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown());
            }
            let number = digits
                .parse()
                .map_err(|_| format!("the number in `-{suffix}` is too large"))?;
            return Ok(Suffix::Pre(stage, Some(number)));
        }
    }
    if let Some(digits) = lower.strip_prefix('p') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let number = digits
                .parse()
                .map_err(|_| format!("the number in `-{suffix}` is too large"))?;
            return Ok(Suffix::Patch(number));
        }
    }
    Err(unknown())
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then(self.suffix.cmp(&other.suffix))
    }
}

/// Consistent with `Eq`: by normalised value, not text.
impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.numbers.hash(state);
        self.suffix.hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Version, VersionError> {
        Version::parse(text)
    }
}

/// A text that is not a version tend understands, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    /// The text as given (untrimmed).
    pub text: String,
    pub reason: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a version tend understands: {}",
            self.text, self.reason
        )
    }
}

impl std::error::Error for VersionError {}

/// How far an update may move: the playbook's `core:` levels (`none`, `patch`, `minor`,
/// `major`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    None,
    Patch,
    Minor,
    Major,
}

/// Whether moving from `from` to `to` is allowed at `level`: `to` must be newer than `from`, and
/// Patch: same major and minor; Minor: same major; Major: anything newer; None: never.
pub fn allowed(from: &Version, to: &Version, level: Level) -> bool {
    // `level_of` never answers `Level::None`, so `Level::None` allows nothing.
    level_of(from, to).is_some_and(|needed| needed <= level)
}

/// The level a move needs (the smallest Level that allows it), or None if `to` is not newer.
pub fn level_of(from: &Version, to: &Version) -> Option<Level> {
    if to <= from {
        None
    } else if to.major() != from.major() {
        Some(Level::Major)
    } else if to.minor() != from.minor() {
        Some(Level::Minor)
    } else {
        Some(Level::Patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: [Level; 4] = [Level::None, Level::Patch, Level::Minor, Level::Major];

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn numbers(version: &Version) -> (u64, u64, u64) {
        (version.major(), version.minor(), version.patch())
    }

    /// Checks `texts` are strictly increasing, pairwise, both ways round.
    fn assert_increasing(texts: &[&str]) {
        for (i, a) in texts.iter().enumerate() {
            for b in &texts[i + 1..] {
                assert!(v(a) < v(b), "{a} < {b}");
                assert!(v(b) > v(a), "{b} > {a}");
                assert_ne!(v(a), v(b), "{a} != {b}");
            }
        }
    }

    fn error(text: &str) -> VersionError {
        match Version::parse(text) {
            Ok(version) => panic!("`{text}` parsed as {version:?}"),
            Err(e) => e,
        }
    }

    fn assert_error(text: &str, reason_contains: &str) {
        let e = error(text);
        assert_eq!(e.text, text);
        assert!(
            e.reason.contains(reason_contains),
            "`{text}`: reason {:?} should mention {reason_contains:?}",
            e.reason
        );
    }

    #[test]
    fn two_parts_have_patch_zero() {
        let version = v("6.5");
        assert_eq!(numbers(&version), (6, 5, 0));
        assert_eq!(version, v("6.5.0"));
        assert_increasing(&["6.4.9", "6.5", "6.5.1", "6.10"]);
    }

    #[test]
    fn one_part_has_minor_and_patch_zero() {
        assert_eq!(numbers(&v("7")), (7, 0, 0));
        assert_eq!(v("7"), v("7.0.0"));
    }

    #[test]
    fn three_parts_compare_numerically_not_as_text() {
        assert_eq!(numbers(&v("6.1.10")), (6, 1, 10));
        assert_increasing(&["6.1.2", "6.1.9", "6.1.10", "6.2.0", "10.0.0"]);
    }

    #[test]
    fn four_parts_order_after_the_first_three() {
        let version = v("4.9.26.1");
        assert_eq!(numbers(&version), (4, 9, 26));
        assert_increasing(&["4.9.26", "4.9.26.1", "4.9.26.2", "4.9.27"]);
        assert_eq!(v("4.9.26"), v("4.9.26.0"));
    }

    #[test]
    fn leading_v_is_stripped_but_kept_in_the_text() {
        let version = v("v1.2.3");
        assert_eq!(numbers(&version), (1, 2, 3));
        assert_eq!(version, v("1.2.3"));
        assert_eq!(v("V1.2.3"), v("1.2.3"));
        assert_eq!(version.as_str(), "v1.2.3");
        assert_eq!(version.to_string(), "v1.2.3");
    }

    #[test]
    fn whitespace_is_trimmed() {
        let version = v("  6.5.2\n");
        assert_eq!(version.as_str(), "6.5.2");
        assert_eq!(version, v("6.5.2"));
    }

    #[test]
    fn equality_is_by_value_not_text() {
        let short = v("5.0");
        let long = v("5.0.0");
        assert_eq!(short, long);
        assert_eq!(short.cmp(&long), Ordering::Equal);
        assert_ne!(short.as_str(), long.as_str());
        assert_eq!(short.to_string(), "5.0");
        assert_eq!(long.to_string(), "5.0.0");
        assert_eq!(v("6.05"), v("6.5"));

        let set: std::collections::HashSet<Version> = [short, long].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn magento_patch_releases_order_after_the_base() {
        let version = v("2.4.7-p3");
        assert_eq!(numbers(&version), (2, 4, 7));
        assert_eq!(version.as_str(), "2.4.7-p3");
        assert_increasing(&[
            "2.4.6-p9",
            "2.4.7",
            "2.4.7-p1",
            "2.4.7-p3",
            "2.4.7-p10",
            "2.4.8",
        ]);
        assert_eq!(v("2.4.7-P3"), version);
    }

    #[test]
    fn pre_releases_order_before_the_release() {
        assert_increasing(&[
            "6.4.3",
            "6.5-alpha",
            "6.5-alpha1",
            "6.5-alpha2",
            "6.5-beta1",
            "6.5-beta2",
            "6.5-RC1",
            "6.5-rc.2",
            "6.5-RC10",
            "6.5",
            "6.5-p1",
            "6.5.1-beta1",
            "6.5.1",
        ]);
        assert_eq!(v("6.5-rc.1"), v("6.5-RC1"));
        assert_eq!(v("6.5-beta1"), v("6.5.0-beta1"));
        assert_eq!(numbers(&v("6.5-RC1")), (6, 5, 0));
    }

    #[test]
    fn date_versions_are_one_big_major() {
        let version = v("20230101");
        assert_eq!(numbers(&version), (20230101, 0, 0));
        assert_increasing(&["9.9.9", "20221231", "20230101", "20230102", "20240101"]);
    }

    #[test]
    fn a_date_to_date_move_is_major() {
        let (old, new) = (v("20230101"), v("20230102"));
        assert_eq!(level_of(&old, &new), Some(Level::Major));
        assert!(!allowed(&old, &new, Level::Minor));
        assert!(allowed(&old, &new, Level::Major));
    }

    #[test]
    fn empty_is_an_error() {
        assert_error("", "empty");
        assert_error("   ", "empty");
        assert_error("v", "nothing after");
    }

    #[test]
    fn words_are_errors() {
        assert_error("latest", "`latest` is not a number");
        assert_error("abc", "`abc` is not a number");
        assert_error("vv1.2", "`v1` is not a number");
    }

    #[test]
    fn empty_components_are_errors() {
        assert_error("1..2", "empty component");
        assert_error("1.2.", "empty component");
        assert_error(".1.2", "empty component");
    }

    #[test]
    fn wildcards_are_errors() {
        assert_error("1.2.x", "`x` is not a number");
        assert_error("1.2.*", "`*` is not a number");
    }

    #[test]
    fn negative_numbers_are_errors() {
        assert_error("-1", "negative");
        assert_error("-1.2.3", "negative");
        assert_error("1.-2", "empty component");
        assert_error("+1.2", "`+1` is not a number");
    }

    #[test]
    fn five_components_are_an_error() {
        assert_error("1.2.3.4.5", "5 components");
        assert!(Version::parse("1.2.3.4").is_ok());
    }

    #[test]
    fn overflowing_components_are_errors() {
        assert_eq!(v("18446744073709551615").major(), u64::MAX);
        assert_error("18446744073709551616", "too large");
        assert_error("1.99999999999999999999999", "too large");
        assert_error("1.2-p99999999999999999999999", "too large");
    }

    #[test]
    fn unknown_suffixes_are_errors() {
        for text in [
            "6.5-dev",
            "6.5-",
            "6.5-p",
            "6.5-px",
            "6.5-rc.",
            "6.5-beta-2",
            "6.5-rcx",
            "2.4.7-p3-beta1",
        ] {
            assert_error(text, "unknown suffix");
        }
        assert_error("1.2.3+build", "`3+build` is not a number");
        assert_error("6.5 RC1", "is not a number");
    }

    #[test]
    fn error_message_names_the_text_and_the_reason() {
        let e = error("1.2.x");
        assert_eq!(
            e.to_string(),
            "`1.2.x` is not a version tend understands: component `x` is not a number"
        );
        let parsed: Result<Version, _> = "latest".parse();
        assert_eq!(parsed.unwrap_err(), error("latest"));
        assert_eq!("6.5".parse::<Version>().unwrap(), v("6.5.0"));
    }

    #[test]
    fn patch_move() {
        let (from, to) = (v("6.1.9"), v("6.1.10"));
        assert_eq!(level_of(&from, &to), Some(Level::Patch));
        assert!(!allowed(&from, &to, Level::None));
        assert!(allowed(&from, &to, Level::Patch));
        assert!(allowed(&from, &to, Level::Minor));
        assert!(allowed(&from, &to, Level::Major));
    }

    #[test]
    fn minor_move() {
        let (from, to) = (v("6.1.9"), v("6.8.7"));
        assert_eq!(level_of(&from, &to), Some(Level::Minor));
        assert!(!allowed(&from, &to, Level::None));
        assert!(!allowed(&from, &to, Level::Patch));
        assert!(allowed(&from, &to, Level::Minor));
        assert!(allowed(&from, &to, Level::Major));
    }

    #[test]
    fn major_move() {
        let (from, to) = (v("5.9"), v("6.0"));
        assert_eq!(level_of(&from, &to), Some(Level::Major));
        assert!(!allowed(&from, &to, Level::None));
        assert!(!allowed(&from, &to, Level::Patch));
        assert!(!allowed(&from, &to, Level::Minor));
        assert!(allowed(&from, &to, Level::Major));
    }

    #[test]
    fn magento_patch_release_is_a_patch_move() {
        let (from, to) = (v("2.4.7"), v("2.4.7-p3"));
        assert_eq!(level_of(&from, &to), Some(Level::Patch));
        assert!(allowed(&from, &to, Level::Patch));
        assert!(!allowed(&from, &to, Level::None));
        assert_eq!(level_of(&v("2.4.7-p3"), &v("2.4.8")), Some(Level::Patch));
        assert_eq!(level_of(&v("2.4.7-p3"), &v("2.5.0")), Some(Level::Minor));
    }

    #[test]
    fn fourth_component_and_pre_release_moves_are_patch() {
        assert_eq!(level_of(&v("4.9.26"), &v("4.9.26.1")), Some(Level::Patch));
        assert_eq!(level_of(&v("6.5-RC1"), &v("6.5")), Some(Level::Patch));
        assert_eq!(level_of(&v("6.4.3"), &v("6.5-RC1")), Some(Level::Minor));
    }

    #[test]
    fn same_or_older_is_never_allowed() {
        let pairs = [
            ("6.1.9", "6.1.9"),
            ("5.0", "5.0.0"),
            ("6.1.10", "6.1.9"),
            ("6.0", "5.9"),
            ("2.4.7-p3", "2.4.7"),
            ("6.5", "6.5-RC1"),
            ("20230102", "20230101"),
        ];
        for (from, to) in pairs {
            let (from, to) = (v(from), v(to));
            assert_eq!(level_of(&from, &to), None, "{from} -> {to}");
            for level in LEVELS {
                assert!(!allowed(&from, &to, level), "{from} -> {to} at {level:?}");
            }
        }
    }

    #[test]
    fn level_none_never_allows() {
        let pairs = [
            ("6.1.9", "6.1.10"),
            ("6.1.9", "6.8.7"),
            ("5.9", "6.0"),
            ("2.4.7", "2.4.7-p3"),
        ];
        for (from, to) in pairs {
            let (from, to) = (v(from), v(to));
            assert!(level_of(&from, &to).is_some(), "{from} -> {to} is newer");
            assert!(!allowed(&from, &to, Level::None), "{from} -> {to}");
        }
    }

    #[test]
    fn levels_are_ordered() {
        assert!(Level::None < Level::Patch);
        assert!(Level::Patch < Level::Minor);
        assert!(Level::Minor < Level::Major);
    }
}
