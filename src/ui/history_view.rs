//! The run history as the user sees it: `tend history` as a table of runs, each followed by
//! what it did to each site, or one JSON document.

use serde_json::{json, Value};

use super::style::Style;
use crate::history::{RunRecord, SiteRecord};
use crate::human_size::human_bytes;
use crate::outcome::Outcome;

pub fn history_json(runs: &[RunRecord]) -> Value {
    json!({ "runs": runs })
}

pub fn history_text(runs: &[RunRecord], style: Style) -> String {
    if runs.is_empty() {
        return "no runs recorded\n".to_owned();
    }
    let mut out = String::new();
    for run in runs {
        out.push_str(&run_line(run, &style));
        for site in &run.sites {
            out.push_str(&site_lines(site, &style));
        }
        // A run killed midway: the sites it set out to do and never recorded.
        if !run.is_finished() {
            for target in run
                .targets
                .iter()
                .filter(|t| !run.sites.iter().any(|s| &s.site == *t))
            {
                out.push_str(&format!("  {target}  {}\n", style.warn("not finished")));
            }
        }
    }
    out
}

fn run_line(run: &RunRecord, style: &Style) -> String {
    let what = match &run.playbook {
        Some(playbook) => format!("{} {playbook:?}", run.command),
        None => run.command.clone(),
    };
    let outcome = match (run.finished, run.exit_status) {
        (Some(finished), Some(exit)) => {
            let took = duration((finished - run.started).num_milliseconds().max(0) as u64);
            let word = if exit == 0 {
                style.good("ok")
            } else {
                style.bad(&format!("exit {exit}"))
            };
            format!("{word} in {took}")
        }
        _ => style
            .warn("started, never finished (killed, or still running)")
            .to_string(),
    };
    format!(
        "{}  {}  {}  by {}  {}\n",
        style.bold(&run.started.format("%Y-%m-%d %H:%M:%SZ").to_string()),
        run.id,
        what,
        run.runner,
        outcome
    )
}

fn site_lines(site: &SiteRecord, style: &Style) -> String {
    let status = match site.status {
        Outcome::Ok | Outcome::Recovered => style.good(site.status.name()),
        Outcome::Skipped => style.warn(site.status.name()),
        other => style.bad(other.name()),
    };
    let mut facts: Vec<String> = Vec::new();
    for change in &site.changes {
        facts.push(format!(
            "{} {} {} → {}",
            change.kind, change.slug, change.from, change.to
        ));
    }
    if site.nothing_to_update {
        facts.push("nothing to update".to_owned());
    }
    for snapshot in &site.snapshots {
        facts.push(format!(
            "snapshot {} ({})",
            snapshot.id,
            human_bytes(snapshot.bytes)
        ));
    }
    if !site.pruned.is_empty() {
        facts.push(format!("pruned {}", site.pruned.len()));
    }
    if !site.checks.is_empty() {
        let passed = site.checks.iter().filter(|c| c.ok).count();
        facts.push(format!("checks {passed}/{} passed", site.checks.len()));
    }
    if site.duration_ms > 0 {
        facts.push(duration(site.duration_ms));
    }
    let mut out = format!("  {}  {status}", site.site);
    if !facts.is_empty() {
        out.push_str("  ");
        out.push_str(&facts.join(", "));
    }
    out.push('\n');
    if let Some(error) = &site.error {
        out.push_str(&format!("    {} {}\n", style.bad("error:"), error));
    }
    if let Some(rollback) = &site.rollback {
        out.push_str(&format!("    rollback: {rollback}\n"));
    }
    for u in &site.untracked {
        out.push_str(&format!(
            "    untracked: {} {}{}: {}\n",
            u.kind,
            u.slug,
            u.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            crate::updates::policy::UNTRACKED
        ));
    }
    for cleanup in &site.cleanup {
        out.push_str(&format!("    clean-up failed: {cleanup}\n"));
    }
    out
}

/// `850ms`, `12.3s`, `4m05s`, `1h02m`.
fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if secs < 60 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ChangeRecord;
    use chrono::{TimeZone, Utc};

    fn run(finished: bool) -> RunRecord {
        let started = Utc.with_ymd_and_hms(2026, 11, 3, 3, 0, 0).unwrap();
        let mut blog = SiteRecord::new("blog", Outcome::RolledBack);
        blog.changes.push(ChangeRecord {
            kind: "plugin".into(),
            slug: "akismet".into(),
            from: "5.0.2".into(),
            to: "5.5".into(),
        });
        blog.error = Some("home page (/): answered 500".into());
        RunRecord {
            id: "20261103-030000-ab12".into(),
            command: "run".into(),
            playbook: Some("Monthly update cycle".into()),
            runner: "tend@ops".into(),
            started,
            finished: finished.then(|| started + chrono::Duration::seconds(75)),
            exit_status: finished.then_some(1),
            targets: vec!["blog".into(), "shop".into()],
            sites: vec![blog],
        }
    }

    #[test]
    fn a_finished_run_shows_its_outcome_and_each_site() {
        let text = history_text(&[run(true)], Style::plain());
        assert_eq!(
            text,
            "2026-11-03 03:00:00Z  20261103-030000-ab12  run \"Monthly update cycle\"  by tend@ops  exit 1 in 1m15s\n\
             \x20 blog  rolled_back  plugin akismet 5.0.2 → 5.5\n\
             \x20   error: home page (/): answered 500\n"
        );
    }

    #[test]
    fn a_killed_run_shows_as_unfinished_with_the_sites_it_never_did() {
        let text = history_text(&[run(false)], Style::plain());
        assert!(text.contains("started, never finished"), "{text}");
        assert!(text.contains("  shop  not finished\n"), "{text}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(245_000), "4m05s");
        assert_eq!(duration(3_720_000), "1h02m");
    }
}
