//! Retention: which snapshots of a site to keep and which to remove.
//!
//! Nightly backups pile up; without pruning, the store grows without bound. This module
//! decides, for the snapshots of ONE site, which ones a [`Policy`] keeps. It only decides:
//! deleting directories is the caller's job, which keeps this logic pure and testable.
//!
//! The semantics are restic's `forget --keep-last --keep-daily --keep-weekly --keep-monthly`:
//!
//! - Snapshots are walked from newest to oldest.
//! - `keep_last N` keeps the N newest snapshots.
//! - `keep_daily`, `keep_weekly` and `keep_monthly` each split time into buckets (a UTC
//!   calendar day, an ISO week as given by chrono's `iso_week()`, a UTC calendar month).
//!   The first snapshot seen in a bucket (the newest of that bucket) is kept, until the rule
//!   has taken N buckets. Only buckets that contain a snapshot count: a week without a backup
//!   does not use up one of the N weeks.
//! - A snapshot is kept if ANY rule keeps it (the union); everything else is removed.
//! - Whatever the rules say, even if all are 0, the newest snapshot is never removed: a
//!   site must never be left with no backup at all by pruning.
//!
//! One difference from restic versions 0.16 and later: those also keep the oldest snapshot
//! when a bucket rule still has counts left after the walk. This module does not; a rule
//! keeps only the newest snapshot of each bucket.
//!
//! ISO weeks are numbered per ISO year, which is not the calendar year: 2025-12-31 is in
//! 2026-W01, and 2026-12-31 and 2027-01-01 are both in 2026-W53. Buckets use the
//! (ISO year, week) pair, so a week that straddles New Year is one bucket.

use chrono::{DateTime, Datelike, Utc};

/// How many snapshots of each kind to keep. A count of 0 means the rule keeps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

/// Why a snapshot is kept (a snapshot may be kept for several reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Last,
    Daily,
    Weekly,
    Monthly,
    /// The newest of its group (site and label).
    Newest,
    /// The site's newest sound snapshot holding files and database.
    NewestFull,
    /// Named by an unfinished run's journal: `tend recover` needs it.
    Unfinished,
    /// The host could not be asked about unfinished runs: nothing of the site is removed.
    Unchecked,
}

impl Reason {
    /// The rule's name, as shown by `backups prune`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Last => "keep_last",
            Reason::Daily => "keep_daily",
            Reason::Weekly => "keep_weekly",
            Reason::Monthly => "keep_monthly",
            Reason::Newest => "newest of its label",
            Reason::NewestFull => "newest sound full snapshot",
            Reason::Unfinished => "needed by an unfinished run",
            Reason::Unchecked => "host not reachable to check for unfinished runs",
        }
    }
}

/// The decision for one snapshot. `keep` lists the reasons in [`Reason`] order; an empty
/// `keep` means the snapshot is to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<T> {
    pub item: T,
    pub created: DateTime<Utc>,
    pub keep: Vec<Reason>,
}

/// Decides for every snapshot of ONE site. Input order does not matter; output is sorted newest first.
/// Ties on `created` are broken by input order (earlier in the input counts as newer) so the result is deterministic.
pub fn decide<T: Clone>(snapshots: &[(T, DateTime<Utc>)], policy: &Policy) -> Vec<Decision<T>> {
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    // A stable sort on the timestamp alone keeps equal timestamps in input order, so the
    // earlier one in the input comes first, i.e. counts as newer.
    order.sort_by_key(|&i| std::cmp::Reverse(snapshots[i].1));

    // keep_last is a bucket rule whose bucket is the snapshot's own rank: every snapshot is
    // a new bucket, exactly as restic models it.
    let mut last = Bucket::new(policy.keep_last);
    let mut daily = Bucket::new(policy.keep_daily);
    let mut weekly = Bucket::new(policy.keep_weekly);
    let mut monthly = Bucket::new(policy.keep_monthly);

    let mut decisions = Vec::with_capacity(order.len());
    for (rank, &i) in order.iter().enumerate() {
        let (item, created) = &snapshots[i];
        let mut keep = Vec::new();
        if last.take(rank) {
            keep.push(Reason::Last);
        }
        if daily.take(created.date_naive()) {
            keep.push(Reason::Daily);
        }
        if weekly.take(created.iso_week()) {
            keep.push(Reason::Weekly);
        }
        if monthly.take((created.year(), created.month())) {
            keep.push(Reason::Monthly);
        }
        if rank == 0 {
            keep.push(Reason::Newest);
        }
        decisions.push(Decision {
            item: item.clone(),
            created: *created,
            keep,
        });
    }
    decisions
}

