//! What a notification says: one summary of the run, built from its [`RunRecord`], as a
//! subject line, a plain text (the e-mail body and the `text` field Slack and Mattermost
//! show) and structured JSON for anything else that receives the webhook.
//!
//! Everything in it passes through [`crate::secrets::mask`]: a site's error can quote a
//! remote command's stderr.

use serde_json::{json, Value};

use crate::history::{RunRecord, SiteRecord};
use crate::inventory::notify::NotifyEvent;
use crate::outcome::Outcome;
use crate::secrets::mask;

/// Sites listed one by one in the text; the rest are counted (the JSON lists all).
const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `tend: Nightly backup — 1 of 3 sites failed`
    pub subject: String,
    pub text: String,
    /// The webhook body: `text` plus the run's data.
    pub json: Value,
}

/// The playbook's name for `run`, else the command (`backup`, `restore`, …).
fn title(record: &RunRecord) -> &str {
    record.playbook.as_deref().unwrap_or(&record.command)
}

fn count(record: &RunRecord, status: Outcome) -> usize {
    record.sites.iter().filter(|s| s.status == status).count()
}

fn sites(n: usize) -> String {
    if n == 1 {
        "1 site".to_owned()
    } else {
        format!("{n} sites")
    }
}

/// `1 of 3 sites failed, 1 rolled back`, `all 3 sites ok`.
fn headline(record: &RunRecord) -> String {
    let total = record.sites.len();
    let failed = count(record, Outcome::Failed);
    let rolled_back = count(record, Outcome::RolledBack);
    let partial = count(record, Outcome::Partial);
    let skipped = count(record, Outcome::Skipped);
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} of {} failed", sites(total)));
    }
    if rolled_back > 0 {
        parts.push(if parts.is_empty() {
            format!("{rolled_back} of {} rolled back", sites(total))
        } else {
            format!("{rolled_back} rolled back")
        });
    }
    if partial > 0 {
        parts.push(if parts.is_empty() {
            format!("{partial} of {} partly rolled back", sites(total))
        } else {
            format!("{partial} partly rolled back")
        });
    }
    if skipped > 0 {
        parts.push(format!("{skipped} skipped"));
    }
    if !parts.is_empty() {
        return parts.join(", ");
    }
    match record.exit_status {
        Some(0) | None if total == 1 => "1 site ok".to_owned(),
        Some(0) | None => format!("all {} ok", sites(total)),
        Some(code) => format!("failed (exit status {code})"),
    }
}

fn status_word(status: Outcome) -> &'static str {
    match status {
        Outcome::Failed => "FAILED",
        Outcome::RolledBack => "ROLLED BACK",
        Outcome::Partial => "PARTLY ROLLED BACK",
        Outcome::Skipped => "SKIPPED",
        Outcome::Ok => "ok",
        Outcome::Recovered => "recovered",
    }
}

fn change_line(site: &SiteRecord) -> Option<String> {
    if site.changes.is_empty() && site.rolled_back.is_empty() {
        return None;
    }
    let changes: Vec<String> = site
        .changes
        .iter()
        .map(|c| format!("{} {} {} → {}", c.kind, c.slug, c.from, c.to))
        .collect();
    let undone = if site.status == Outcome::RolledBack && site.rolled_back.is_empty() {
        " (undone by the rollback)".to_owned()
    } else if !site.rolled_back.is_empty() {
        let culprits: Vec<String> = site
            .rolled_back
            .iter()
            .map(|c| format!("{} {} {} → {}", c.kind, c.slug, c.from, c.to))
            .collect();
        let sep = if changes.is_empty() { "" } else { "; " };
        format!("{sep}rolled back alone: {}", culprits.join(", "))
    } else {
        String::new()
    };
    Some(format!("  {}: {}{undone}", site.site, changes.join(", ")))
}

