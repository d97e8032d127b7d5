//! Joomla sites on the lab. Joomla cannot be installed here, so each site is a fixture tree
//! with Joomla 5.1's real file formats (`libraries/src/Version.php`, `configuration.php`,
//! manifests) and real table shapes in a real MariaDB database, and its console
//! `cli/joomla.php` is a stand-in that answers like Joomla's (see
//! `tests/fixtures/joomla/README.md`). Every test name says "stand-in".

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{db_state, repo_root, tend, tree, Lab, LabSite};

/// What backups leave out and the lab's own runtime files.
const UNTRACKED: &[&str] = &["cache", "administrator/cache", "tmp"];

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(lab: &Lab, sites: &[&LabSite], repository: bool) -> Work {
        let work = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(work.repo()).unwrap();
        std::fs::write(work.repo().join("index.json"), "{\"packages\": []}").unwrap();
        let entries: Vec<(&str, &Path, &str)> = sites
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
            .collect();
        let sources = if repository {
            format!(
                "  sources:\n    - repository: '{}'\n",
                work.repo().display()
            )
        } else {
            "  sources: []\n".to_owned()
        };
        let text = format!(
            "settings:\n  store: '{}'\n{sources}{}",
            work.path().join("store").display(),
            lab.inventory(&entries)
        );
        std::fs::write(work.path().join("inv.yml"), text).unwrap();
        work
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self) -> PathBuf {
        self.path().join("repo")
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

const MONTHLY: &str = "name: Monthly update cycle\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: { core: minor }\n  - maintenance: off\n  - verify: {}\n";

fn joomla_site(lab: &Lab, name: &str) -> LabSite {
    lab.add_fixture_site("lab-joomla.sh", name, &[])
}

/// Tells the stand-in what Joomla's update servers offer.
fn offer_updates(site: &LabSite, updates: &str) {
    let dir = site.path.join(".standin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("updates.json"), updates).unwrap();
}

fn core_package() -> PathBuf {
    repo_root().join("tests/fixtures/joomla/packages/core-5.1.3")
}

fn version_of(site: &LabSite) -> String {
    let text = std::fs::read_to_string(site.path.join("libraries/src/Version.php")).unwrap();
    tend_version_parse(&text)
}

fn tend_version_parse(text: &str) -> String {
    let get = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!("const {name} =")))
            .and_then(|l| l.split('=').nth(1))
            .map(|v| v.trim().trim_end_matches(';').trim_matches('\'').to_owned())
            .unwrap()
    };
    format!(
        "{}.{}.{}",
        get("MAJOR_VERSION"),
        get("MINOR_VERSION"),
        get("PATCH_VERSION")
    )
}

#[test]
fn stand_in_joomla_facts_read_version_database_and_extensions() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_facts");
    let work = Work::new(lab, &[&site], false);
    let out = work.tend(&["--json", "facts"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let facts = &json(&out)["sites"][0];
    assert_eq!(facts["cms"], "joomla");
    assert_eq!(facts["version"], "5.1.2");
    let plugins = facts["plugins"].as_array().unwrap();
    let find = |slug: &str| plugins.iter().find(|p| p["slug"] == slug).cloned();
    assert_eq!(find("com_tendtest").unwrap()["version"], "1.0");
    assert_eq!(find("files_joomla").unwrap()["version"], "5.1.2");
    assert!(find("tpl_cassiopeia").is_some(), "{plugins:?}");
    assert!(
        !out.stdout.contains(&site.db_password),
        "the password never shows"
    );
}

#[test]
fn stand_in_joomla_backup_and_restore_round_trip_byte_identical() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_backup");
    let work = Work::new(lab, &[&site], false);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);
    let out = work.tend(&["backup", "--label", "test"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Damage: a file deleted, configuration changed, an article gone.
    std::fs::remove_file(site.path.join("libraries/src/Version.php")).unwrap();
    std::fs::write(site.path.join("index.php"), "<?php echo 'hacked';").unwrap();
    let prefix = lab.var("SITE_joomla_backup_DB_PREFIX");
    lab.sql(&site.db_name, &format!("DELETE FROM {prefix}content"));

    let out = work.tend(&["restore", "joomla_backup", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

#[test]
fn stand_in_joomla_core_update_succeeds_and_is_verified() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_core");
    offer_updates(
        &site,
        &format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}}}",
            core_package().display()
        ),
    );
    let work = Work::new(lab, &[&site], false);
    let playbook = work.playbook(MONTHLY);

    let out = work.tend(&["--json", "run", &playbook, "--check"]);
    let plan = &json(&out)["sites"][0];
    assert_eq!(plan["changes"][0]["to"], "5.1.3", "{plan}");

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(version_of(&site), "5.1.3");
    let config = std::fs::read_to_string(site.path.join("configuration.php")).unwrap();
    assert!(config.contains("public $offline = false;"), "site:up ran");
    assert!(s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["ok"] == true));
}

