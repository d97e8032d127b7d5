//! Backups as the user sees them: results of `tend backup`, the snapshot list, verification.

use serde_json::{json, Value};

use super::style::Style;
use crate::backup::manifest::Listed;
use crate::backup::offsite::OffsiteOutcome;
use crate::backup::prune::SitePrune;
use crate::backup::store::{DataRead, Reclaimed, StoreCheck};
use crate::backup::Snapshot;
use crate::engine::backup::SiteBackup;
use crate::engine::restore::Restored;
use crate::human_size::human_bytes;
use crate::outcome::Outcome;
use crate::site_error::SiteError;

pub fn backup_json(results: &[SiteBackup]) -> Value {
    let sites: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(backup) => {
                let m = &backup.manifest;
                let (ok, error, error_kind) = match &backup.offsite {
                    Some(OffsiteOutcome::Failed(failure)) => (
                        false,
                        Some(failure.to_string()),
                        Some(SiteError::OffsiteCopyFailed(failure.clone()).kind()),
                    ),
                    _ => (true, None, None),
                };
                let mut site = json!({"site": r.site, "ok": ok, "snapshot": m.id, "bytes": m.bytes(), "files_read": m.files.as_ref().and_then(|f| f.listed.as_ref()), "warnings": m.warnings, "offsite": offsite_json(backup.offsite.as_ref()), "error": error});
                if let Some(kind) = error_kind {
                    site["error_kind"] = json!(kind);
                }
                site
            }
            Err(e) => json!({"site": r.site, "ok": false, "snapshot": null, "bytes": null, "error": e.masked(), "error_kind": e.kind()}),
        })
        .collect();
    json!({ "sites": sites })
}

/// A snapshot's off-site copy: `null` without `settings.offsite`, else `{"location",
/// "ok", "copied"}` (`copied`: tend ids, the new snapshot's and any earlier one that was
/// missing off-site).
pub fn offsite_json(offsite: Option<&OffsiteOutcome>) -> Value {
    match offsite {
        None => Value::Null,
        Some(OffsiteOutcome::Copied(copy)) => {
            json!({"location": copy.location, "ok": true, "copied": copy.copied})
        }
        Some(OffsiteOutcome::Failed(failure)) => {
            json!({"location": failure.offsite, "ok": false, "copied": []})
        }
    }
}

pub fn backup_text(results: &[SiteBackup], style: Style) -> String {
    let mut out = String::new();
    for r in results {
        match &r.result {
            Ok(backup) => {
                let m = &backup.manifest;
                let (word, offsite) = match &backup.offsite {
                    None => (style.good("ok"), String::new()),
                    Some(OffsiteOutcome::Copied(copy)) => (
                        style.good("ok"),
                        match copy.copied.len() {
                            0 | 1 => "  copied off-site".to_owned(),
                            n => format!("  copied off-site with {} earlier snapshot(s)", n - 1),
                        },
                    ),
                    Some(OffsiteOutcome::Failed(_)) => (style.bad("failed"), String::new()),
                };
                out.push_str(&format!(
                    "{}  {}  {}  {}{}\n",
                    style.bold(&r.site),
                    word,
                    m.id,
                    human_bytes(m.bytes()),
                    offsite
                ));
                if let Some(listed) = m.files.as_ref().and_then(|f| f.listed.as_ref()) {
                    out.push_str(&format!("  {}\n", files_read_text(listed)));
                }
                if let Some(OffsiteOutcome::Failed(failure)) = &backup.offsite {
                    out.push_str(&format!("  {} {failure}\n", style.bad("error:")));
                }
                for w in &m.warnings {
                    out.push_str(&format!("  {} {w}\n", style.warn("warning:")));
                }
            }
            Err(e) => out.push_str(&super::site_failed(&style, &r.site, &e.masked())),
        }
    }
    out
}

/// What a backup stored from a listing read and reused.
fn files_read_text(listed: &Listed) -> String {
    let read = listed.files_new + listed.files_changed + listed.files_racy;
    format!(
        "files: {read} read ({} new, {} changed, {} racy), {} unchanged taken from the previous snapshot; {} over the wire for {} of files",
        listed.files_new,
        listed.files_changed,
        listed.files_racy,
        listed.files_reused,
        human_bytes(listed.wire_bytes),
        human_bytes(listed.bytes_read + listed.bytes_reused),
    )
}

pub fn list_json(snapshots: &[Snapshot]) -> Value {
    let list: Vec<Value> = snapshots
        .iter()
        .map(|s| {
            let m = &s.manifest;
            json!({
                "id": m.id, "site": m.site, "created": m.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "label": m.label, "bytes": m.bytes(), "cms": m.cms, "version": m.version,
                "files": m.files.is_some(), "database": m.database.is_some(),
            })
        })
        .collect();
    json!({ "snapshots": list })
}

