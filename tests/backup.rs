//! Backups and restores of real WordPress sites on the lab: byte-identical round trips,
//! restore onto another site, and every failure leaving no half snapshot.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{db_state, tend, tree, Lab, LabSite};

fn write_inventory(dir: &Path, lab: &Lab, sites: &[&LabSite], store: &Path) -> PathBuf {
    let entries: Vec<(&str, &Path, &str)> = sites
        .iter()
        .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
        .collect();
    let text = format!(
        "settings:\n  store: '{}'\n{}",
        store.display(),
        lab.inventory(&entries)
    );
    let path = dir.join("inv.yml");
    std::fs::write(&path, text).unwrap();
    path
}

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn snapshots(work: &Path, site: &str) -> Vec<Value> {
    let out = tend(
        work,
        &["-i", "inv.yml", "--json", "backups", "list", "--site", site],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out)["snapshots"].as_array().unwrap().clone()
}

fn partials(store: &Path, site: &str) -> Vec<String> {
    match std::fs::read_dir(store.join("backups").join(site)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".partial-"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn backup_damage_restore_is_byte_identical() {
    let lab = Lab::shared();
    let wp = lab.add_site("roundtrip");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // A symlink must come back as a link.
    std::os::unix::fs::symlink("wp-content/plugins", wp.path.join("plugins-link")).unwrap();
    let files_before = tree(&wp.path, &[]);
    let db_before = db_state(lab, &wp);

    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "backup",
            "--label",
            "before-damage",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result = &json(&out)["sites"][0];
    assert_eq!(result["ok"], true, "{result}");
    let id = result["snapshot"].as_str().unwrap().to_owned();
    assert!(result["bytes"].as_u64().unwrap() > 1_000_000);

    // The snapshot is private and laid out as the contract says.
    let dir = store.join("backups/roundtrip").join(&id);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for part in ["manifest.json", "files.tar.zst", "database.sql.zst"] {
        let meta = std::fs::metadata(dir.join(part)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{part}");
        assert_eq!(meta.uid(), runner_uid(), "{part} owned by the runner");
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["version"], "6.1.9");
    assert_eq!(manifest["label"], "before-damage");
    assert_eq!(manifest["plugins"][0]["slug"], "akismet");
    assert_eq!(manifest["files"]["sha256"].as_str().unwrap().len(), 64);

    // Damage: a deleted post, an edited core file, an injected file, a removed plugin, a
    // changed option, a new table.
    lab.sql(&wp.db_name, "DELETE FROM wp_posts WHERE ID = 1; UPDATE wp_options SET option_value = 'Hacked' WHERE option_name = 'blogname'; CREATE TABLE wp_injected (x INT)");
    std::fs::write(
        wp.path.join("wp-includes/version.php"),
        "<?php // tampered\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n",
    )
    .unwrap();
    std::fs::write(
        wp.path.join("wp-content/uploads-shell.php"),
        "<?php system($_GET['c']);",
    )
    .unwrap();
    std::fs::remove_dir_all(wp.path.join("wp-content/plugins/akismet")).unwrap();
    assert_ne!(tree(&wp.path, &[]), files_before);
    assert_ne!(db_state(lab, &wp), db_before);

    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "restore",
            "roundtrip",
            "--snapshot",
            &id,
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let restored = json(&out);
    assert_eq!(restored["status"], "ok", "{restored}");
    assert_eq!(restored["snapshot"], id.as_str());

    assert_eq!(
        tree(&wp.path, &[]),
        files_before,
        "files, modes and links are as before"
    );
    assert_eq!(
        db_state(lab, &wp),
        db_before,
        "every table checksums as before, the injected one is gone"
    );

    // The damaged state was kept as a pre-restore snapshot, and everything verifies.
    let list = snapshots(work.path(), "roundtrip");
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|s| s["label"] == "pre-restore"));
    let out = tend(work.path(), &["-i", "inv.yml", "backups", "verify"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let home = http_get(&wp.url);
    assert!(
        home.contains("Lab roundtrip"),
        "the restored site answers: {home}"
    );
}

/// The uid this test runs as: the owner of a file it creates.
fn runner_uid() -> u32 {
    let probe = tempfile::NamedTempFile::new().unwrap();
    std::fs::metadata(probe.path()).unwrap().uid()
}

/// The home page through curl (the lab already depends on it).
fn http_get(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn restore_onto_another_site_keeps_its_config_and_takes_its_url() {
    let lab = Lab::shared();
    let source = lab.add_site("prodsite");
    let staging = lab.add_site("stagesite");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&source, &staging], &store);
    lab.sql(
        &source.db_name,
        "UPDATE wp_posts SET post_title = 'Only on production' WHERE ID = 1",
    );
    std::fs::write(source.path.join("wp-content/only-on-prod.txt"), "prod").unwrap();
    let staging_config = std::fs::read_to_string(staging.path.join("wp-config.php")).unwrap();

    let out = tend(work.path(), &["-i", "inv.yml", "-l", "prodsite", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "restore",
            "prodsite",
            "--to",
            "stagesite",
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out)["status"], "ok");

    assert_eq!(
        std::fs::read_to_string(staging.path.join("wp-config.php")).unwrap(),
        staging_config,
        "staging keeps its own config"
    );
    assert!(staging.path.join("wp-content/only-on-prod.txt").exists());
    assert_eq!(
        lab.sql(
            &staging.db_name,
            "SELECT post_title FROM wp_posts WHERE ID = 1"
        )
        .trim(),
        "Only on production"
    );
    let urls = lab.sql(
        &staging.db_name,
        "SELECT option_value FROM wp_options WHERE option_name IN ('siteurl', 'home')",
    );
    assert!(urls.lines().all(|u| u == staging.url), "{urls}");
    assert!(http_get(&staging.url).contains("Only on production"));
    // The history says where the snapshot came from, and so does the client's report.
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "--json", "history", "--site", "stagesite"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let runs = json(&out)["runs"].as_array().unwrap().clone();
    let restore = runs.iter().find(|r| r["command"] == "restore").unwrap();
    assert_eq!(
        restore["sites"][0]["restored_from"], "prodsite",
        "{restore}"
    );
    let month = &restore["started"].as_str().unwrap()[..7];
    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "-l",
            "stagesite",
            "report",
            "--month",
            month,
            "--out",
            "r",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let md = std::fs::read_to_string(work.path().join(format!("r/unassigned-{month}.md"))).unwrap();
    assert!(md.contains("### Restores on request"), "{md}");
    assert!(md.contains("of the site prodsite onto this site"), "{md}");
    // Production is untouched.
    assert_eq!(
        lab.sql(
            &source.db_name,
            "SELECT option_value FROM wp_options WHERE option_name = 'siteurl'"
        )
        .trim(),
        source.url
    );
}

#[test]
fn a_failed_dump_leaves_no_snapshot_and_a_clear_error() {
    let lab = Lab::shared();
    let wp = lab.add_site("dumpfail");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // The password in wp-config.php no longer matches the database user's.
    lab.sql(&wp.db_name, &format!("ALTER USER '{0}'@'localhost' IDENTIFIED BY 'changed-Elsewhere-1'; ALTER USER '{0}'@'127.0.0.1' IDENTIFIED BY 'changed-Elsewhere-1'", wp.db_user));
    let out = tend(work.path(), &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let error = json(&out)["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("Access denied"), "{error}");
    assert!(!error.contains(&wp.db_password) && !out.stderr.contains(&wp.db_password));
    assert!(snapshots(work.path(), "dumpfail").is_empty());
    assert!(
        partials(&store, "dumpfail").is_empty(),
        "no partial directory is left behind"
    );
}

/// The dump crosses the network compressed (the lab host has zstd): killed mid-way on the
/// host, it still fails the backup — the compressor ending cleanly does not hide it.
#[test]
fn a_dump_killed_midway_fails_the_backup_with_the_dump_compressed_on_the_wire() {
    let lab = Lab::shared();
    let wp = lab.add_site("dumpkilled");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // Make the dump take a while: a table with many rows.
    lab.sql(&wp.db_name, "CREATE TABLE wp_bulk (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200)); INSERT INTO wp_bulk (v) SELECT REPEAT('x', 200) FROM information_schema.columns a, information_schema.columns b LIMIT 400000");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "--json", "backup"])
        .current_dir(work.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The lab host is this machine: find the site's dump and the compressor beside it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let dump = loop {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "pid,args"])
            .output()
            .unwrap();
        let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
        let dump = ps.lines().find(|l| {
            l.contains("--single-transaction")
                && l.trim_end().ends_with(&wp.db_name)
                && !l.contains("exec 4>&1")
        });
        if let Some(line) = dump {
            if ps.lines().any(|l| l.contains("zstd -q -c -3")) {
                break line.split_whitespace().next().unwrap().to_owned();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the compressed dump was never seen running"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &dump])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    let site = &result["sites"][0];
    assert_eq!(site["error_kind"], "database", "{site}");
    let error = site["error"].as_str().unwrap();
    assert!(error.contains("dumping the database failed"), "{error}");
    assert!(snapshots(work.path(), "dumpkilled").is_empty());
    assert!(partials(&store, "dumpkilled").is_empty());

    // Left alone, the same dump goes through compressed, and the snapshot verifies.
    let out = tend(work.path(), &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(snapshots(work.path(), "dumpkilled").len(), 1);
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "backups", "verify", "--site", "dumpkilled"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn a_backup_killed_midway_leaves_nothing_listed_and_is_cleaned_up_next_time() {
    let lab = Lab::shared();
    let wp = lab.add_site("killed");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // Enough incompressible data that the backup is still running when it is killed.
    std::fs::create_dir_all(wp.path.join("wp-content/uploads")).unwrap();
    let status = std::process::Command::new("head")
        .args(["-c", "300000000", "/dev/urandom"])
        .stdout(std::fs::File::create(wp.path.join("wp-content/uploads/big.bin")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "-q", "backup"])
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has started writing the snapshot.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while partials(&store, "killed").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the backup never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        snapshots(work.path(), "killed").is_empty(),
        "a killed backup is never listed"
    );
    assert_eq!(
        partials(&store, "killed").len(),
        1,
        "its partial data is still there until the next run"
    );

    std::fs::remove_file(wp.path.join("wp-content/uploads/big.bin")).unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        partials(&store, "killed").is_empty(),
        "the next backup cleans it up"
    );
    assert_eq!(snapshots(work.path(), "killed").len(), 1);
}

#[test]
fn the_password_never_shows_in_the_hosts_process_list() {
    let lab = Lab::shared();
    let wp = lab.add_site("pswatch");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // Make the dump take a while: a table with many rows.
    lab.sql(&wp.db_name, "CREATE TABLE wp_bulk (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200)); INSERT INTO wp_bulk (v) SELECT REPEAT('x', 200) FROM information_schema.columns a, information_schema.columns b LIMIT 200000");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "-q", "backup"])
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut looks = 0;
    let mut saw_dump = false;
    loop {
        // The lab host is this machine: its process list is ours to read.
        let ps = std::process::Command::new("ps")
            .args(["-eo", "args"])
            .output()
            .unwrap();
        let ps = String::from_utf8_lossy(&ps.stdout);
        assert!(
            !ps.contains(&wp.db_password),
            "the password is visible in ps"
        );
        saw_dump |= ps.contains("--single-transaction");
        looks += 1;
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(child.wait().unwrap().success());
    assert!(looks > 5, "the process list was read while the backup ran");
    assert!(
        saw_dump,
        "the dump was seen running (so the check looked at the right moment)"
    );
    let list = snapshots(work.path(), "pswatch");
    assert_eq!(list.len(), 1);
}

#[test]
fn verify_catches_a_flipped_byte() {
    let lab = Lab::shared();
    // A site of its own: backups of one site by parallel tests would meet its lock.
    let s1 = lab.add_site("flipped");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&s1], &store);
    let out = tend(work.path(), &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = tend(work.path(), &["-i", "inv.yml", "backups", "verify"]);
    assert_eq!(out.code, 0, "{}", out.stdout);

    let part = store
        .join("backups/flipped")
        .join(&id)
        .join("database.sql.zst");
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&part, bytes).unwrap();
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "--json", "backups", "verify"],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    let doc = json(&out);
    let problems = doc["snapshots"][0]["problems"].to_string();
    assert!(problems.contains("database.sql.zst: sha256"), "{problems}");
}

#[test]
fn a_live_lock_refuses_the_site_and_a_stale_one_is_taken_over() {
    let lab = Lab::shared();
    let wp = lab.add_site("locked");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    let home = PathBuf::from(lab.var("LAB_REMOTE_HOME"));
    let name: String = wp
        .path
        .to_string_lossy()
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let lock = home.join(".cache/tend/locks").join(format!("{name}.lock"));
    std::fs::create_dir_all(&lock).unwrap();
    let runner = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();

    // Held by a live process of this runner (this test): the backup must not touch the site.
    std::fs::write(
        lock.join("owner"),
        format!(
            "runner={runner} pid={} started=x command=run\n",
            std::process::id()
        ),
    )
    .unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc = json(&out);
    let error = doc["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("locked by another tend run"), "{error}");
    assert_eq!(doc["sites"][0]["error_kind"], "locked");
    assert!(snapshots(work.path(), "locked").is_empty());

    // Left by a process that is gone: taken over with a warning, and released afterwards.
    std::fs::write(
        lock.join("owner"),
        format!("runner={runner} pid=999999999 started=x command=run\n"),
    )
    .unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("took over a stale lock"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots(work.path(), "locked").len(), 1);
    assert!(!lock.exists(), "the lock is released after the backup");
}

#[test]
fn a_store_that_cannot_take_more_fails_the_snapshot_and_leaves_nothing() {
    let lab = Lab::shared();
    // A site of its own: backups of one site by parallel tests would meet its lock.
    let s1 = lab.add_site("fullstore");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&s1], &store);
    // A file size limit makes writes to the store fail part-way, as a full disk does
    // (SIGXFSZ ignored: the write returns an error instead of killing tend).
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1024; exec \"$0\" -i inv.yml --json backup")
        .arg(env!("CARGO_BIN_EXE_tend"))
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let error = doc["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("writing to the store"), "{error}");
    assert!(snapshots(work.path(), "fullstore").is_empty());
    assert!(
        partials(&store, "fullstore").is_empty(),
        "the partial snapshot is removed"
    );
}