#[test]
fn stand_in_joomla_update_whose_cli_fails_is_rolled_back_byte_identical() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_clifail");
    offer_updates(
        &site,
        &format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}, \"fail\": \"core:update\"}}",
            core_package().display()
        ),
    );
    let work = Work::new(lab, &[&site], false);
    let playbook = work.playbook(MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("core:update") && error.contains("exit status 2"),
        "{error}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
}

#[test]
fn stand_in_joomla_update_that_breaks_the_site_is_rolled_back_byte_identical() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_broken");
    // A core package whose front end fails with Joomla's error page.
    let package = tempfile::tempdir().unwrap();
    let copy = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", core_package().display()))
        .arg(package.path())
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::write(
        package.path().join("index.php"),
        "<?php http_response_code(500); echo '<title>Error: 500</title><p>An error has occurred.</p>';",
    )
    .unwrap();
    offer_updates(
        &site,
        &format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}}}",
            package.path().display()
        ),
    );
    let work = Work::new(lab, &[&site], false);
    let playbook = work.playbook(MONTHLY);
    let files_before = tree(&site.path, UNTRACKED);
    let db_before = db_state(lab, &site);

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("core joomla 5.1.2 → 5.1.3"),
        "{s}"
    );
    assert!(
        s["rollback"].as_str().unwrap().contains("all checks pass"),
        "{s}"
    );
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
    assert_eq!(db_state(lab, &site), db_before);
    assert_eq!(version_of(&site), "5.1.2");
}

#[test]
fn stand_in_joomla_extension_from_a_private_repository_is_installed() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_ext");
    let work = Work::new(lab, &[&site], true);
    let zip = work.repo().join("com_tendtest-2.0.zip");
    let made = Command::new("php")
        .arg(repo_root().join("tests/fixtures/joomla/packages/make-zip.php"))
        .arg(repo_root().join("tests/fixtures/joomla/packages/com_tendtest-2.0"))
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&zip).unwrap()));
    std::fs::write(
        work.repo().join("index.json"),
        format!(
            "{{\"packages\": [{{\"cms\": \"joomla\", \"type\": \"extension\", \"slug\": \"com_tendtest\", \"version\": \"2.0\", \"url\": \"com_tendtest-2.0.zip\", \"sha256\": \"{sha}\"}}]}}"
        ),
    )
    .unwrap();
    let playbook = work.playbook(MONTHLY);
    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["changes"][0]["slug"], "com_tendtest");
    let facts = json(&work.tend(&["--json", "facts"]));
    let plugins = facts["sites"][0]["plugins"].as_array().unwrap().clone();
    let ext = plugins
        .iter()
        .find(|p| p["slug"] == "com_tendtest")
        .unwrap();
    assert_eq!(ext["version"], "2.0");
}

