//! Playbook runs as the user sees them: the plan (`--check`, and before asking), and the
//! result of each site.

use serde_json::{json, Value};

use super::style::Style;
use crate::engine::plan::{PlanItem, SitePlan};
use crate::engine::run::{RolledBackChange, SiteRun};
use crate::engine::SiteResult;
use crate::outcome::Outcome;
use crate::updates::policy::{Change, Held, MoveWords};

fn changes_json(changes: &[Change]) -> Value {
    serde_json::to_value(changes).unwrap_or_default()
}

/// The changes rolled back alone, each with what it broke.
fn rolled_back_json(rolled_back: &[RolledBackChange]) -> Value {
    Value::Array(
        rolled_back
            .iter()
            .map(|r| {
                json!({
                    "type": r.change.kind, "slug": r.change.slug, "from": r.change.from,
                    "to": r.change.to, "problem": crate::secrets::mask(&r.problem),
                    "rollback_seconds": (r.seconds * 100.0).round() / 100.0,
                })
            })
            .collect(),
    )
}

/// The plan's changes, each with how far it moves (`level`) and, for core, the CMS's own
/// word for it (`cms_word`: WordPress's `major release`).
fn planned_changes_json(changes: &[Change]) -> Value {
    changes
        .iter()
        .map(|c| {
            let mut value = serde_json::to_value(c).unwrap_or_default();
            let words = MoveWords::of(c);
            if let Value::Object(map) = &mut value {
                map.insert("level".into(), json!(words.level));
                map.insert("cms_word".into(), json!(words.cms_word));
            }
            value
        })
        .collect()
}

fn held_json(held: &[Held]) -> Value {
    serde_json::to_value(held).unwrap_or_default()
}

/// One line per step of the plan, as `--check` prints it.
pub fn plan_lines(plan: &SitePlan) -> Vec<String> {
    plan.items.iter().map(plan_line).collect()
}

