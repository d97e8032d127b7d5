//! The monthly update cycle on real WordPress sites of the lab: a real core update
//! (6.1.9 → the newer WordPress of Debian's next release) with its database migration,
//! Akismet and Twenty Twenty-Three from the same packages, served by a private repository
//! built here; a plugin of our own whose new version fatals on every front-end request,
//! rolled back to a byte-identical site; packages refused for a wrong sha256 or a `../`
//! entry; `--check` changing nothing; and recovery after a killed run.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::update_work::{
    fatal_test_good, fatal_test_zip, fatal_test_zip_of, install_fatal_test_plugin, json, zip_of,
    Work, FATAL_MIGRATING_V2, MONTHLY,
};
use support::{db_state, package, tree, Lab, LabSite};

/// Skips what the lab itself writes while a site serves (the PHP server's log).
const UNTRACKED: &[&str] = &[];

fn php_define(file: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("${name} =")))
        .unwrap_or_else(|| panic!("no ${name} in {}", file.display()));
    line.split('=')
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(';')
        .trim_matches('\'')
        .to_owned()
}

#[test]
fn core_plugin_and_theme_updates_from_a_private_repository() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_full");
    let work = Work::new();
    work.add_package(&package("wordpress-"), "");
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&package("twentytwentythree."), "themes");
    work.index();
    work.inventory(lab, &[&site], "");
    let mode_before = std::fs::metadata(site.path.join("wp-includes/version.php"))
        .unwrap()
        .permissions();
    let playbook = work.playbook("monthly.yml", MONTHLY);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    let s = &result["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    let changes: Vec<(String, String, String)> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["slug"].as_str().unwrap().to_owned(),
                c["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let new_core = php_define(&site.path.join("wp-includes/version.php"), "wp_version");
    assert!(new_core.starts_with("6.8."), "core is now {new_core}");
    assert!(changes.contains(&("core".into(), "wordpress".into(), new_core.clone())));
    assert!(changes.iter().any(|c| c.1 == "akismet" && c.2 == "5.5"));
    assert!(changes
        .iter()
        .any(|c| c.1 == "twentytwentythree" && c.2 == "1.6"));

    // The database was migrated: its db_version is the new code's.
    let code_db = php_define(&site.path.join("wp-includes/version.php"), "wp_db_version");
    let db = lab.sql(
        &site.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'db_version'",
    );
    assert_eq!(db.trim(), code_db);
    // Plugins and themes are the new versions, still active.
    let akismet =
        std::fs::read_to_string(site.path.join("wp-content/plugins/akismet/akismet.php")).unwrap();
    assert!(akismet.contains("Version: 5.5"));
    let active = lab.sql(
        &site.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'active_plugins'",
    );
    assert!(active.contains("akismet/akismet.php"));
    // No maintenance mode, no leftovers, modes as before, and the site answers.
    assert!(!site.path.join(".maintenance").exists());
    assert!(!site.path.join(".tend").exists());
    assert_eq!(
        std::fs::metadata(site.path.join("wp-includes/version.php"))
            .unwrap()
            .permissions(),
        mode_before
    );
    let checks = s["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    // Facts read the new versions.
    let facts = json(&work.tend(&["--json", "facts"]));
    assert_eq!(facts["sites"][0]["version"], new_core.as_str());
}

/// The only update of the site migrates the database and breaks it: rolled back, to a
/// byte-identical site (files, and every table's CHECKSUM), one
/// component at a time (`each`, the default: that component alone) and all at once
/// (`together`: the run's snapshot).
#[test]
fn a_plugin_update_that_breaks_the_site_is_rolled_back_byte_identical() {
    let lab = Lab::shared();
    for (mode, name) in [("each", "upd_fatal"), ("together", "upd_fatal_tg")] {
        let site = lab.add_site(name);
        install_fatal_test_plugin(lab, &site);
        let work = Work::new();
        // Its 2.0 migrates the database on its first request, then fatals.
        work.add_package(
            &fatal_test_zip_of(&work, "2.0", FATAL_MIGRATING_V2),
            "plugins",
        );
        work.index();
        work.inventory(lab, &[&site], "");
        let playbook = work.playbook(
            "monthly.yml",
            &MONTHLY.replace("themes: all", &format!("themes: all, mode: {mode}")),
        );
        let files_before = tree(&site.path, UNTRACKED);
        let db_before = db_state(lab, &site);

        let started = Instant::now();
        let out = work.tend(&["--json", "run", &playbook, "--yes"]);
        let took = started.elapsed();
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        let result = json(&out);
        let s = &result["sites"][0];
        assert_eq!(s["status"], "rolled_back", "{mode}: {s}");
        let error = s["error"].as_str().unwrap();
        assert!(
            error.contains("plugin tend-fatal-test 1.0 → 2.0") && error.contains("home page"),
            "the error says which change broke which check: {error}"
        );
        let rollback = s["rollback"].as_str().unwrap();
        if mode == "each" {
            assert_eq!(s["error_kind"], "components_rolled_back", "{s}");
            assert!(rollback.contains("rolled back alone"), "{rollback}");
            assert_eq!(s["rolled_back"][0]["slug"], "tend-fatal-test", "{s}");
        } else {
            assert_eq!(s["error_kind"], "verification_failed", "{s}");
            assert!(rollback.contains("all checks pass"), "{rollback}");
        }

        assert_eq!(
            tree(&site.path, UNTRACKED),
            files_before,
            "{mode}: files differ after the rollback"
        );
        assert_eq!(
            db_state(lab, &site),
            db_before,
            "{mode}: database differs after the rollback"
        );
        assert!(!site.path.join(".maintenance").exists());
        eprintln!("{mode}: run with a rolled-back plugin update took {took:?}");
    }
}

#[test]
fn a_package_with_a_wrong_sha256_is_refused_and_nothing_changes() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_sha");
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    work.index();
    let index_path = work.repo().join("index.json");
    let mut index: Value =
        serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
    index["packages"][0]["sha256"] = Value::String("0".repeat(64));
    std::fs::write(&index_path, index.to_string()).unwrap();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("sha256 mismatch") && error.contains("refused"),
        "{error}"
    );
    // Packages are fetched and checked before anything changes: no snapshot, no maintenance.
    assert_eq!(s["status"], "failed", "{s}");
    assert!(s["snapshot"].is_null(), "{s}");
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

#[test]
fn a_zip_with_entries_outside_its_folder_is_refused() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_slip");
    install_fatal_test_plugin(lab, &site);
    let work = Work::new();
    let evil = work.path().join("tend-fatal-test.3.0.zip");
    zip_of(
        &evil,
        &[
            (
                "tend-fatal-test/tend-fatal-test.php",
                "<?php\n/*\n * Plugin Name: tend fatal test\n * Version: 3.0\n */\n",
            ),
            (
                "tend-fatal-test/../../../../evil.php",
                "<?php echo 'owned';",
            ),
        ],
    );
    work.add_package(&evil, "plugins");
    // The indexer reads the headers only; the zip is checked when it is used.
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let error = json(&out)["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("refused") && error.contains(".."), "{error}");
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert!(!site.path.parent().unwrap().join("evil.php").exists());
}

#[test]
fn check_shows_the_plan_and_changes_nothing() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_check");
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&package("twentytwentythree."), "themes");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook(
        "monthly.yml",
        &MONTHLY.replace(
            "update: {",
            "update: { exclude: [twentytwentythree, client-widget],",
        ),
    );
    // The site's own `hold` too (the lab's inventory ends with the site's keys).
    let inventory = work.path().join("inv.yml");
    let mut text = std::fs::read_to_string(&inventory).unwrap();
    text.push_str("    hold: [akismet-typo]\n");
    std::fs::write(&inventory, text).unwrap();
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "upd_check: warning: the site's `hold: akismet-typo` matches nothing installed"
        ),
        "{}",
        out.stderr
    );
    // An entry naming nothing installed holds nothing back: the plan says so, once.
    assert_eq!(
        out.stderr
            .matches("upd_check: warning: the playbook's `exclude: client-widget` matches nothing installed")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("exclude: twentytwentythree"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("plugin akismet 5.0.2 → 5.5"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("twentytwentythree") && out.stdout.contains("excluded"),
        "{}",
        out.stdout
    );
    let out = work.tend(&["--json", "run", &playbook, "--check"]);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["changes"][0]["slug"], "akismet");
    assert_eq!(s["held"][0]["slug"], "twentytwentythree");

    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
    let snapshots = work.tend(&["--json", "backups", "list"]);
    assert_eq!(json(&snapshots)["snapshots"].as_array().unwrap().len(), 0);
}

