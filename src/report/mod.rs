//! `tend report`: the monthly maintenance report per client, from the run history.
//!
//! Agencies bill maintenance and answer "what did you do for us this month?" with this
//! report. It is built only from what the history recorded ([`crate::history`]), never from
//! what tend would do now, so it states what happened — including what went wrong. One
//! [`ClientReport`] per client; [`build`] is pure, the renderers ([`markdown`], [`html`],
//! JSON = the [`model`] serialized) turn it into text, and [`write`] puts files on disk.
//!
//! Who is in which report: every selected site of the inventory belongs to the `client` of
//! the first of its groups that has one; sites with none are under [`UNASSIGNED`]. A client
//! with no selected site gets no report. A site with nothing recorded in the month is still
//! listed ("no activity recorded"): saying so is the honest answer. Sites found in the
//! history but no longer in the inventory are left out — they belong to no client now, and
//! a report is about the sites a client has.
//!
//! Counting rules:
//! - A run belongs to the month its start time falls in (UTC).
//! - **Updates applied**: the changes of a site record with status `ok`. A `failed` record
//!   that has changes kept them (`on_failure: continue`/`stop`, or a rollback that failed):
//!   they count as applied, flagged `site_failed`. A `rolled_back` record's changes were
//!   undone: they are listed with the rollback incident, not as applied.
//! - **Held back**: every `held` entry of the month, de-duplicated by type and slug; the
//!   latest run's entry wins (its versions and reason are the current ones).
//! - **Not tracked by any update source**: every `untracked` entry of the month's site
//!   records, de-duplicated by type and slug, the latest run's entry winning.
//! - **Backups taken**: snapshots recorded by `backup` and `run` commands (a `run`'s
//!   pre-update snapshot counts even when the site was rolled back: it exists). A `restore`
//!   lists the snapshot it put back and its `pre-restore` safety snapshot; neither is counted
//!   as a backup taken (the restore itself shows as a failure when it failed). Newest date
//!   and total size are over the snapshots taken in the month.
//! - **Backups verified**: distinct snapshot ids that a `verify` run (`tend backups verify`)
//!   in the month listed in a site record, for that site — it lists the snapshots it found
//!   intact and names the damaged ones in its error (of any month: verifying an older
//!   snapshot is still work done this month).
//! - **Incidents**: site records with status `failed` (any command) or `rolled_back`, plus
//!   runs that never finished. A run records the sites it sets out to do when it starts and
//!   each site as it finishes: an unfinished run is an incident of each site it set out to
//!   do and never finished (the sites it finished count by their own outcome). A run that
//!   recorded neither (an older record) is listed in every client's report, since which
//!   sites it reached is unknown.
//! - **Restores**: `restore` site records with status `ok`, with the snapshot put back (a
//!   failed restore is a failure like any other).
//! - **Recoveries**: site records with status `recovered` (`tend recover`), listed apart:
//!   they repair the damage of an unfinished run, they are not a new incident.
//! - **Checks**: the `checks` of each site record (a run's last verification of the site),
//!   counted passed/failed; per check (name and path): passed X of Y, the latest result, and
//!   the mean response time.
//! - `skipped` site records (a run that stopped at `max_failures`) count as activity only.

pub mod file_name;
pub mod html;
pub mod markdown;
pub mod model;
pub mod month;
mod wording;
pub mod write;

use std::collections::{BTreeMap, HashSet};

use crate::history::{RunRecord, SiteRecord};
use crate::human_size::human_bytes;
use crate::inventory::{Inventory, Site};
use crate::outcome::Outcome;
pub use model::ClientReport;
use model::{
    AppliedUpdate, Backups, Change, CheckSummary, HeldUpdate, Incident, IncidentKind, Incidents,
    Recovery, Restore, SiteReport, SnapshotTaken, Summary, UnfinishedRun, UntrackedComponent,
};
pub use month::{Month, MonthError};

/// The name of the report for sites whose groups name no client.
pub const UNASSIGNED: &str = "Unassigned";

/// Why a site of an unfinished run is an incident.
const UNFINISHED_REASON: &str = "the run stopped (killed, or its machine went down) before this site was done; `tend recover` puts back a site left half-updated";