#[test]
fn a_site_whose_config_was_deleted_is_restored_from_the_snapshot() {
    let lab = Lab::shared();
    let wp = lab.add_site("wiped");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    let files_before = tree(&wp.path, &[]);
    let db_before = db_state(lab, &wp);
    let out = tend(work.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Hacked: wp-config.php and the core gone, a defacement in their place.
    std::fs::remove_file(wp.path.join("wp-config.php")).unwrap();
    std::fs::remove_dir_all(wp.path.join("wp-includes")).unwrap();
    std::fs::write(wp.path.join("index.php"), "<?php echo 'defaced';").unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_options SET option_value = 'Defaced' WHERE option_name = 'blogname'",
    );

    let out = tend(
        work.path(),
        &["-i", "inv.yml", "--json", "restore", "wiped", "--yes"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("could not be read"),
        "the fallback is said: {}",
        out.stderr
    );
    assert_eq!(tree(&wp.path, &[]), files_before);
    assert_eq!(db_state(lab, &wp), db_before);
    assert!(http_get(&wp.url).contains("Lab wiped"));
}

#[test]
fn the_nightly_playbook_backs_up_and_applies_retention() {
    let lab = Lab::shared();
    // A site of its own: backups of one site by parallel tests would meet its lock.
    let s1 = lab.add_site("nightly");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let inventory = write_inventory(work.path(), lab, &[&s1], &store);
    let text = std::fs::read_to_string(&inventory).unwrap().replacen(
        "settings:\n",
        "settings:\n  retention: { keep_last: 2, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 }\n",
        1,
    );
    std::fs::write(&inventory, text).unwrap();
    let nightly = support::repo_root().join("playbooks/nightly-backup.yml");
    let nightly = nightly.to_str().unwrap();

    let out = tend(work.path(), &["-i", "inv.yml", "run", nightly, "--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("backup: take a snapshot"),
        "{}",
        out.stdout
    );
    assert!(
        snapshots(work.path(), "nightly").is_empty(),
        "--check changes nothing"
    );

    let mut taken = Vec::new();
    for _ in 0..3 {
        let out = tend(work.path(), &["-i", "inv.yml", "--json", "run", nightly]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let doc = json(&out);
        assert_eq!(doc["playbook"], "Nightly backup");
        assert_eq!(doc["sites"][0]["status"], "ok");
        taken.push(doc["sites"][0]["snapshot"].as_str().unwrap().to_owned());
    }
    let left: Vec<String> = snapshots(work.path(), "nightly")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        left,
        taken[1..].to_vec(),
        "keep_last 2 keeps the two newest"
    );

    let monthly = support::repo_root().join("playbooks/monthly-update.yml");
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "run", monthly.to_str().unwrap()],
    );
    // A playbook that changes sites is not run from a script without `--yes`.
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("without confirmation") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_database_on_a_socket_is_backed_up_and_restored() {
    let lab = Lab::shared();
    let wp = lab.add_site_with("socketsite", "socket");
    let config = std::fs::read_to_string(wp.path.join("wp-config.php")).unwrap();
    assert!(
        config.contains("'localhost:/"),
        "the site's DB_HOST names a socket: {config}"
    );
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    write_inventory(work.path(), lab, &[&wp], &store);
    // Only the posts are compared: the live site's cron may touch wp_options meanwhile.
    let posts = |lab: &Lab| lab.sql(&wp.db_name, "CHECKSUM TABLE wp_posts");
    let posts_before = posts(lab);
    let out = tend(work.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    lab.sql(&wp.db_name, "DELETE FROM wp_posts");

    // Without a terminal and without --yes, restore refuses and changes nothing.
    let out = tend(work.path(), &["-i", "inv.yml", "restore", "socketsite"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("refusing to restore without confirmation"),
        "{}",
        out.stderr
    );
    assert_eq!(
        lab.sql(&wp.db_name, "SELECT COUNT(*) FROM wp_posts").trim(),
        "0"
    );

    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "restore",
            "socketsite",
            "--db-only",
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(posts(lab), posts_before);
}