#[test]
fn a_run_that_changes_sites_asks_first_and_refuses_without_a_terminal() {
    let lab = Lab::shared();
    let site = lab.site("site1");
    let work = Work::new();
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let out = work.tend(&["run", &playbook]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
}

#[test]
fn a_killed_run_is_refused_until_recovered_and_recovery_puts_the_site_back() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_kill");
    let work = Work::new();
    work.add_package(&package("wordpress-"), "");
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&package("twentytwentythree."), "themes");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "run", &playbook, "--yes"])
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the journal says a swap has been made.
    let journal = site.path.join(".tend/journal.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("\"live\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no swap within 5 minutes");
        assert!(
            child.try_wait().unwrap().is_none(),
            "tend finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        site.path.join(".maintenance").exists(),
        "killed mid-update: in maintenance"
    );
    // The history shows the killed run as started and never finished.
    let history = json(&work.tend(&["--json", "history"]));
    let killed = history["runs"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(killed["command"], "run", "{killed}");
    assert!(
        killed["finished"].is_null() && killed["exit_status"].is_null(),
        "{killed}"
    );
    assert_eq!(killed["targets"], serde_json::json!(["upd_kill"]));
    let text = work.tend(&["history"]).stdout;
    assert!(text.contains("started, never finished"), "{text}");

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let error = json(&out)["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("tend recover upd_kill"), "{error}");

    let out = work.tend(&["--json", "recover", "upd_kill", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "recovered", "{s}");
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert_eq!(
        tree(&site.path, UNTRACKED),
        files_before,
        "files differ after recovery"
    );
    assert_eq!(
        db_state(lab, &site),
        db_before,
        "database differs after recovery"
    );

    // Nothing left to recover, and the site runs again.
    let out = work.tend(&["recover", "--yes"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("nothing to recover"), "{}", out.stdout);
}

#[test]
fn max_failures_stops_starting_new_sites() {
    let lab = Lab::shared();
    let first = lab.add_site("upd_max1");
    let second = lab.add_site("upd_max2");
    install_fatal_test_plugin(lab, &first);
    install_fatal_test_plugin(lab, &second);
    let work = Work::new();
    work.add_package(&fatal_test_zip(&work), "plugins");
    work.index();
    work.inventory(lab, &[&first, &second], "");
    let playbook = work.playbook(
        "monthly.yml",
        &MONTHLY.replace("hosts: all\n", "hosts: all\nforks: 1\nmax_failures: 1\n"),
    );
    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    assert_eq!(result["sites"][0]["status"], "rolled_back");
    assert_eq!(result["sites"][1]["status"], "skipped");
    assert!(std::fs::read_to_string(
        second
            .path
            .join("wp-content/plugins/tend-fatal-test/tend-fatal-test.php")
    )
    .unwrap()
    .contains("Version: 1.0"));
}

/// A tiny HTTP server answering like api.wordpress.org: core offers 6.8.7, Akismet 5.3.
fn fake_wordpress_org() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            std::io::BufRead::read_line(&mut reader, &mut request_line).unwrap();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            let answer = if request_line.contains("/core/version-check/1.7/") {
                r#"{"offers":[{"response":"upgrade","download":"https:\/\/downloads.example\/wordpress-6.8.7.zip","locale":"en_US","packages":{"full":"https:\/\/downloads.example\/wordpress-6.8.7.zip","no_content":false,"new_bundled":false,"partial":false,"rollback":false},"current":"6.8.7","version":"6.8.7","php_version":"7.2.24","mysql_version":"5.5.5","new_bundled":"6.7","partial_version":false}],"translations":[]}"#
            } else if request_line.contains("/plugins/update-check/1.1/") {
                r#"{"plugins":{"akismet\/akismet.php":{"id":"w.org\/plugins\/akismet","slug":"akismet","plugin":"akismet\/akismet.php","new_version":"5.3","url":"https:\/\/wordpress.org\/plugins\/akismet\/","package":"https:\/\/downloads.example\/plugin\/akismet.5.3.zip","requires_php":"5.6"}},"translations":[],"no_update":[]}"#
            } else if request_line.contains("/themes/update-check/1.1/") {
                r#"{"themes":[],"no_update":[],"translations":[]}"#
            } else {
                "{}"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    base
}

#[test]
fn facts_updates_asks_the_sources_in_order() {
    let lab = Lab::shared();
    let site = lab.site("site1");
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    work.index();
    let api = fake_wordpress_org();
    // wordpress.org first: it offers Akismet 5.3, which wins over the repository's 5.5.
    let entries = [(site.name.as_str(), site.path.as_path(), site.url.as_str())];
    let text = format!(
        "settings:\n  store: '{}'\n  sources:\n    - wordpress.org: {api}\n    - repository: '{}'\n{}",
        work.path().join("store").display(),
        work.repo().display(),
        lab.inventory(&entries)
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();
    let out = work.tend(&["--json", "facts", "--updates"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let updates = json(&out)["sites"][0]["updates"].clone();
    let found: Vec<(String, String)> = updates
        .as_array()
        .unwrap_or_else(|| panic!("{updates}"))
        .iter()
        .map(|u| {
            (
                u["slug"].as_str().unwrap().to_owned(),
                u["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        found.contains(&("wordpress".into(), "6.8.7".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("akismet".into(), "5.3".into())),
        "{found:?}"
    );

    let out = work.tend(&["facts", "--updates"]);
    assert!(
        out.stdout.contains("update: plugin akismet 5.0.2 → 5.3"),
        "{}",
        out.stdout
    );
}

#[test]
fn on_failure_stop_and_continue_keep_the_change_and_report_the_site_failed() {
    let lab = Lab::shared();
    for (mode, name) in [("stop", "upd_stop"), ("continue", "upd_cont")] {
        let site = lab.add_site(name);
        install_fatal_test_plugin(lab, &site);
        let work = Work::new();
        work.add_package(&fatal_test_zip(&work), "plugins");
        work.index();
        work.inventory(lab, &[&site], "");
        let playbook = work.playbook(
            "monthly.yml",
            &format!(
                "{}  - backup: {{ label: after }}\n",
                MONTHLY.replace("hosts: all\n", &format!("hosts: all\non_failure: {mode}\n"))
            ),
        );
        let out = work.tend(&["--json", "run", &playbook, "--yes"]);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        let s = &json(&out)["sites"][0];
        assert_eq!(s["status"], "failed", "{mode}: {s}");
        assert!(
            s["error"].as_str().unwrap().contains("verify failed"),
            "{s}"
        );
        assert!(s["rollback"].is_null(), "{mode}: no rollback");
        // The new version stays, maintenance is off, the snapshot is left for `tend restore`.
        let plugin = std::fs::read_to_string(
            site.path
                .join("wp-content/plugins/tend-fatal-test/tend-fatal-test.php"),
        )
        .unwrap();
        assert!(plugin.contains("Version: 2.0"), "{mode}");
        assert!(!site.path.join(".maintenance").exists(), "{mode}");
        assert!(!site.path.join(".tend").exists(), "{mode}");
        let snapshots = json(&work.tend(&["--json", "backups", "list"]))["snapshots"]
            .as_array()
            .unwrap()
            .len();
        // `stop` ends at the failed verify; `continue` also runs the last backup step.
        assert_eq!(snapshots, if mode == "stop" { 1 } else { 2 }, "{mode}");
    }
}

/// Puts the sites named in `clients` (site, group, client) into client groups.
fn assign_clients(work: &Work, clients: &[(&LabSite, &str, &str)]) {
    let path = work.path().join("inv.yml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let mut groups = String::from("groups:\n");
    for (site, group, client) in clients {
        if !groups.contains(&format!("  {group}:")) {
            groups.push_str(&format!("  {group}: {{ client: {client} }}\n"));
        }
        let url_line = format!("    url: {}\n", site.url);
        assert!(text.contains(&url_line), "{text}");
        text = text.replace(&url_line, &format!("{url_line}    groups: [{group}]\n"));
    }
    text = text.replace("sites:\n", &format!("{groups}sites:\n"));
    std::fs::write(&path, text).unwrap();
}

/// The month's reports of `history_lists_backups_and_an_update_cycle…`: one per client in
/// each format, with the real versions and outcomes; the HTML as Chromium prints it.
fn check_reports_of_the_lab_month(work: &Work, month: &str) {
    let out = work.tend(&[
        "--json",
        "report",
        "--month",
        month,
        "--format",
        "md,html,json",
        "--out",
        "reports",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let written = json(&out)["reports"].as_array().unwrap().len();
    assert_eq!(written, 6, "two clients, three formats: {}", out.stdout);
    let reports = work.path().join("reports");
    let read = |slug: &str, ext: &str| {
        std::fs::read_to_string(reports.join(format!("{slug}-{month}.{ext}")))
            .unwrap_or_else(|e| panic!("{slug}.{ext}: {e}"))
    };

    let acme = read("acme-ltd", "md");
    assert!(acme.contains("ACME Ltd"), "{acme}");
    assert!(
        acme.contains("| plugin | akismet | 5.0.2 | 5.5 |"),
        "{acme}"
    );
    assert!(acme.contains("hist_good"), "{acme}");
    assert!(
        !acme.contains("hist_broken"),
        "one client's report only: {acme}"
    );

    let globex: Value = serde_json::from_str(&read("globex-and-co", "json")).unwrap();
    assert_eq!(globex["client"], "Globex & Co");
    let summary = &globex["summary"];
    // Akismet was kept on the partly rolled-back site.
    assert_eq!(summary["updates_applied"], 1, "{summary}");
    assert_eq!(
        summary["backups_taken"], 2,
        "nightly and pre-update: {summary}"
    );
    assert_eq!(summary["incidents"]["rollbacks"], 1, "{summary}");
    assert!(
        summary["checks_failed"].as_u64().unwrap() >= 1,
        "the checks that failed before the rollback: {summary}"
    );
    let incident = &globex["sites"][0]["incidents"][0];
    assert_eq!(incident["kind"], "rolled_back", "{incident}");
    assert!(incident["reason"]
        .as_str()
        .unwrap()
        .contains("plugin tend-fatal-test 1.0 → 2.0"));

    let html = reports.join(format!("acme-ltd-{month}.html"));
    let printed = support::browser::printed_text(&html);
    for expected in [
        "ACME Ltd",
        "hist_good",
        "akismet",
        "5.0.2",
        "5.5",
        "2 taken",
    ] {
        assert!(printed.contains(expected), "no {expected:?} in:\n{printed}");
    }
    let html = reports.join(format!("globex-and-co-{month}.html"));
    let printed = support::browser::printed_text(&html);
    for expected in [
        "Globex & Co",
        "hist_broken",
        "ROLLED BACK",
        "tend-fatal-test",
    ] {
        assert!(printed.contains(expected), "no {expected:?} in:\n{printed}");
    }
    for kept_out in ["`", "PHP", "wp-content"] {
        assert!(!printed.contains(kept_out), "{kept_out:?} in:\n{printed}");
    }
    let md = read("globex-and-co", "md");
    assert!(
        md.contains("failed, so that update alone was undone")
            && md.contains("the other updates (plugin akismet 5.0.2 → 5.5) were kept"),
        "{md}"
    );
}

#[test]
fn history_lists_backups_and_an_update_cycle_with_the_real_versions() {
    let lab = Lab::shared();
    let good = lab.add_site("hist_good");
    let broken = lab.add_site("hist_broken");
    install_fatal_test_plugin(lab, &broken);
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&fatal_test_zip(&work), "plugins");
    work.index();
    work.inventory(lab, &[&good, &broken], "");
    assign_clients(
        &work,
        &[
            (&good, "acme", "ACME Ltd"),
            (&broken, "globex", "Globex & Co"),
        ],
    );
    let playbook = work.playbook("monthly.yml", MONTHLY);

    let out = work.tend(&["backup", "--label", "nightly"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let out = work.tend(&["run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    // The log (no terminal): one line per site with what changed and the time; the steps
    // only with -v.
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("hist_good: ok"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.starts_with("hist_good: ok — updated plugin akismet 5.0.2 → 5.5; snapshot ")
            && line.ends_with(" s)"),
        "{line}"
    );
    assert!(!out.stderr.contains("maintenance mode"), "{}", out.stderr);

    let out = work.tend(&["--json", "history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let runs = json(&out)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (backup, run) = (&runs[0], &runs[1]);
    assert_eq!(backup["command"], "backup");
    assert_eq!(backup["exit_status"], 0);
    let runner = backup["runner"].as_str().unwrap();
    assert!(
        runner.contains('@') && !runner.starts_with("unknown@"),
        "{runner}"
    );
    for site in backup["sites"].as_array().unwrap() {
        assert_eq!(site["status"], "ok", "{site}");
        let snapshot = &site["snapshots"][0];
        assert_eq!(snapshot["label"], "nightly");
        assert!(
            snapshot["bytes"].as_u64().unwrap() > 1_000_000,
            "{snapshot}"
        );
    }
    assert_eq!(run["command"], "run");
    assert_eq!(run["playbook"], "Monthly update cycle");
    assert_eq!(run["exit_status"], 1);
    let site = |name: &str| {
        run["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == name)
            .unwrap_or_else(|| panic!("{name} in {run}"))
            .clone()
    };
    let ok = site("hist_good");
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(
        ok["changes"][0],
        serde_json::json!({"type": "plugin", "slug": "akismet", "from": "5.0.2", "to": "5.5"})
    );
    assert_eq!(ok["snapshots"][0]["label"], "pre-update");
    let checks = ok["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(checks
        .iter()
        .all(|c| c["ok"] == true && c["status"] == 200 && c["elapsed_ms"].is_u64()));
    // Akismet verified and was kept; the test plugin was rolled back alone.
    let rolled = site("hist_broken");
    assert_eq!(rolled["status"], "partial", "{rolled}");
    assert!(rolled["error"]
        .as_str()
        .unwrap()
        .contains("plugin tend-fatal-test 1.0 → 2.0"));
    assert_eq!(rolled["changes"][0]["slug"], "akismet", "{rolled}");
    assert_eq!(
        rolled["rolled_back"][0]["slug"], "tend-fatal-test",
        "{rolled}"
    );
    assert!(rolled["rolled_back"][0]["problem"]
        .as_str()
        .unwrap()
        .contains("home page (/): answered 500"));
    assert!(rolled["rollback"].as_str().is_some());
    // The verification that failed is recorded, and the one after the rollback passed.
    let failed = rolled["failed_checks"].as_array().unwrap();
    assert!(failed.iter().any(|c| c["ok"] == false), "{rolled}");
    assert!(
        rolled["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{rolled}"
    );

    // The table, for one site only.
    let out = work.tend(&["history", "--site", "hist_broken"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("run \"Monthly update cycle\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("hist_broken  partial  "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("plugin tend-fatal-test 1.0 → 2.0"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("hist_good"), "{}", out.stdout);
    let month = &run["started"].as_str().unwrap()[..7];
    check_reports_of_the_lab_month(&work, month);

    let out = work.tend(&["history", "--site", "hist_brokn"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `hist_broken`?"),
        "{}",
        out.stderr
    );
}

/// The line `tend run` prints for a rolled-back site, and the history record written as
/// that site finished (all that a run killed afterwards leaves), say rolled back: never ok.
#[test]
fn a_rolled_back_site_is_rolled_back_in_its_line_and_its_interim_record() {
    let lab = Lab::shared();
    let broken = lab.add_site("upd_rb_first");
    let slow = lab.add_site("upd_rb_second");
    install_fatal_test_plugin(lab, &broken);
    // The second site's backup reads 300 MB that do not compress: time to kill the run
    // once the first site is done.
    let mut noise = std::fs::File::create(slow.path.join("noise.bin")).unwrap();
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    std::io::copy(
        &mut std::io::Read::take(&mut urandom, 300 << 20),
        &mut noise,
    )
    .unwrap();
    let work = Work::new();
    work.add_package(&fatal_test_zip(&work), "plugins");
    work.index();
    work.inventory(lab, &[&broken, &slow], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let stderr_path = work.path().join("stderr.txt");

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "-f", "1", "run", &playbook, "--yes"])
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let history_dir = work.path().join("store/history");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let written = std::fs::read_dir(&history_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| {
                std::fs::read_to_string(f.path())
                    .unwrap_or_default()
                    .contains("\"site\":\"upd_rb_first\"")
            });
        if written {
            break;
        }
        assert!(Instant::now() < deadline, "the first site never finished");
        assert!(
            child.try_wait().unwrap().is_none(),
            "tend finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    // The site's last line: the one written as it finished.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("upd_rb_first: rolled back"))
        .unwrap_or_else(|| panic!("no rolled-back line for the site:\n{stderr}"));
    assert!(
        line.starts_with(
            "upd_rb_first: rolled back: rolled back alone: plugin tend-fatal-test 1.0 → 2.0"
        ),
        "{line}"
    );
    assert!(!stderr.contains("upd_rb_first: ok"), "{stderr}");

    let history = json(&work.tend(&["--json", "history"]));
    let killed = history["runs"].as_array().unwrap().last().unwrap().clone();
    assert!(killed["finished"].is_null(), "{killed}");
    let sites = killed["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1, "only the first site finished: {killed}");
    assert_eq!(sites[0]["site"], "upd_rb_first");
    assert_eq!(sites[0]["status"], "rolled_back", "{killed}");
    assert!(
        sites[0]["error"]
            .as_str()
            .unwrap()
            .contains("tend-fatal-test 1.0 → 2.0"),
        "{killed}"
    );
}

/// The lab's WordPress with one update of each kind (core, Akismet, the theme) and the test
/// plugin whose 2.0 migrates the database and then fatals.
fn site_with_four_updates(lab: &Lab, name: &str) -> (LabSite, Work) {
    let site = lab.add_site(name);
    install_fatal_test_plugin(lab, &site);
    let work = Work::new();
    work.add_package(&package("wordpress-"), "");
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&package("twentytwentythree."), "themes");
    work.add_package(
        &fatal_test_zip_of(&work, "2.0", FATAL_MIGRATING_V2),
        "plugins",
    );
    work.index();
    work.inventory(lab, &[&site], "");
    (site, work)
}

fn slugs(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap().to_owned())
        .collect()
}

/// `mode: each` (the default): core, Akismet and the theme are kept and verified; the
/// test plugin, whose new version migrates the database and breaks every page, is rolled
/// back alone — its files as they were, the database without its migration but with
/// core's — the site is `partial`, exit 1, the culprit named everywhere. The next run
/// holds that version; `--retry-held` plans it again; a newer version is taken.
#[test]
fn one_component_at_a_time_rolls_back_the_culprit_alone_and_holds_its_version() {
    let lab = Lab::shared();
    let (site, work) = site_with_four_updates(lab, "each_mix");
    let plugin_dir = site.path.join("wp-content/plugins/tend-fatal-test");
    let plugin_before = tree(&plugin_dir, UNTRACKED);
    let description_before = lab.sql(
        &site.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'blogdescription'",
    );
    let playbook = work.playbook("monthly.yml", MONTHLY);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "partial", "{s}");
    assert_eq!(s["error_kind"], "components_rolled_back", "{s}");
    assert_eq!(
        slugs(&s["changes"]),
        ["wordpress", "akismet", "twentytwentythree"],
        "{s}"
    );
    assert_eq!(slugs(&s["rolled_back"]), ["tend-fatal-test"], "{s}");
    let problem = s["rolled_back"][0]["problem"].as_str().unwrap();
    assert!(
        problem.contains("home page (/): answered 500")
            && problem.contains("There has been a critical error"),
        "{problem}"
    );
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("plugin tend-fatal-test 1.0 → 2.0: home page (/): answered 500"),
        "{error}"
    );
    assert!(
        out.stderr.contains("plugin tend-fatal-test 1.0 → 2.0"),
        "{}",
        out.stderr
    );
    // The kept changes are on the site and verified; the culprit's files are as before it.
    let new_core = php_define(&site.path.join("wp-includes/version.php"), "wp_version");
    assert!(new_core.starts_with("6.8."), "{new_core}");
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert_eq!(tree(&plugin_dir, UNTRACKED), plugin_before);
    // The database: core's upgrade kept, the plugin's migration gone.
    let code_db = php_define(&site.path.join("wp-includes/version.php"), "wp_db_version");
    let db = lab.sql(
        &site.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'db_version'",
    );
    assert_eq!(db.trim(), code_db);
    assert_eq!(
        lab.sql(&site.db_name, "SHOW TABLES LIKE 'wp_tend_fatal_test_log'")
            .trim(),
        ""
    );
    assert_eq!(
        lab.sql(
            &site.db_name,
            "SELECT COUNT(*) FROM wp_options WHERE option_name = 'tend_fatal_test_schema'"
        )
        .trim(),
        "0"
    );
    assert_eq!(
        lab.sql(
            &site.db_name,
            "SELECT option_value FROM wp_options WHERE option_name = 'blogdescription'"
        ),
        description_before
    );
    assert!(!site.path.join(".maintenance").exists());
    assert!(!site.path.join(".tend").exists());
    // The copies taken before each component are gone with the run.
    let store: Vec<String> = std::fs::read_dir(work.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !store.iter().any(|n| n.starts_with(".component-copies")),
        "{store:?}"
    );

    // History: partial, the culprit and what it broke.
    let history = json(&work.tend(&["--json", "history"]));
    let record = &history["runs"].as_array().unwrap().last().unwrap()["sites"][0];
    assert_eq!(record["status"], "partial", "{record}");
    assert_eq!(
        record["rolled_back"][0]["slug"], "tend-fatal-test",
        "{record}"
    );
    assert_eq!(slugs(&record["changes"]).len(), 3, "{record}");

    // The next run holds 2.0 for this site and plans nothing else.
    let out = work.tend(&["--json", "run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan = &json(&out)["sites"][0];
    assert!(plan["changes"].as_array().unwrap().is_empty(), "{plan}");
    let held = plan["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["slug"] == "tend-fatal-test")
        .unwrap_or_else(|| panic!("{plan}"));
    let today = chrono_today();
    assert!(
        held["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("2.0 broke this site on {today}")),
        "{held}"
    );
    let text = work.tend(&["run", &playbook, "--check"]).stdout;
    assert!(
        text.contains("held: plugin tend-fatal-test 1.0 (available 2.0): 2.0 broke this site on"),
        "{text}"
    );
    // --retry-held plans it again.
    let out = work.tend(&["--json", "run", &playbook, "--check", "--retry-held"]);
    assert_eq!(
        slugs(&json(&out)["sites"][0]["changes"]),
        ["tend-fatal-test"]
    );

    // A newer version in the repository is taken.
    work.add_package(
        &fatal_test_zip_of(&work, "2.1", &fatal_test_good("2.1")),
        "plugins",
    );
    work.index();
    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["changes"][0]["to"], "2.1", "{s}");
}

/// Today (UTC), as held versions record it.
fn chrono_today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A package whose content is not the version its index entry announces: the version read
/// back from the site differs, so that component fails and is rolled back alone.
#[test]
fn a_package_that_is_not_the_announced_version_is_rolled_back() {
    let lab = Lab::shared();
    let site = lab.add_site("each_lying");
    install_fatal_test_plugin(lab, &site);
    let work = Work::new();
    work.add_package(
        &fatal_test_zip_of(&work, "2.2", &fatal_test_good("2.2")),
        "plugins",
    );
    work.index();
    // The index says 2.1; the zip holds 2.2.
    let index_path = work.repo().join("index.json");
    let mut index: Value =
        serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
    for entry in index["packages"].as_array_mut().unwrap() {
        if entry["slug"] == "tend-fatal-test" {
            entry["version"] = "2.1".into();
        }
    }
    std::fs::write(&index_path, index.to_string()).unwrap();
    work.inventory(lab, &[&site], "");
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);
    let playbook = work.playbook("monthly.yml", MONTHLY);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}");
    let problem = s["rolled_back"][0]["problem"].as_str().unwrap();
    assert!(
        problem.contains("reports version 2.2 after the update, not 2.1"),
        "{problem}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

/// tend killed between two components (core verified, the next one not begun): `tend
/// recover` puts the site back as it was before the run — the state the run's baseline
/// checks verified — byte for byte, and verifies it.
#[test]
fn killed_between_two_components_recover_puts_the_site_back_before_the_run() {
    let lab = Lab::shared();
    let site = lab.add_site("each_kill");
    let work = Work::new();
    work.add_package(&package("wordpress-"), "");
    work.add_package(&package("akismet."), "plugins");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);
    let stderr_path = work.path().join("stderr.txt");

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "-v", "run", &playbook, "--yes"])
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if text.contains("plugin akismet 5.0.2 → 5.5: copying the site before it") {
            break;
        }
        assert!(Instant::now() < deadline, "core never verified:\n{text}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "tend finished before it could be killed:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(text.contains("core wordpress 6.1.9 → 6.8"), "{text}");
    assert!(text.contains(": verified"), "{text}");
    let journal = std::fs::read_to_string(site.path.join(".tend/journal.json")).unwrap();
    assert!(journal.contains("core wordpress"), "{journal}");

    let out = work.tend(&["--json", "recover", "each_kill", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "recovered", "{s}");
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

/// Issue 14, item 7: a playbook with two `update` steps plans and applies each step's own
/// selection (before, the first step's changes were shown twice and the second's never
/// applied), and the plan says a core move in WordPress's words too.
#[test]
fn two_update_steps_each_plan_and_apply_their_own_selection() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_two_steps");
    let work = Work::new();
    work.add_package(&package("wordpress-"), "");
    work.add_package(&package("akismet."), "plugins");
    work.add_package(&package("twentytwentythree."), "themes");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook(
        "two.yml",
        "name: Two steps\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: { core: none, plugins: all, themes: none }\n  - update: { core: minor, plugins: none, themes: all }\n  - maintenance: off\n  - verify: {}\n",
    );

    let out = work.tend(&["run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("update:"))
        .collect();
    assert_eq!(plan.len(), 2, "{}", out.stdout);
    assert_eq!(
        plan[0].trim(),
        "update: plugin akismet 5.0.2 → 5.5",
        "{}",
        out.stdout
    );
    assert!(
        plan[1].contains("core wordpress 6.1.9 → 6.8.")
            && plan[1].contains("(minor; a major release in WordPress's terms)")
            && plan[1].contains("theme twentytwentythree 1.0 → 1.6")
            && !plan[1].contains("akismet"),
        "{}",
        out.stdout
    );
    // Nothing is held: what one step leaves, the other takes.
    assert!(!out.stdout.contains("held:"), "{}", out.stdout);
    let checked = json(&work.tend(&["--json", "run", &playbook, "--check"]));
    let core = checked["sites"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "core")
        .cloned()
        .unwrap();
    assert_eq!(core["level"], "minor", "{core}");
    assert_eq!(core["cms_word"], "major release", "{core}");

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    let applied: Vec<&str> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(applied.len(), 3, "{s}");
    for slug in ["akismet", "wordpress", "twentytwentythree"] {
        assert!(applied.contains(&slug), "{s}");
    }
    let core = php_define(&site.path.join("wp-includes/version.php"), "wp_version");
    assert!(core.starts_with("6.8."), "core is {core}");
    let theme = std::fs::read_to_string(
        site.path
            .join("wp-content/themes/twentytwentythree/style.css"),
    )
    .unwrap();
    assert!(theme.contains("Version: 1.6"), "the theme was updated");
    let akismet =
        std::fs::read_to_string(site.path.join("wp-content/plugins/akismet/akismet.php")).unwrap();
    assert!(akismet.contains("Version: 5.5"));
}

/// Issue 14, item 7: a site with nothing to update gets no snapshot, no maintenance window
/// and no prune, and its result says "nothing to update" (text, JSON, history); with
/// `backup: { always: true }` the snapshot (and so the prune) is taken all the same.
#[test]
fn a_site_with_nothing_to_update_gets_no_snapshot_maintenance_or_prune() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_nothing");
    let work = Work::new();
    work.index();
    work.inventory(lab, &[&site], "");
    let monthly = format!("{MONTHLY}  - prune: {{}}\n");
    let playbook = work.playbook("monthly.yml", &monthly);
    let files_before = tree(&site.path, UNTRACKED);

    let out = work.tend(&["run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for line in [
        "backup: skipped (nothing to update)",
        "maintenance: skipped (nothing to update)",
        "update: nothing to update",
        "prune: skipped (nothing to update)",
        "verify: ",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }

    let out = work.tend(&["-v", "--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["nothing_to_update"], true, "{s}");
    assert!(s["snapshot"].is_null(), "{s}");
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert!(
        out.stderr
            .contains("maintenance: skipped (nothing to update)"),
        "{}",
        out.stderr
    );
    let snapshots = json(&work.tend(&["--json", "backups", "list"]));
    assert_eq!(snapshots["snapshots"].as_array().unwrap().len(), 0);
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    let text = work.tend(&["run", &playbook, "--yes"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("upd_nothing  ok  nothing to update"),
        "{}",
        text.stdout
    );
    let history = json(&work.tend(&["--json", "history"]));
    assert_eq!(
        history["runs"][0]["sites"][0]["nothing_to_update"], true,
        "{history}"
    );
    let history = work.tend(&["history"]);
    assert!(
        history.stdout.contains("ok  nothing to update"),
        "{}",
        history.stdout
    );

    // Asked for: the snapshot is taken (and the prune runs), still no maintenance window.
    let always = work.playbook(
        "always.yml",
        &monthly.replace(
            "{ label: pre-update }",
            "{ label: pre-update, always: true }",
        ),
    );
    let out = work.tend(&["run", &always, "--check"]);
    assert!(
        out.stdout.contains("backup: take a snapshot")
            && out
                .stdout
                .contains("maintenance: skipped (nothing to update)")
            && out.stdout.contains("prune: would remove"),
        "{}",
        out.stdout
    );
    let out = work.tend(&["--json", "run", &always, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["nothing_to_update"], true, "{s}");
    assert!(s["snapshot"].is_string(), "{s}");
    let snapshots = json(&work.tend(&["--json", "backups", "list"]));
    assert_eq!(snapshots["snapshots"].as_array().unwrap().len(), 1);
}

/// Issue 14, item 4: `min_age` takes only versions released at least that long ago, by
/// the `released` dates of the private repository's index; the plan, the result and the
/// history say what waits and until when, and a bad duration is refused with its place.
#[test]
fn min_age_takes_only_versions_old_enough_and_says_what_waits() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_min_age");
    let work = Work::new();
    let repo = work.repo();
    let index = |released: &str| {
        let out = support::tend(
            work.path(),
            &[
                "repo",
                "index",
                repo.to_str().unwrap(),
                "--released",
                released,
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    // The theme entered the repository ten days ago, Akismet yesterday.
    let now = chrono::Utc::now();
    let day = |days: i64| {
        (now - chrono::Duration::days(days))
            .format("%Y-%m-%d")
            .to_string()
    };
    work.add_package(&package("twentytwentythree."), "themes");
    index(&day(10));
    work.add_package(&package("akismet."), "plugins");
    index(&day(1));
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook(
        "soak.yml",
        &MONTHLY.replace("update: {", "update: { min_age: 3d,"),
    );

    let out = work.tend(&["run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let waits = format!(
        "waits: plugin akismet 5.5 released {}, taken from {}",
        day(1),
        (now + chrono::Duration::days(2)).format("%Y-%m-%d")
    );
    assert!(out.stdout.contains(&waits), "{waits}\n{}", out.stdout);
    assert!(
        out.stdout
            .contains("update: theme twentytwentythree 1.0 → 1.6")
            && !out.stdout.contains("plugin akismet 5.0.2 → 5.5"),
        "{}",
        out.stdout
    );

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["changes"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["changes"][0]["slug"], "twentytwentythree");
    assert_eq!(s["waits"][0]["slug"], "akismet", "{s}");
    assert_eq!(s["waits"][0]["version"], "5.5", "{s}");
    assert_eq!(s["waits"][0]["min_age"], "3d", "{s}");
    let akismet =
        std::fs::read_to_string(site.path.join("wp-content/plugins/akismet/akismet.php")).unwrap();
    assert!(!akismet.contains("Version: 5.5"), "Akismet waits");
    let history = json(&work.tend(&["--json", "history"]));
    let held = &history["runs"][0]["sites"][0]["held"];
    assert!(
        held.as_array().unwrap().iter().any(|h| h["slug"] == "akismet"
            && h["reason"].as_str().unwrap().contains("taken from")),
        "{held}"
    );

    // A repository that dates nothing: every newer version waits, said so.
    let index_path = repo.join("index.json");
    let mut index_json: Value =
        serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
    for package in index_json["packages"].as_array_mut().unwrap() {
        package.as_object_mut().unwrap().remove("released");
    }
    std::fs::write(&index_path, index_json.to_string()).unwrap();
    let out = work.tend(&["run", &playbook, "--check"]);
    assert!(
        out.stdout
            .contains("waits: plugin akismet 5.5: its release date is unknown"),
        "{}",
        out.stdout
    );

    // A bad duration is refused before anything runs, with its place.
    let bad = work.playbook(
        "bad.yml",
        &MONTHLY.replace("update: {", "update: { min_age: 3days,"),
    );
    let out = work.tend(&["check", &bad]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("bad.yml:")
            && out
                .stderr
                .contains("`3days` is not a duration: expected a number, found `a` at character 3"),
        "{}",
        out.stderr
    );
}

/// Issue 14, item 6: an installed plugin no source offers (custom code, a premium plugin
/// without a repository entry) is listed as "not tracked by any update source" in the plan,
/// the run's result (text and JSON), the history and the monthly report; what a source
/// tracks (Akismet, in the repository) is not.
#[test]
fn components_no_source_tracks_are_said_in_plan_result_history_and_report() {
    let lab = Lab::shared();
    let site = lab.add_site("upd_untracked");
    let custom = site.path.join("wp-content/plugins/agency-custom");
    std::fs::create_dir_all(&custom).unwrap();
    std::fs::write(
        custom.join("agency-custom.php"),
        "<?php\n/*\n * Plugin Name: Agency custom code\n * Version: 1.3\n */\n",
    )
    .unwrap();
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook("monthly.yml", MONTHLY);

    let out = work.tend(&["run", &playbook, "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("untracked: plugin agency-custom 1.3: not tracked by any update source"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("untracked: plugin akismet"),
        "{}",
        out.stdout
    );

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    let untracked: Vec<&str> = s["untracked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["slug"].as_str().unwrap())
        .collect();
    assert!(untracked.contains(&"agency-custom"), "{s}");
    assert!(!untracked.contains(&"akismet"), "{s}");
    let entry = s["untracked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["slug"] == "agency-custom")
        .unwrap();
    assert_eq!(entry["type"], "plugin");
    assert_eq!(entry["version"], "1.3");

    let text = work.tend(&["run", &playbook, "--yes"]);
    assert!(
        text.stdout
            .contains("untracked: plugin agency-custom 1.3: not tracked by any update source"),
        "{}",
        text.stdout
    );
    let history = work.tend(&["history"]);
    assert!(
        history
            .stdout
            .contains("untracked: plugin agency-custom 1.3: not tracked by any update source"),
        "{}",
        history.stdout
    );
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out = work.tend(&[
        "report", "--month", &month, "--format", "md,html", "--out", "reports",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut markdown = String::new();
    let mut html = String::new();
    for entry in std::fs::read_dir(work.path().join("reports")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("md") => markdown.push_str(&text),
            Some("html") => html.push_str(&text),
            _ => {}
        }
    }
    assert!(
        markdown.contains("### Not tracked by any update source")
            && markdown.contains("| plugin | agency-custom | 1.3 |"),
        "{markdown}"
    );
    assert!(
        html.contains("Not tracked by any update source") && html.contains("agency-custom"),
        "the HTML report lists it too"
    );
}

/// Issue 14, item 2 on real WordPress: with maintenance mode on for the whole cycle (the
/// checks run before `maintenance: off`), a visitor — and a request with a wrong pass —
/// gets WordPress's 503 maintenance page, while tend's checks, carrying the run's secret,
/// get the real pages and pass. The host only ever holds the secret's SHA-256, in the
/// maintenance file, and after the run nothing of it is left.
#[test]
fn visitors_see_maintenance_while_tends_checks_see_the_site() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let lab = Lab::shared();
    let site = lab.add_site("upd_pass");
    let work = Work::new();
    work.add_package(&package("akismet."), "plugins");
    // Two components, each checked on its own (`mode: each`) while maintenance stays on.
    work.add_package(&package("twentytwentythree."), "themes");
    work.index();
    work.inventory(lab, &[&site], "");
    let playbook = work.playbook(
        "cycle.yml",
        "name: Cycle in maintenance\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: {}\n  - verify:\n      checks:\n        - { path: /, status: 200, contains: ['<title>'] }\n  - maintenance: off\n",
    );

    // A visitor polls the home page (and a request with a wrong pass) throughout the run,
    // and keeps each maintenance file seen.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let files: Arc<Mutex<Vec<String>>> = Arc::default();
    let visitor = {
        let (stop, seen, files) = (stop.clone(), seen.clone(), files.clone());
        let url = format!("{}/", site.url);
        let maintenance = site.path.join(".maintenance");
        std::thread::spawn(move || {
            let get = |extra: &[&str]| {
                let out = Command::new("curl")
                    .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
                    .args(extra)
                    .arg(&url)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
                (code.to_owned(), body.to_owned())
            };
            while !stop.load(Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&maintenance) {
                    files.lock().unwrap().push(text);
                }
                let (code, body) = get(&[]);
                let (wrong, _) = get(&["-H", "X-Tend-Maintenance-Pass: not-the-secret"]);
                seen.lock().unwrap().push((code, wrong, body));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = work.tend(&["-v", "--json", "run", &playbook, "--yes"]);
    stop.store(true, Ordering::SeqCst);
    visitor.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    // tend's checks ran while maintenance was on, and got the real pages.
    let checks = s["checks"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["ok"] == true && c["status"] == 200),
        "{checks:?}"
    );

    let seen = seen.lock().unwrap().clone();
    let maintenance: Vec<&(String, String, String)> =
        seen.iter().filter(|(code, _, _)| code == "503").collect();
    assert!(
        !maintenance.is_empty(),
        "the visitor saw the maintenance page: {:?}",
        seen.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    assert!(maintenance
        .iter()
        .all(|(_, _, body)| body.contains("Briefly unavailable for scheduled maintenance")));
    // Throughout: from the first maintenance page to the last, never the real site (the
    // checks of each component pass through maintenance, they never lift it).
    let first = seen.iter().position(|(code, _, _)| code == "503").unwrap();
    let last = seen.iter().rposition(|(code, _, _)| code == "503").unwrap();
    assert!(
        seen[first..=last].iter().all(|(code, _, _)| code == "503"),
        "maintenance stayed on: {:?}",
        seen.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    // While the site was in maintenance, a wrong pass got maintenance too. Each sample asks
    // as a visitor, then with a wrong pass: the last sample's second request may come after
    // maintenance ended, so only those followed by another maintenance page count.
    assert!(
        seen[first..last].iter().all(|(_, wrong, _)| wrong == "503"),
        "{:?}",
        seen.iter().map(|s| (&s.0, &s.1)).collect::<Vec<_>>()
    );
    // The maintenance file held a SHA-256 and the comparison, never a secret sent on.
    let files = files.lock().unwrap().clone();
    assert!(!files.is_empty(), "the maintenance file was seen");
    let hash: String = files[0]
        .split('\'')
        .find(|part| part.len() == 64 && part.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("the file holds a SHA-256")
        .to_owned();
    assert!(files[0].contains("hash_equals"), "{}", files[0]);
    assert!(
        !out.stderr.contains(&hash) && !out.stdout.contains(&hash),
        "the digest never shows in tend's output"
    );
    assert!(
        out.stderr
            .contains("maintenance mode on (tend's checks get through)"),
        "{}",
        out.stderr
    );
    // After the run: out of maintenance, nothing of the pass left on the host.
    assert!(!site.path.join(".maintenance").exists());
    assert!(!site.path.join(".maintenance.tend-tmp").exists());
    let leftover = Command::new("grep")
        .args(["-rl", &hash])
        .arg(&site.path)
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&leftover.stdout)
    );
    let (after, _, _) = {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}/", site.url))
            .output()
            .unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), (), ())
    };
    assert_eq!(after, "200");
}
