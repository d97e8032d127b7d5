//! Applying the retention policy to the store: what each site keeps, what goes, and why.
//!
//! Snapshots are grouped by site and label (restic's `forget --group-by host,tags`); each
//! group is decided by its label's rules ([`RetentionPolicy::for_label`]). A snapshot that
//! fails verification counts towards no rule and is reported. Whatever the rules say, two
//! snapshots are never removed: one an unfinished run on the host needs for `tend recover`
//! (when the host could not be asked, nothing of the site is removed), and the site's
//! newest sound snapshot holding files and database.

use std::collections::BTreeMap;

use super::retention::{self, Policy, Reason};
use super::store::{Snapshot, SnapshotStore, StoreError};
use crate::inventory::{Retention, RetentionPolicy};

/// One site's outcome: snapshots kept (with why) and removed (or to be removed).
#[derive(Debug)]
pub struct SitePrune {
    pub site: String,
    /// Each kept snapshot, the rule set of its group (`default` or a label) and why.
    pub kept: Vec<(Snapshot, Vec<Reason>)>,
    pub removed: Vec<Snapshot>,
    /// Snapshots that failed verification (they count towards no rule), with the problems.
    pub damaged: Vec<(String, String)>,
    /// Why everything of the site was kept (its host could not be asked about unfinished
    /// runs), when it was.
    pub unchecked: Option<String>,
    pub error: Option<PruneError>,
}

/// Why pruning a site stopped short.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The site's snapshots could not be listed: nothing was decided.
    #[error("{0}")]
    List(StoreError),
    /// A snapshot that should go could not be removed (the others still were).
    #[error("cannot remove {id}: {error}")]
    Remove { id: String, error: StoreError },
}

/// What the site's host says about unfinished runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needed {
    /// These snapshots are named by unfinished runs' journals (empty: none).
    Snapshots(Vec<String>),
    /// The host could not be asked: nothing of the site is removed.
    Unknown(String),
}

pub fn policy(retention: &Retention) -> Policy {
    Policy {
        keep_last: retention.keep_last,
        keep_daily: retention.keep_daily,
        keep_weekly: retention.keep_weekly,
        keep_monthly: retention.keep_monthly,
    }
}

/// One site's snapshots with their verification problems (empty: sound), decided: kept
/// with reasons (newest first), and removed.
pub fn decide(
    snapshots: &[(Snapshot, Vec<String>)],
    rules: &RetentionPolicy,
    needed: &Needed,
) -> (Vec<(Snapshot, Vec<Reason>)>, Vec<Snapshot>) {
    let mut reasons: BTreeMap<String, Vec<Reason>> = snapshots
        .iter()
        .map(|(s, _)| (s.manifest.id.clone(), Vec::new()))
        .collect();
    // Groups by label, sound snapshots only.
    let mut groups: BTreeMap<Option<&str>, Vec<(&Snapshot, chrono::DateTime<chrono::Utc>)>> =
        BTreeMap::new();
    for (s, problems) in snapshots {
        if problems.is_empty() {
            groups
                .entry(s.manifest.label.as_deref())
                .or_default()
                .push((s, s.manifest.created));
        }
    }
    for (label, members) in &groups {
        let (_, set) = rules.for_label(*label);
        for decision in retention::decide(members, &policy(set)) {
            reasons
                .get_mut(&decision.item.manifest.id)
                .expect("listed")
                .extend(decision.keep);
        }
    }
    // Never removed: the newest sound full snapshot, and what unfinished runs need.
    if let Some((newest_full, _)) = snapshots
        .iter()
        .filter(|(s, problems)| {
            problems.is_empty() && s.manifest.files.is_some() && s.manifest.database.is_some()
        })
        .max_by_key(|(s, _)| s.manifest.created)
    {
        reasons
            .get_mut(&newest_full.manifest.id)
            .expect("listed")
            .push(Reason::NewestFull);
    }
    for (s, _) in snapshots {
        let why = reasons.get_mut(&s.manifest.id).expect("listed");
        match needed {
            Needed::Snapshots(ids) if ids.contains(&s.manifest.id) => why.push(Reason::Unfinished),
            Needed::Unknown(_) => why.push(Reason::Unchecked),
            Needed::Snapshots(_) => {}
        }
    }
    let mut ordered: Vec<&Snapshot> = snapshots.iter().map(|(s, _)| s).collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.manifest.created));
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for s in ordered {
        let mut why = reasons.remove(&s.manifest.id).unwrap_or_default();
        why.sort();
        why.dedup();
        if why.is_empty() {
            removed.push(s.clone());
        } else {
            kept.push((s.clone(), why));
        }
    }
    (kept, removed)
}

