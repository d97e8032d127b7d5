//! Magento 2 sites on the lab. Magento cannot be installed here, so each site is a fixture
//! tree with Magento's real file formats (`app/etc/env.php`, `config.php`, `composer.json`,
//! `composer.lock`) and real table shapes in a real MariaDB database; `bin/magento` and
//! `composer` are stand-ins that answer like the real ones, with a local package repository
//! for composer (see `tests/fixtures/magento/README.md`). Every test name says "stand-in".

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{db_state, repo_root, tend, tree, Lab, LabSite};

/// What backups leave out (caches Magento rebuilds).
const UNTRACKED: &[&str] = &[
    "var/cache",
    "var/page_cache",
    "var/view_preprocessed",
    "var/session",
];

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(lab: &Lab, sites: &[&LabSite]) -> Work {
        let work = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        let mut text = format!(
            "settings:\n  store: '{}'\n  sources: []\n{}",
            work.path().join("store").display(),
            lab.ssh_defaults()
        );
        text.push_str("sites:\n");
        for site in sites {
            text.push_str(&format!(
                "  {}:\n    host: 127.0.0.1\n    path: '{}'\n    url: {}\n    composer: '{}'\n",
                site.name,
                site.path.display(),
                site.url,
                lab.var(&format!("SITE_{}_COMPOSER", site.name))
            ));
        }
        std::fs::write(work.path().join("inv.yml"), text).unwrap();
        work
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn tend(&self, args: &[&str]) -> support::Outcome {
        let mut all = vec!["-i", "inv.yml"];
        all.extend_from_slice(args);
        tend(self.path(), &all)
    }

    fn playbook(&self, text: &str) -> String {
        std::fs::write(self.path().join("monthly.yml"), text).unwrap();
        "monthly.yml".to_owned()
    }
}

/// The monthly playbook with the default policy (Magento core: patch).
const MONTHLY: &str = "name: Monthly update cycle\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: {}\n  - maintenance: off\n  - verify: {}\n";

fn magento_site(lab: &Lab, name: &str) -> LabSite {
    lab.add_fixture_site("lab-magento.sh", name, &["--mode", "production"])
}

fn locked_version(site: &LabSite) -> String {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(site.path.join("composer.lock")).unwrap())
            .unwrap();
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "magento/product-community-edition")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Makes one of the stand-ins fail the way the real tool fails.
fn fail_command(site: &LabSite, command: &str) {
    std::fs::write(
        site.path.join("var/.tend-standin.json"),
        format!("{{\"fail\": \"{command}\"}}"),
    )
    .unwrap();
}