/// One bucket rule while walking snapshots newest first: how many buckets it may still take,
/// and the bucket it took last.
struct Bucket<K> {
    remaining: u32,
    last: Option<K>,
}

impl<K: PartialEq> Bucket<K> {
    fn new(count: u32) -> Bucket<K> {
        Bucket {
            remaining: count,
            last: None,
        }
    }

    /// Whether the snapshot in bucket `key` is kept by this rule. Snapshots come newest
    /// first, so a key different from the last one taken is a bucket not seen before.
    fn take(&mut self, key: K) -> bool {
        if self.remaining == 0 || self.last.as_ref() == Some(&key) {
            return false;
        }
        self.remaining -= 1;
        self.last = Some(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Days, NaiveDate, TimeZone, Weekday};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Snapshots labelled by their own timestamp.
    fn snaps(times: &[DateTime<Utc>]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        times.iter().map(|&t| (t, t)).collect()
    }

    /// The items kept, newest first.
    fn kept<T: Clone>(decisions: &[Decision<T>]) -> Vec<T> {
        decisions
            .iter()
            .filter(|d| !d.keep.is_empty())
            .map(|d| d.item.clone())
            .collect()
    }

    fn reasons_of<T: PartialEq>(decisions: &[Decision<T>], item: &T) -> Vec<Reason> {
        decisions
            .iter()
            .find(|d| &d.item == item)
            .expect("item is in the decisions")
            .keep
            .clone()
    }

    fn policy(last: u32, daily: u32, weekly: u32, monthly: u32) -> Policy {
        Policy {
            keep_last: last,
            keep_daily: daily,
            keep_weekly: weekly,
            keep_monthly: monthly,
        }
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let none: Vec<(u32, DateTime<Utc>)> = Vec::new();
        assert!(decide(&none, &policy(3, 7, 4, 12)).is_empty());
    }

    #[test]
    fn output_has_every_snapshot_newest_first_with_its_timestamp() {
        let input = vec![
            ("b", at(2026, 3, 2, 3, 0)),
            ("d", at(2026, 3, 4, 3, 0)),
            ("a", at(2026, 3, 1, 3, 0)),
            ("c", at(2026, 3, 3, 3, 0)),
        ];
        let out = decide(&input, &policy(1, 0, 0, 0));
        let items: Vec<&str> = out.iter().map(|d| d.item).collect();
        assert_eq!(items, ["d", "c", "b", "a"]);
        let times: Vec<DateTime<Utc>> = out.iter().map(|d| d.created).collect();
        assert_eq!(
            times,
            [
                at(2026, 3, 4, 3, 0),
                at(2026, 3, 3, 3, 0),
                at(2026, 3, 2, 3, 0),
                at(2026, 3, 1, 3, 0)
            ]
        );
        // Removed snapshots are reported too, with no reason.
        assert!(out[1..].iter().all(|d| d.keep.is_empty()));
    }

    #[test]
    fn keep_last_alone_keeps_the_n_newest() {
        let input = snaps(&[
            at(2026, 1, 1, 3, 0),
            at(2026, 1, 1, 9, 0),
            at(2026, 1, 2, 3, 0),
            at(2026, 1, 5, 3, 0),
            at(2026, 2, 1, 3, 0),
        ]);
        let out = decide(&input, &policy(3, 0, 0, 0));
        assert_eq!(
            kept(&out),
            [
                at(2026, 2, 1, 3, 0),
                at(2026, 1, 5, 3, 0),
                at(2026, 1, 2, 3, 0)
            ]
        );
        assert_eq!(
            reasons_of(&out, &at(2026, 2, 1, 3, 0)),
            [Reason::Last, Reason::Newest]
        );
        assert_eq!(reasons_of(&out, &at(2026, 1, 5, 3, 0)), [Reason::Last]);
        assert_eq!(reasons_of(&out, &at(2026, 1, 2, 3, 0)), [Reason::Last]);
        assert!(reasons_of(&out, &at(2026, 1, 1, 9, 0)).is_empty());
        assert!(reasons_of(&out, &at(2026, 1, 1, 3, 0)).is_empty());
    }

    #[test]
    fn keep_last_larger_than_history_keeps_everything() {
        let input = snaps(&[
            at(2026, 1, 1, 3, 0),
            at(2026, 1, 2, 3, 0),
            at(2026, 1, 3, 3, 0),
        ]);
        let out = decide(&input, &policy(10, 0, 0, 0));
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|d| d.keep.contains(&Reason::Last)));
    }

    #[test]
    fn keep_daily_keeps_the_newest_snapshot_of_each_day() {
        let input = snaps(&[
            at(2026, 1, 1, 8, 0),
            at(2026, 1, 1, 12, 0),
            at(2026, 1, 1, 23, 0),
            at(2026, 1, 2, 1, 0),
            at(2026, 1, 2, 5, 0),
        ]);
        let out = decide(&input, &policy(0, 5, 0, 0));
        // Two days have snapshots, so only two are kept even though N is 5.
        assert_eq!(kept(&out), [at(2026, 1, 2, 5, 0), at(2026, 1, 1, 23, 0)]);
        assert_eq!(
            reasons_of(&out, &at(2026, 1, 1, 23, 0)),
            [Reason::Daily],
            "the newest of Jan 1 is kept as a daily"
        );
        assert!(reasons_of(&out, &at(2026, 1, 2, 1, 0)).is_empty());
        assert!(reasons_of(&out, &at(2026, 1, 1, 12, 0)).is_empty());
        assert!(reasons_of(&out, &at(2026, 1, 1, 8, 0)).is_empty());
    }

    #[test]
    fn keep_daily_uses_utc_calendar_days() {
        // One minute apart, but on two UTC days: two daily buckets.
        let input = snaps(&[at(2026, 1, 1, 23, 59), at(2026, 1, 2, 0, 0)]);
        let out = decide(&input, &policy(0, 2, 0, 0));
        assert_eq!(kept(&out), [at(2026, 1, 2, 0, 0), at(2026, 1, 1, 23, 59)]);
        assert_eq!(reasons_of(&out, &at(2026, 1, 1, 23, 59)), [Reason::Daily]);
    }

    #[test]
    fn keep_daily_does_not_count_days_without_snapshots() {
        // Backups on Jan 1, Jan 5 and Jan 10 only. keep_daily 2 means the two most recent
        // days that HAVE a backup (Jan 10 and Jan 5), not the calendar days Jan 9 and Jan 10.
        let input = snaps(&[
            at(2026, 1, 1, 3, 0),
            at(2026, 1, 5, 3, 0),
            at(2026, 1, 10, 3, 0),
        ]);
        let out = decide(&input, &policy(0, 2, 0, 0));
        assert_eq!(kept(&out), [at(2026, 1, 10, 3, 0), at(2026, 1, 5, 3, 0)]);
        assert!(reasons_of(&out, &at(2026, 1, 1, 3, 0)).is_empty());
    }

    #[test]
    fn chrono_iso_weeks_around_new_year_are_what_the_tests_assume() {
        // 2026 starts on a Thursday, so it has 53 ISO weeks and 2026-W01 starts on Monday
        // 2025-12-29. 2027-W01 is the week holding the first Thursday of 2027 (Jan 7), so it
        // starts on Monday 2027-01-04: Dec 28 2026 .. Jan 3 2027 is 2026-W53.
        let week = |d: NaiveDate| (d.iso_week().year(), d.iso_week().week());
        assert_eq!(date(2026, 1, 1).weekday(), Weekday::Thu);
        assert_eq!(week(date(2025, 12, 28)), (2025, 52));
        assert_eq!(week(date(2025, 12, 29)), (2026, 1));
        assert_eq!(week(date(2025, 12, 31)), (2026, 1));
        assert_eq!(date(2026, 12, 28).weekday(), Weekday::Mon);
        assert_eq!(week(date(2026, 12, 27)), (2026, 52));
        assert_eq!(week(date(2026, 12, 28)), (2026, 53));
        assert_eq!(week(date(2026, 12, 31)), (2026, 53));
        assert_eq!(week(date(2027, 1, 1)), (2026, 53));
        assert_eq!(week(date(2027, 1, 3)), (2026, 53));
        assert_eq!(week(date(2027, 1, 4)), (2027, 1));
        assert_eq!(week(date(2027, 1, 10)), (2027, 1));
        assert_eq!(week(date(2027, 1, 11)), (2027, 2));
    }

    #[test]
    fn keep_weekly_across_an_iso_year_boundary() {
        // Nightly 2026-12-27 (Sun, 2026-W52) .. 2027-01-10 (Sun, 2027-W01).
        let mut times = Vec::new();
        let mut d = date(2026, 12, 27);
        while d <= date(2027, 1, 10) {
            times.push(d.and_hms_opt(3, 0, 0).unwrap().and_utc());
            d = d + Days::new(1);
        }
        assert_eq!(times.len(), 15);
        let input = snaps(&times);

        // Weeks with snapshots, newest first: 2027-W01 (Jan 4..10, newest Jan 10),
        // 2026-W53 (Dec 28..Jan 3, newest Sun Jan 3), 2026-W52 (only Sun Dec 27).
        let out = decide(&input, &policy(0, 0, 2, 0));
        assert_eq!(kept(&out), [at(2027, 1, 10, 3, 0), at(2027, 1, 3, 3, 0)]);
        // Dec 31 and Jan 1 are in the same week as Jan 3, so neither is a weekly.
        assert!(reasons_of(&out, &at(2026, 12, 31, 3, 0)).is_empty());
        assert!(reasons_of(&out, &at(2027, 1, 1, 3, 0)).is_empty());

        let out = decide(&input, &policy(0, 0, 3, 0));
        assert_eq!(
            kept(&out),
            [
                at(2027, 1, 10, 3, 0),
                at(2027, 1, 3, 3, 0),
                at(2026, 12, 27, 3, 0)
            ]
        );

        // Only three weeks have snapshots: a larger N keeps no more.
        let out = decide(&input, &policy(0, 0, 10, 0));
        assert_eq!(kept(&out).len(), 3);
    }

    #[test]
    fn keep_weekly_treats_dec_31_and_jan_1_as_one_week_when_iso_says_so() {
        // 2026-12-31 (Thu) and 2027-01-01 (Fri) are both 2026-W53; 2026-12-24 is 2026-W52.
        // Bucketing by (calendar year, week) would split New Year into two buckets and keep
        // Dec 31 instead of Dec 24.
        let input = snaps(&[
            at(2026, 12, 24, 3, 0),
            at(2026, 12, 31, 3, 0),
            at(2027, 1, 1, 3, 0),
        ]);
        let out = decide(&input, &policy(0, 0, 2, 0));
        assert_eq!(kept(&out), [at(2027, 1, 1, 3, 0), at(2026, 12, 24, 3, 0)]);
        assert!(reasons_of(&out, &at(2026, 12, 31, 3, 0)).is_empty());
    }

    #[test]
    fn keep_weekly_does_not_count_weeks_without_snapshots() {
        // Snapshots in 2026-W02 (Jan 6), 2026-W05 (Jan 27, Jan 28) and 2026-W10 (Mar 3),
        // nothing in between. keep_weekly 2 keeps the newest of W10 and of W05.
        let input = snaps(&[
            at(2026, 1, 6, 3, 0),
            at(2026, 1, 27, 3, 0),
            at(2026, 1, 28, 3, 0),
            at(2026, 3, 3, 3, 0),
        ]);
        let out = decide(&input, &policy(0, 0, 2, 0));
        assert_eq!(kept(&out), [at(2026, 3, 3, 3, 0), at(2026, 1, 28, 3, 0)]);
    }

    #[test]
    fn keep_monthly_across_a_year_boundary() {
        let input = snaps(&[
            at(2025, 11, 10, 3, 0),
            at(2025, 11, 20, 3, 0),
            at(2025, 12, 5, 3, 0),
            at(2025, 12, 31, 23, 59),
            at(2026, 1, 1, 0, 0),
            at(2026, 1, 15, 3, 0),
        ]);
        let out = decide(&input, &policy(0, 0, 0, 3));
        assert_eq!(
            kept(&out),
            [
                at(2026, 1, 15, 3, 0),
                at(2025, 12, 31, 23, 59),
                at(2025, 11, 20, 3, 0)
            ]
        );
        assert_eq!(
            reasons_of(&out, &at(2025, 12, 31, 23, 59)),
            [Reason::Monthly]
        );
        assert!(reasons_of(&out, &at(2026, 1, 1, 0, 0)).is_empty());
        assert!(reasons_of(&out, &at(2025, 12, 5, 3, 0)).is_empty());
        assert!(reasons_of(&out, &at(2025, 11, 10, 3, 0)).is_empty());

        let out = decide(&input, &policy(0, 0, 0, 2));
        assert_eq!(
            kept(&out),
            [at(2026, 1, 15, 3, 0), at(2025, 12, 31, 23, 59)]
        );
    }

    #[test]
    fn keep_monthly_distinguishes_the_same_month_of_different_years() {
        // January 2025 and January 2026 are two months, not one.
        let input = snaps(&[at(2025, 1, 15, 3, 0), at(2026, 1, 10, 3, 0)]);
        let out = decide(&input, &policy(0, 0, 0, 2));
        assert_eq!(kept(&out), [at(2026, 1, 10, 3, 0), at(2025, 1, 15, 3, 0)]);
        assert_eq!(reasons_of(&out, &at(2025, 1, 15, 3, 0)), [Reason::Monthly]);
    }

    #[test]
    fn union_of_rules_keeps_a_snapshot_once_with_all_its_reasons() {
        let input = snaps(&[
            at(2026, 1, 20, 3, 0),
            at(2026, 1, 31, 3, 0),
            at(2026, 2, 1, 3, 0),
            at(2026, 2, 1, 15, 0),
            at(2026, 2, 2, 3, 0),
        ]);
        // keep_daily 3: Feb 2, Feb 1 15:00, Jan 31. keep_monthly 2: Feb 2, Jan 31.
        let out = decide(&input, &policy(0, 3, 0, 2));
        assert_eq!(out.len(), 5, "each snapshot appears exactly once");
        assert_eq!(
            kept(&out),
            [
                at(2026, 2, 2, 3, 0),
                at(2026, 2, 1, 15, 0),
                at(2026, 1, 31, 3, 0)
            ]
        );
        assert_eq!(
            reasons_of(&out, &at(2026, 2, 2, 3, 0)),
            [Reason::Daily, Reason::Monthly, Reason::Newest]
        );
        assert_eq!(reasons_of(&out, &at(2026, 2, 1, 15, 0)), [Reason::Daily]);
        assert_eq!(
            reasons_of(&out, &at(2026, 1, 31, 3, 0)),
            [Reason::Daily, Reason::Monthly]
        );
        assert!(reasons_of(&out, &at(2026, 2, 1, 3, 0)).is_empty());
        assert!(reasons_of(&out, &at(2026, 1, 20, 3, 0)).is_empty());
    }

    #[test]
    fn union_keeps_what_any_single_rule_keeps() {
        // keep_last 1 keeps only Mar 10; keep_monthly 3 additionally reaches back to January.
        let input = snaps(&[
            at(2026, 1, 5, 3, 0),
            at(2026, 2, 5, 3, 0),
            at(2026, 3, 9, 3, 0),
            at(2026, 3, 10, 3, 0),
        ]);
        let out = decide(&input, &policy(1, 0, 0, 3));
        assert_eq!(
            kept(&out),
            [
                at(2026, 3, 10, 3, 0),
                at(2026, 2, 5, 3, 0),
                at(2026, 1, 5, 3, 0)
            ]
        );
        assert_eq!(
            reasons_of(&out, &at(2026, 3, 10, 3, 0)),
            [Reason::Last, Reason::Monthly, Reason::Newest]
        );
        assert!(reasons_of(&out, &at(2026, 3, 9, 3, 0)).is_empty());
    }

    #[test]
    fn all_rules_zero_still_keeps_the_newest_and_only_it() {
        let input = snaps(&[
            at(2026, 1, 1, 3, 0),
            at(2026, 2, 1, 3, 0),
            at(2026, 1, 15, 3, 0),
        ]);
        let out = decide(&input, &Policy::default());
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].item, at(2026, 2, 1, 3, 0));
        assert_eq!(out[0].keep, [Reason::Newest]);
        assert!(out[1].keep.is_empty());
        assert!(out[2].keep.is_empty());
    }

    #[test]
    fn a_single_snapshot_is_kept_under_any_policy() {
        let input = snaps(&[at(2026, 1, 1, 3, 0)]);
        for p in [Policy::default(), policy(3, 7, 4, 12)] {
            let out = decide(&input, &p);
            assert_eq!(out.len(), 1);
            assert!(out[0].keep.contains(&Reason::Newest));
        }
    }

    #[test]
    fn newest_reason_is_given_to_the_newest_snapshot_only() {
        let input = snaps(&[
            at(2026, 1, 1, 3, 0),
            at(2026, 1, 2, 3, 0),
            at(2026, 1, 3, 3, 0),
        ]);
        let out = decide(&input, &policy(3, 3, 3, 3));
        let with_newest: Vec<DateTime<Utc>> = out
            .iter()
            .filter(|d| d.keep.contains(&Reason::Newest))
            .map(|d| d.item)
            .collect();
        assert_eq!(with_newest, [at(2026, 1, 3, 3, 0)]);
    }

    #[test]
    fn unsorted_input_gives_the_same_decisions_as_sorted_input() {
        let sorted = snaps(&[
            at(2025, 11, 30, 3, 0),
            at(2025, 12, 24, 3, 0),
            at(2025, 12, 31, 3, 0),
            at(2026, 1, 1, 3, 0),
            at(2026, 1, 1, 18, 0),
            at(2026, 1, 4, 3, 0),
            at(2026, 1, 5, 3, 0),
            at(2026, 1, 6, 3, 0),
            at(2026, 1, 6, 22, 0),
        ]);
        let p = policy(2, 3, 2, 3);
        let expected = decide(&sorted, &p);
        // The policy must both keep and remove something, or the comparison proves little.
        assert!(expected.iter().any(|d| d.keep.is_empty()));
        assert!(expected.iter().any(|d| !d.keep.is_empty()));

        let mut reversed = sorted.clone();
        reversed.reverse();
        let mut rotated = sorted.clone();
        rotated.rotate_left(4);
        let scrambled: Vec<_> = [6, 2, 8, 0, 4, 1, 7, 3, 5]
            .iter()
            .map(|&i| sorted[i])
            .collect();
        for input in [reversed, rotated, scrambled] {
            assert_ne!(input, sorted);
            assert_eq!(decide(&input, &p), expected);
        }
    }

    #[test]
    fn ties_on_created_are_broken_by_input_order() {
        let t = at(2026, 1, 10, 3, 0);
        let older = at(2026, 1, 9, 3, 0);
        let p = policy(1, 1, 0, 0);

        let out = decide(&[("a", t), ("b", t), ("c", older)], &p);
        let items: Vec<&str> = out.iter().map(|d| d.item).collect();
        assert_eq!(items, ["a", "b", "c"]);
        assert_eq!(out[0].keep, [Reason::Last, Reason::Daily, Reason::Newest]);
        assert!(out[1].keep.is_empty());

        // Swapping the tied pair in the input swaps which one is kept.
        let out = decide(&[("c", older), ("b", t), ("a", t)], &p);
        let items: Vec<&str> = out.iter().map(|d| d.item).collect();
        assert_eq!(items, ["b", "a", "c"]);
        assert_eq!(out[0].keep, [Reason::Last, Reason::Daily, Reason::Newest]);
        assert!(out[1].keep.is_empty());
    }

    #[test]
    fn ninety_nightly_snapshots_with_the_default_policy() {
        // One snapshot a night at 03:00 UTC for 90 nights, 2025-10-17 .. 2026-01-14.
        // Oct 17..31 is 15 nights, November 30, December 31, Jan 1..14 is 14: 90.
        let first = date(2025, 10, 17);
        let nights: Vec<(NaiveDate, DateTime<Utc>)> = (0..90)
            .map(|i| {
                let d = first + Days::new(i);
                (d, d.and_hms_opt(3, 0, 0).unwrap().and_utc())
            })
            .collect();
        assert_eq!(nights[89].0, date(2026, 1, 14));

        // Calendar facts the expectations rely on (ISO weeks start on Monday):
        // 2026-01-01 is a Thursday, so 2026-W01 is Mon 2025-12-29 .. Sun 2026-01-04,
        // W02 is Jan 5..11, W03 is Jan 12..18 (holding the newest night, Wed Jan 14), and
        // 2025-W52 is Dec 22..28.
        assert_eq!(date(2026, 1, 14).weekday(), Weekday::Wed);
        assert_eq!(date(2026, 1, 11).weekday(), Weekday::Sun);
        assert_eq!(date(2026, 1, 4).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 12, 28).weekday(), Weekday::Sun);

        // keep_last 3:     Jan 14, Jan 13, Jan 12.
        // keep_daily 7:    one a night, so the 7 newest nights: Jan 8 .. Jan 14.
        // keep_weekly 4:   newest of W03 (Jan 14), W02 (Sun Jan 11), W01 (Sun Jan 4), and
        //                  2025-W52 (Sun Dec 28). Dec 31 is in 2026-W01, whose newest is Jan 4.
        // keep_monthly 12: newest of Jan 2026 (Jan 14), Dec (31), Nov (30), Oct (31). Only
        //                  four months have snapshots, so the rule stops there; Oct 17 is not
        //                  the newest of its month and is removed.
        use Reason::*;
        let expected: Vec<(NaiveDate, Vec<Reason>)> = vec![
            (
                date(2026, 1, 14),
                vec![Last, Daily, Weekly, Monthly, Newest],
            ),
            (date(2026, 1, 13), vec![Last, Daily]),
            (date(2026, 1, 12), vec![Last, Daily]),
            (date(2026, 1, 11), vec![Daily, Weekly]),
            (date(2026, 1, 10), vec![Daily]),
            (date(2026, 1, 9), vec![Daily]),
            (date(2026, 1, 8), vec![Daily]),
            (date(2026, 1, 4), vec![Weekly]),
            (date(2025, 12, 31), vec![Monthly]),
            (date(2025, 12, 28), vec![Weekly]),
            (date(2025, 11, 30), vec![Monthly]),
            (date(2025, 10, 31), vec![Monthly]),
        ];

        let out = decide(&nights, &policy(3, 7, 4, 12));
        assert_eq!(out.len(), 90);
        let actual: Vec<(NaiveDate, Vec<Reason>)> = out
            .iter()
            .filter(|d| !d.keep.is_empty())
            .map(|d| (d.item, d.keep.clone()))
            .collect();
        assert_eq!(actual, expected);
        assert_eq!(out.iter().filter(|d| d.keep.is_empty()).count(), 78);
    }
}
