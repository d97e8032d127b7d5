//! What a client's monthly report holds, computed once and rendered three ways. The JSON
//! format *is* this model, serialized: other tools read the same facts the people do.
//!
//! Dates are RFC 3339 in UTC; sizes are exact bytes next to a human-readable text.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::month::Month;

/// The report for one client: the sites of its groups, what happened to them in `month`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientReport {
    /// The client's name as the inventory spells it, or [`super::UNASSIGNED`].
    pub client: String,
    /// Whether `client` is a real client (false: the sites without one).
    pub assigned: bool,
    /// The first `contact` of the client's groups, when any group has one.
    pub contact: Option<String>,
    /// The agency that maintains the sites (`settings.report.agency`).
    pub agency: Option<String>,
    /// Its logo (`settings.report.logo`), embedded in the HTML report only.
    #[serde(skip)]
    pub logo: Option<crate::inventory::Logo>,
    pub month: Month,
    /// The first day of the month, included.
    pub from: DateTime<Utc>,
    /// The first instant of the next month, excluded.
    pub until: DateTime<Utc>,
    pub summary: Summary,
    /// Runs started in the month that never finished and recorded no site: which sites
    /// they reached is unknown, so every client's report lists them.
    pub unfinished_runs: Vec<UnfinishedRun>,
    pub sites: Vec<SiteReport>,
}

/// The top of the report: totals over the client's sites.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Sites of the client in the inventory (after `--limit`).
    pub sites: usize,
    /// Of them, sites some run recorded anything about in the month.
    pub sites_with_activity: usize,
    pub updates_applied: usize,
    /// Updates counted as applied although the site ended `failed` (kept under
    /// `on_failure: continue/stop`).
    pub updates_applied_on_failed_sites: usize,
    /// Distinct updates held back (after de-duplication across runs).
    pub updates_held: usize,
    pub backups_taken: usize,
    pub backup_bytes: u64,
    pub backup_size: String,
    /// Distinct snapshots a `verify` run checked OK in the month.
    pub backups_verified: usize,
    pub incidents: Incidents,
    /// Sites put back by `tend recover`.
    pub recoveries: usize,
    /// Snapshots put back on request (`tend restore`).
    pub restores: usize,
    pub checks_passed: usize,
    pub checks_failed: usize,
}

/// Incidents counted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Incidents {
    pub total: usize,
    pub failures: usize,
    pub rollbacks: usize,
    /// Runs that started and never finished (killed midway).
    pub unfinished_runs: usize,
}

/// A run that started and never finished, with no record of the sites it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnfinishedRun {
    pub run: String,
    pub command: String,
    pub playbook: Option<String>,
    pub runner: String,
    pub started: DateTime<Utc>,
}

/// One site's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteReport {
    pub site: String,
    pub url: String,
    /// The CMS the inventory names (`None`: detected on each run).
    pub cms: Option<String>,
    /// Whether any run recorded anything about this site in the month.
    pub activity: bool,
    /// Runs with a record of this site in the month.
    pub runs: usize,
    pub updates: Vec<AppliedUpdate>,
    pub held: Vec<HeldUpdate>,
    /// Installed components no update source tracked in the month's update runs: tend
    /// never updates them, so someone must.
    pub untracked: Vec<UntrackedComponent>,
    pub backups: Backups,
    pub incidents: Vec<Incident>,
    pub recoveries: Vec<Recovery>,
    pub restores: Vec<Restore>,
    pub checks: Vec<CheckSummary>,
}

/// An update installed on the site and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedUpdate {
    /// `core`, `plugin`, `theme`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub from: String,
    pub to: String,
    /// When the run that applied it started.
    pub date: DateTime<Utc>,
    pub run: String,
    /// The site ended `failed` in that run (the update was kept: `on_failure: continue` or
    /// `stop`); worth a look.
    pub site_failed: bool,
}

/// An update that was available or planned but not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldUpdate {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    /// The installed version.
    pub from: String,
    /// The version on offer, when known.
    pub available: Option<String>,
    pub reason: String,
    /// The latest run that held it back.
    pub date: DateTime<Utc>,
}

/// An installed component no update source tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntrackedComponent {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub version: Option<String>,
    /// The latest run that found it untracked.
    pub date: DateTime<Utc>,
}

/// Snapshots taken in the month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backups {
    pub count: usize,
    /// When the run that took the newest one started.
    pub newest: Option<DateTime<Utc>>,
    pub bytes: u64,
    pub size: String,
    /// Distinct snapshots of this site (of any month) a `verify` run checked OK this month.
    pub verified: usize,
    /// Snapshots removed by the retention policy (`prune`) in the month.
    pub pruned: usize,
    pub snapshots: Vec<SnapshotTaken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotTaken {
    pub id: String,
    pub label: Option<String>,
    pub bytes: u64,
    pub date: DateTime<Utc>,
    /// Checked OK by a `verify` run in the month.
    pub verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The command failed on the site.
    Failed,
    /// An update broke the site and was undone.
    RolledBack,
    /// The run recorded this site but never finished.
    Unfinished,
}

impl IncidentKind {
    pub fn label(self) -> &'static str {
        match self {
            IncidentKind::Failed => "failed",
            IncidentKind::RolledBack => "rolled back",
            IncidentKind::Unfinished => "never finished",
        }
    }
}

/// A failure, rollback or unfinished run on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub kind: IncidentKind,
    pub date: DateTime<Utc>,
    pub run: String,
    pub command: String,
    pub playbook: Option<String>,
    /// What happened, in one plain sentence for the client (made from the record's data,
    /// never from the error text).
    pub summary: String,
    /// The checks that failed (by name), when the record says.
    pub failed_checks: Vec<String>,
    /// The error recorded (already masked of secrets).
    pub reason: Option<String>,
    /// How the rollback went, for rollbacks.
    pub rollback: Option<String>,
    /// The updates a rollback undid.
    pub undone: Vec<Change>,
}

/// An update as from → to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub from: String,
    pub to: String,
}

/// `tend recover` put back a site an interrupted run had left half-changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub date: DateTime<Utc>,
    pub run: String,
    pub note: Option<String>,
}

/// `tend restore` put a snapshot back on the site (on request: a deleted page, a hack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restore {
    pub date: DateTime<Utc>,
    pub run: String,
    /// The snapshot put back (of this site, or of another one restored onto it).
    pub snapshot: String,
    pub label: Option<String>,
    /// The site the snapshot was taken of, when another one.
    pub from_site: Option<String>,
}

/// One HTTP check over the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    pub name: String,
    pub path: String,
    pub passed: usize,
    pub total: usize,
    /// The result of the latest run that made this check.
    pub last_ok: bool,
    pub last_status: Option<u16>,
    pub last_problems: Vec<String>,
    pub mean_ms: u64,
}
