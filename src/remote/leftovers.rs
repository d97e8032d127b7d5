//! What a killed tend leaves of its SSH connections, and clearing it away.
//!
//! Each run keeps its control sockets in a private folder `$TMPDIR/tend-ssh-XXXXXX`, and
//! each connection is an `ssh -M` master process that outlives its client by design
//! (`ControlPersist`). A run that ends normally or on SIGINT/SIGTERM closes its masters and
//! removes the folder; one killed with SIGKILL (or by the OOM killer) cannot, and used to
//! leave a master holding a connection to the host for up to ten minutes and the folder
//! forever. So every run writes its process id and start time into its folder (the file
//! `owner`), and the next run, before it opens anything, looks at the other `tend-ssh-*`
//! folders of the same user: one whose owner process is gone (no such pid, or a pid reused
//! by another process — the start time differs) has each of its masters asked to exit
//! (`ssh -O exit`, bounded to a few seconds) and is removed. The `owner` file is written
//! aside and renamed into place, so it is never read half-written. A folder without one (a
//! run that has not marked it yet, or an older tend that may still be running) is removed
//! only when it is a day old and none of its masters answers. Folders of live runs are
//! never touched.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The folder name prefix of a run's control sockets.
pub const PREFIX: &str = "tend-ssh-";
/// The file in that folder naming the run that owns it.
const OWNER_FILE: &str = "owner";
/// How old a folder without an owner must be before it is removed.
const UNOWNED_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long asking one master to exit may take.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// What [`reap`] cleared away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub masters: usize,
    pub folders: usize,
}

/// `pid starttime` of a process, the start time in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), which tells a process from a later one given the same pid.
fn identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    let start = after.split_whitespace().nth(19)?;
    Some(format!("{pid} {start}"))
}

/// Marks `dir` as this process's: written aside and renamed, so that a reader never sees
/// a half-written file.
pub fn mark(dir: &Path) -> io::Result<()> {
    let me = identity(std::process::id()).unwrap_or_else(|| std::process::id().to_string());
    let aside = dir.join(format!("{OWNER_FILE}.tmp"));
    std::fs::write(&aside, format!("{me}\n"))?;
    std::fs::rename(&aside, dir.join(OWNER_FILE))
}

/// Whether the owner recorded in `text` still runs; None when `text` names no process.
fn owner_alive(text: &str) -> Option<bool> {
    let recorded = text.trim();
    let pid = recorded
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok())?;
    Some(match identity(pid) {
        None => false,
        // Only a pid was recorded (no /proc when it was written): trust the pid.
        Some(now) => !recorded.contains(' ') || now == recorded,
    })
}

/// The control sockets under a run's folder (`.ssh-connection*/master`).
fn sockets(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("master"))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
}

/// Runs `ssh -O <op> -S socket`, waiting at most [`EXIT_WAIT`]; true if ssh succeeded.
fn control(socket: &Path, op: &str) -> bool {
    let child = Command::new("ssh")
        .arg("-O")
        .arg(op)
        .arg("-S")
        .arg(socket)
        .args(["-o", "BatchMode=yes", "tend-leftover"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Clears away, under `tmp`, the folders (and their masters) of tend runs that are gone.
/// `own` is this run's folder, never touched.
pub fn reap(tmp: &Path, own: Option<&Path>) -> Reaped {
    let mut reaped = Reaped::default();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return reaped;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) || Some(path.as_path()) == own {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let sockets = sockets(&path);
        let owner = std::fs::read_to_string(path.join(OWNER_FILE)).ok();
        match owner.as_deref().and_then(owner_alive) {
            Some(true) => continue,
            Some(false) => {
                for socket in &sockets {
                    reaped.masters += usize::from(control(socket, "exit"));
                }
            }
            // No owner: a new run's folder not marked yet, or an older tend's (which may
            // still be running and about to open a connection in it). Left alone unless it
            // is a day old and no master in it answers.
            None => {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age > UNOWNED_AGE);
                if !old || sockets.iter().any(|s| control(s, "check")) {
                    continue;
                }
            }
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            reaped.folders += 1;
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_whose_owner_is_gone_is_removed_and_a_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let live = tmp.path().join("tend-ssh-live");
        let dead = tmp.path().join("tend-ssh-dead");
        let reused = tmp.path().join("tend-ssh-reused");
        let other = tmp.path().join("not-tend");
        let unmarked = tmp.path().join("tend-ssh-unmarked");
        let empty_owner = tmp.path().join("tend-ssh-empty");
        for dir in [&live, &dead, &reused, &other, &unmarked, &empty_owner] {
            std::fs::create_dir(dir).unwrap();
        }
        mark(&live).unwrap();
        std::fs::write(dead.join(OWNER_FILE), "999999999 12345\n").unwrap();
        // This process's pid with another start time: a pid reused since.
        std::fs::write(
            reused.join(OWNER_FILE),
            format!("{} 1\n", std::process::id()),
        )
        .unwrap();
        std::fs::write(empty_owner.join(OWNER_FILE), "").unwrap();
        let reaped = reap(tmp.path(), None);
        assert_eq!(reaped.folders, 2, "{reaped:?}");
        assert!(live.exists() && other.exists());
        assert!(
            unmarked.exists() && empty_owner.exists(),
            "young and unowned: kept"
        );
        assert!(!dead.exists() && !reused.exists());
    }

    #[test]
    fn identity_reads_the_start_time() {
        let me = identity(std::process::id()).unwrap();
        assert_eq!(owner_alive(&me), Some(true));
        assert_eq!(owner_alive("999999999 1"), Some(false));
        assert_eq!(owner_alive(""), None, "half-written: not judged");
        assert_eq!(owner_alive("garbage"), None);
    }
}