/// An unfinished run's incident, for the client.
const UNFINISHED_SUMMARY: &str = "The maintenance run was interrupted before this site was done.";

/// The names of the checks that failed in the record: those of the failed verification
/// before a rollback, else those of its checks.
fn failed_check_names(record: &SiteRecord) -> Vec<String> {
    let source = if record.failed_checks.is_empty() {
        &record.checks
    } else {
        &record.failed_checks
    };
    let mut names: Vec<String> = Vec::new();
    for c in source.iter().filter(|c| !c.ok) {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    names
}

/// An incident in one plain sentence, from the record's data: its outcome, the command,
/// the changes made or undone and the checks that failed — never the error text, which
/// holds commands, paths and tool output (it stays in the history and the JSON report).
fn incident_summary(kind: IncidentKind, command: &str, record: &SiteRecord) -> String {
    let changes: Vec<String> = record
        .changes
        .iter()
        .map(|c| format!("{} {} {} → {}", c.kind, c.slug, c.from, c.to))
        .collect();
    let checks = failed_check_names(record);
    let checks_failed = match checks.len() {
        0 => None,
        1 => Some(format!("the check \"{}\" failed", checks[0])),
        _ => Some(format!("the checks \"{}\" failed", checks.join("\", \""))),
    };
    let culprits: Vec<String> = record
        .rolled_back
        .iter()
        .map(|c| format!("{} {} {} → {}", c.kind, c.slug, c.from, c.to))
        .collect();
    match kind {
        IncidentKind::RolledBack if !culprits.is_empty() => {
            let why = checks_failed
                .map(|c| format!("After updating {}, {c}, so ", culprits.join(", ")))
                .unwrap_or_else(|| {
                    format!(
                        "After updating {}, the site did not work as expected, so ",
                        culprits.join(", ")
                    )
                });
            let kept = if changes.is_empty() {
                "nothing else was updated".to_owned()
            } else {
                format!("the other updates ({}) were kept", changes.join(", "))
            };
            format!("{why}that update alone was undone (its files and the database as just before it); {kept}. The version that broke the site is held in later runs.")
        }
        IncidentKind::RolledBack => {
            let what = if changes.is_empty() {
                "the update".to_owned()
            } else {
                format!("updating {}", changes.join(", "))
            };
            let why = checks_failed
                .map(|c| format!("After {what}, {c}, so "))
                .unwrap_or_else(|| format!("After {what}, the site did not work as expected, so "));
            if record.status == Outcome::Partial {
                format!("{why}the change was undone, but only in part; the site needs attention.")
            } else {
                format!("{why}the site was put back exactly as it was before.")
            }
        }
        IncidentKind::Unfinished => UNFINISHED_SUMMARY.to_owned(),
        IncidentKind::Failed => {
            let base = match command {
                "backup" => "The backup could not be taken".to_owned(),
                "restore" => "The restore could not be completed".to_owned(),
                "verify" => "A stored backup failed its integrity check".to_owned(),
                "prune" => "Old backups could not be removed".to_owned(),
                "recover" => "The site could not be put back after an interrupted run".to_owned(),
                _ if !changes.is_empty() => format!(
                    "The maintenance run failed after updating {}; the update was kept",
                    changes.join(", ")
                ),
                _ => "The maintenance run could not be completed on this site".to_owned(),
            };
            match checks_failed {
                Some(c) => format!("{base}: {c}."),
                None => format!("{base}."),
            }
        }
    }
}

/// The label of the safety snapshot a restore takes first.
const PRE_RESTORE_LABEL: &str = "pre-restore";

/// One report per client of `sites` (in inventory order, [`UNASSIGNED`] last), from the
/// `runs` started in `month`.
pub fn build(
    runs: &[RunRecord],
    inventory: &Inventory,
    sites: &[&Site],
    month: Month,
) -> Vec<ClientReport> {
    let mut in_month: Vec<&RunRecord> = runs.iter().filter(|r| month.contains(r.started)).collect();
    in_month.sort_by_key(|r| r.started);
    let verified = verified_snapshots(&in_month);
    let unfinished_runs: Vec<UnfinishedRun> = in_month
        .iter()
        .filter(|r| !r.is_finished() && r.sites.is_empty() && r.targets.is_empty())
        .map(|r| UnfinishedRun {
            run: r.id.clone(),
            command: r.command.clone(),
            playbook: r.playbook.clone(),
            runner: r.runner.clone(),
            started: r.started,
        })
        .collect();

    let mut clients: Vec<(Option<String>, Vec<&Site>)> = Vec::new();
    for &site in sites {
        let client = client_of(inventory, site);
        match clients.iter_mut().find(|(c, _)| *c == client) {
            Some((_, list)) => list.push(site),
            None => clients.push((client, vec![site])),
        }
    }
    // Unassigned last.
    clients.sort_by_key(|(c, _)| c.is_none());

    clients
        .into_iter()
        .map(|(client, client_sites)| {
            let site_reports: Vec<SiteReport> = client_sites
                .iter()
                .map(|s| site_report(s, &in_month, &verified))
                .collect();
            let summary = summarize(&site_reports, unfinished_runs.len());
            ClientReport {
                contact: client.as_deref().and_then(|c| contact_of(inventory, c)),
                agency: inventory.settings.report.agency.clone(),
                logo: inventory.settings.report.logo.clone(),
                assigned: client.is_some(),
                client: client.unwrap_or_else(|| UNASSIGNED.to_owned()),
                month,
                from: month.start(),
                until: month.end(),
                summary,
                unfinished_runs: unfinished_runs.clone(),
                sites: site_reports,
            }
        })
        .collect()
}

/// The client of the first of the site's groups that names one.
fn client_of(inventory: &Inventory, site: &Site) -> Option<String> {
    site.groups
        .iter()
        .filter_map(|g| inventory.groups.get(g))
        .find_map(|g| g.client.clone())
}

/// The first contact of the groups whose client is `client`.
fn contact_of(inventory: &Inventory, client: &str) -> Option<String> {
    inventory
        .groups
        .values()
        .filter(|g| g.client.as_deref() == Some(client))
        .find_map(|g| g.contact.clone())
}

/// (site, snapshot id) pairs a `verify` run found intact.
fn verified_snapshots<'a>(runs: &[&'a RunRecord]) -> HashSet<(&'a str, &'a str)> {
    runs.iter()
        .filter(|r| r.command == "verify")
        .flat_map(|r| &r.sites)
        .flat_map(|s| {
            s.snapshots
                .iter()
                .map(|snap| (s.site.as_str(), snap.id.as_str()))
        })
        .collect()
}

