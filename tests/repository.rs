//! Snapshots in a restic-format repository (`settings.repository`), through the real binary
//! against the lab: `tend backups init`, backups that store unchanged data once (night
//! after night, and across sites sharing WordPress core), byte-identical restores, Debian's
//! `restic` listing, checking and restoring tend's snapshots by the README's commands, and
//! the faults: a wrong password, no repository yet, a password file others can read, tend
//! killed mid-backup, a repository that cannot be written.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::repository::{
    assert_restic_check_clean, json, largest_file, noise, restic_check_clean, restic_snapshots,
    size_of, Work, PASSWORD,
};
use support::{db_state, tree, Lab};

#[test]
fn backups_store_unchanged_data_once_restore_byte_identical_and_restic_reads_them() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_roundtrip");
    // No WordPress cron: the restore's site checks request pages, which would otherwise
    // let a due cron event change wp_options after the restore.
    let config = wp.path.join("wp-config.php");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("<?php", "<?php\ndefine( 'DISABLE_WP_CRON', true );", 1),
    )
    .unwrap();
    let work = Work::new(lab, &[&wp]);
    std::os::unix::fs::symlink("wp-content/plugins", wp.path.join("plugins-link")).unwrap();
    let private = wp.path.join("wp-content/private.txt");
    std::fs::write(&private, "only the owner\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = work.tend(&["backups", "init"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("created"), "{}", out.stdout);
    assert!(out.stdout.contains("password"), "{}", out.stdout);
    // Run again, it leaves the repository as it is.
    let out = work.tend(&["backups", "init"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("already there"), "{}", out.stdout);
    let empty = size_of(&work.repo());

    let files_before = tree(&wp.path, &[]);
    let db_before = db_state(lab, &wp);
    let first = work.backup(&wp.name);
    let first_id = first["snapshot"].as_str().unwrap().to_owned();
    let after_first = size_of(&work.repo());
    let second = work.backup(&wp.name);
    let after_second = size_of(&work.repo());
    let first_growth = after_first - empty;
    let second_growth = after_second - after_first;
    eprintln!(
        "repository: first backup +{first_growth} bytes, unchanged second +{second_growth} bytes"
    );
    assert!(first_growth > 1_000_000, "{first_growth}");
    assert!(
        second_growth * 100 < first_growth,
        "an unchanged second backup adds {second_growth} bytes after {first_growth}"
    );

    // tend lists both, with what the manifest says.
    let out = work.tend(&["--json", "backups", "list", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed = json(&out)["snapshots"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], first_id.as_str());
    assert_eq!(listed[0]["cms"], "wordpress");
    assert_eq!(listed[0]["files"], true);
    assert_eq!(listed[0]["database"], true);
    assert_eq!(listed[1]["id"], second["snapshot"]);

    // restic lists them with the site as host and tend's tags, and checks them clean.
    let restic = restic_snapshots(&work, &wp.name);
    assert_eq!(restic.len(), 2, "{restic:?}");
    let tags: Vec<&str> = restic[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"tend"), "{tags:?}");
    assert!(tags.contains(&"cms=wordpress"), "{tags:?}");
    assert!(
        tags.contains(&format!("id={first_id}").as_str()),
        "{tags:?}"
    );
    // The run that took it, as the history knows it.
    let history = json(&work.tend(&["--json", "history"]));
    let run = history["runs"].as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap();
    assert!(tags.contains(&format!("run={run}").as_str()), "{tags:?}");
    assert_restic_check_clean(&work);

    // tend verifies both (each part read back and compared with what came in).
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // Damage the site, restore the first snapshot: files and tables exactly as they were.
    std::fs::write(wp.path.join("index.php"), "<?php echo 'hacked';").unwrap();
    std::fs::remove_file(wp.path.join("wp-login.php")).unwrap();
    std::fs::write(wp.path.join("dropper.php"), "<?php").unwrap();
    lab.sql(&wp.db_name, "DROP TABLE wp_comments; UPDATE wp_options SET option_value='x' WHERE option_name='blogname'");
    let out = work.tend(&["restore", &wp.name, "--snapshot", &first_id, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&wp.path, &[]), files_before);
    assert_eq!(db_state(lab, &wp), db_before);

    // restic restores it by hand, as the README says: the files as they were, the
    // database as one file per table that concatenate to the dump. (The site's latest
    // snapshot is now the pre-restore one: the first is named by its tag.)
    let target = work.path().join("by-hand");
    let id_tag = format!("id={first_id}");
    let out = work.restic(&[
        "restore",
        "latest",
        "--host",
        &wp.name,
        "--tag",
        &id_tag,
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(&target.join("files"), &[]), files_before);
    let mut tables: Vec<PathBuf> = std::fs::read_dir(target.join("database"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    tables.sort();
    assert!(tables[0].ends_with("0000-header.sql"), "{tables:?}");
    assert!(tables
        .iter()
        .any(|t| t.to_string_lossy().ends_with("-wp_options.sql")));
    let dump: String = tables
        .iter()
        .map(|t| std::fs::read_to_string(t).unwrap())
        .collect();
    assert!(dump.contains("CREATE TABLE `wp_posts`"));
    assert!(dump
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("-- Dump completed"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(target.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["site"], wp.name.as_str());
}

#[test]
fn a_second_site_sharing_wordpress_core_adds_far_less_than_the_first() {
    let lab = Lab::shared();
    let one = lab.add_site("repo_share_one");
    let two = lab.add_site("repo_share_two");
    let work = Work::initialised(lab, &[&one, &two]);
    let empty = size_of(&work.repo());
    work.backup(&one.name);
    let after_one = size_of(&work.repo());
    work.backup(&two.name);
    let after_two = size_of(&work.repo());
    let (first, second) = (after_one - empty, after_two - after_one);
    eprintln!("repository: first site +{first} bytes, second site sharing core +{second} bytes");
    assert!(
        second * 10 < first,
        "the second site added {second} bytes after {first}"
    );
    assert_eq!(restic_snapshots(&work, &two.name).len(), 1);
}

/// Sites backed up at the same moment cannot see each other's new chunks, so each stores
/// WordPress core; `backups prune` — even one that forgets nothing — repacks the
/// duplicates away, and every snapshot still reads back whole.
#[test]
fn prune_removes_the_duplicates_of_sites_backed_up_at_once() {
    let lab = Lab::shared();
    let one = lab.add_site("repo_dup_one");
    let two = lab.add_site("repo_dup_two");
    let work = Work::initialised(lab, &[&one, &two]);
    let empty = size_of(&work.repo());
    let out = work.tend(&["--json", "-f", "2", "backup"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let at_once = size_of(&work.repo()) - empty;

    let out = work.tend(&["--json", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    assert!(
        result["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["removed"].as_array().unwrap().is_empty()),
        "no snapshot forgotten: {result}"
    );
    let pruned = size_of(&work.repo()) - empty;
    eprintln!("two sites at once: +{at_once} bytes; after prune +{pruned} bytes");
    // What the two share (core) was stored twice; now once.
    assert!(
        result["reclaimed"]["bytes"].as_u64().unwrap() > 0,
        "{result}"
    );
    assert!(pruned * 10 < at_once * 7, "{at_once} -> {pruned}");
    assert_eq!(restic_snapshots(&work, &one.name).len(), 1);
    assert_eq!(restic_snapshots(&work, &two.name).len(), 1);
    restic_check_clean(&work, &["check", "--read-data"]);
    let out = work.tend(&["--json", "backups", "verify", "--read-data"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn a_missing_repository_a_wrong_password_and_a_readable_password_file_are_clear_errors() {
    let lab = Lab::shared();
    let wp = lab.site("site1");
    let work = Work::new(lab, &[&wp]);

    // No repository yet: the site fails and says what to run.
    let out = work.tend(&["backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("tend backups init"), "{}", out.stderr);
    let out = work.tend(&["backups", "list"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("tend backups init"), "{}", out.stderr);

    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    // Another password: refused, and never shown.
    work.write_password("other.pass", "not the password at all", 0o600);
    work.write_inventory(lab, &[&wp], "other.pass");
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let result = &json(&out)["sites"][0];
    assert_eq!(result["error_kind"], "store", "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("does not open the repository"), "{error}");
    assert!(!out.stdout.contains("not the password") && !out.stderr.contains("not the password"));
    assert!(restic_snapshots(&work, &wp.name).is_empty());

    // A password file others can read is refused before anything runs.
    work.write_password("loose.pass", PASSWORD, 0o644);
    work.write_inventory(lab, &[&wp], "loose.pass");
    let out = work.tend(&["backups", "list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("must be 0600"), "{}", out.stderr);

    // A password written in clear in the inventory is refused; through ${VAR} it works.
    let inventory = std::fs::read_to_string(work.path().join("inv.yml")).unwrap();
    let loose = work.path().join("loose.pass").display().to_string();
    std::fs::write(
        work.path().join("inv.yml"),
        inventory.replace(
            &format!("password_file: '{loose}'"),
            "password: hunter2hunter2",
        ),
    )
    .unwrap();
    let out = work.tend(&["backups", "list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot be written in the inventory"),
        "{}",
        out.stderr
    );
    std::fs::write(
        work.path().join("inv.yml"),
        inventory.replace(
            &format!("password_file: '{loose}'"),
            "password: \"${TEND_TEST_REPO_PASSWORD}\"",
        ),
    )
    .unwrap();
    let out = support::tend_env(
        work.path(),
        &["-i", "inv.yml", "backups", "list"],
        &[("TEND_TEST_REPO_PASSWORD", PASSWORD)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn tend_killed_mid_backup_leaves_no_snapshot_and_the_next_backup_succeeds() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_killed");
    // Incompressible content, so that the backup is still running when it is killed.
    std::fs::write(
        wp.path.join("wp-content/uploads-noise.bin"),
        noise(96 * 1024 * 1024, 0x2545_f491_4f6c_dd1d),
    )
    .unwrap();
    let work = Work::initialised(lab, &[&wp]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "backup"])
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once packs are being written.
    let data = work.repo().join("data");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while size_of(&data) < 8 * 1024 * 1024 {
        assert!(std::time::Instant::now() < deadline, "no pack was written");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        restic_snapshots(&work, &wp.name).is_empty(),
        "no snapshot appears"
    );
    let out = work.tend(&["--json", "backups", "list"]);
    assert_eq!(json(&out)["snapshots"].as_array().unwrap().len(), 0);
    // The killed run's shared lock is left behind (restic and tend ignore it once its
    // process is gone; on this busy machine its pid may already be reused): the check
    // runs without taking the exclusive lock.
    restic_check_clean(&work, &["--no-lock", "check"]);

    work.backup(&wp.name);
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);
    restic_check_clean(&work, &["--no-lock", "check"]);
}

#[test]
fn a_repository_that_cannot_be_written_fails_the_site_and_keeps_no_snapshot() {
    let lab = Lab::shared();
    let wp = lab.site("site2");
    let work = Work::initialised(lab, &[&wp]);
    // A file where tend writes its temporary files: every write fails (as root too).
    let tmp = work.repo().join(".tend-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::write(&tmp, "in the way").unwrap();
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let result = &json(&out)["sites"][0];
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["error_kind"], "store", "{result}");
    assert!(restic_snapshots(&work, &wp.name).is_empty());

    std::fs::remove_file(&tmp).unwrap();
    work.backup(&wp.name);
    assert_restic_check_clean(&work);
}

#[test]
fn prune_forgets_what_retention_drops_and_removes_its_data() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_prune");
    let work = Work::initialised(lab, &[&wp]);
    work.add_setting("retention: { keep_last: 1 }");
    // The first snapshot holds 8 MB that no later one has.
    let upload = wp.path.join("wp-content/only-in-the-first.bin");
    std::fs::write(&upload, noise(8 * 1024 * 1024, 7)).unwrap();
    let first = work.backup(&wp.name);
    std::fs::remove_file(&upload).unwrap();
    let second = work.backup(&wp.name);
    let before = size_of(&work.repo());

    let out = work.tend(&["--json", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    assert_eq!(
        result["sites"][0]["removed"][0], first["snapshot"],
        "{result}"
    );
    let freed = result["reclaimed"]["bytes"].as_u64().unwrap();
    let after = size_of(&work.repo());
    eprintln!("prune: freed {freed} bytes, repository {before} -> {after}");
    assert!(freed > 7 * 1024 * 1024, "{result}");
    assert!(before - after > 7 * 1024 * 1024, "{before} -> {after}");

    let left = restic_snapshots(&work, &wp.name);
    assert_eq!(left.len(), 1);
    let out = work.tend(&["--json", "backups", "list"]);
    assert_eq!(json(&out)["snapshots"][0]["id"], second["snapshot"]);
    assert_restic_check_clean(&work);
    // Everything the kept snapshot needs is still there, all of it read back.
    let out = work.tend(&["--json", "backups", "verify", "--read-data"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let verified = json(&out);
    assert_eq!(verified["store"]["ok"], true, "{verified}");
    assert_eq!(verified["store"]["data_read"], "all", "{verified}");
}

/// `backups prune` SIGKILLed at several moments (forgetting, repacking, deleting packs or
/// index files): each time the repository stays consistent (`restic check` clean), the
/// newest snapshot stays listed, and the next prune finishes the job with every kept
/// snapshot reading back whole.
#[test]
fn prune_killed_at_any_moment_leaves_a_consistent_repository_that_the_next_prune_finishes() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_prune_kill");
    let work = Work::initialised(lab, &[&wp]);
    work.add_setting("retention: { keep_last: 1 }");
    let upload = wp.path.join("wp-content/dropped-by-prune.bin");
    let mut killed_running = 0;
    for (round, delay_ms) in [50u64, 200, 450, 800, 1300].into_iter().enumerate() {
        // A snapshot holding 6 MB that the next one lacks: prune has packs to delete.
        std::fs::write(&upload, noise(6 * 1024 * 1024, 11 + round as u64)).unwrap();
        work.backup(&wp.name);
        std::fs::remove_file(&upload).unwrap();
        let newest = work.backup(&wp.name);

        let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["-i", "inv.yml", "backups", "prune"])
            .current_dir(work.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();

        // The killed prune's exclusive lock is left behind: the check reads without one.
        restic_check_clean(&work, &["--no-lock", "check"]);
        let ids: Vec<Value> = restic_snapshots(&work, &wp.name)
            .iter()
            .map(|s| s["tags"].clone())
            .collect();
        let tag = format!("id={}", newest["snapshot"].as_str().unwrap());
        assert!(
            ids.iter().any(|tags| tags
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.as_str() == Some(&tag))),
            "round {round}: the newest snapshot is still listed: {ids:?}"
        );
    }

    // Most kills land while the prune runs (it takes seconds even for this small site).
    assert!(
        killed_running >= 4,
        "only {killed_running} kills hit a running prune"
    );
    let out = work.tend(&["--json", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);
    restic_check_clean(&work, &["check", "--read-data"]);
    let out = work.tend(&["--json", "backups", "verify", "--read-data"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["store"]["ok"], true, "{}", out.stdout);
}

#[test]
fn a_repository_held_exclusively_by_restic_fails_the_backup_naming_the_holder() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_locked");
    let work = Work::initialised(lab, &[&wp]);
    std::fs::write(
        wp.path.join("wp-content/media.bin"),
        noise(48 * 1024 * 1024, 11),
    )
    .unwrap();
    work.backup(&wp.name);

    // `restic check --read-data` takes the exclusive lock first; it is stopped (SIGSTOP)
    // as soon as its lock file appears, and so holds the lock as long as the test wants.
    let locks = work.repo().join("locks");
    let held = (0..20).find_map(|_| {
        let mut check = Command::new("restic")
            .arg("-r")
            .arg(work.repo())
            .args(["check", "--read-data"])
            .env("RESTIC_PASSWORD_FILE", work.path().join("repo.pass"))
            .env("RESTIC_CACHE_DIR", work.path().join("restic-cache"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        loop {
            // restic writes its lock under a temporary name, then renames it.
            let locked = std::fs::read_dir(&locks)
                .map(|d| d.filter_map(Result::ok).any(|e| e.file_name().len() == 64))
                .unwrap_or(false);
            if locked {
                unsafe { libc::kill(check.id() as i32, libc::SIGSTOP) };
                return Some(check);
            }
            if check.try_wait().unwrap().is_some() {
                return None;
            }
        }
    });
    let mut check = held.expect("restic check was stopped while it held its lock");

    let out = work.tend(&["--json", "backup"]);
    let result = json(&out)["sites"][0].clone();
    unsafe { libc::kill(check.id() as i32, libc::SIGCONT) };
    let finished = check.wait().unwrap();
    assert!(finished.success(), "restic check after it was let go");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(result["error_kind"], "store", "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("is in use: an exclusive lock of")
            && error.contains(&format!("pid {}", check.id())),
        "{error}"
    );
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);

    // Once restic is done, the backup goes through.
    work.backup(&wp.name);
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 2);
}

#[test]
fn folder_snapshots_taken_before_the_repository_stay_listed_verified_and_restorable() {
    let lab = Lab::shared();
    let wp = lab.add_site("repo_mixed");
    let work = Work::new(lab, &[&wp]);
    // First without `settings.repository`: a folder snapshot.
    let with_repository = std::fs::read_to_string(work.path().join("inv.yml")).unwrap();
    let folders_only: String = with_repository
        .lines()
        .filter(|l| !l.trim_start().starts_with("repository:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(work.path().join("inv.yml"), &folders_only).unwrap();
    let files_before = tree(&wp.path, &[]);
    let folder = work.backup(&wp.name);
    let folder_id = folder["snapshot"].as_str().unwrap().to_owned();
    assert!(work
        .path()
        .join("store/backups")
        .join(&wp.name)
        .join(&folder_id)
        .join("files.tar.zst")
        .exists());

    // Then with it: new snapshots go to the repository, the folder one is still there.
    std::fs::write(work.path().join("inv.yml"), &with_repository).unwrap();
    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    let repository = work.backup(&wp.name);
    let out = work.tend(&["--json", "backups", "list", "--site", &wp.name]);
    let ids: Vec<String> = json(&out)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            folder_id.clone(),
            repository["snapshot"].as_str().unwrap().to_owned()
        ]
    );
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    std::fs::write(wp.path.join("index.php"), "<?php echo 'changed';").unwrap();
    let out = work.tend(&[
        "restore",
        &wp.name,
        "--snapshot",
        &folder_id,
        "--files-only",
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&wp.path, &[]), files_before);
}

/// Runs `mount` (root only); false when it cannot.
fn mount(args: &[&str]) -> bool {
    Command::new("mount")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_fails_the_site_keeps_no_snapshot_and_the_next_backup_succeeds() {
    // A small tmpfs holds the repository. Mounting needs root (as the CI runs); without
    // it the test says so and stops, the unwritable-repository test covering the path.
    let lab = Lab::shared();
    let wp = lab.add_site("repo_disk_full");
    let work = Work::new(lab, &[&wp]);
    std::fs::create_dir(work.repo()).unwrap();
    let repo = work.repo().display().to_string();
    if !mount(&["-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", &repo]) {
        eprintln!("not root: no tmpfs for a full disk, test not run");
        return;
    }
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(repo.clone());
    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    work.backup(&wp.name);

    std::fs::write(
        wp.path.join("wp-content/too-much.bin"),
        noise(40 * 1024 * 1024, 0x9e37_79b9_7f4a_7c15),
    )
    .unwrap();
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let result = &json(&out)["sites"][0];
    assert_eq!(result["error_kind"], "store", "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("No space left on device"), "{error}");
    assert_eq!(
        restic_snapshots(&work, &wp.name).len(),
        1,
        "no snapshot appears"
    );
    restic_check_clean(&work, &["--no-lock", "check"]);

    // Room again: the next backup goes through and the repository checks clean.
    assert!(mount(&["-o", "remount,size=128m", &repo]));
    work.backup(&wp.name);
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 2);
    assert_restic_check_clean(&work);
}

#[test]
fn verify_catches_a_flipped_byte_in_the_repository() {
    let lab = Lab::shared();
    let wp = lab.site("site1");
    let work = Work::initialised(lab, &[&wp]);
    let snapshot = work.backup(&wp.name);
    let out = work.tend(&["backups", "verify"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let pack = largest_file(&work.repo().join("data"));
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&pack, &bytes).unwrap();

    let out = work.tend(&["--json", "backups", "verify", "--read-data"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    assert_eq!(result["store"]["ok"], false, "{result}");
    let listed = &result["snapshots"][0];
    assert_eq!(listed["id"], snapshot["snapshot"]);
    assert_eq!(listed["ok"], false, "{result}");
}
