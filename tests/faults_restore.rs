//! Restores that meet faults, on real lab sites through the real binary: a database that
//! refuses the site's account, a damaged snapshot, an import that fails midway, a deleted
//! site root. Each leaves the site byte-identical (files, modes, CHECKSUM TABLE) or restored
//! whole, never WordPress's installer, never an empty database, and no credentials file
//! on the host.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::process::kill_sshd_above;
use support::{db_state, tend, tree, Lab, LabSite};

fn setup(name: &str) -> (&'static Lab, LabSite, tempfile::TempDir, PathBuf) {
    setup_in(name, Store::Folder)
}

/// Where the lab site's snapshots go.
#[derive(Clone, Copy)]
enum Store {
    /// The folder store of `settings.store`.
    Folder,
    /// A restic-format repository (`settings.repository`), created by `backups init`.
    Repository,
}

fn setup_in(name: &str, kind: Store) -> (&'static Lab, LabSite, tempfile::TempDir, PathBuf) {
    let lab = Lab::shared();
    let wp = lab.add_site(name);
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let repository = match kind {
        Store::Folder => String::new(),
        Store::Repository => {
            let password = work.path().join("repo.pass");
            std::fs::write(&password, "a repository password\n").unwrap();
            std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
            format!(
                "  repository: {{ location: '{}', password_file: '{}' }}\n",
                work.path().join("repo").display(),
                password.display()
            )
        }
    };
    let text = format!(
        "settings:\n  store: '{}'\n{repository}{}",
        store.display(),
        lab.inventory(&[(&wp.name, &wp.path, &wp.url)])
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();
    if let Store::Repository = kind {
        let out = tend(work.path(), &["-i", "inv.yml", "backups", "init"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    (lab, wp, work, store)
}

fn backup(work: &Path) -> String {
    let out = tend(work, &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["sites"][0]["snapshot"].as_str().unwrap().to_owned()
}

fn restore(work: &Path, site: &str, snapshot: &str, extra: &[&str]) -> support::Outcome {
    let mut args = vec![
        "-i",
        "inv.yml",
        "restore",
        site,
        "--snapshot",
        snapshot,
        "--yes",
    ];
    args.extend_from_slice(extra);
    tend(work, &args)
}

/// The home page's headers and body: it must answer as the site, never redirect to
/// WordPress's installer.
fn home(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "--max-time", "20", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_site_serves(wp: &LabSite) {
    let page = home(&wp.url);
    assert!(
        !page.contains("install.php"),
        "the installer is public: {page}"
    );
    assert!(page.contains(&format!("Lab {}", wp.name)), "{page}");
}

/// After a failed restore that left the site as it was, the same restore run again
/// succeeds and puts back the snapshot (files and database exactly, but for the caches WordPress rewrites as it serves pages).
fn assert_a_rerun_restores(
    lab: &Lab,
    wp: &LabSite,
    dir: &Path,
    site: &str,
    id: &str,
    files_at_backup: &std::collections::BTreeMap<String, String>,
    db_at_backup: &str,
) {
    let out = restore(dir, site, id, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(&tree(&wp.path, &[]), files_at_backup);
    assert_eq!(db_state(lab, wp), db_at_backup);
    assert_site_serves(wp);
}

/// No file holding this site's database credentials left in the host's temporary
/// directory (the lab's host is this machine; other tests' files are not this site's).
fn assert_no_credentials_left(wp: &LabSite) {
    let tmp = std::env::temp_dir();
    for entry in walk(&tmp, 2) {
        let small = std::fs::symlink_metadata(&entry)
            .map(|m| m.is_file() && m.len() < 64 * 1024)
            .unwrap_or(false);
        if !small || entry.extension().is_none_or(|e| e != "cnf") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&entry) else {
            continue;
        };
        assert!(
            !(text.contains(&wp.db_password) && text.contains(&wp.db_user)),
            "credentials left at {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if depth > 0 && entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(walk(&path, depth - 1));
        }
        out.push(path);
    }
    out
}

fn leftovers(wp: &LabSite) -> Vec<String> {
    let parent = wp.path.parent().unwrap();
    let base = wp.path.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{base}.tend-")))
        .collect()
}

fn lock_account(lab: &Lab, wp: &LabSite, lock: bool) {
    let what = if lock { "LOCK" } else { "UNLOCK" };
    lab.sql(
        "mysql",
        &format!(
            "ALTER USER '{u}'@'localhost' ACCOUNT {what}; ALTER USER '{u}'@'127.0.0.1' ACCOUNT {what}",
            u = wp.db_user
        ),
    );
}

#[test]
fn a_locked_database_account_refuses_the_restore_and_changes_nothing() {
    let (lab, wp, work, _store) = setup("lockeddb");
    let id = backup(work.path());
    // Written since the snapshot: a restore that went ahead would lose it.
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    lock_account(lab, &wp, true);
    let out = restore(work.path(), "lockeddb", &id, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("no pre-restore snapshot could be taken"),
        "{said}"
    );
    assert!(said.contains("nothing was changed"), "{said}");
    assert!(said.contains("--no-pre-restore-snapshot"), "{said}");
    assert_eq!(tree(&wp.path, &[]), files, "the files are untouched");
    assert_eq!(snapshots(work.path()).len(), 1, "no pre-restore snapshot");

    // Asked to go on regardless: the files are saved (and said to be), the import is
    // refused by the locked account, and everything is put back.
    let out = restore(work.path(), "lockeddb", &id, &["--no-pre-restore-snapshot"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("NO PRE-RESTORE SNAPSHOT"), "{said}");
    assert!(
        said.contains("only the files part of the site was saved"),
        "{said}"
    );
    assert!(
        said.contains("the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(tree(&wp.path, &[]), files, "the files are untouched");
    lock_account(lab, &wp, false);
    assert_eq!(db_state(lab, &wp), db);
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);

    // The files alone can be saved, so the files alone can be restored. The site cannot
    // answer while its account is locked, so the restore's checks fail: the restore is
    // failed and says which snapshot undoes it.
    lock_account(lab, &wp, true);
    let out = restore(work.path(), "lockeddb", &id, &["--files-only"]);
    lock_account(lab, &wp, false);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("fails its checks"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Error establishing a database connection"),
        "{}",
        out.stdout
    );
    assert!(!wp.path.join("wp-content/new-since.txt").exists());
    let list = snapshots(work.path());
    let saved = list.last().unwrap();
    assert_eq!(saved["label"], "pre-restore", "{saved}");
    assert_eq!(saved["files"], true);
    assert_eq!(saved["database"], false);
    assert_eq!(db_state(lab, &wp), db);
    assert_site_serves(&wp);
}

fn snapshots(work: &Path) -> Vec<Value> {
    let out = tend(work, &["-i", "inv.yml", "--json", "backups", "list"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["snapshots"].as_array().unwrap().clone()
}

#[test]
fn a_damaged_snapshot_is_refused_before_anything_is_touched() {
    let (lab, wp, work, store) = setup("damagedsnap");
    let id = backup(work.path());
    let dump = store
        .join("backups/damagedsnap")
        .join(&id)
        .join("database.sql.zst");
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&dump, bytes).unwrap();
    std::fs::write(wp.path.join("new-since.txt"), "keep me").unwrap();
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    let out = restore(work.path(), "damagedsnap", &id, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("does not match its manifest"), "{said}");
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db);
    // Refused before the host was touched: not even a pre-restore snapshot was taken.
    let snapshots = std::fs::read_dir(store.join("backups/damagedsnap"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 1);
    assert_site_serves(&wp);
}

/// Rewrites the snapshot's dump with a statement the server refuses after the first half
/// of the tables, and its manifest to match: a sound snapshot whose import fails midway.
fn poison_dump(store: &Path, site: &str, id: &str) {
    let dir = store.join("backups").join(site).join(id);
    let mut text = String::new();
    zstd::Decoder::new(std::fs::File::open(dir.join("database.sql.zst")).unwrap())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let creates: Vec<usize> = text
        .match_indices("\nCREATE TABLE")
        .map(|(i, _)| i)
        .collect();
    let at = creates[creates.len() / 2];
    text.insert_str(at + 1, "INSERT INTO `no_such_table` VALUES (1);\n");
    let mut compressed = Vec::new();
    {
        let mut encoder = zstd::Encoder::new(&mut compressed, 3).unwrap();
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
    }
    std::fs::write(dir.join("database.sql.zst"), &compressed).unwrap();
    let path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["database"]["bytes"] = compressed.len().into();
    manifest["database"]["sha256"] = format!("{:x}", Sha256::digest(&compressed)).into();
    manifest["database"]["uncompressed_bytes"] = text.len().into();
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn an_import_failing_midway_leaves_the_site_as_it_was_and_a_rerun_works() {
    let (lab, wp, work, store) = setup("midimport");
    let files_at_backup = tree(&wp.path, &[]);
    let db_at_backup = db_state(lab, &wp);
    let good = backup(work.path());
    let bad = backup(work.path());
    poison_dump(&store, "midimport", &bad);

    // The site moves on after the snapshots.
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_options SET option_value = 'Changed since' WHERE option_name = 'blogdescription'",
    );
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    let out = restore(work.path(), "midimport", &bad, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the site is as it was before the restore"),
        "{said}"
    );
    assert!(
        said.contains("no_such_table"),
        "the server's refusal is shown: {said}"
    );
    assert_eq!(
        tree(&wp.path, &[]),
        files,
        "files as before, maintenance file gone"
    );
    assert_eq!(
        db_state(lab, &wp),
        db,
        "no table left behind, none replaced"
    );
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);

    // A rerun with the sound snapshot restores it whole.
    let out = restore(work.path(), "midimport", &good, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&wp.path, &[]), files_at_backup);
    assert_eq!(db_state(lab, &wp), db_at_backup);
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);
}

#[test]
fn a_deleted_site_root_is_restored_and_a_rerun_works() {
    let (lab, wp, work, _store) = setup("deletedroot");
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);
    let id = backup(work.path());
    std::fs::remove_dir_all(&wp.path).unwrap();

    let out = restore(work.path(), "deletedroot", &id, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("does not exist"),
        "the missing root is said: {}",
        out.stderr
    );
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db);
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);

    // Run again onto the restored site: still whole.
    let out = restore(work.path(), "deletedroot", &id, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db);
    assert_site_serves(&wp);
}

#[test]
fn a_remote_import_killed_midway_leaves_the_site_as_it_was() {
    import_killed_midway("killedimport", Store::Folder);
}

/// The same from a repository snapshot: its parts stream out of the repository, and the
/// pre-restore snapshot goes into it.
#[test]
fn a_remote_import_from_a_repository_snapshot_killed_midway_leaves_the_site_as_it_was() {
    import_killed_midway("killedrepoimport", Store::Repository);
}

fn import_killed_midway(name: &str, kind: Store) {
    let (lab, wp, work, _store) = setup_in(name, kind);
    // Enough rows that the import takes a while to kill it in.
    lab.add_bulk_table(&wp.db_name, "wp_bulk");
    let files_at_backup = tree(&wp.path, &[]);
    let db_at_backup = db_state(lab, &wp);
    let id = backup(work.path());
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    lab.sql(&wp.db_name, "DELETE FROM wp_bulk WHERE id > 1000");
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    // The import's client, found on the host by its arguments, and killed.
    let pattern = format!("defaults-extra-file=/dev/fd/3 .* -- {}$", wp.db_name);
    let url = wp.url.clone();
    let killer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            let out = std::process::Command::new("pgrep")
                .args(["-f", &pattern])
                .output()
                .unwrap();
            let pids = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(pid) = pids.split_whitespace().next() {
                // Meanwhile visitors get the maintenance page.
                let during = home(&url);
                let killed = std::process::Command::new("kill")
                    .args(["-9", pid])
                    .status()
                    .unwrap();
                return (killed.success(), during);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        (false, String::new())
    });
    let out = restore(work.path(), name, &id, &[]);
    let (killed, during) = killer.join().unwrap();
    assert!(killed, "the import's client was found and killed");
    assert!(
        during.contains("Briefly unavailable for scheduled maintenance"),
        "in maintenance during the import: {during}"
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db, "the live tables were never touched");
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);

    assert_a_rerun_restores(
        lab,
        &wp,
        work.path(),
        name,
        &id,
        &files_at_backup,
        &db_at_backup,
    );
}

#[test]
fn a_table_swap_that_cannot_get_its_lock_puts_the_files_back() {
    let (lab, wp, work, _store) = setup("swaplocked");
    let id = backup(work.path());
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    std::fs::remove_dir_all(wp.path.join("wp-content/plugins/akismet")).unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_options SET option_value = 'Changed since' WHERE option_name = 'blogdescription'",
    );
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    // Another session holds a live table for longer than the swap waits: the import and
    // the file swap succeed, the one RENAME TABLE cannot, so the files go back.
    let mut holder = std::process::Command::new("mariadb")
        .arg(format!(
            "--defaults-file={}",
            lab.dir.join("mysql/root.cnf").display()
        ))
        .arg(&wp.db_name)
        .arg("-e")
        .arg("LOCK TABLES wp_options READ; SELECT SLEEP(60)")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let out = restore(work.path(), "swaplocked", &id, &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("Lock wait timeout"), "{said}");
    assert!(
        said.contains("everything was put back: the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(tree(&wp.path, &[]), files, "the files were put back");
    assert_eq!(
        db_state(lab, &wp),
        db,
        "no imported table left, none replaced"
    );
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);
}

#[test]
fn a_dump_with_a_trigger_is_refused_before_anything_is_touched() {
    let (lab, wp, work, store) = setup("withtrigger");
    lab.sql(
        &wp.db_name,
        "CREATE TRIGGER wp_posts_touch BEFORE UPDATE ON wp_posts FOR EACH ROW SET NEW.post_modified = NOW()",
    );
    let id = backup(work.path());
    std::fs::write(wp.path.join("new-since.txt"), "keep me").unwrap();
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    let out = restore(work.path(), "withtrigger", &id, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("a trigger or routine"), "{said}");
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db);
    let snapshots = std::fs::read_dir(store.join("backups/withtrigger"))
        .unwrap()
        .count();
    assert_eq!(
        snapshots, 1,
        "refused before a pre-restore snapshot was taken"
    );
    // The files alone can still be restored.
    let out = restore(work.path(), "withtrigger", &id, &["--files-only"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!wp.path.join("new-since.txt").exists());
    assert_site_serves(&wp);
}

/// `--to` rewrites the dump's addresses as it streams: the import it feeds, killed midway,
/// still leaves the target as it was.
#[test]
fn a_copy_onto_another_site_whose_import_is_killed_leaves_the_target_as_it_was() {
    let lab = Lab::shared();
    let source = lab.add_site("killedto_src");
    let target = lab.add_site("killedto_dst");
    let work = tempfile::tempdir().unwrap();
    let text = format!(
        "settings:\n  store: '{}'\n{}",
        work.path().join("store").display(),
        lab.inventory(&[
            (&source.name, &source.path, &source.url),
            (&target.name, &target.path, &target.url),
        ])
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();
    lab.sql(
        &source.db_name,
        "CREATE TABLE wp_bulk (id INT PRIMARY KEY, pad VARCHAR(255)); INSERT INTO wp_bulk SELECT seq, CONCAT('http://example.invalid/', REPEAT(MD5(seq), 5)) FROM seq_1_to_300000",
    );
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "-l", "killedto_src", "--json", "backup"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = doc["sites"][0]["snapshot"].as_str().unwrap().to_owned();
    let files = tree(&target.path, &[]);
    let db = db_state(lab, &target);

    let pattern = format!("defaults-extra-file=/dev/fd/3 .* -- {}$", target.db_name);
    let killer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            let out = std::process::Command::new("pgrep")
                .args(["-f", &pattern])
                .output()
                .unwrap();
            let pids = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(pid) = pids.split_whitespace().next() {
                return std::process::Command::new("kill")
                    .args(["-9", pid])
                    .status()
                    .unwrap()
                    .success();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    });
    let out = restore(work.path(), "killedto_src", &id, &["--to", "killedto_dst"]);
    assert!(
        killer.join().unwrap(),
        "the import's client was found and killed"
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(tree(&target.path, &[]), files);
    assert_eq!(
        db_state(lab, &target),
        db,
        "the target's tables were never touched"
    );
    assert!(leftovers(&target).is_empty(), "{:?}", leftovers(&target));
    assert_site_serves(&target);
    assert_no_credentials_left(&target);
}

/// The pid of the host's `mariadb` client whose command line matches `pattern` (`pgrep
/// -f`), polled for up to two minutes.
fn wait_for_client(pattern: &str) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        let pids = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(pid) = pids.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no process matching {pattern} within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A session holding `LOCK TABLES wp_options READ` for `seconds`: the restore's
/// `RENAME TABLE` waits for it (at most 20 s), so the connection can be cut while the
/// files are swapped in and the tables are not yet.
fn hold_options_table(lab: &Lab, wp: &LabSite, seconds: u32) -> std::process::Child {
    let holder = std::process::Command::new("mariadb")
        .arg(format!(
            "--defaults-file={}",
            lab.dir.join("mysql/root.cnf").display()
        ))
        .arg(&wp.db_name)
        .arg("-e")
        .arg(format!(
            "LOCK TABLES wp_options READ; SELECT SLEEP({seconds})"
        ))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    holder
}

/// The connection is cut between the file swap and the table swap, and the swap then
/// happens on the host (the cut client's `RENAME TABLE` goes on once the lock is free):
/// on a new connection tend finds the tables swapped in and finishes the restore.
#[test]
fn a_connection_cut_between_the_file_swap_and_the_table_swap_is_finished_on_a_new_one() {
    let (lab, wp, work, _store) = setup("cutswapdone");
    let files_at_backup = tree(&wp.path, &[]);
    let db_at_backup = db_state(lab, &wp);
    let id = backup(work.path());
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_posts SET post_title = 'Changed since' WHERE ID = 1",
    );

    let mut holder = hold_options_table(lab, &wp, 60);
    let pattern = format!("RENAME TABLE .* -- {}$", wp.db_name);
    let site = wp.clone();
    let cutter = std::thread::spawn(move || {
        let swap = wait_for_client(&pattern);
        // The files are swapped in by now: the swap of the tables was sent after them.
        let swapped = !site.path.join("wp-content/new-since.txt").exists();
        kill_sshd_above(swap);
        std::thread::sleep(std::time::Duration::from_secs(2));
        swapped
    });
    let restoring = {
        let dir = work.path().to_owned();
        let id = id.clone();
        std::thread::spawn(move || restore(&dir, "cutswapdone", &id, &[]))
    };
    let files_were_swapped = cutter.join().unwrap();
    // The lock is let go: the cut client's RENAME TABLE goes ahead on the host.
    let _ = holder.kill();
    let _ = holder.wait();
    let out = restoring.join().unwrap();
    assert!(files_were_swapped, "the cut came after the file swap");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the connection dropped during the restore"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("the restore was finished on the new connection"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(&wp.path, &[]), files_at_backup);
    assert_eq!(db_state(lab, &wp), db_at_backup);
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_eq!(
        lab.sql(
            &wp.db_name,
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND (table_name LIKE 'tndnew%' OR table_name LIKE 'tndold%')"
        )
        .trim(),
        "0"
    );
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);
}

