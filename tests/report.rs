//! `tend report` through the real binary, on a history written with the library: per-client
//! files in three formats with the real versions and outcomes of the month, sites without a
//! client under "Unassigned", `--limit`, `--json`, a bad `--month`, and the HTML rendered by
//! headless Chromium (printed to PDF, read back with `pdftotext`). No lab: a report reads
//! the history only and connects nowhere, so the hosts need not exist.

mod support;

use std::fs;
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};
use support::{browser, tend};
use tend::history::{
    ChangeRecord, CheckRecord, HeldRecord, History, RunRecord, SiteRecord, SnapshotRecord,
};
use tend::outcome::Outcome;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
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

fn check(path: &str, ok: bool, status: u16, elapsed_ms: u64) -> CheckRecord {
    CheckRecord {
        name: "front page".to_owned(),
        path: path.to_owned(),
        ok,
        status: Some(status),
        elapsed_ms,
        problems: if ok {
            vec![]
        } else {
            vec![format!("status {status}, expected 200")]
        },
    }
}

/// Appends a run to the history as tend does: a start line, then its sites and end (unless
/// `killed`).
fn record(history: &History, id: &str, command: &str, started: &str, sites: Vec<SiteRecord>) {
    let mut run = RunRecord {
        id: id.to_owned(),
        command: command.to_owned(),
        playbook: (command == "run").then(|| "Monthly updates".to_owned()),
        runner: "ops@runner".to_owned(),
        started: at(started),
        finished: None,
        exit_status: None,
        targets: Vec::new(),
        sites,
    };
    let recording = history.start(&run).unwrap();
    if id.starts_with("killed") {
        return;
    }
    run.finished = Some(run.started + chrono::Duration::minutes(3));
    run.exit_status = Some(0);
    recording.finish(&run).unwrap();
}

