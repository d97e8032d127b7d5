//! SIGINT at each phase of a run, on lab sites through the real binary (issue 12, item 8;
//! `tests/faults.rs` has SIGINT mid-update and during `tend backup`): during a restore,
//! during a playbook's backup step, during its verify step and during a rollback. Each
//! moment is a named point of the run: a line `-v` prints as the step starts, the warning
//! that a rollback begins, or the host's import client found by its command line. What
//! each must do is the README's "Interrupting a run".

mod support;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::update_work::{
    fatal_test_zip, install_fatal_test_plugin, json, zip_of, Work, FATAL_TEST_V1, MONTHLY,
};
use support::{db_state, tend, tree, Lab, LabSite};

/// What an interrupted tend printed and how it ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs tend in `dir`, sends SIGINT once `now` says so (asked with each line of stderr as
/// it comes, and every few milliseconds with none), and collects the rest.
fn interrupt_when(dir: &Path, args: &[&str], now: impl Fn(Option<&str>) -> bool) -> Ended {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TEND_INVENTORY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_to, lines) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let _ = lines_to.send(line.clone());
            seen.push(line);
        }
        seen
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let fire = match lines.recv_timeout(std::time::Duration::from_millis(5)) {
            Ok(line) => now(Some(&line)) || now(None),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => now(None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("tend ended before the moment to interrupt it")
            }
        };
        if fire {
            // SAFETY: a signal to our own child process.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the moment did not come"
        );
    }
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap().join("\n");
    Ended {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// Whether a process on this machine (the lab's host) matches `pattern` (`pgrep -f`).
fn running(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// SIGINT while a restore imports its dump: the restore is finished (never left half
/// done), its result printed, and tend exits 130.
#[test]
fn sigint_during_a_restore_finishes_the_restore_and_exits_130() {
    let lab = Lab::shared();
    let wp = lab.add_site("sig_restore");
    lab.add_bulk_table(&wp.db_name, "wp_bulk");
    let work = Work::new();
    work.inventory(lab, &[&wp], "");
    let files_at_backup = tree(&wp.path, &[]);
    let db_at_backup = db_state(lab, &wp);
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(wp.path.join("wp-content/new-since.txt"), "gone after").unwrap();
    lab.sql(&wp.db_name, "DELETE FROM wp_bulk WHERE id > 1000");

    let import = format!("defaults-extra-file=/dev/fd/3 .* -- {}$", wp.db_name);
    let ended = interrupt_when(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "restore",
            "sig_restore",
            "--snapshot",
            &id,
            "--yes",
        ],
        |line| line.is_none() && running(&import),
    );
    assert_eq!(ended.code, Some(130), "{}\n{}", ended.stdout, ended.stderr);
    assert!(ended.stderr.contains("SIGINT received"), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("finished: sig_restore"),
        "{}",
        ended.stderr
    );
    let doc: Value = serde_json::from_str(&ended.stdout).unwrap();
    assert_eq!(doc["status"], "ok", "{doc}");
    assert_eq!(tree(&wp.path, &[]), files_at_backup);
    assert_eq!(db_state(lab, &wp), db_at_backup);
}

/// A lab site with tend-fatal-test 1.0, a repository offering `v2` of it, and the monthly
/// playbook; `verify_delay` seconds before each verification.
fn update_setup(lab: &Lab, name: &str, v2: Option<&str>, verify_delay: u32) -> (LabSite, Work) {
    let site = lab.add_site(name);
    install_fatal_test_plugin(lab, &site);
    let work = Work::new();
    let zip = match v2 {
        None => fatal_test_zip(&work),
        Some(text) => {
            let zip = work.path().join("tend-fatal-test.2.0.zip");
            zip_of(&zip, &[("tend-fatal-test/tend-fatal-test.php", text)]);
            zip
        }
    };
    work.add_package(&zip, "plugins");
    work.index();
    work.inventory(lab, &[&site], &format!("  verify_delay: {verify_delay}\n"));
    work.playbook("monthly.yml", MONTHLY);
    (site, work)
}

fn run_args() -> Vec<&'static str> {
    vec![
        "-i",
        "inv.yml",
        "-v",
        "--json",
        "run",
        "monthly.yml",
        "--yes",
    ]
}