/// The connection is cut between the file swap and the table swap, and the swap then
/// fails on the host (the lock is held past its 20 s): on a new connection tend finds the
/// imported tables still there, puts the files back and drops them; a rerun restores.
#[test]
fn a_connection_cut_before_the_table_swap_is_undone_on_a_new_one_and_a_rerun_works() {
    let (lab, wp, work, _store) = setup("cutswapundone");
    let files_at_backup = tree(&wp.path, &[]);
    let db_at_backup = db_state(lab, &wp);
    let id = backup(work.path());
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_posts SET post_title = 'Changed since' WHERE ID = 1",
    );
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    let mut holder = hold_options_table(lab, &wp, 60);
    let pattern = format!("RENAME TABLE .* -- {}$", wp.db_name);
    let site = wp.clone();
    let cutter = std::thread::spawn(move || {
        let swap = wait_for_client(&pattern);
        let swapped = !site.path.join("wp-content/new-since.txt").exists();
        kill_sshd_above(swap);
        swapped
    });
    let out = restore(work.path(), "cutswapundone", &id, &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(cutter.join().unwrap(), "the cut came after the file swap");
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the connection dropped during the restore"),
        "{said}"
    );
    assert!(
        said.contains("everything was put back: the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(
        tree(&wp.path, &[]),
        files,
        "files put back, maintenance off"
    );
    assert_eq!(db_state(lab, &wp), db, "no imported table left");
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);

    assert_a_rerun_restores(
        lab,
        &wp,
        work.path(),
        "cutswapundone",
        &id,
        &files_at_backup,
        &db_at_backup,
    );
}

