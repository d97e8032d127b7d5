//! The words both human formats use (Markdown and HTML say the same things), kept in one
//! place so that the two never tell a client different stories. Plain text: each renderer
//! escapes it for its own format.

use chrono::{DateTime, Utc};

use super::model::{CheckSummary, Incident, IncidentKind, Summary, UnfinishedRun};
use super::ClientReport;

/// The note on an update kept on a site that then failed.
pub const KEPT_ON_FAILURE: &str = "kept, but the site failed in this run";

pub fn title(report: &ClientReport) -> String {
    format!(
        "Maintenance report: {} — {}",
        report.client,
        report.month.title()
    )
}

/// `November 2026 (2026-11-01 to 2026-11-30, UTC)`.
pub fn period(report: &ClientReport) -> String {
    format!(
        "{} ({} to {}, UTC)",
        report.month.title(),
        report.month.first_day(),
        report.month.last_day()
    )
}

pub fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

pub fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary as (label, value) rows.
pub fn summary_rows(s: &Summary) -> Vec<(&'static str, String)> {
    let mut updates = s.updates_applied.to_string();
    if s.updates_applied_on_failed_sites > 0 {
        updates.push_str(&format!(
            " ({} on sites that then failed)",
            s.updates_applied_on_failed_sites
        ));
    }
    let i = &s.incidents;
    vec![
        (
            "Sites maintained",
            format!("{} ({} with activity)", s.sites, s.sites_with_activity),
        ),
        ("Updates applied", updates),
        ("Updates held back", s.updates_held.to_string()),
        (
            "Backups taken",
            format!("{} ({})", s.backups_taken, s.backup_size),
        ),
        ("Backups verified", s.backups_verified.to_string()),
        (
            "Incidents",
            format!(
                "{}: {}, {}, {}",
                i.total,
                plural(i.failures, "failure", "failures"),
                plural(i.rollbacks, "rollback", "rollbacks"),
                plural(i.unfinished_runs, "unfinished run", "unfinished runs"),
            ),
        ),
        ("Restores on request", s.restores.to_string()),
        ("Recoveries", s.recoveries.to_string()),
        (
            "Checks",
            format!("{} passed, {} failed", s.checks_passed, s.checks_failed),
        ),
    ]
}

/// `wordpress · https://… · 3 runs`.
pub fn site_line(cms: Option<&str>, url: &str, runs: usize) -> String {
    let mut parts = Vec::new();
    if let Some(cms) = cms {
        parts.push(cms.to_owned());
    }
    parts.push(url.to_owned());
    parts.push(plural(runs, "run", "runs"));
    parts.join(" · ")
}

pub fn no_activity(report: &ClientReport) -> String {
    format!("No activity recorded in {}.", report.month.title())
}

/// What was being done, in words: `maintenance "Monthly"`, `backup`, …
pub fn command(command: &str, playbook: Option<&str>) -> String {
    let what = match command {
        "run" => "maintenance",
        "verify" => "backup check",
        "prune" => "backup clean-up",
        "recover" => "recovery",
        other => other,
    };
    match playbook {
        Some(p) => format!("{what} \"{p}\""),
        None => what.to_owned(),
    }
}

/// `ROLLED BACK`, `FAILED`, `NEVER FINISHED`: the outcome in words (never only a colour).
pub fn incident_kind(kind: IncidentKind) -> String {
    kind.label().to_uppercase()
}

/// What an incident's reason column says: the plain sentence (the error text, commands and
/// paths stay in the history and the JSON report).
pub fn incident_detail(incident: &Incident) -> String {
    incident.summary.clone()
}

/// Why an update was held back, as plain words: the policy's reasons quote settings in
/// Markdown code marks (`` (`hold`) ``), which are left out for the client.
pub fn held_reason(reason: &str) -> String {
    reason.replace('`', "")
}

pub fn unfinished_intro() -> &'static str {
    "Runs that started and never finished (killed or interrupted). They recorded no site, \
     so which sites they reached is unknown."
}

pub fn unfinished_line(run: &UnfinishedRun) -> String {
    format!(
        "{}: {}",
        minute(run.started),
        command(&run.command, run.playbook.as_deref()),
    )
}

/// `3 taken, newest 2026-11-28, 1.2 GiB in total; 1 verified`.
pub fn backups_line(b: &super::model::Backups) -> String {
    let mut text = if b.count == 0 {
        "none taken".to_owned()
    } else {
        format!(
            "{} taken, newest {}, {} in total",
            b.count,
            b.newest.map(day).unwrap_or_default(),
            b.size
        )
    };
    text.push_str(&format!("; {} verified", b.verified));
    if b.pruned > 0 {
        text.push_str(&format!("; {} removed by retention", b.pruned));
    }
    text
}

/// `passed` / `FAILED (500)`.
pub fn check_last(c: &CheckSummary) -> String {
    let status = c
        .last_status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    if c.last_ok {
        format!("passed{status}")
    } else if c.last_problems.is_empty() {
        format!("FAILED{status}")
    } else {
        format!("FAILED{status}: {}", c.last_problems.join("; "))
    }
}

pub fn check_passed(c: &CheckSummary) -> String {
    format!("{} of {}", c.passed, c.total)
}

pub fn millis(ms: u64) -> String {
    format!("{ms} ms")
}

/// One restore, as a line: `restored the nightly backup of shop (taken 2026-11-12)`.
pub fn restore(r: &super::model::Restore) -> String {
    let what = match &r.label {
        Some(label) => format!("the \"{label}\" backup"),
        None => "a backup".to_owned(),
    };
    match &r.from_site {
        Some(from) => format!("restored {what} of the site {from} onto this site"),
        None => format!("restored {what} of this site"),
    }
}

/// A recovery, as a line.
pub fn recovery() -> &'static str {
    "put back as it was before a maintenance run that was interrupted"
}

/// The client's sites, `blog, shop`.
pub fn site_names(report: &ClientReport) -> String {
    report
        .sites
        .iter()
        .map(|s| s.site.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The heading over a site's components no update source tracks (`tend` never updates
/// them: a premium plugin without a repository entry, custom code).
pub const UNTRACKED_HEADING: &str = "Not tracked by any update source";