/// SIGINT during a playbook's backup step: the snapshot is finished, no further step runs,
/// nothing on the site was changed, and the site is `failed` as `interrupted`.
#[test]
fn sigint_during_the_backup_step_runs_no_further_step_and_changes_nothing() {
    let lab = Lab::shared();
    let (site, work) = update_setup(lab, "sig_backup", None, 3);
    let before = (tree(&site.path, &[]), db_state(lab, &site));
    let ended = interrupt_when(work.path(), &run_args(), |line| {
        line == Some("sig_backup: backup")
    });
    assert_eq!(ended.code, Some(130), "{}\n{}", ended.stdout, ended.stderr);
    let doc: Value = serde_json::from_str(&ended.stdout).unwrap();
    let s = &doc["sites"][0];
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["error_kind"], "interrupted", "{s}");
    assert!(s["snapshot"].is_string(), "the snapshot was finished: {s}");
    assert_eq!(s["changes"].as_array().map_or(0, Vec::len), 0, "{s}");
    assert!(
        !ended.stderr.contains("sig_backup: maintenance"),
        "no further step: {}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .contains("no site was left with unfinished work"),
        "{}",
        ended.stderr
    );
    assert_eq!(tree(&site.path, &[]), before.0);
    assert_eq!(db_state(lab, &site), before.1);
    // The snapshot it took is whole and listed.
    let list = work.tend(&["--json", "backups", "list"]);
    assert_eq!(json(&list)["snapshots"].as_array().unwrap().len(), 1);
}

/// SIGINT during the verify step, the playbook's last: the checks finish, and as no step
/// is left undone the site's run is complete — `ok`, its update kept — and tend exits 130.
#[test]
fn sigint_during_the_last_verify_step_keeps_the_verified_update() {
    let lab = Lab::shared();
    let fine = FATAL_TEST_V1.replace("Version: 1.0", "Version: 2.0");
    let (site, work) = update_setup(lab, "sig_verify", Some(&fine), 8);
    let ended = interrupt_when(work.path(), &run_args(), |line| {
        line == Some("sig_verify: verify")
    });
    assert_eq!(ended.code, Some(130), "{}\n{}", ended.stdout, ended.stderr);
    let doc: Value = serde_json::from_str(&ended.stdout).unwrap();
    let s = &doc["sites"][0];
    assert_eq!(s["status"], "ok", "{s}\n{}", ended.stderr);
    assert_eq!(s["changes"][0]["to"], "2.0", "{s}");
    assert!(
        ended.stderr.contains("finished: sig_verify"),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .contains("no site was left with unfinished work"),
        "{}",
        ended.stderr
    );
    let plugin = std::fs::read_to_string(
        site.path
            .join("wp-content/plugins/tend-fatal-test/tend-fatal-test.php"),
    )
    .unwrap();
    assert!(plugin.contains("Version: 2.0"), "{plugin}");
    assert!(!site.path.join(".maintenance").exists());
    assert!(!site.path.join(".tend/journal.json").exists());
}

/// SIGINT while a broken update is rolled back (the whole-site rollback): the rollback is finished, not cut short;
/// the site is byte-identical and tend exits 130.
#[test]
fn sigint_during_a_rollback_lets_it_finish() {
    let lab = Lab::shared();
    let (site, work) = update_setup(lab, "sig_rollback", None, 5);
    // The whole-site rollback (`mode: together`, and the fallback of `mode: each`).
    work.playbook(
        "monthly.yml",
        &MONTHLY.replace("themes: all", "themes: all, mode: together"),
    );
    let before = (tree(&site.path, &[]), db_state(lab, &site));
    let ended = interrupt_when(work.path(), &run_args(), |line| {
        line.is_some_and(|l| l.starts_with("sig_rollback: warning: rolling back"))
    });
    assert_eq!(ended.code, Some(130), "{}\n{}", ended.stdout, ended.stderr);
    let doc: Value = serde_json::from_str(&ended.stdout).unwrap();
    let s = &doc["sites"][0];
    assert_eq!(s["status"], "rolled_back", "{s}\n{}", ended.stderr);
    assert!(
        s["rollback"].as_str().unwrap().contains("all checks pass"),
        "{s}"
    );
    assert!(
        ended.stderr.contains("rolled back: sig_rollback"),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .contains("no site was left with unfinished work"),
        "{}",
        ended.stderr
    );
    assert_eq!(tree(&site.path, &[]), before.0);
    assert_eq!(db_state(lab, &site), before.1);
    let history = tend(work.path(), &["-i", "inv.yml", "--json", "history"]);
    let run = json(&history)["runs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(run["exit_status"], 130, "{run}");
}