#[test]
fn stand_in_magento_facts_read_version_database_modules_and_packages() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_facts");
    let work = Work::new(lab, &[&site]);
    let out = work.tend(&["--json", "facts"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let facts = &json(&out)["sites"][0];
    assert_eq!(facts["cms"], "magento");
    assert_eq!(facts["version"], "2.4.7");
    let modules = facts["plugins"].as_array().unwrap();
    assert!(
        modules.iter().any(|m| m["slug"] == "Acme_Tendtest"),
        "{modules:?}"
    );
    let packages = facts["packages"].as_array().unwrap();
    assert!(
        packages
            .iter()
            .any(|p| p["slug"] == "acme/module-tendtest" && p["version"] == "1.0.0"),
        "{packages:?}"
    );
    assert!(!out.stdout.contains(&site.db_password));
}

#[test]
fn stand_in_magento_backup_and_restore_round_trip_byte_identical() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_backup");
    let work = Work::new(lab, &[&site]);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);
    let out = work.tend(&["backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::remove_dir_all(site.path.join("vendor/magento")).unwrap();
    std::fs::write(site.path.join("app/etc/config.php"), "<?php return [];").unwrap();
    let prefix = lab.var("SITE_mg_backup_TABLE_PREFIX");
    lab.sql(
        &site.db_name,
        &format!("DELETE FROM {prefix}catalog_product_entity"),
    );
    let out = work.tend(&["restore", "mg_backup", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

#[test]
fn stand_in_magento_patch_update_runs_the_documented_sequence() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_update");
    let work = Work::new(lab, &[&site]);
    let playbook = work.playbook(MONTHLY);

    // Magento's default level is `patch`: within 2.4 (the contract's semver levels), so
    // 2.4.8 is taken; a `core: none` step would hold it.
    let out = work.tend(&["--json", "run", &playbook, "--check"]);
    let plan = &json(&out)["sites"][0];
    assert_eq!(plan["changes"][0]["to"], "2.4.8", "{plan}");
    let none = work.playbook(&MONTHLY.replace("update: {}", "update: { core: none }"));
    let out = work.tend(&["--json", "run", &none, "--check"]);
    let plan = &json(&out)["sites"][0];
    // The third-party module is still offered; core is held.
    let changes = plan["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["type"] != "core"), "{plan}");
    assert_eq!(changes[0]["slug"], "acme/module-tendtest", "{plan}");
    assert_eq!(plan["held"][0]["available"], "2.4.8", "{plan}");
    let playbook = work.playbook(MONTHLY);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(locked_version(&site), "2.4.8");
    // One component at a time: core, then the third-party module.
    assert_eq!(s["changes"][1]["slug"], "acme/module-tendtest", "{s}");
    assert!(!site.path.join("var/.maintenance.flag").exists());
    // Production mode: the static content was deployed again after setup:upgrade.
    assert!(site.path.join("pub/static/deployed_version.txt").exists());
    let prefix = lab.var("SITE_mg_update_TABLE_PREFIX");
    let schema = lab.sql(
        &site.db_name,
        &format!(
            "SELECT schema_version FROM {prefix}setup_module WHERE module = 'Magento_Catalog'"
        ),
    );
    assert!(!schema.trim().is_empty());
}

#[test]
fn stand_in_magento_update_whose_cli_fails_is_rolled_back_byte_identical() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_clifail");
    fail_command(&site, "setup:upgrade");
    let work = Work::new(lab, &[&site]);
    let playbook = work.playbook(MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}");
    assert!(
        s["error"].as_str().unwrap().contains("setup:upgrade"),
        "{s}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
    assert_eq!(locked_version(&site), "2.4.7");
}

#[test]
fn stand_in_magento_update_that_breaks_the_shop_is_rolled_back_byte_identical() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_broken");
    // A copy of the package repository whose 2.4.8 catalog upgrade drops the product
    // table: the shop answers Magento's error page afterwards.
    let repo = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!(
            "{}/.",
            repo_root().join("tests/fixtures/magento/repo").display()
        ))
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let upgrade = repo
        .path()
        .join("magento/module-catalog/104.0.8/Setup/upgrade.sql");
    let mut sql = std::fs::read_to_string(&upgrade).unwrap();
    sql.push_str("\nDROP TABLE `@PREFIX@catalog_product_entity_varchar`;\nDROP TABLE `@PREFIX@catalog_product_entity`;\n");
    std::fs::write(&upgrade, sql).unwrap();
    std::fs::write(
        site.path.join(".tend-standin-composer.json"),
        format!("{{\"repository\": \"{}\"}}\n", repo.path().display()),
    )
    .unwrap();
    let work = Work::new(lab, &[&site]);
    let playbook = work.playbook(MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("core magento 2.4.7 → 2.4.8") && error.contains("verify"),
        "{error}"
    );
    assert!(
        s["rollback"].as_str().unwrap().contains("all checks pass"),
        "{s}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

/// `mode: each` on the stand-in: Magento 2.4.8 is kept and verified; the third-party
/// module acme/module-tendtest 1.1.0, whose schema upgrade drops the product tables, is
/// rolled back alone — its files (the copy taken before it: composer and setup:upgrade
/// changed them) and the database as just before it.
#[test]
fn stand_in_magento_module_that_breaks_the_shop_is_rolled_back_alone() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_each");
    let repo = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!(
            "{}/.",
            repo_root().join("tests/fixtures/magento/repo").display()
        ))
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let upgrade = repo
        .path()
        .join("acme/module-tendtest/1.1.0/Setup/upgrade.sql");
    let mut sql = std::fs::read_to_string(&upgrade).unwrap();
    sql.push_str("\nDROP TABLE `@PREFIX@catalog_product_entity_varchar`;\nDROP TABLE `@PREFIX@catalog_product_entity`;\n");
    std::fs::write(&upgrade, sql).unwrap();
    std::fs::write(
        site.path.join(".tend-standin-composer.json"),
        format!("{{\"repository\": \"{}\"}}\n", repo.path().display()),
    )
    .unwrap();
    let work = Work::new(lab, &[&site]);
    let playbook = work.playbook(MONTHLY);
    let module_before = tree(&site.path.join("vendor/acme"), &[]);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "partial", "{s}");
    assert_eq!(s["changes"][0]["slug"], "magento", "{s}");
    assert_eq!(s["changes"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["rolled_back"][0]["slug"], "acme/module-tendtest", "{s}");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("extension acme/module-tendtest 1.0.0 → 1.1.0: home page (/)"),
        "{s}"
    );
    assert_eq!(locked_version(&site), "2.4.8");
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(site.path.join("composer.lock")).unwrap())
            .unwrap();
    let acme = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "acme/module-tendtest")
        .unwrap()["version"]
        .clone();
    assert_eq!(acme, "1.0.0");
    assert_eq!(tree(&site.path.join("vendor/acme"), &[]), module_before);
    let prefix = lab.var("SITE_mg_each_TABLE_PREFIX");
    let tables = lab.sql(
        &site.db_name,
        &format!("SHOW TABLES LIKE '{prefix}catalog_product_entity%'"),
    );
    assert!(
        tables.contains("catalog_product_entity_varchar"),
        "{tables}"
    );
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert!(!site.path.join("var/.maintenance.flag").exists());
}