/// The changes a record's site rolled back alone (`mode: each`).
fn rolled_back(record: &SiteRecord) -> Vec<Change> {
    record
        .rolled_back
        .iter()
        .map(|c| Change {
            kind: c.kind.clone(),
            slug: c.slug.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        })
        .collect()
}

fn changes(record: &SiteRecord) -> Vec<Change> {
    record
        .changes
        .iter()
        .map(|c| Change {
            kind: c.kind.clone(),
            slug: c.slug.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        })
        .collect()
}

/// Running totals of one check over the month.
struct CheckTally {
    name: String,
    path: String,
    passed: usize,
    total: usize,
    elapsed_ms: u64,
    last_ok: bool,
    last_status: Option<u16>,
    last_problems: Vec<String>,
}

/// What `runs` (of the month, oldest first) recorded about `site`.
fn site_report(site: &Site, runs: &[&RunRecord], verified: &HashSet<(&str, &str)>) -> SiteReport {
    let mut report = SiteReport {
        site: site.name.clone(),
        url: site.url.clone(),
        cms: site.cms.map(|c| c.name().to_owned()),
        activity: false,
        runs: 0,
        updates: Vec::new(),
        held: Vec::new(),
        untracked: Vec::new(),
        backups: Backups::default(),
        incidents: Vec::new(),
        recoveries: Vec::new(),
        restores: Vec::new(),
        checks: Vec::new(),
    };
    let mut held: BTreeMap<(String, String), HeldUpdate> = BTreeMap::new();
    let mut held_order: Vec<(String, String)> = Vec::new();
    let mut checks: Vec<CheckTally> = Vec::new();
    let mut verified_ids: HashSet<&str> = HashSet::new();

    for run in runs {
        let records: Vec<&SiteRecord> = run.sites.iter().filter(|s| s.site == site.name).collect();
        if records.is_empty() {
            if !run.is_finished() && run.targets.contains(&site.name) {
                report.runs += 1;
                report.incidents.push(Incident {
                    kind: IncidentKind::Unfinished,
                    date: run.started,
                    run: run.id.clone(),
                    command: run.command.clone(),
                    playbook: run.playbook.clone(),
                    summary: UNFINISHED_SUMMARY.to_owned(),
                    failed_checks: Vec::new(),
                    reason: Some(UNFINISHED_REASON.to_owned()),
                    rollback: None,
                    undone: Vec::new(),
                });
            }
            continue;
        }
        report.runs += 1;
        let incident = |kind: IncidentKind, record: &SiteRecord| Incident {
            kind,
            date: run.started,
            run: run.id.clone(),
            command: run.command.clone(),
            playbook: run.playbook.clone(),
            summary: incident_summary(kind, &run.command, record),
            failed_checks: failed_check_names(record),
            reason: record.error.clone(),
            rollback: record.rollback.clone(),
            undone: Vec::new(),
        };
        for record in records {
            let applied = |site_failed: bool| {
                record.changes.iter().map(move |c| AppliedUpdate {
                    kind: c.kind.clone(),
                    slug: c.slug.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                    date: run.started,
                    run: run.id.clone(),
                    site_failed,
                })
            };
            match record.status {
                Outcome::Ok if run.command == "restore" => {
                    if let Some(snapshot) = record.snapshots.first() {
                        report.restores.push(Restore {
                            date: run.started,
                            run: run.id.clone(),
                            snapshot: snapshot.id.clone(),
                            label: snapshot.label.clone(),
                            from_site: record.restored_from.clone(),
                        });
                    }
                }
                Outcome::Ok => report.updates.extend(applied(false)),
                Outcome::Failed => {
                    report.updates.extend(applied(true));
                    report
                        .incidents
                        .push(incident(IncidentKind::Failed, record));
                }
                // `mode: each`: the changes that verified were kept (applied), the ones
                // rolled back alone are the incident.
                Outcome::RolledBack | Outcome::Partial if !record.rolled_back.is_empty() => {
                    report.updates.extend(applied(false));
                    report.incidents.push(Incident {
                        undone: rolled_back(record),
                        ..incident(IncidentKind::RolledBack, record)
                    });
                }
                Outcome::RolledBack | Outcome::Partial => report.incidents.push(Incident {
                    undone: changes(record),
                    ..incident(IncidentKind::RolledBack, record)
                }),
                Outcome::Recovered => report.recoveries.push(Recovery {
                    date: run.started,
                    run: run.id.clone(),
                    note: record.rollback.clone().or_else(|| record.error.clone()),
                }),
                Outcome::Skipped => {}
            }

            for u in &record.untracked {
                report
                    .untracked
                    .retain(|t| (&t.kind, &t.slug) != (&u.kind, &u.slug));
                report.untracked.push(UntrackedComponent {
                    kind: u.kind.clone(),
                    slug: u.slug.clone(),
                    version: u.version.clone(),
                    date: run.started,
                });
            }

            for h in &record.held {
                let key = (h.kind.clone(), h.slug.clone());
                if !held.contains_key(&key) {
                    held_order.push(key.clone());
                }
                held.insert(
                    key,
                    HeldUpdate {
                        kind: h.kind.clone(),
                        slug: h.slug.clone(),
                        from: h.from.clone(),
                        available: h.available.clone(),
                        reason: h.reason.clone(),
                        date: run.started,
                    },
                );
            }

            if run.command == "backup" || run.command == "run" {
                for snap in &record.snapshots {
                    if snap.label.as_deref() == Some(PRE_RESTORE_LABEL) {
                        continue;
                    }
                    report.backups.snapshots.push(SnapshotTaken {
                        id: snap.id.clone(),
                        label: snap.label.clone(),
                        bytes: snap.bytes,
                        date: run.started,
                        verified: verified.contains(&(site.name.as_str(), snap.id.as_str())),
                    });
                }
            }
            if run.command == "verify" {
                verified_ids.extend(record.snapshots.iter().map(|s| s.id.as_str()));
            }
            report.backups.pruned += record.pruned.len();

            // As they happened: the verification that failed before a rollback, then the
            // one after it.
            for c in record.failed_checks.iter().chain(&record.checks) {
                let tally = match checks
                    .iter_mut()
                    .position(|t| t.name == c.name && t.path == c.path)
                {
                    Some(i) => &mut checks[i],
                    None => {
                        checks.push(CheckTally {
                            name: c.name.clone(),
                            path: c.path.clone(),
                            passed: 0,
                            total: 0,
                            elapsed_ms: 0,
                            last_ok: c.ok,
                            last_status: None,
                            last_problems: Vec::new(),
                        });
                        checks.last_mut().expect("just pushed")
                    }
                };
                tally.total += 1;
                tally.passed += usize::from(c.ok);
                tally.elapsed_ms += c.elapsed_ms;
                tally.last_ok = c.ok;
                tally.last_status = c.status;
                tally.last_problems = c.problems.clone();
            }
        }
    }

    report.activity = report.runs > 0;
    report.held = held_order
        .into_iter()
        .filter_map(|k| held.remove(&k))
        .collect();
    let backups = &mut report.backups;
    backups.count = backups.snapshots.len();
    backups.bytes = backups.snapshots.iter().map(|s| s.bytes).sum();
    backups.size = human_bytes(backups.bytes);
    backups.newest = backups.snapshots.iter().map(|s| s.date).max();
    backups.verified = verified_ids.len();
    report.checks = checks
        .into_iter()
        .map(|t| CheckSummary {
            mean_ms: t.elapsed_ms / t.total.max(1) as u64,
            name: t.name,
            path: t.path,
            passed: t.passed,
            total: t.total,
            last_ok: t.last_ok,
            last_status: t.last_status,
            last_problems: t.last_problems,
        })
        .collect();
    report
}