/// `mode: each` on the stand-in: core 5.1.3 is kept and verified; com_tendtest 2.0, whose
/// SQL update breaks a table the front end reads, is rolled back alone — files (the copy
/// taken before it, as Joomla's installer changed them) and database as just before it.
#[test]
fn stand_in_joomla_extension_that_breaks_the_site_is_rolled_back_alone() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_each");
    offer_updates(
        &site,
        &format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}}}",
            core_package().display()
        ),
    );
    let work = Work::new(lab, &[&site], true);
    // com_tendtest 2.0 with a schema update that renames a column the home page reads.
    let package = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!(
            "{}/.",
            repo_root()
                .join("tests/fixtures/joomla/packages/com_tendtest-2.0")
                .display()
        ))
        .arg(package.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let update = package.path().join("admin/sql/updates/mysql/2.0.0.sql");
    let mut sql = std::fs::read_to_string(&update).unwrap();
    sql.push_str(
        "ALTER TABLE `#__content` CHANGE `introtext` `introtext_v2` mediumtext NOT NULL;\n",
    );
    std::fs::write(&update, sql).unwrap();
    let zip = work.repo().join("com_tendtest-2.0.zip");
    let made = Command::new("php")
        .arg(repo_root().join("tests/fixtures/joomla/packages/make-zip.php"))
        .arg(package.path())
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&zip).unwrap()));
    std::fs::write(
        work.repo().join("index.json"),
        format!(
            "{{\"packages\": [{{\"cms\": \"joomla\", \"type\": \"extension\", \"slug\": \"com_tendtest\", \"version\": \"2.0\", \"url\": \"com_tendtest-2.0.zip\", \"sha256\": \"{sha}\"}}]}}"
        ),
    )
    .unwrap();
    let playbook = work.playbook(MONTHLY);
    let component = "administrator/components/com_tendtest";
    let files_before = tree(&site.path.join(component), &[]);
    let items_before = lab.sql(&site.db_name, "SHOW CREATE TABLE jos_tendtest_items");

    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert_eq!(s["status"], "partial", "{s}");
    assert_eq!(s["changes"][0]["slug"], "joomla", "{s}");
    assert_eq!(s["rolled_back"][0]["slug"], "com_tendtest", "{s}");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("extension com_tendtest 1.0 → 2.0: home page (/): answered 500"),
        "{s}"
    );
    assert_eq!(version_of(&site), "5.1.3");
    assert_eq!(tree(&site.path.join(component), &[]), files_before);
    assert_eq!(
        lab.sql(&site.db_name, "SHOW CREATE TABLE jos_tendtest_items"),
        items_before
    );
    let columns = lab.sql(
        &site.db_name,
        "SHOW COLUMNS FROM jos_content LIKE 'introtext'",
    );
    assert!(columns.contains("introtext"), "{columns}");
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    let config = std::fs::read_to_string(site.path.join("configuration.php")).unwrap();
    assert!(config.contains("public $offline = false;"), "{config}");
}