#[test]
fn stand_in_magento_killed_update_is_recovered_byte_identical() {
    let lab = Lab::shared();
    let site = magento_site(lab, "mg_kill");
    // The shop's own exempt address, which tend extends with the runner's during the cycle.
    std::fs::write(site.path.join("var/.maintenance.ip"), "10.0.0.7").unwrap();
    let work = Work::new(lab, &[&site]);
    // composer, slowed down so that tend can be killed while the update is under way.
    let slow = work.path().join("slow-composer");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\ncase \"$1\" in update) sleep 30 ;; esac\nexec php '{}' \"$@\"\n",
            lab.var("SITE_mg_kill_COMPOSER")
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&slow)
        .status()
        .unwrap();
    let inventory = std::fs::read_to_string(work.path().join("inv.yml"))
        .unwrap()
        .replace(&lab.var("SITE_mg_kill_COMPOSER"), slow.to_str().unwrap());
    std::fs::write(work.path().join("inv.yml"), inventory).unwrap();
    let playbook = work.playbook(MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "run", &playbook, "--yes"])
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = site.path.join(".tend/journal.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .contains("\"restore_files\": true")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the update never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "tend ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Let composer require change composer.json, then kill tend mid-update.
    std::thread::sleep(std::time::Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(site.path.join("var/.maintenance.flag").exists());
    // Killed while the runner's address was exempt: recovering takes it back.
    assert_eq!(
        std::fs::read_to_string(site.path.join("var/.maintenance.ip")).unwrap(),
        "10.0.0.7,127.0.0.1"
    );

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("tend recover mg_kill"),
        "{}",
        out.stdout
    );
    let out = work.tend(&["--json", "recover", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["sites"][0]["status"], "recovered");
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
    assert!(!site.path.join("var/.maintenance.flag").exists());
    assert_eq!(
        std::fs::read_to_string(site.path.join("var/.maintenance.ip")).unwrap(),
        "10.0.0.7"
    );
    assert!(!site.path.join("var/.tend-maintenance-ip").exists());
}

/// Issue 14, item 2, on the Magento stand-in (`bin/magento maintenance:enable --ip`, as
/// Magento's AbstractMaintenanceCommand: `--ip` replaces the exempt list, `none` clears it):
/// with maintenance on for the whole cycle, tend's checks come from the runner's address,
/// which tend adds to the site's exempt list, and pass; a visitor from another address gets
/// the 503 page; afterwards the site's own exempt list is as it was.
#[test]
fn stand_in_magento_checks_get_through_maintenance_from_the_runners_address() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let lab = Lab::shared();
    let site = magento_site(lab, "mg_pass");
    // The shop's own exempt address (its office), to be kept.
    std::fs::write(site.path.join("var/.maintenance.ip"), "10.0.0.7").unwrap();
    let work = Work::new(lab, &[&site]);
    let playbook = work.playbook(
        "name: Cycle in maintenance\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: {}\n  - verify: {}\n  - maintenance: off\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let visitor = {
        let (stop, seen) = (stop.clone(), seen.clone());
        let url = format!("{}/", site.url);
        let ip_file = site.path.join("var/.maintenance.ip");
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                // A visitor from another loopback address than the runner's 127.0.0.1.
                let out = std::process::Command::new("curl")
                    .args([
                        "-s",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "--max-time",
                        "10",
                    ])
                    .args(["--interface", "127.0.0.2"])
                    .arg(&url)
                    .output()
                    .unwrap();
                let list = std::fs::read_to_string(&ip_file).unwrap_or_default();
                seen.lock()
                    .unwrap()
                    .push((String::from_utf8_lossy(&out.stdout).into_owned(), list));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let out = work.tend(&["-v", "--json", "run", &playbook, "--yes"]);
    stop.store(true, Ordering::SeqCst);
    visitor.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
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
            .contains("maintenance mode on (tend's checks get through)"),
        "{}",
        out.stderr
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(code, list)| code == "503" && list == "10.0.0.7,127.0.0.1"),
        "a visitor got the 503 page while the runner's address was exempt: {seen:?}"
    );
    // Afterwards: out of maintenance, the shop's own list as it was, no mark left.
    assert!(!site.path.join("var/.maintenance.flag").exists());
    assert_eq!(
        std::fs::read_to_string(site.path.join("var/.maintenance.ip")).unwrap(),
        "10.0.0.7"
    );
    assert!(!site.path.join("var/.tend-maintenance-ip").exists());
}