fn plan_line(item: &PlanItem) -> String {
    match item {
        PlanItem::Backup { label } => format!(
            "backup: take a snapshot (files + database), label {}",
            label.as_deref().unwrap_or("no label")
        ),
        PlanItem::Maintenance { on } => {
            format!("maintenance: {}", if *on { "on" } else { "off" })
        }
        PlanItem::Update { changes } if changes.is_empty() => "update: nothing to update".into(),
        PlanItem::Update { changes } => format!(
            "update: {}",
            changes
                .iter()
                .map(|c| format!(
                    "{}{}",
                    crate::engine::apply::describe(c),
                    MoveWords::of(c).suffix()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PlanItem::Skipped { skipped, reason } => format!("{skipped}: skipped ({reason})"),
        PlanItem::Verify { checks } => format!("verify: {checks} check(s)"),
        PlanItem::Prune {
            removes,
            before_this_runs_snapshot,
        } => format!(
            "prune: would remove {removes} snapshot(s){}",
            if *before_this_runs_snapshot {
                " (before counting this run's snapshot)"
            } else {
                ""
            }
        ),
    }
}

pub fn plan_json(playbook: &str, plans: &[SiteResult<SitePlan>]) -> Value {
    let sites: Vec<Value> = plans
        .iter()
        .map(|r| match &r.result {
            Ok(p) => json!({
                "site": r.site, "ok": p.unfinished.is_none(), "plan": plan_lines(p),
                "changes": planned_changes_json(&p.changes), "held": held_json(&p.held),
                "nothing_to_update": p.nothing_to_update,
                "waits": p.waits,
                "untracked": p.untracked,
                "error": p.unfinished.as_ref().map(|e| e.masked()),
                "error_kind": p.unfinished.as_ref().map(|e| e.kind()),
            }),
            Err(e) => json!({"site": r.site, "ok": false, "plan": [], "changes": [], "held": [], "waits": [], "untracked": [], "error": e.masked(), "error_kind": e.kind()}),
        })
        .collect();
    json!({"playbook": playbook, "check": true, "sites": sites})
}

pub fn plan_text(playbook: &str, plans: &[SiteResult<SitePlan>], style: Style) -> String {
    let mut out = format!("{playbook} — plan (nothing has been changed)\n");
    for r in plans {
        match &r.result {
            Ok(p) => {
                out.push_str(&format!("{}\n", style.bold(&r.site)));
                if let Some(blocked) = &p.unfinished {
                    out.push_str(&format!(
                        "  {} {}\n",
                        style.bad("blocked:"),
                        blocked.masked()
                    ));
                }
                for line in plan_lines(p) {
                    out.push_str(&format!("  {line}\n"));
                }
                for h in &p.held {
                    out.push_str(&format!(
                        "  {} {} {} {}{}: {}\n",
                        style.dim("held:"),
                        h.kind.name(),
                        h.slug,
                        h.from,
                        h.available
                            .as_deref()
                            .map(|a| format!(" (available {a})"))
                            .unwrap_or_default(),
                        h.reason
                    ));
                }
                for w in &p.waits {
                    out.push_str(&format!("  {} {}\n", style.dim("waits:"), w.describe()));
                }
                for u in &p.untracked {
                    out.push_str(&format!(
                        "  {} {}\n",
                        style.warn("untracked:"),
                        u.describe()
                    ));
                }
            }
            Err(e) => out.push_str(&format!(
                "{}  {} {}\n",
                style.bold(&r.site),
                style.bad("cannot plan:"),
                e.masked()
            )),
        }
    }
    out
}

pub fn run_json(playbook: &str, results: &[SiteResult<SiteRun>]) -> Value {
    let sites: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(run) => json!({
                "site": r.site,
                "status": run.status.name(),
                "snapshot": run.snapshot,
                "changes": changes_json(&run.changes),
                "rolled_back": rolled_back_json(&run.rolled_back),
                "held": held_json(&run.held),
                "nothing_to_update": run.nothing_to_update,
                "waits": run.waits,
                "untracked": run.untracked,
                "pruned": run.pruned,
                "checks": run.checks,
                "checks_before": run.checks_before,
                "rollback": run.rollback,
                "cleanup": run.cleanup.iter().map(|c| crate::secrets::mask(c)).collect::<Vec<_>>(),
                "error": run.error.as_ref().map(|e| e.masked()),
                "error_kind": run.error.as_ref().map(|e| e.kind()),
            }),
            Err(e) => json!({
                "site": r.site, "status": Outcome::Failed, "snapshot": null, "changes": [],
                "rolled_back": [], "held": [], "waits": [], "untracked": [], "nothing_to_update": false, "pruned": [], "checks": [], "checks_before": [], "rollback": null, "cleanup": [],
                "error": e.masked(), "error_kind": e.kind(),
            }),
        })
        .collect();
    json!({"playbook": playbook, "sites": sites})
}

pub fn run_text(results: &[SiteResult<SiteRun>], style: Style) -> String {
    let mut out = String::new();
    for r in results {
        match &r.result {
            Ok(run) => {
                let status = match run.status {
                    Outcome::Ok => style.good("ok"),
                    Outcome::Failed => style.bad("FAILED"),
                    Outcome::RolledBack => style.bad("ROLLED BACK"),
                    Outcome::Partial => style.warn("PARTLY ROLLED BACK"),
                    Outcome::Skipped => style.warn("skipped"),
                    Outcome::Recovered => style.good("recovered"),
                };
                out.push_str(&format!("{}  {status}", style.bold(&r.site)));
                if let Some(id) = &run.snapshot {
                    out.push_str(&format!("  snapshot {id}"));
                }
                if !run.pruned.is_empty() {
                    out.push_str(&format!("  pruned {}", run.pruned.len()));
                }
                if run.nothing_to_update {
                    out.push_str(&format!("  {}", crate::engine::plan::NOTHING_TO_UPDATE));
                }
                out.push('\n');
                let verb = if run.status == Outcome::RolledBack {
                    "undone"
                } else {
                    "updated"
                };
                for c in &run.changes {
                    out.push_str(&format!(
                        "  {verb}: {} {} {} → {}\n",
                        c.kind.name(),
                        c.slug,
                        c.from,
                        c.to
                    ));
                }
                for r in &run.rolled_back {
                    out.push_str(&format!(
                        "  {} {}\n",
                        style.bad("rolled back alone:"),
                        crate::secrets::mask(&r.describe())
                    ));
                }
                for h in &run.held {
                    out.push_str(&format!(
                        "  {} {} {}: {}\n",
                        style.dim("held:"),
                        h.kind.name(),
                        h.slug,
                        h.reason
                    ));
                }
                for w in &run.waits {
                    out.push_str(&format!("  {} {}\n", style.dim("waits:"), w.describe()));
                }
                for u in &run.untracked {
                    out.push_str(&format!(
                        "  {} {}\n",
                        style.warn("untracked:"),
                        u.describe()
                    ));
                }
                if let Some(e) = &run.error {
                    out.push_str(&format!("  {} {}\n", style.bad("error:"), e.masked()));
                }
                if let Some(rb) = &run.rollback {
                    out.push_str(&format!("  {} {rb}\n", style.warn("rollback:")));
                }
                for c in &run.cleanup {
                    out.push_str(&format!(
                        "  {} {}\n",
                        style.bad("clean-up failed:"),
                        crate::secrets::mask(c)
                    ));
                }
            }
            Err(e) => out.push_str(&super::site_failed(&style, &r.site, &e.masked())),
        }
    }
    out
}