#[test]
fn stand_in_joomla_3_is_backed_up_but_not_updated() {
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_three");
    // Joomla 3.10's Version.php (same path, same constants, major version 3).
    let version = site.path.join("libraries/src/Version.php");
    let text = std::fs::read_to_string(&version)
        .unwrap()
        .replace("MAJOR_VERSION = 5", "MAJOR_VERSION = 3")
        .replace("MINOR_VERSION = 1", "MINOR_VERSION = 10")
        .replace("PATCH_VERSION = 2", "PATCH_VERSION = 12");
    std::fs::write(&version, text).unwrap();
    offer_updates(
        &site,
        &format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}}}",
            core_package().display()
        ),
    );
    let work = Work::new(lab, &[&site], false);
    let facts = json(&work.tend(&["--json", "facts"]));
    let facts = &facts["sites"][0];
    assert_eq!(facts["version"], "3.10.12");
    assert!(facts["warnings"][0]
        .as_str()
        .unwrap()
        .contains("end-of-life"));
    assert_eq!(work.tend(&["backup"]).code, 0);

    let files_before = tree(&site.path, UNTRACKED);
    let playbook = work.playbook(MONTHLY);
    let out = work.tend(&["--json", "run", &playbook, "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let s = &json(&out)["sites"][0];
    assert!(s["error"].as_str().unwrap().contains("end-of-life"), "{s}");
    assert_ne!(s["status"], "ok");
    assert_eq!(tree(&site.path, UNTRACKED), files_before);
}

/// The home page's status line and body.
fn joomla_home(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "--max-time", "20", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pid of the host's import client for `db` (polled for up to two minutes).
fn wait_for_import(db: &str) -> String {
    let pattern = format!("defaults-extra-file=/dev/fd/3 .* -- {db}$");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        let pids = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(pid) = pids.split_whitespace().next() {
            return pid.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no import within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A Joomla site is offline while it is restored — `$offline` switched on in its
/// `configuration.php`, which Joomla's front end answers with its 503 offline page — and
/// gets back its exact configuration file (bytes and mode) afterwards: the snapshot's when
/// the restore went through, its own when it failed (the import killed, or the connection
/// cut during the import).
#[test]
fn stand_in_joomla_is_offline_while_restored_and_gets_its_exact_configuration_back() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::shared();
    let site = joomla_site(lab, "joomla_offline");
    let prefix = lab.var("SITE_joomla_offline_DB_PREFIX");
    lab.add_bulk_table(&site.db_name, &format!("{prefix}bulk"));
    let config = site.path.join("configuration.php");
    // Read-only, as Joomla leaves it after saving its configuration.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    let config_of = || {
        (
            std::fs::read(&config).unwrap(),
            std::fs::metadata(&config).unwrap().permissions().mode() & 0o7777,
        )
    };
    let work = Work::new(lab, &[&site], false);
    let files_at_backup = tree(&site.path, UNTRACKED);
    let db_at_backup = db_state(lab, &site);
    let config_at_backup = config_of();
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(joomla_home(&site.url).starts_with("HTTP/1.1 200"));

    // The site moves on: its configuration changes (still online), an article goes.
    let changed = String::from_utf8(config_at_backup.0.clone())
        .unwrap()
        .replace("public $list_limit = 20;", "public $list_limit = 30;");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&config, &changed).unwrap();
    lab.sql(&site.db_name, &format!("DELETE FROM {prefix}content"));
    let files = tree(&site.path, UNTRACKED);
    let db = db_state(lab, &site);
    let config_before = config_of();

    // A restore whose import is killed: offline meanwhile, then exactly as before.
    let (url, db_name) = (site.url.clone(), site.db_name.clone());
    let killer = std::thread::spawn(move || {
        let pid = wait_for_import(&db_name);
        let during = joomla_home(&url);
        let _ = Command::new("kill").args(["-9", &pid]).status();
        during
    });
    let out = work.tend(&["restore", "joomla_offline", "--snapshot", &id, "--yes"]);
    let during = killer.join().unwrap();
    assert!(
        during.starts_with("HTTP/1.1 503") && during.contains("offline-card"),
        "offline during the restore: {during}"
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("the site is as it was before the restore"),
        "{}",
        out.stdout
    );
    assert_eq!(config_of(), config_before, "its own configuration, exactly");
    assert_eq!(tree(&site.path, UNTRACKED), files);
    assert_eq!(db_state(lab, &site), db);
    assert!(joomla_home(&site.url).starts_with("HTTP/1.1 200"));

    // A restore whose connection is cut during the import (the sshd serving it killed):
    // tend reopens the connection, puts the files back and drops the imported tables, and
    // the configuration is the site's own again, exactly.
    let db_name = site.db_name.clone();
    let cutter = std::thread::spawn(move || {
        let pid = wait_for_import(&db_name);
        support::process::kill_sshd_above(pid.parse().unwrap());
    });
    let out = work.tend(&["restore", "joomla_offline", "--snapshot", &id, "--yes"]);
    cutter.join().unwrap();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("the site is as it was before the restore"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(config_of(), config_before, "its own configuration, exactly");
    assert_eq!(tree(&site.path, UNTRACKED), files);
    assert_eq!(db_state(lab, &site), db);
    assert!(joomla_home(&site.url).starts_with("HTTP/1.1 200"));

    // A restore that goes through: offline meanwhile, then the snapshot's configuration.
    let (url, db_name) = (site.url.clone(), site.db_name.clone());
    let watcher = std::thread::spawn(move || {
        wait_for_import(&db_name);
        joomla_home(&url)
    });
    let out = work.tend(&["restore", "joomla_offline", "--snapshot", &id, "--yes"]);
    let during = watcher.join().unwrap();
    assert!(
        during.starts_with("HTTP/1.1 503"),
        "offline during the restore: {during}"
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(config_of(), config_at_backup, "the snapshot's, exactly");
    assert_eq!(tree(&site.path, UNTRACKED), files_at_backup);
    assert_eq!(db_state(lab, &site), db_at_backup);
    assert!(joomla_home(&site.url).starts_with("HTTP/1.1 200"));
}