/// An inventory of two clients and a site with none, and a November 2026 of history with
/// runs just before and after it.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    fs::write(
        dir.path().join("inventory.yml"),
        format!(
            "\
settings: {{ store: {store} }}
groups:
  acme: {{ client: ACME Ltd, contact: ops@acme.example }}
  globex: {{ client: \"Globex & Sons <Intl>\" }}
  internal: {{}}
sites:
  acme-blog: {{ host: web1.invalid, path: /var/www/blog, url: https://blog.acme.example, cms: wordpress, groups: [internal, acme] }}
  acme-shop: {{ host: web1.invalid, path: /var/www/shop, url: https://shop.acme.example, groups: [acme] }}
  globex-www: {{ host: web2.invalid, path: /var/www/globex, url: https://globex.example, groups: [globex] }}
  solo: {{ host: web3.invalid, path: /var/www/solo, url: https://solo.example }}
",
            store = store.display()
        ),
    )
    .unwrap();
    let history = History::new(&store);

    let mut october = SiteRecord::new("acme-blog", Outcome::Ok);
    october.changes = vec![change("plugin", "octoberplugin", "1.0", "1.1")];
    record(
        &history,
        "r-oct",
        "run",
        "2026-10-31T23:30:00Z",
        vec![october],
    );

    let mut blog = SiteRecord::new("acme-blog", Outcome::Ok);
    blog.changes = vec![
        change("core", "wordpress", "6.1.9", "6.8.7"),
        change("plugin", "akismet", "5.0.2", "5.5"),
        change("theme", "twentytwentythree", "1.0", "1.6"),
    ];
    blog.held = vec![HeldRecord {
        kind: "plugin".to_owned(),
        slug: "woocommerce".to_owned(),
        from: "8.0.1".to_owned(),
        available: Some("9.4.2".to_owned()),
        reason: "held in the inventory (`hold`)".to_owned(),
    }];
    blog.snapshots = vec![snapshot(
        "20261103T100000Z-blog",
        734_003_200,
        Some("pre-update"),
    )];
    blog.checks = vec![check("/", true, 200, 120), check("/shop/", true, 200, 80)];
    let mut shop = SiteRecord::new("acme-shop", Outcome::RolledBack);
    shop.changes = vec![change("plugin", "brokenplugin", "1.0", "2.0")];
    shop.snapshots = vec![snapshot(
        "20261103T100500Z-shop",
        1_073_741_824,
        Some("pre-update"),
    )];
    // The verification that failed, then the one after the rollback (as tend records them).
    shop.failed_checks = vec![check("/", false, 500, 40)];
    shop.checks = vec![check("/", true, 200, 30)];
    shop.error = Some(
        "after plugin brokenplugin 1.0 → 2.0: front page (/): status 500 | PHP Fatal error in \
         /var/www/shop/wp-content/plugins/brokenplugin/x.php; `wp plugin update brokenplugin`"
            .to_owned(),
    );
    shop.rollback = Some(
        "rolled back to snapshot 20261103T100500Z-shop in 0.3 s; verified again: all checks pass"
            .to_owned(),
    );
    record(
        &history,
        "r-nov",
        "run",
        "2026-11-03T10:00:00Z",
        vec![blog, shop],
    );

    let mut globex = SiteRecord::new("globex-www", Outcome::Failed);
    globex.error = Some("cannot connect to web2.invalid: <name not known>".to_owned());
    let mut nightly = SiteRecord::new("acme-blog", Outcome::Ok);
    nightly.snapshots = vec![snapshot(
        "20261115T020000Z-blog",
        700_000_000,
        Some("nightly"),
    )];
    record(
        &history,
        "r-backup",
        "backup",
        "2026-11-15T02:00:00Z",
        vec![nightly, globex],
    );

    let mut verified = SiteRecord::new("acme-blog", Outcome::Ok);
    verified.snapshots = vec![
        snapshot("20261103T100000Z-blog", 734_003_200, None),
        snapshot("20261115T020000Z-blog", 700_000_000, None),
    ];
    record(
        &history,
        "r-verify",
        "verify",
        "2026-11-16T03:00:00Z",
        vec![verified],
    );
    let mut restored = SiteRecord::new("acme-shop", Outcome::Ok);
    restored.restored_from = Some("acme-blog".to_owned());
    restored.snapshots = vec![
        snapshot("20261115T020000Z-blog", 700_000_000, Some("nightly")),
        snapshot("20261118T090000Z-shop", 1_000, Some("pre-restore")),
    ];
    record(
        &history,
        "r-restore",
        "restore",
        "2026-11-18T09:00:00Z",
        vec![restored],
    );
    record(&history, "killed-1", "run", "2026-11-20T04:00:00Z", vec![]);

    let mut december = SiteRecord::new("acme-blog", Outcome::Ok);
    december.changes = vec![change("plugin", "decemberplugin", "2.0", "2.1")];
    record(
        &history,
        "r-dec",
        "run",
        "2026-12-01T00:00:00Z",
        vec![december],
    );
    dir
}

fn report(dir: &Path, args: &[&str]) -> support::Outcome {
    let mut all = vec!["-i", "inventory.yml", "report"];
    all.extend(args);
    tend(dir, &all)
}

#[test]
fn writes_one_file_per_client_and_format_with_the_months_real_work() {
    let dir = fixture();
    let out = report(
        dir.path(),
        &[
            "--month", "2026-11", "--format", "md,html", "--format", "json", "--out", "out",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["month"], "2026-11");
    let files: Vec<(String, String, u64)> = listed["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["client"].as_str().unwrap().to_owned(),
                r["file"].as_str().unwrap().to_owned(),
                r["sites"].as_u64().unwrap(),
            )
        })
        .collect();
    let names: Vec<(&str, &str, u64)> = files
        .iter()
        .map(|(c, f, s)| (c.as_str(), f.rsplit('/').next().unwrap(), *s))
        .collect();
    assert_eq!(
        names,
        [
            ("ACME Ltd", "acme-ltd-2026-11.md", 2),
            ("ACME Ltd", "acme-ltd-2026-11.html", 2),
            ("ACME Ltd", "acme-ltd-2026-11.json", 2),
            ("Globex & Sons <Intl>", "globex-and-sons-intl-2026-11.md", 1),
            (
                "Globex & Sons <Intl>",
                "globex-and-sons-intl-2026-11.html",
                1
            ),
            (
                "Globex & Sons <Intl>",
                "globex-and-sons-intl-2026-11.json",
                1
            ),
            ("Unassigned", "unassigned-2026-11.md", 1),
            ("Unassigned", "unassigned-2026-11.html", 1),
            ("Unassigned", "unassigned-2026-11.json", 1),
        ]
    );
    for (_, file, _) in &files {
        assert!(dir.path().join(file).is_file(), "{file} listed but missing");
    }
    let out_dir = dir.path().join("out");
    let left: Vec<_> = fs::read_dir(&out_dir).unwrap().collect();
    assert_eq!(left.len(), 9, "no temporary files left behind");

    let md = fs::read_to_string(out_dir.join("acme-ltd-2026-11.md")).unwrap();
    for expected in [
        "# Maintenance report: ACME Ltd — November 2026",
        "ops@acme.example",
        "| Updates applied | 3 |",
        "| Backups taken | 3 (2.3 GiB) |",
        "| Backups verified | 2 |",
        "| Incidents | 2: 0 failures, 1 rollback, 1 unfinished run |",
        "| Checks | 3 passed, 1 failed |",
        "| Restores on request | 1 |",
        "| 2026-11-03 | core | wordpress | 6.1.9 | 6.8.7 |",
        "| 2026-11-03 | plugin | akismet | 5.0.2 | 5.5 |",
        "| 2026-11-03 | theme | twentytwentythree | 1.0 | 1.6 |",
        "| plugin | woocommerce | 8.0.1 | 9.4.2 | held in the inventory (hold) |",
        "2 taken, newest 2026-11-15, 1.3 GiB in total; 2 verified",
        "ROLLED BACK",
        "After updating plugin brokenplugin 1.0 → 2.0, the check \"front page\" failed, so the \
         site was put back exactly as it was before.",
        "| front page | / | 1 of 2 | passed (HTTP 200) |",
        "### Restores on request",
        "restored the \"nightly\" backup of the site acme-blog onto this site",
        "Runs that never finished",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    assert!(!md.contains("octoberplugin") && !md.contains("decemberplugin"));
    // No commands, host paths, snapshot ids or tool output for the client: they stay in the
    // history and the JSON report.
    for kept_out in [
        "`",
        "/var/www",
        "wp plugin",
        "PHP Fatal",
        "20261103T100500Z",
        "killed-1",
    ] {
        assert!(!md.contains(kept_out), "{kept_out:?} in:\n{md}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("acme-ltd-2026-11.json")).unwrap())
            .unwrap();
    assert_eq!(json["client"], "ACME Ltd");
    assert_eq!(json["month"], "2026-11");
    assert_eq!(json["summary"]["updates_applied"], 3);
    assert_eq!(json["summary"]["backup_bytes"], 2_507_745_024u64);
    let blog = &json["sites"][0];
    assert_eq!(blog["site"], "acme-blog");
    assert_eq!(blog["updates"][0]["to"], "6.8.7");
    assert_eq!(blog["backups"]["bytes"], 1_434_003_200u64);
    assert_eq!(json["sites"][1]["incidents"][0]["kind"], "rolled_back");
    assert!(json["sites"][1]["incidents"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("PHP Fatal error"));
    assert_eq!(
        json["sites"][1]["incidents"][0]["failed_checks"][0],
        "front page"
    );
    assert_eq!(json["sites"][1]["restores"][0]["from_site"], "acme-blog");
    assert_eq!(json["summary"]["checks_failed"], 1);

    let globex = fs::read_to_string(out_dir.join("globex-and-sons-intl-2026-11.md")).unwrap();
    assert!(globex.contains("FAILED"), "{globex}");
    assert!(
        globex.contains("The backup could not be taken."),
        "{globex}"
    );
    assert!(!globex.contains("web2.invalid"), "{globex}");
    let globex_html =
        fs::read_to_string(out_dir.join("globex-and-sons-intl-2026-11.html")).unwrap();
    assert!(globex_html.contains("Globex &amp; Sons &lt;Intl&gt;"));

    let unassigned = fs::read_to_string(out_dir.join("unassigned-2026-11.md")).unwrap();
    assert!(unassigned.contains("## solo"), "{unassigned}");
    assert!(unassigned.contains("No activity recorded in November 2026."));
}

#[test]
fn without_json_prints_one_line_per_file_and_limit_picks_the_clients() {
    let dir = fixture();
    let out = report(
        dir.path(),
        &["-l", "acme-blog", "--month", "2026-11", "--out", "limited"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "limited/acme-ltd-2026-11.md\n");
    let md = fs::read_to_string(dir.path().join("limited/acme-ltd-2026-11.md")).unwrap();
    assert!(md.contains("## acme-blog"));
    assert!(!md.contains("acme-shop"), "only the selected sites: {md}");
    assert!(md.contains("| Sites maintained | 1 (1 with activity) |"));
}

#[test]
fn a_bad_month_is_invalid_input_naming_the_flag() {
    let dir = fixture();
    for (month, says) in [("2026-13", "no month 13"), ("Nov", "expected YYYY-MM")] {
        let out = report(dir.path(), &["--month", month]);
        assert_eq!(out.code, 2, "{month}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("--> --month {month}")),
            "{}",
            out.stderr
        );
    }
    let out = report(dir.path(), &["--format", "pdf"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!dir.path().join("unassigned-2026-11.md").exists());
}

#[test]
fn the_default_month_is_the_previous_one_and_an_empty_history_is_no_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("inventory.yml"),
        format!(
            "settings: {{ store: {} }}\nsites:\n  solo: {{ host: h.invalid, path: /s, url: https://solo.example }}\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let out = report(dir.path(), &["--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let previous = {
        let now = Utc::now();
        let first = now.date_naive().with_day(1).unwrap();
        first.pred_opt().unwrap().format("%Y-%m").to_string()
    };
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["month"], previous.as_str());
    let file = format!("./unassigned-{previous}.md");
    assert_eq!(listed["reports"][0]["file"], file.as_str());
    let md = fs::read_to_string(dir.path().join(&file)).unwrap();
    assert!(md.contains("No activity recorded"), "{md}");
}

#[test]
fn the_html_report_is_self_contained_and_renders_and_prints_in_chromium() {
    let dir = fixture();
    let out = report(
        dir.path(),
        &["--month", "2026-11", "--format", "html", "--out", "html"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = dir.path().join("html/acme-ltd-2026-11.html");
    let html = fs::read_to_string(&file).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "no scripts");
    for asset in ["src=", "href=", "url(", "@import", "<link", "@font-face"] {
        assert!(
            !html.contains(asset),
            "external asset `{asset}` in the HTML"
        );
    }
    for line in html
        .lines()
        .filter(|l| l.contains("http://") || l.contains("https://"))
    {
        assert!(
            line.contains("acme.example"),
            "only the sites' own URLs, as text: {line}"
        );
    }

    let printed = browser::printed_text(&file);
    let line_with = |label: &str| {
        printed
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no `{label}` in the printed report:\n{printed}"))
            .to_owned()
    };
    assert!(line_with("Updates applied").trim_end().ends_with('3'));
    assert!(line_with("Backups taken").contains("3 (2.3 GiB)"));
    assert!(line_with("Backups verified").trim_end().ends_with('2'));
    assert!(line_with("Incidents").contains("1 rollback"));
    assert!(line_with("Checks").contains("3 passed, 1 failed"));
    for expected in [
        "ACME Ltd",
        "November 2026",
        "acme-blog",
        "acme-shop",
        "6.1.9",
        "6.8.7",
        "akismet",
        "woocommerce",
        "9.4.2",
        "ROLLED BACK",
        "brokenplugin",
        "never finished",
    ] {
        assert!(
            printed.contains(expected),
            "missing {expected:?} in:\n{printed}"
        );
    }

    // Plain words for the client: no Markdown syntax, commands, host paths or tool output.
    for kept_out in [
        "`",
        "/var/www",
        "wp plugin",
        "PHP Fatal",
        "tend recover",
        "**",
    ] {
        assert!(
            !printed.contains(kept_out),
            "{kept_out:?} in the printed report:\n{printed}"
        );
    }
    assert!(printed.contains("Restores on request"));

    let dom = browser::dom(&file);
    assert!(dom.contains("<td>6.1.9</td><td>6.8.7</td>"), "{dom}");
    assert!(dom.contains("ACME Ltd"));
}

#[test]
fn the_agency_and_its_logo_head_the_report_and_a_missing_logo_is_invalid_input() {
    let dir = fixture();
    let inventory = dir.path().join("inventory.yml");
    let text = fs::read_to_string(&inventory).unwrap();
    let with_report = |logo: &str| {
        text.replacen(
            "settings: {",
            &format!("settings: {{ report: {{ agency: Webwerk & Co, logo: {logo} }},"),
            1,
        )
    };
    fs::write(
        dir.path().join("logo.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'><rect width='40' height='20'/></svg>",
    )
    .unwrap();
    fs::write(&inventory, with_report("logo.svg")).unwrap();
    let out = report(
        dir.path(),
        &["--month", "2026-11", "--format", "md,html", "--out", "r"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let md = fs::read_to_string(dir.path().join("r/acme-ltd-2026-11.md")).unwrap();
    assert!(md.contains("**Maintained by:** Webwerk & Co"), "{md}");
    let file = dir.path().join("r/acme-ltd-2026-11.html");
    let html = fs::read_to_string(&file).unwrap();
    assert!(
        html.contains(
            "<img class=\"logo\" alt=\"Webwerk &amp; Co\" src=\"data:image/svg+xml;base64,"
        ),
        "{html}"
    );
    assert_eq!(html.matches("src=").count(), 1, "the logo only, embedded");
    assert!(browser::printed_text(&file).contains("Webwerk & Co"));

    fs::write(&inventory, with_report("missing.png")).unwrap();
    let out = report(dir.path(), &["--month", "2026-11", "--out", "r2"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("missing.png"), "{}", out.stderr);
    assert!(out.stderr.contains("inventory.yml:1:"), "{}", out.stderr);
    assert!(!dir.path().join("r2").exists());
}