fn summarize(sites: &[SiteReport], unfinished_runs: usize) -> Summary {
    let count = |kind: IncidentKind| {
        sites
            .iter()
            .flat_map(|s| &s.incidents)
            .filter(|i| i.kind == kind)
            .count()
    };
    let failures = count(IncidentKind::Failed);
    let rollbacks = count(IncidentKind::RolledBack);
    // Unfinished runs: those that recorded this client's sites, once each, and those that
    // recorded none.
    let unfinished_with_sites: HashSet<&str> = sites
        .iter()
        .flat_map(|s| &s.incidents)
        .filter(|i| i.kind == IncidentKind::Unfinished)
        .map(|i| i.run.as_str())
        .collect();
    let unfinished = unfinished_with_sites.len() + unfinished_runs;
    let backup_bytes = sites.iter().map(|s| s.backups.bytes).sum();
    let checks = sites.iter().flat_map(|s| &s.checks);
    let checks_passed: usize = checks.clone().map(|c| c.passed).sum();
    let checks_total: usize = checks.map(|c| c.total).sum();
    Summary {
        sites: sites.len(),
        sites_with_activity: sites.iter().filter(|s| s.activity).count(),
        updates_applied: sites.iter().map(|s| s.updates.len()).sum(),
        updates_applied_on_failed_sites: sites
            .iter()
            .flat_map(|s| &s.updates)
            .filter(|u| u.site_failed)
            .count(),
        updates_held: sites.iter().map(|s| s.held.len()).sum(),
        backups_taken: sites.iter().map(|s| s.backups.count).sum(),
        backup_bytes,
        backup_size: human_bytes(backup_bytes),
        backups_verified: sites.iter().map(|s| s.backups.verified).sum(),
        incidents: Incidents {
            total: failures + rollbacks + unfinished,
            failures,
            rollbacks,
            unfinished_runs: unfinished,
        },
        recoveries: sites.iter().map(|s| s.recoveries.len()).sum(),
        restores: sites.iter().map(|s| s.restores.len()).sum(),
        checks_passed,
        checks_failed: checks_total - checks_passed,
    }
}

#[cfg(test)]
mod tests;