/// What `tend backups init` did to one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitOutcome {
    Created,
    /// It existed already and its password opens it.
    AlreadyThere,
}

/// `tend backups init`, with `--json`: `{"repositories": [{"name", "location", "created"}]}`.
pub fn init_json(done: &[(&str, String, InitOutcome)]) -> serde_json::Value {
    serde_json::json!({
        "repositories": done
            .iter()
            .map(|(name, location, outcome)| serde_json::json!({
                "name": name,
                "location": location,
                "created": *outcome == InitOutcome::Created,
            }))
            .collect::<Vec<_>>()
    })
}

/// `tend backups init`: one line per repository, and the reminder that matters most.
pub fn init_text(done: &[(&str, String, InitOutcome)]) -> String {
    let mut out = String::new();
    for (name, location, outcome) in done {
        let what = match outcome {
            InitOutcome::Created => "created",
            InitOutcome::AlreadyThere => "already there (its password opens it)",
        };
        out.push_str(&format!("{name} {location}: {what}\n"));
    }
    if done.iter().any(|(_, _, o)| *o == InitOutcome::Created) {
        out.push_str("Keep a copy of the repository's password somewhere else (the agency's password manager): without it the backups cannot be read by anyone.\n");
    }
    out
}

pub fn list_text(snapshots: &[Snapshot]) -> String {
    if snapshots.is_empty() {
        return "no snapshots\n".to_owned();
    }
    let rows: Vec<[String; 7]> = snapshots
        .iter()
        .map(|s| {
            let m = &s.manifest;
            let parts = match (m.files.is_some(), m.database.is_some()) {
                (true, true) => "files+db",
                (true, false) => "files",
                (false, true) => "db",
                (false, false) => "-",
            };
            [
                m.site.clone(),
                m.id.clone(),
                m.created.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                m.label.clone().unwrap_or_else(|| "-".into()),
                human_bytes(m.bytes()),
                format!("{} {}", m.cms, m.version),
                parts.to_owned(),
            ]
        })
        .collect();
    super::table::render(
        [
            "SITE", "SNAPSHOT", "CREATED", "LABEL", "SIZE", "CMS", "PARTS",
        ],
        &rows,
    )
}

fn data_read_text(data: DataRead) -> String {
    match data {
        DataRead::All => "all of its data read back".to_owned(),
        DataRead::Share { percent } => format!("{percent}% of its data read back"),
    }
}

/// `backups verify --json`: the snapshots, and the repository's own check (`store`, null
/// for a folder store).
pub fn verify_json(results: &[(Snapshot, Vec<String>)], store: Option<&StoreCheck>) -> Value {
    let list: Vec<Value> = results
        .iter()
        .map(|(s, problems)| json!({"id": s.manifest.id, "site": s.manifest.site, "ok": problems.is_empty(), "problems": problems}))
        .collect();
    let store = store.map(|c| {
        json!({
            "location": c.location,
            "ok": c.problems.is_empty(),
            "data_read": match c.data_read {
                DataRead::All => json!("all"),
                DataRead::Share { percent } => json!(format!("{percent}%")),
            },
            "problems": c.problems,
        })
    });
    json!({ "snapshots": list, "store": store })
}

pub fn verify_text(
    results: &[(Snapshot, Vec<String>)],
    store: Option<&StoreCheck>,
    style: Style,
) -> String {
    let mut out = String::new();
    if let Some(check) = store {
        let verdict = if check.problems.is_empty() {
            style.good("ok")
        } else {
            style.bad("DAMAGED")
        };
        out.push_str(&format!(
            "repository {}  {verdict}  (structure, {})\n",
            check.location,
            data_read_text(check.data_read)
        ));
        for p in &check.problems {
            out.push_str(&format!("  {p}\n"));
        }
    }
    for (s, problems) in results {
        if problems.is_empty() {
            out.push_str(&format!(
                "{}  {}  {}\n",
                s.manifest.site,
                s.manifest.id,
                style.good("ok")
            ));
        } else {
            out.push_str(&format!(
                "{}  {}  {}\n",
                s.manifest.site,
                s.manifest.id,
                style.bad("DAMAGED")
            ));
            for p in problems {
                out.push_str(&format!("  {p}\n"));
            }
        }
    }
    if results.is_empty() {
        out.push_str("no snapshots\n");
    }
    out
}

/// The repository's prune after snapshots were forgotten: what it freed, or why it failed.
pub type ReclaimResult = Result<Reclaimed, String>;