/// Decides (and unless `dry_run`, removes) for each of `sites`; `needed` says, per site,
/// what unfinished runs need (a site not in it: nothing).
pub fn prune(
    store: &dyn SnapshotStore,
    sites: &[&str],
    retention: &RetentionPolicy,
    needed: &BTreeMap<String, Needed>,
    dry_run: bool,
) -> Vec<SitePrune> {
    let nothing = Needed::Snapshots(Vec::new());
    sites
        .iter()
        .map(|site| {
            let mut outcome = SitePrune {
                site: (*site).to_owned(),
                kept: Vec::new(),
                removed: Vec::new(),
                damaged: Vec::new(),
                unchecked: None,
                error: None,
            };
            // What a killed backup or prune left (a partial snapshot, one renamed aside
            // to be removed) goes first; it is never listed, so it counts for nothing.
            if !dry_run {
                let _ = store.clean_partials(site);
            }
            let snapshots = match store.list(Some(site)) {
                Ok(s) => s,
                Err(e) => {
                    outcome.error = Some(PruneError::List(e));
                    return outcome;
                }
            };
            let checked: Vec<(Snapshot, Vec<String>)> = snapshots
                .into_iter()
                .map(|s| {
                    let problems = super::verify::verify(store, &s)
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    (s, problems)
                })
                .collect();
            outcome.damaged = checked
                .iter()
                .filter(|(_, p)| !p.is_empty())
                .map(|(s, p)| (s.manifest.id.clone(), p.join("; ")))
                .collect();
            let needed = needed.get(*site).unwrap_or(&nothing);
            if let Needed::Unknown(why) = needed {
                outcome.unchecked = Some(why.clone());
            }
            let (kept, removed) = decide(&checked, retention, needed);
            outcome.kept = kept;
            for snapshot in removed {
                if !dry_run {
                    if let Err(e) = store.remove(&snapshot) {
                        outcome.error = Some(PruneError::Remove {
                            id: snapshot.manifest.id.clone(),
                            error: e,
                        });
                        continue;
                    }
                }
                outcome.removed.push(snapshot);
            }
            outcome
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::Part;
    use chrono::{TimeZone, Utc};

    fn snap(day: u32, label: Option<&str>, files: bool, database: bool) -> Snapshot {
        let part = |file: &str| Part {
            file: file.into(),
            bytes: 1,
            sha256: String::new(),
            uncompressed_bytes: 1,
            listed: None,
        };
        let id = format!("202611{day:02}T030000Z-{}", label.unwrap_or("none"));
        let mut manifest = crate::test_fixtures::manifest(
            "blog",
            &id,
            files.then(|| part("files.tar.zst")),
            database.then(|| part("database.sql.zst")),
        );
        manifest.label = label.map(Into::into);
        manifest.created = Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap();
        Snapshot::new(manifest, id)
    }

    fn sound(s: Snapshot) -> (Snapshot, Vec<String>) {
        (s, Vec::new())
    }

    fn damaged(s: Snapshot) -> (Snapshot, Vec<String>) {
        (s, vec!["files.tar.zst: sha256 differs".into()])
    }

    fn last(n: u32) -> Retention {
        Retention {
            keep_last: n,
            ..Retention::none()
        }
    }

    fn kept_ids(kept: &[(Snapshot, Vec<Reason>)]) -> Vec<String> {
        kept.iter().map(|(s, _)| s.manifest.id.clone()).collect()
    }

    fn reasons(kept: &[(Snapshot, Vec<Reason>)], id: &str) -> Vec<Reason> {
        kept.iter()
            .find(|(s, _)| s.manifest.id == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }

    /// The incident: three pre-restore snapshots (one damaged, one files-only) kept by
    /// keep_last 3, and the only labelled full backup removed.
    #[test]
    fn the_newest_sound_full_snapshot_is_never_removed() {
        let all = vec![
            sound(snap(1, Some("nightly"), true, true)),
            sound(snap(2, Some("pre-restore"), false, true)),
            damaged(snap(3, Some("pre-restore"), true, true)),
            sound(snap(4, Some("pre-restore"), true, false)),
        ];
        let rules = RetentionPolicy {
            default: last(1),
            labels: vec![("nightly".into(), Retention::none())],
        };
        let (kept, removed) = decide(&all, &rules, &Needed::Snapshots(vec![]));
        let nightly = "20261101T030000Z-nightly";
        assert!(kept_ids(&kept).contains(&nightly.to_owned()), "{kept:?}");
        assert!(reasons(&kept, nightly).contains(&Reason::NewestFull));
        // The damaged one counts towards no rule: keep_last 1 of pre-restore takes day 4.
        let removed: Vec<&str> = removed.iter().map(|s| s.manifest.id.as_str()).collect();
        assert!(
            removed.contains(&"20261103T030000Z-pre-restore"),
            "{removed:?}"
        );
        assert!(
            removed.contains(&"20261102T030000Z-pre-restore"),
            "{removed:?}"
        );
        assert_eq!(
            reasons(&kept, "20261104T030000Z-pre-restore"),
            [Reason::Last, Reason::Newest]
        );
    }

    #[test]
    fn rules_apply_per_label_with_a_default_for_the_rest() {
        let all: Vec<_> = (1..=5)
            .map(|d| sound(snap(d, Some("nightly"), true, true)))
            .chain((6..=9).map(|d| sound(snap(d, Some("pre-update"), true, true))))
            .chain((10..=12).map(|d| sound(snap(d, None, true, true))))
            .collect();
        let rules = RetentionPolicy {
            default: last(1),
            labels: vec![("nightly".into(), last(3)), ("pre-update".into(), last(2))],
        };
        let (kept, _) = decide(&all, &rules, &Needed::Snapshots(vec![]));
        let mut ids = kept_ids(&kept);
        ids.sort();
        assert_eq!(
            ids,
            [
                "20261103T030000Z-nightly",
                "20261104T030000Z-nightly",
                "20261105T030000Z-nightly",
                "20261108T030000Z-pre-update",
                "20261109T030000Z-pre-update",
                "20261112T030000Z-none",
            ]
        );
    }

    #[test]
    fn what_an_unfinished_run_needs_is_kept_and_an_unasked_host_keeps_all() {
        let all: Vec<_> = (1..=4)
            .map(|d| sound(snap(d, Some("nightly"), true, true)))
            .collect();
        let rules = RetentionPolicy {
            default: last(1),
            labels: vec![],
        };
        let needed = Needed::Snapshots(vec!["20261101T030000Z-nightly".into()]);
        let (kept, removed) = decide(&all, &rules, &needed);
        assert_eq!(
            reasons(&kept, "20261101T030000Z-nightly"),
            [Reason::Unfinished]
        );
        assert_eq!(removed.len(), 2);
        let (kept, removed) = decide(&all, &rules, &Needed::Unknown("down".into()));
        assert_eq!(kept.len(), 4);
        assert!(removed.is_empty());
    }

    #[test]
    fn a_damaged_snapshot_counts_towards_no_rule_and_is_not_the_newest() {
        let all = vec![
            sound(snap(1, Some("nightly"), true, true)),
            sound(snap(2, Some("nightly"), true, true)),
            damaged(snap(3, Some("nightly"), true, true)),
        ];
        let rules = RetentionPolicy {
            default: last(1),
            labels: vec![],
        };
        let (kept, removed) = decide(&all, &rules, &Needed::Snapshots(vec![]));
        assert_eq!(kept_ids(&kept), ["20261102T030000Z-nightly"]);
        assert_eq!(
            reasons(&kept, "20261102T030000Z-nightly"),
            [Reason::Last, Reason::Newest, Reason::NewestFull]
        );
        assert_eq!(removed.len(), 2);
    }
}
