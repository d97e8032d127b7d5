//! Backups into a repository where only new and changed files cross the network, through
//! the real binary against the lab: what each backup reads and reuses (new, changed,
//! deleted, a touched-back mtime, a file written within the listing's clock tick, hard
//! links, symlinks, hostile names), byte-identical restores by tend and by `restic`, and
//! the faults: a file deleted or rewritten between listing and reading or changing while
//! it is read, the remote tar killed mid-read, the connection dropped mid-read, tend killed
//! mid-backup, a host without GNU find.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::process::kill_sshd_above;
use support::repository::{json, largest_file, noise, restic_check_clean, restic_snapshots, Work};
use support::{processes_in, tend_env, tree, Lab, LabSite};

/// Past the racy window (one second) of anything written before.
fn settle() {
    std::thread::sleep(Duration::from_millis(1300));
}

/// No WordPress cron: a restore's site checks request pages, which would otherwise let a
/// due cron event change the site.
fn without_cron(site: &LabSite) {
    let config = site.path.join("wp-config.php");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("<?php", "<?php\ndefine( 'DISABLE_WP_CRON', true );", 1),
    )
    .unwrap();
}

/// The backup result's account of files read and reused.
fn files_read(result: &Value) -> &Value {
    let read = &result["files_read"];
    assert!(read.is_object(), "no files_read in {result}");
    read
}

fn counts(result: &Value) -> (u64, u64, u64, u64) {
    let read = files_read(result);
    let n = |key: &str| read[key].as_u64().unwrap();
    (
        n("files_new"),
        n("files_changed"),
        n("files_racy"),
        n("files_reused"),
    )
}