pub fn prune_json(
    results: &[SitePrune],
    dry_run: bool,
    reclaimed: Option<&ReclaimResult>,
) -> Value {
    let sites: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "site": r.site,
                "kept": r.kept.iter().map(|(s, reasons)| json!({
                    "id": s.manifest.id,
                    "label": s.manifest.label,
                    "reasons": reasons.iter().map(|x| x.name()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "removed": r.removed.iter().map(|s| s.manifest.id.clone()).collect::<Vec<_>>(),
                "damaged": r.damaged.iter().map(|(id, problems)| json!({"id": id, "problems": problems})).collect::<Vec<_>>(),
                "unchecked": r.unchecked,
                "error": r.error.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    let reclaimed = reclaimed.map(|r| match r {
        Ok(r) => json!({"packs": r.packs, "bytes": r.bytes, "error": null}),
        Err(e) => json!({"packs": null, "bytes": null, "error": e}),
    });
    json!({ "dry_run": dry_run, "sites": sites, "reclaimed": reclaimed })
}

pub fn prune_text(
    results: &[SitePrune],
    dry_run: bool,
    reclaimed: Option<&ReclaimResult>,
) -> String {
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = String::new();
    match reclaimed {
        Some(Ok(r)) => out.push_str(&format!(
            "repository: freed {} ({} packs no snapshot uses any more)\n",
            human_bytes(r.bytes),
            r.packs
        )),
        Some(Err(e)) => out.push_str(&format!(
            "repository: the forgotten snapshots' data could not be removed: {e}\n"
        )),
        None => {}
    }
    for r in results {
        out.push_str(&format!(
            "{}: keeps {}, {verb} {}\n",
            r.site,
            r.kept.len(),
            r.removed.len()
        ));
        if let Some(why) = &r.unchecked {
            out.push_str(&format!("  keeps everything: {why}\n"));
        }
        for (id, problems) in &r.damaged {
            out.push_str(&format!(
                "  damaged {id}  (counts towards no rule: {problems})\n"
            ));
        }
        for (s, reasons) in &r.kept {
            let why: Vec<&str> = reasons.iter().map(|x| x.name()).collect();
            out.push_str(&format!(
                "  keep    {}  [{}]  ({})\n",
                s.manifest.id,
                s.manifest.label.as_deref().unwrap_or("no label"),
                why.join(", ")
            ));
        }
        for s in &r.removed {
            out.push_str(&format!(
                "  {:<7} {}  [{}]\n",
                if dry_run { "remove" } else { "removed" },
                s.manifest.id,
                s.manifest.label.as_deref().unwrap_or("no label"),
            ));
        }
        if let Some(e) = &r.error {
            out.push_str(&format!("  error: {e}\n"));
        }
    }
    out
}

pub fn restore_json(target: &str, snapshot: &str, result: &Result<Restored, SiteError>) -> Value {
    match result {
        Ok(r) => {
            let failure = r.failure(target);
            let status = if failure.is_none() {
                Outcome::Ok
            } else {
                Outcome::Failed
            };
            let undo = match (&failure, &r.safety_snapshot) {
                (Some(_), Some(id)) => Some(format!("tend restore {target} --snapshot {id}")),
                _ => None,
            };
            json!({"site": target, "snapshot": snapshot, "status": status, "safety_snapshot": r.safety_snapshot, "checks": r.checks, "replaced": r.replaced, "undo": undo, "error": failure})
        }
        Err(e) => {
            json!({"site": target, "snapshot": snapshot, "status": Outcome::Failed, "error": e.masked(), "error_kind": e.kind()})
        }
    }
}

pub fn restore_text(
    target: &str,
    snapshot: &str,
    result: &Result<Restored, SiteError>,
    style: Style,
) -> String {
    match result {
        Ok(r) => {
            let mut out = match (r.failure(target), &r.safety_snapshot) {
                (Some(why), _) => format!(
                    "{target}: {} restored snapshot {snapshot}, but {why}\n",
                    style.bad("FAILED")
                ),
                (None, Some(before)) => format!(
                    "{target}: {} restored snapshot {snapshot} (the state before is snapshot {before})\n",
                    style.good("ok")
                ),
                (None, None) => {
                    format!("{target}: {} restored snapshot {snapshot}\n", style.good("ok"))
                }
            };
            if let Some(n) = r.replaced {
                out.push_str(&format!(
                    "  the source's address was replaced by {target}'s in {n} database value(s)\n"
                ));
            }
            for check in &r.checks {
                let mark = if check.ok {
                    style.good("ok")
                } else {
                    style.bad("FAILED")
                };
                let status = check.status.map_or("-".to_owned(), |s| s.to_string());
                out.push_str(&format!("  check {}: {mark} ({status})", check.name));
                if !check.ok {
                    out.push_str(&format!(": {}", check.problems.join("; ")));
                }
                out.push('\n');
            }
            out
        }
        Err(e) => format!("{target}: {} {}\n", style.bad("FAILED"), e.masked()),
    }
}
