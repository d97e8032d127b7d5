//! The counting rules of [`super::build`], on hand-made history records.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::model::IncidentKind;
use super::*;
use crate::history::{ChangeRecord, CheckRecord, HeldRecord, SnapshotRecord};
use crate::yaml_source::YamlSource;

fn inventory() -> Inventory {
    let text = "\
groups:
  internal: {}
  acme: { client: ACME Ltd, contact: ops@acme.example }
  acme-extra: { client: ACME Ltd, contact: other@acme.example }
  globex: { client: Globex }
sites:
  acme-blog: { host: h, path: /a, url: https://acme.example, cms: wordpress, groups: [internal, acme] }
  acme-shop: { host: h, path: /b, url: https://shop.acme.example, groups: [acme-extra] }
  globex-www: { host: h, path: /c, url: https://globex.example, groups: [globex, acme] }
  solo: { host: h, path: /d, url: https://solo.example, groups: [internal] }
";
    Inventory::from_source(&YamlSource::from_text(Path::new("i.yml"), text)).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn run(id: &str, command: &str, started: &str, sites: Vec<SiteRecord>) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        command: command.to_owned(),
        playbook: (command == "run").then(|| "Monthly".to_owned()),
        runner: "ops@runner".to_owned(),
        started: at(started),
        finished: Some(at(started) + chrono::Duration::minutes(5)),
        exit_status: Some(0),
        targets: Vec::new(),
        sites,
    }
}

fn site(name: &str, status: &str) -> SiteRecord {
    SiteRecord::new(
        name,
        serde_json::from_value(serde_json::json!(status)).expect("an outcome word"),
    )
}

fn change(kind: &str, slug: &str, from: &str, to: &str) -> ChangeRecord {
    ChangeRecord {
        kind: kind.to_owned(),
        slug: slug.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

fn snapshot(id: &str, bytes: u64, label: Option<&str>) -> SnapshotRecord {
    SnapshotRecord {
        id: id.to_owned(),
        bytes,
        label: label.map(str::to_owned),
        offsite: None,
        files_read: None,
    }
}

fn check(name: &str, ok: bool, status: u16, elapsed_ms: u64) -> CheckRecord {
    CheckRecord {
        name: name.to_owned(),
        path: format!("/{name}"),
        ok,
        status: Some(status),
        elapsed_ms,
        problems: if ok {
            Vec::new()
        } else {
            vec![format!("status {status}, expected 200")]
        },
    }
}

fn held(slug: &str, available: Option<&str>, reason: &str) -> HeldRecord {
    HeldRecord {
        kind: "plugin".to_owned(),
        slug: slug.to_owned(),
        from: "8.0".to_owned(),
        available: available.map(str::to_owned),
        reason: reason.to_owned(),
    }
}

/// A month of history: updates, a rollback, backups, a restore, verification, a killed
/// run, a recovery, and runs just outside the month.
fn history() -> Vec<RunRecord> {
    let mut blog1 = site("acme-blog", "ok");
    blog1.changes = vec![
        change("core", "wordpress", "6.1.9", "6.8.7"),
        change("plugin", "akismet", "5.0.2", "5.5"),
    ];
    blog1.held = vec![held("woocommerce", Some("8.2"), "held in the inventory")];
    blog1.snapshots = vec![snapshot("s1", 1000, Some("pre-update"))];
    blog1.checks = vec![
        check("home", true, 200, 100),
        check("shop", false, 500, 300),
    ];
    let mut shop1 = site("acme-shop", "rolled_back");
    shop1.changes = vec![change("plugin", "broken", "1.0", "2.0")];
    shop1.snapshots = vec![snapshot("s2", 5000, Some("pre-update"))];
    shop1.error = Some("home (/): status 500 | fatal".to_owned());
    shop1.rollback = Some("rolled back to snapshot s2 in 0.1 s".to_owned());
    let mut gone = site("gone", "ok");
    gone.changes = vec![change("plugin", "akismet", "5.0.2", "5.5")];

    let mut blog2 = site("acme-blog", "ok");
    blog2.snapshots = vec![snapshot("s3", 2000, None)];
    let mut globex = site("globex-www", "failed");
    globex.error = Some("ssh: connection refused".to_owned());

    let mut restore = site("acme-blog", "ok");
    restore.snapshots = vec![
        snapshot("s3", 2000, None),
        snapshot("s4", 9000, Some("pre-restore")),
    ];

    let mut verify_blog = site("acme-blog", "ok");
    verify_blog.snapshots = vec![snapshot("s1", 1000, None), snapshot("s3", 2000, None)];
    // As `tend backups verify` records it: intact snapshots listed, damaged ones in the error.
    let mut verify_shop = site("acme-shop", "failed");
    verify_shop.error = Some("snapshot s2 is damaged: files.tar.zst sha256 mismatch".to_owned());

    let mut killed = run("r5", "run", "2026-11-20T02:00:00Z", vec![]);
    killed.finished = None;
    killed.exit_status = None;

    let mut recovered = site("acme-shop", "recovered");
    recovered.rollback = Some("journal undone".to_owned());

    let mut blog3 = site("acme-blog", "ok");
    blog3.held = vec![held("woocommerce", Some("8.3"), "held in the inventory")];
    blog3.checks = vec![check("home", true, 200, 200)];
    let mut shop3 = site("acme-shop", "failed");
    shop3.changes = vec![change("plugin", "kept", "1.0", "1.1")];
    shop3.error = Some("shop (/shop/): missing \"Add to cart\"".to_owned());

    let mut october = site("acme-blog", "ok");
    october.changes = vec![change("plugin", "old", "1", "2")];
    let mut december = site("acme-blog", "ok");
    december.changes = vec![change("plugin", "later", "1", "2")];
    december.snapshots = vec![snapshot("s9", 1, None)];

    vec![
        run("r0", "run", "2026-10-31T23:59:59Z", vec![october]),
        run(
            "r1",
            "run",
            "2026-11-03T10:00:00Z",
            vec![blog1, shop1, gone],
        ),
        run("r2", "backup", "2026-11-10T01:00:00Z", vec![blog2, globex]),
        run("r3", "restore", "2026-11-11T09:00:00Z", vec![restore]),
        run(
            "r4",
            "verify",
            "2026-11-12T03:00:00Z",
            vec![verify_blog, verify_shop],
        ),
        killed,
        run("r7", "recover", "2026-11-21T08:00:00Z", vec![recovered]),
        run("r6", "run", "2026-11-25T10:00:00Z", vec![blog3, shop3]),
        run("r8", "run", "2026-12-01T00:00:00Z", vec![december]),
    ]
}

fn november() -> Month {
    "2026-11".parse().unwrap()
}

fn reports() -> Vec<ClientReport> {
    let inventory = inventory();
    let sites: Vec<&Site> = inventory.sites.values().collect();
    build(&history(), &inventory, &sites, november())
}

#[test]
fn sites_go_to_the_client_of_their_first_group_that_has_one() {
    let reports = reports();
    let names: Vec<(&str, Vec<&str>)> = reports
        .iter()
        .map(|r| {
            (
                r.client.as_str(),
                r.sites.iter().map(|s| s.site.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("ACME Ltd", vec!["acme-blog", "acme-shop"]),
            ("Globex", vec!["globex-www"]),
            ("Unassigned", vec!["solo"]),
        ]
    );
    assert_eq!(reports[0].contact.as_deref(), Some("ops@acme.example"));
    assert!(reports[0].assigned && !reports[2].assigned);
    assert_eq!(reports[2].contact, None);
    // A site only in the history is in no report.
    assert!(reports
        .iter()
        .flat_map(|r| &r.sites)
        .all(|s| s.site != "gone"));
}

#[test]
fn updates_applied_are_those_kept_and_rollbacks_list_what_they_undid() {
    let reports = reports();
    let blog = &reports[0].sites[0];
    let applied: Vec<(&str, &str, &str, bool)> = blog
        .updates
        .iter()
        .map(|u| {
            (
                u.slug.as_str(),
                u.from.as_str(),
                u.to.as_str(),
                u.site_failed,
            )
        })
        .collect();
    assert_eq!(
        applied,
        [
            ("wordpress", "6.1.9", "6.8.7", false),
            ("akismet", "5.0.2", "5.5", false)
        ],
        "runs outside the month are left out"
    );
    assert_eq!(blog.updates[0].date, at("2026-11-03T10:00:00Z"));

    let shop = &reports[0].sites[1];
    assert_eq!(shop.updates.len(), 1);
    assert_eq!(shop.updates[0].slug, "kept");
    assert!(shop.updates[0].site_failed);
    let rollback = &shop.incidents[0];
    assert_eq!(rollback.kind, IncidentKind::RolledBack);
    assert_eq!(rollback.undone[0].slug, "broken");
    assert_eq!(
        rollback.reason.as_deref(),
        Some("home (/): status 500 | fatal")
    );
    assert!(rollback.rollback.as_deref().unwrap().contains("s2"));
}

#[test]
fn held_updates_are_deduplicated_keeping_the_latest() {
    let reports = reports();
    let blog = &reports[0].sites[0];
    assert_eq!(blog.held.len(), 1);
    assert_eq!(blog.held[0].available.as_deref(), Some("8.3"));
    assert_eq!(blog.held[0].date, at("2026-11-25T10:00:00Z"));
}

#[test]
fn backups_count_backup_and_run_snapshots_and_those_a_verify_found_intact() {
    let reports = reports();
    let blog = &reports[0].sites[0];
    let ids: Vec<&str> = blog
        .backups
        .snapshots
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["s1", "s3"],
        "the restore's snapshots are not backups taken"
    );
    assert_eq!(blog.backups.count, 2);
    assert_eq!(blog.restores.len(), 1, "the restore is listed as one");
    assert_eq!(blog.restores[0].snapshot, "s3");
    assert_eq!(reports[0].summary.restores, 1);
    assert_eq!(blog.backups.bytes, 3000);
    assert_eq!(blog.backups.size, "2.9 KiB");
    assert_eq!(blog.backups.newest, Some(at("2026-11-10T01:00:00Z")));
    assert_eq!(blog.backups.verified, 2);
    assert!(blog.backups.snapshots.iter().all(|s| s.verified));

    let shop = &reports[0].sites[1];
    assert_eq!(shop.backups.count, 1, "a rolled-back run's snapshot exists");
    assert_eq!(
        shop.backups.verified, 0,
        "a damaged snapshot is not verified"
    );
    assert!(!shop.backups.snapshots[0].verified);
}

#[test]
fn checks_are_tallied_per_check() {
    let reports = reports();
    let blog = &reports[0].sites[0];
    let home = &blog.checks[0];
    assert_eq!(
        (home.name.as_str(), home.passed, home.total),
        ("home", 2, 2)
    );
    assert_eq!(home.mean_ms, 150);
    let shop = &blog.checks[1];
    assert_eq!((shop.passed, shop.total, shop.last_ok), (0, 1, false));
    assert_eq!(shop.last_status, Some(500));
}

#[test]
fn the_summary_counts_the_clients_sites() {
    let reports = reports();
    let s = &reports[0].summary;
    assert_eq!((s.sites, s.sites_with_activity), (2, 2));
    assert_eq!(s.updates_applied, 3);
    assert_eq!(s.updates_applied_on_failed_sites, 1);
    assert_eq!(s.updates_held, 1);
    assert_eq!(s.backups_taken, 3);
    assert_eq!(s.backup_bytes, 8000);
    assert_eq!(s.backups_verified, 2);
    assert_eq!(
        s.incidents.failures, 2,
        "the failed verify and the failed run"
    );
    assert_eq!(s.incidents.rollbacks, 1);
    assert_eq!(s.incidents.unfinished_runs, 1);
    assert_eq!(s.incidents.total, 4);
    assert_eq!(s.recoveries, 1);
    assert_eq!((s.checks_passed, s.checks_failed), (2, 1));

    let globex = &reports[1];
    assert_eq!(globex.summary.incidents.failures, 1);
    assert_eq!(
        globex.sites[0].incidents[0].reason.as_deref(),
        Some("ssh: connection refused")
    );
    assert_eq!(globex.summary.updates_applied, 0);
}

#[test]
fn a_run_that_never_finished_is_reported_to_everyone_when_its_sites_are_unknown() {
    let reports = reports();
    for report in &reports {
        assert_eq!(report.unfinished_runs.len(), 1, "{}", report.client);
        assert_eq!(report.unfinished_runs[0].run, "r5");
        assert_eq!(report.summary.incidents.unfinished_runs, 1);
    }
}

#[test]
fn a_run_that_never_finished_is_an_incident_of_the_sites_it_never_finished() {
    let inventory = inventory();
    let sites: Vec<&Site> = inventory.sites.values().collect();
    let mut killed = run(
        "k",
        "run",
        "2026-11-05T00:00:00Z",
        vec![site("acme-blog", "ok")],
    );
    killed.finished = None;
    killed.exit_status = None;
    killed.targets = vec!["acme-blog".to_owned(), "acme-shop".to_owned()];
    let reports = build(&[killed], &inventory, &sites, november());
    let acme = &reports[0];
    assert!(acme.unfinished_runs.is_empty());
    assert!(acme.sites[0].incidents.is_empty(), "acme-blog finished");
    assert_eq!(acme.sites[1].incidents[0].kind, IncidentKind::Unfinished);
    assert!(acme.sites[1].incidents[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("tend recover"));
    assert_eq!(acme.summary.incidents.unfinished_runs, 1);
    assert_eq!(reports[1].summary.incidents.total, 0);
}

#[test]
fn sites_without_history_say_so_and_an_empty_history_is_no_error() {
    let reports = reports();
    let solo = &reports[2].sites[0];
    assert!(!solo.activity);
    assert_eq!(solo.runs, 0);

    let inventory = inventory();
    let sites: Vec<&Site> = inventory.sites.values().collect();
    let empty = build(&[], &inventory, &sites, november());
    assert_eq!(empty.len(), 3);
    assert!(empty.iter().flat_map(|r| &r.sites).all(|s| !s.activity));
    assert_eq!(empty[0].summary.sites, 2);
    assert_eq!(empty[0].summary.sites_with_activity, 0);
}

#[test]
fn clients_without_selected_sites_get_no_report() {
    let inventory = inventory();
    let sites = vec![&inventory.sites["solo"]];
    let reports = build(&history(), &inventory, &sites, november());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].client, UNASSIGNED);
}

#[test]
fn renderers_show_versions_outcomes_and_escape_what_they_are_given() {
    let mut reports = reports();
    reports[0].sites[1].incidents[0].summary = "<b>500</b> | & 'x'".to_owned();
    let md = markdown::render(&reports[0]);
    assert!(
        md.contains("| 2026-11-03 | core | wordpress | 6.1.9 | 6.8.7 |"),
        "{md}"
    );
    assert!(md.contains("ROLLED BACK"));
    assert!(md.contains("\\| & 'x'"), "{md}");
    assert!(md.contains("Runs that never finished"));

    let html = html::render(&reports[0]);
    assert!(html.contains("<td>6.1.9</td><td>6.8.7</td>"));
    assert!(html.contains("&lt;b&gt;500&lt;/b&gt; | &amp; &#39;x&#39;"));
    assert!(!html.contains("<b>500"));
    assert!(!html.contains("<script"));
    for asset in ["src=", "href=", "url(", "@import", "<link"] {
        assert!(!html.contains(asset), "{asset} in the HTML");
    }

    // The error text (commands, paths, tool output) stays out of the human formats.
    let error = reports[0].sites[1].incidents[1]
        .reason
        .clone()
        .unwrap_or_default();
    if !error.is_empty() {
        assert!(!md.contains(&error), "{md}");
        assert!(!html.contains(&error));
    }
    assert!(!md.contains('`'), "{md}");
    assert!(!html.contains('`'));

    let unassigned = markdown::render(&reports[2]);
    assert!(unassigned.contains("No activity recorded in November 2026."));
}

#[test]
fn a_partial_site_applied_what_it_kept_and_its_incident_names_the_culprit() {
    let inventory = inventory();
    let sites: Vec<&Site> = inventory.sites.values().collect();
    let mut blog = site("acme-blog", "partial");
    blog.changes = vec![change("plugin", "akismet", "5.0.2", "5.5")];
    blog.rolled_back = vec![crate::history::RolledBackRecord {
        kind: "plugin".to_owned(),
        slug: "client-widgets".to_owned(),
        from: "1.0.0".to_owned(),
        to: "1.1.0".to_owned(),
        problem: "home page (/): answered 500, expected 200".to_owned(),
    }];
    blog.failed_checks = vec![check("home page", false, 500, 40)];
    blog.error = Some("rolled back alone: plugin client-widgets 1.0.0 → 1.1.0: home page".into());
    let history = vec![run("r1", "run", "2026-11-10T03:00:00Z", vec![blog])];
    let reports = build(&history, &inventory, &sites, november());
    let blog = &reports[0].sites[0];
    let applied: Vec<&str> = blog.updates.iter().map(|u| u.slug.as_str()).collect();
    assert_eq!(applied, ["akismet"]);
    assert!(!blog.updates[0].site_failed);
    let incident = &blog.incidents[0];
    assert_eq!(incident.kind, IncidentKind::RolledBack);
    let undone: Vec<&str> = incident.undone.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(undone, ["client-widgets"]);
    assert_eq!(
        incident.summary,
        "After updating plugin client-widgets 1.0.0 → 1.1.0, the check \"home page\" failed, so \
         that update alone was undone (its files and the database as just before it); the other \
         updates (plugin akismet 5.0.2 → 5.5) were kept. The version that broke the site is held \
         in later runs."
    );
}