fn warnings(result: &Value) -> Vec<String> {
    result["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// `restic restore` of the snapshot with tend id `id` into `target`.
fn restic_restore(work: &Work, site: &str, id: &str, target: &Path) {
    let tag = format!("id={id}");
    let out = work.restic(&[
        "restore",
        "latest",
        "--host",
        site,
        "--tag",
        &tag,
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets a file's mtime to `ns` nanoseconds since the epoch (`touch -d @S.N`).
fn set_mtime(path: &Path, ns: i128) {
    let stamp = format!("@{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    let status = Command::new("touch")
        .args(["-m", "-d", &stamp])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn mtime_ns(path: &Path) -> i128 {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

#[test]
fn only_new_and_changed_files_cross_the_network_and_snapshots_restore_byte_identical() {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_main");
    without_cron(&wp);
    let root = wp.path.clone();
    std::fs::write(root.join("new\nline.txt"), "a name with a newline\n").unwrap();
    std::fs::write(root.join("-rf"), "a leading dash\n").unwrap();
    std::fs::write(root.join("--remove-files"), "two leading dashes\n").unwrap();
    std::fs::write(root.join("wp-content/hard-a.txt"), "one inode, two names\n").unwrap();
    std::fs::hard_link(
        root.join("wp-content/hard-a.txt"),
        root.join("wp-content/hard-b.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink("wp-content/plugins", root.join("plugins-link")).unwrap();
    std::os::unix::fs::symlink("../index.php", root.join("wp-content/index-link")).unwrap();
    std::fs::write(root.join("wp-content/notes.txt"), "some notes\n").unwrap();
    let private = root.join("wp-content/private.txt");
    std::fs::write(&private, "only the owner\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o640)).unwrap();
    let work = Work::initialised(lab, &[&wp]);
    settle();

    // The first backup reads every file, through the listing.
    let first = work.backup(&wp.name);
    let (new, changed, racy, reused) = counts(&first);
    assert!(new > 500, "{first}");
    assert_eq!((changed, racy, reused), (0, 0, 0), "{first}");
    let first_wire = files_read(&first)["wire_bytes"].as_u64().unwrap();

    // Unchanged: no file read, only the listing crosses the network.
    let second = work.backup(&wp.name);
    assert_eq!(counts(&second), (0, 0, 0, new), "{second}");
    let read = files_read(&second);
    assert_eq!(read["bytes_read"], 0, "{second}");
    let second_wire = read["wire_bytes"].as_u64().unwrap();
    eprintln!("files over the wire: first backup {first_wire} bytes, unchanged second {second_wire} bytes");
    assert!(
        second_wire * 20 < first_wire,
        "{second_wire} bytes after {first_wire}"
    );
    let text = work.tend(&["backup", "-l", &wp.name]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("files: 0 read (0 new, 0 changed, 0 racy)"),
        "{}",
        text.stdout
    );

    // One changed file, one deleted, one new: only two are read.
    std::fs::write(root.join("index.php"), "<?php\n// changed\nrequire __DIR__ . '/wp-blog-header.php';\ndefine( 'WP_USE_THEMES', true );\n").unwrap();
    std::fs::remove_file(root.join("readme.html")).unwrap();
    std::fs::write(root.join("wp-content/new-upload.txt"), "new\n").unwrap();
    settle();
    let third = work.backup(&wp.name);
    let (new3, changed3, racy3, _) = counts(&third);
    assert_eq!((new3, changed3, racy3), (1, 1, 0), "{third}");

    // Same size, mtime put back to the nanosecond: ctime tells.
    let license = root.join("wp-content/notes.txt");
    let before = mtime_ns(&license);
    let mut content = std::fs::read(&license).unwrap();
    content[0] ^= 0x20;
    std::fs::write(&license, &content).unwrap();
    set_mtime(&license, before);
    assert_eq!(mtime_ns(&license), before);
    settle();
    let fourth = work.backup(&wp.name);
    let (new4, changed4, racy4, _) = counts(&fourth);
    assert_eq!((new4, changed4, racy4), (0, 1, 0), "{fourth}");

    // Written within the listing's clock tick (held just before the listing's clock is
    // read): read now and again next time.
    let marker = lab.dir.join("incr_main.paused");
    let _ = std::fs::remove_file(&marker);
    let pause = format!("listing={}", marker.display());
    let child = spawn_backup(&work, &wp.name, &[("TEND_FAULT_PAUSE", &pause)]);
    wait_for(&marker, "the pause before the listing");
    std::fs::write(root.join("wp-content/racy.txt"), "first version\n").unwrap();
    let sleeping = processes_in(&root, "sleep");
    assert_eq!(sleeping.len(), 1, "{sleeping:?}");
    kill(sleeping[0]);
    let (code, out) = finished(child);
    assert_eq!(code, 0, "{out}");
    let fifth = out["sites"][0].clone();
    let (new5, changed5, _, _) = counts(&fifth);
    assert_eq!((new5, changed5), (1, 0), "{fifth}");
    settle();
    let sixth = work.backup(&wp.name);
    let (new6, changed6, racy6, _) = counts(&sixth);
    assert_eq!((new6, changed6 + racy6), (0, 1), "{sixth}");
    let seventh = work.backup(&wp.name);
    assert_eq!(
        counts(&seventh).0 + counts(&seventh).1 + counts(&seventh).2,
        0
    );

    // tend verifies every snapshot; restic checks the repository reading every pack.
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    restic_check_clean(&work, &["check", "--read-data"]);

    // restic restores the incremental snapshot byte for byte.
    let files_now = tree(&root, &[]);
    let latest = seventh["snapshot"].as_str().unwrap().to_owned();
    let target = work.path().join("by-hand");
    restic_restore(&work, &wp.name, &latest, &target);
    assert_eq!(tree(&target.join("files"), &[]), files_now);
    let a = std::fs::symlink_metadata(target.join("files/plugins-link")).unwrap();
    assert!(a.file_type().is_symlink());

    // tend restores it over a damaged site.
    std::fs::write(root.join("index.php"), "<?php echo 'hacked';").unwrap();
    std::fs::write(root.join("-rf"), "changed").unwrap();
    std::fs::remove_file(root.join("new\nline.txt")).unwrap();
    std::fs::write(root.join("dropper.php"), "<?php").unwrap();
    let out = work.tend(&["restore", &wp.name, "--snapshot", &latest, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(tree(&root, &[]), files_now);

    // And an older one: the third snapshot holds the first version of notes.txt.
    let third_id = third["snapshot"].as_str().unwrap();
    let older = work.path().join("older");
    restic_restore(&work, &wp.name, third_id, &older);
    content[0] ^= 0x20;
    assert_eq!(
        std::fs::read(older.join("files/wp-content/notes.txt")).unwrap(),
        content
    );
    assert!(!older.join("files/readme.html").exists());
}

/// The previous snapshot's data gone from the repository (its largest data pack deleted and
/// the index rebuilt by restic, so that the index no longer names those chunks, while the
/// trees are whole): the backup that would take unchanged files from it finds out when it
/// saves, keeps nothing of that attempt, and takes the snapshot again reading every file —
/// said in its warnings — so one damaged snapshot never stops a site's backups. The new
/// snapshot restores byte-identical.
#[test]
fn a_previous_snapshot_whose_data_is_gone_is_not_used_and_the_backup_reads_every_file() {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_lost");
    // A large file of its own: the largest data pack holds part of it.
    std::fs::write(
        wp.path.join("wp-content/uploads-big.bin"),
        noise(24 * 1024 * 1024, 0x9e37_79b9),
    )
    .unwrap();
    let work = Work::initialised(lab, &[&wp]);
    work.backup(&wp.name);
    settle();
    let pack = largest_file(&work.repo().join("data"));
    std::fs::remove_file(&pack).unwrap();
    let out = work.restic(&["rebuild-index"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let second = work.backup(&wp.name);
    let said = warnings(&second).join("\n");
    assert!(
        said.contains("the snapshot was taken again reading every file"),
        "{second}"
    );
    let (new, _, _, reused) = counts(&second);
    assert_eq!(reused, 0, "{second}");
    assert!(new > 0, "{second}");
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 2);

    // The new snapshot is whole: restic restores it byte for byte.
    let id = second["snapshot"].as_str().unwrap().to_owned();
    let target = work.path().join("by-hand");
    restic_restore(&work, &wp.name, &id, &target);
    assert_eq!(tree(&target.join("files"), &[]), tree(&wp.path, &[]));
    // And the next backup takes its unchanged files from it again.
    settle();
    let third = work.backup(&wp.name);
    assert!(counts(&third).3 > 0, "{third}");
}

/// SIGINT while an incremental backup is held on the host between its listing and the tar
/// of the files to read: tend starts nothing new but finishes the site in flight — its
/// snapshot complete, the new file in it, `restic check` clean — and exits 130.
#[test]
fn sigint_during_an_incremental_backup_finishes_its_snapshot_and_exits_130() {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_sigint");
    let work = Work::initialised(lab, &[&wp]);
    work.backup(&wp.name);
    settle();
    std::fs::write(wp.path.join("wp-content/after-the-first.txt"), "new\n").unwrap();

    let marker = lab.dir.join("incr_sigint.paused");
    let _ = std::fs::remove_file(&marker);
    let pause = format!("changed-tar={}", marker.display());
    let child = spawn_backup(&work, &wp.name, &[("TEND_FAULT_PAUSE", &pause)]);
    wait_for(&marker, "the pause before the tar");
    // SAFETY: a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    std::thread::sleep(Duration::from_millis(300));
    let sleeping = processes_in(&wp.path, "sleep");
    assert_eq!(sleeping.len(), 1, "{sleeping:?}");
    kill(sleeping[0]);
    let (code, out) = finished(child);
    assert_eq!(code, 130, "{out}");
    let result = &out["sites"][0];
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(counts(result).0, 1, "{result}");
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 2);
    restic_check_clean(&work, &["check"]);
}

/// Waits for `path` to appear.
fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_backup(work: &Work, site: &str, env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["-i", "inv.yml", "--json", "backup", "-l", site])
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn finished(child: std::process::Child) -> (i32, Value) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn a_file_deleted_or_rewritten_between_listing_and_reading_is_left_out_or_stored_as_read() {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_between");
    let root = wp.path.clone();
    std::fs::write(root.join("wp-content/gone.txt"), "listed, then deleted\n").unwrap();
    std::fs::write(root.join("wp-content/grows.txt"), "as listed\n").unwrap();
    // Incompressible, so that tar is still reading it while it grows.
    let busy = root.join("wp-content/busy.log");
    let original = noise(48 * 1024 * 1024, 0x2545_f491_4f6c_dd1d);
    std::fs::write(&busy, &original).unwrap();
    let work = Work::initialised(lab, &[&wp]);
    settle();

    // Held on the host after the listing, before the tar of the files to read.
    let marker = lab.dir.join("incr_between.paused");
    let _ = std::fs::remove_file(&marker);
    let pause = format!("changed-tar={}", marker.display());
    let child = spawn_backup(&work, &wp.name, &[("TEND_FAULT_PAUSE", &pause)]);
    wait_for(&marker, "the pause before the tar");
    std::fs::remove_file(root.join("wp-content/gone.txt")).unwrap();
    std::fs::write(
        root.join("wp-content/grows.txt"),
        "rewritten after the listing\n",
    )
    .unwrap();
    // A writer appends to busy.log all the while tar reads it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let busy = busy.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&busy)
                .unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                file.write_all(&[b'+'; 4096]).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let sleeping = processes_in(&root, "sleep");
    assert_eq!(sleeping.len(), 1, "{sleeping:?}");
    kill(sleeping[0]);
    let (code, out) = finished(child);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(code, 0, "{out}");
    let result = &out["sites"][0];
    assert_eq!(result["ok"], true, "{result}");
    let said = warnings(result);
    assert!(
        said.iter()
            .any(|w| w.contains("changed while they were read") && w.contains("busy.log")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|w| w.contains("vanished") && w.contains("wp-content/gone.txt")),
        "{said:?}"
    );

    // Not in the snapshot (never an empty file); the rewritten file as it was read.
    let id = result["snapshot"].as_str().unwrap();
    let target = work.path().join("restored");
    restic_restore(&work, &wp.name, id, &target);
    assert!(!target.join("files/wp-content/gone.txt").exists());
    assert_eq!(
        std::fs::read_to_string(target.join("files/wp-content/grows.txt")).unwrap(),
        "rewritten after the listing\n"
    );
    // busy.log as tar read it: the file as it was when tar opened it, whole.
    let stored = std::fs::read(target.join("files/wp-content/busy.log")).unwrap();
    let now = std::fs::read(&busy).unwrap();
    assert!(stored.len() > original.len(), "{}", stored.len());
    assert!(now.starts_with(&stored));
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // The snapshot kept the listing's metadata: the next backup reads the file again.
    settle();
    let next = work.backup(&wp.name);
    assert_eq!(counts(&next).0, 0, "{next}");
    assert_eq!(counts(&next).1 + counts(&next).2, 2, "{next}");
    let target = work.path().join("restored-next");
    restic_restore(&work, &wp.name, next["snapshot"].as_str().unwrap(), &target);
    assert!(std::fs::read(target.join("files/wp-content/busy.log")).unwrap() == now);
    restic_check_clean(&work, &["check", "--read-data"]);
}

#[test]
fn a_killed_remote_tar_a_dropped_connection_or_a_killed_tend_leave_no_snapshot_and_the_next_backup_succeeds(
) {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_killed");
    let root = wp.path.clone();
    let work = Work::initialised(lab, &[&wp]);
    work.backup(&wp.name);
    // Incompressible, so that the tar of the changed files is still running when killed.
    std::fs::write(
        root.join("wp-content/uploads-noise.bin"),
        noise(96 * 1024 * 1024, 0x9e37_79b9_7f4a_7c15),
    )
    .unwrap();
    settle();

    let tar_running = |child: &mut std::process::Child| -> u32 {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(pid) = processes_in(&root, "tar").first() {
                return *pid;
            }
            assert!(Instant::now() < deadline, "the tar never started");
            assert!(
                child.try_wait().unwrap().is_none(),
                "the backup ended before the tar was seen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // The remote tar killed mid-read.
    let mut child = spawn_backup(&work, &wp.name, &[]);
    let tar = tar_running(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    kill(tar);
    let (code, out) = finished(child);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["sites"][0]["ok"], false, "{out}");
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);
    restic_check_clean(&work, &["--no-lock", "check"]);

    // The connection dropped mid-read: the sshd process serving the tar's session killed.
    let mut child = spawn_backup(&work, &wp.name, &[]);
    let tar = tar_running(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    kill_sshd_above(tar);
    let (code, out) = finished(child);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["sites"][0]["ok"], false, "{out}");
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);
    restic_check_clean(&work, &["--no-lock", "check"]);

    // tend itself killed mid-read.
    let mut child = spawn_backup(&work, &wp.name, &[]);
    tar_running(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 1);
    restic_check_clean(&work, &["--no-lock", "check"]);
    // The host's tar ends once its stdout is gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !processes_in(&root, "tar").is_empty() {
        assert!(Instant::now() < deadline, "the remote tar outlived tend");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The next backup reads the new file and stores it whole.
    let next = work.backup(&wp.name);
    assert_eq!(counts(&next).0, 1, "{next}");
    assert_eq!(restic_snapshots(&work, &wp.name).len(), 2);
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    restic_check_clean(&work, &["--no-lock", "check", "--read-data"]);
}

/// A directory holding a `find` that refuses `-printf`, as BSD and busybox find do.
fn not_gnu_find(lab: &Lab) -> PathBuf {
    let dir = lab.dir.join("incr-not-gnu-find");
    std::fs::create_dir_all(&dir).unwrap();
    let find = dir.join("find");
    std::fs::write(
        &find,
        "#!/bin/sh\necho 'find: -printf: unknown primary or operator' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&find, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_host_without_gnu_find_has_every_file_read_and_the_result_says_so() {
    let lab = Lab::shared();
    let wp = lab.add_site("incr_nognu");
    let work = Work::initialised(lab, &[&wp]);
    let bin = not_gnu_find(lab);
    let out = tend_env(
        work.path(),
        &["-i", "inv.yml", "--json", "backup", "-l", &wp.name],
        &[("TEND_FAULT_REMOTE_PATH", bin.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out)["sites"][0].clone();
    assert_eq!(result["ok"], true, "{result}");
    assert!(result["files_read"].is_null(), "{result}");
    assert!(
        warnings(&result)
            .iter()
            .any(|w| w == "the host has no GNU find: every file was read"),
        "{result}"
    );
    let text = tend_env(
        work.path(),
        &["-i", "inv.yml", "backup", "-l", &wp.name],
        &[("TEND_FAULT_REMOTE_PATH", bin.to_str().unwrap())],
    );
    assert!(
        text.stdout.contains("no GNU find"),
        "{}\n{}",
        text.stdout,
        text.stderr
    );

    // With GNU find again: the whole-stream snapshots are no parent, every file is read
    // once through the listing.
    let listed = work.backup(&wp.name);
    let (new, changed, racy, reused) = counts(&listed);
    assert!(new > 500, "{listed}");
    assert_eq!((changed, racy, reused), (0, 0, 0), "{listed}");
    let files_now = tree(&wp.path, &[]);
    let target = work.path().join("restored");
    restic_restore(
        &work,
        &wp.name,
        listed["snapshot"].as_str().unwrap(),
        &target,
    );
    assert_eq!(tree(&target.join("files"), &[]), files_now);
    let out = work.tend(&["backups", "verify", "--site", &wp.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}