/// The connection is cut while the dump is imported beside the live tables: on a new
/// connection the imported tables are dropped and maintenance ends; the site is as it was.
#[test]
fn a_connection_cut_during_the_import_leaves_the_site_as_it_was() {
    connection_cut_during_the_import("cutimport", Store::Folder);
}

/// The same while the dump streams out of a repository snapshot.
#[test]
fn a_connection_cut_during_an_import_from_a_repository_leaves_the_site_as_it_was() {
    connection_cut_during_the_import("cutrepoimport", Store::Repository);
}

fn connection_cut_during_the_import(name: &str, kind: Store) {
    let (lab, wp, work, _store) = setup_in(name, kind);
    lab.add_bulk_table(&wp.db_name, "wp_bulk");
    let id = backup(work.path());
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "keep me").unwrap();
    lab.sql(&wp.db_name, "DELETE FROM wp_bulk WHERE id > 1000");
    let files = tree(&wp.path, &[]);
    let db = db_state(lab, &wp);

    let pattern = format!("defaults-extra-file=/dev/fd/3 .* -- {}$", wp.db_name);
    let cutter = std::thread::spawn(move || kill_sshd_above(wait_for_client(&pattern)));
    let out = restore(work.path(), name, &id, &[]);
    cutter.join().unwrap();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the site is as it was before the restore"),
        "{said}"
    );
    assert_eq!(tree(&wp.path, &[]), files);
    assert_eq!(db_state(lab, &wp), db, "the live tables were never touched");
    assert!(leftovers(&wp).is_empty(), "{:?}", leftovers(&wp));
    assert_site_serves(&wp);
    assert_no_credentials_left(&wp);
}