/// The notification for `record`, whose outcomes are `events`.
pub fn build(record: &RunRecord, events: &[NotifyEvent]) -> Message {
    let subject = mask(&format!("tend: {} — {}", title(record), headline(record)));
    let mut text = format!("{subject}\n\n");

    let duration = record
        .finished
        .map(|f| (f - record.started).num_milliseconds().max(0) as f64 / 1000.0);
    text.push_str(&format!(
        "run {} (tend {}) by {}, started {}",
        record.id,
        record.command,
        record.runner,
        record.started.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(secs) = duration {
        text.push_str(&format!(", took {secs:.1} s"));
    }
    if let Some(code) = record.exit_status {
        text.push_str(&format!(", exit status {code}"));
    }
    text.push('\n');

    let mut counts: Vec<(Outcome, usize)> = Vec::new();
    for site in &record.sites {
        match counts.iter_mut().find(|(s, _)| *s == site.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((site.status, 1)),
        }
    }
    if !counts.is_empty() {
        let parts: Vec<String> = counts
            .iter()
            .map(|(status, n)| format!("{n} {}", status.name().replace('_', " ")))
            .collect();
        text.push_str(&format!("sites: {}\n", parts.join(", ")));
    }

    let trouble: Vec<&SiteRecord> = record
        .sites
        .iter()
        .filter(|s| !s.status.is_success())
        .collect();
    if !trouble.is_empty() {
        text.push('\n');
        for site in trouble.iter().take(MAX_LISTED) {
            let mut line = format!("{} {}", status_word(site.status), site.site);
            if let Some(error) = &site.error {
                line.push_str(&format!(": {error}"));
            }
            if let Some(rollback) = &site.rollback {
                line.push_str(&format!(" (rollback: {rollback})"));
            }
            text.push_str(&line);
            text.push('\n');
        }
        if trouble.len() > MAX_LISTED {
            text.push_str(&format!("… and {} more\n", trouble.len() - MAX_LISTED));
        }
    }

    let changes: Vec<String> = record.sites.iter().filter_map(change_line).collect();
    if !changes.is_empty() {
        text.push_str("\nchanges:\n");
        for line in changes.iter().take(MAX_LISTED) {
            text.push_str(line);
            text.push('\n');
        }
        if changes.len() > MAX_LISTED {
            text.push_str(&format!(
                "  … and {} more sites\n",
                changes.len() - MAX_LISTED
            ));
        }
    }
    let text = mask(&text);

    let json = json!({
        "text": text,
        "subject": subject,
        "run": record.id,
        "command": record.command,
        "playbook": record.playbook,
        "runner": record.runner,
        "started": record.started,
        "finished": record.finished,
        "exit_status": record.exit_status,
        "events": events.iter().map(|e| e.name()).collect::<Vec<_>>(),
        "sites": record.sites.iter().map(|s| json!({
            "site": s.site,
            "status": s.status,
            "error": s.error.as_deref().map(mask),
            "rollback": s.rollback.as_deref().map(mask),
            "changes": s.changes,
        })).collect::<Vec<_>>(),
    });
    Message {
        subject,
        text,
        json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ChangeRecord;

    fn record() -> RunRecord {
        let started = chrono::DateTime::parse_from_rfc3339("2026-03-01T03:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut ok = SiteRecord::new("acme-shop", Outcome::Ok);
        ok.changes = vec![ChangeRecord {
            kind: "plugin".into(),
            slug: "akismet".into(),
            from: "5.0.2".into(),
            to: "5.5".into(),
        }];
        let mut gone = SiteRecord::new("gone", Outcome::Failed);
        gone.error = Some("cannot reach deploy@web9: Connection refused".into());
        let mut blog = SiteRecord::new("acme-blog", Outcome::RolledBack);
        blog.error = Some(
            "after plugin forms 2.1 → 3.0: home page (/): answered 500 (db pw hunter2-secret)"
                .into(),
        );
        blog.rollback = Some("renames undone, database restored".into());
        blog.changes = vec![ChangeRecord {
            kind: "plugin".into(),
            slug: "forms".into(),
            from: "2.1".into(),
            to: "3.0".into(),
        }];
        RunRecord {
            id: "20260301-030000-ab12".into(),
            command: "run".into(),
            playbook: Some("Monthly update cycle".into()),
            runner: "tend@ops1".into(),
            started,
            finished: Some(started + chrono::Duration::milliseconds(12_345)),
            exit_status: Some(1),
            targets: Vec::new(),
            sites: vec![ok, gone, blog],
        }
    }

    #[test]
    fn summarises_the_run() {
        crate::secrets::register("hunter2-secret");
        let m = build(&record(), &[NotifyEvent::Failure, NotifyEvent::Rollback]);
        assert_eq!(
            m.subject,
            "tend: Monthly update cycle — 1 of 3 sites failed, 1 rolled back"
        );
        let expected = "\
tend: Monthly update cycle — 1 of 3 sites failed, 1 rolled back

run 20260301-030000-ab12 (tend run) by tend@ops1, started 2026-03-01 03:00:00 UTC, took 12.3 s, exit status 1
sites: 1 ok, 1 failed, 1 rolled back

FAILED gone: cannot reach deploy@web9: Connection refused
ROLLED BACK acme-blog: after plugin forms 2.1 → 3.0: home page (/): answered 500 (db pw ********) (rollback: renames undone, database restored)

changes:
  acme-shop: plugin akismet 5.0.2 → 5.5
  acme-blog: plugin forms 2.1 → 3.0 (undone by the rollback)
";
        assert_eq!(m.text, expected);
        assert_eq!(m.json["text"], expected);
        assert_eq!(m.json["events"], json!(["failure", "rollback"]));
        assert_eq!(m.json["exit_status"], 1);
        assert_eq!(m.json["playbook"], "Monthly update cycle");
        assert_eq!(m.json["sites"][1]["site"], "gone");
        assert_eq!(m.json["sites"][1]["status"], "failed");
        assert_eq!(m.json["sites"][0]["changes"][0]["slug"], "akismet");
        assert!(!m.json.to_string().contains("hunter2-secret"));
    }

    #[test]
    fn a_partial_site_names_its_culprit() {
        let mut r = record();
        let mut site = SiteRecord::new("acme-news", Outcome::Partial);
        site.changes = vec![ChangeRecord {
            kind: "core".into(),
            slug: "wordpress".into(),
            from: "6.1.9".into(),
            to: "6.8.12".into(),
        }];
        site.rolled_back = vec![crate::history::RolledBackRecord {
            kind: "plugin".into(),
            slug: "client-widgets".into(),
            from: "1.0.0".into(),
            to: "1.1.0".into(),
            problem: "home page (/): answered 500, expected 200".into(),
        }];
        site.error = Some(
            "rolled back alone: plugin client-widgets 1.0.0 → 1.1.0: home page (/): answered 500, expected 200"
                .into(),
        );
        r.sites = vec![site];
        let m = build(&r, &[NotifyEvent::Rollback]);
        assert!(
            m.text.contains("PARTLY ROLLED BACK acme-news: rolled back alone: plugin client-widgets 1.0.0 → 1.1.0: home page (/): answered 500"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("  acme-news: core wordpress 6.1.9 → 6.8.12; rolled back alone: plugin client-widgets 1.0.0 → 1.1.0\n"),
            "{}",
            m.text
        );
    }

    #[test]
    fn headlines() {
        let mut r = record();
        r.playbook = None;
        r.command = "backup".into();
        r.sites.retain(|s| s.status == Outcome::Ok);
        r.exit_status = Some(0);
        assert_eq!(build(&r, &[]).subject, "tend: backup — 1 site ok");
        r.sites.push(SiteRecord::new("b", Outcome::Ok));
        assert_eq!(build(&r, &[]).subject, "tend: backup — all 2 sites ok");
        r.sites[1].status = serde_json::from_value(serde_json::json!("rolled_back")).unwrap();
        assert_eq!(
            build(&r, &[]).subject,
            "tend: backup — 1 of 2 sites rolled back"
        );
    }
}
