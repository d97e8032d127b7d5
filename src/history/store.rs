//! The history files: appending records under a lock, reading them back into runs.
//!
//! One file per month (`runs-2026-11.jsonl`), the month a run started in: every line of a
//! run goes to its start's file, so a run is whole in one file, a monthly report reads one
//! file, and `--since` skips older months unread. Years of nightly runs over hundreds of
//! sites never make a read of recent history slower, and old months can be archived or
//! deleted by hand.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::{RunRecord, SiteRecord};

/// One line of the history file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase")]
enum Line {
    Start {
        run: String,
        command: String,
        playbook: Option<String>,
        runner: String,
        at: DateTime<Utc>,
        #[serde(default)]
        targets: Vec<String>,
    },
    Site {
        run: String,
        #[serde(flatten)]
        site: Box<SiteRecord>,
    },
    Finish {
        run: String,
        at: DateTime<Utc>,
        exit_status: u8,
    },
}

/// The history of one store.
#[derive(Debug, Clone)]
pub struct History {
    dir: PathBuf,
}

/// A command being recorded: its `start` line is on disk.
#[derive(Debug, Clone)]
pub struct Recording {
    file: PathBuf,
    pub run: String,
}

const FILE_PREFIX: &str = "runs-";
const FILE_SUFFIX: &str = ".jsonl";

impl History {
    pub fn new(store: &Path) -> History {
        History {
            dir: store.join("history"),
        }
    }

    /// The folder of the history files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the runs started in the month of `at`.
    pub fn file_of(&self, at: DateTime<Utc>) -> PathBuf {
        self.dir
            .join(format!("{FILE_PREFIX}{}{FILE_SUFFIX}", at.format("%Y-%m")))
    }

    /// The history files, oldest month first, with the month each holds (`2026-11`).
    fn files(&self) -> io::Result<Vec<(String, PathBuf)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(month) = name
                .strip_prefix(FILE_PREFIX)
                .and_then(|n| n.strip_suffix(FILE_SUFFIX))
            {
                files.push((month.to_owned(), entry.path()));
            }
        }
        files.sort();
        Ok(files)
    }

    /// Records that `run` starts (its id, command, playbook, runner and start time); the
    /// returned recording adds the sites and the end.
    pub fn start(&self, run: &RunRecord) -> io::Result<Recording> {
        let file = self.file_of(run.started);
        append(
            &file,
            &[Line::Start {
                run: run.id.clone(),
                command: run.command.clone(),
                playbook: run.playbook.clone(),
                runner: run.runner.clone(),
                at: run.started,
                targets: run.targets.clone(),
            }],
        )?;
        Ok(Recording {
            file,
            run: run.id.clone(),
        })
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> io::Result<Vec<RunRecord>> {
        self.runs_since(None)
    }

    /// The runs started in the months from that of `since` on (all with `None`), oldest
    /// first; older months' files are not read. Callers filter the first month by day.
    pub fn runs_since(&self, since: Option<DateTime<Utc>>) -> io::Result<Vec<RunRecord>> {
        let first = since.map(|s| s.format("%Y-%m").to_string());
        let mut runs = Vec::new();
        for (month, file) in self.files()? {
            if first.as_ref().is_none_or(|first| &month >= first) {
                runs.extend(read_runs(&file)?);
            }
        }
        Ok(runs)
    }

    /// The runs started in the month of `at`.
    pub fn runs_of_month(&self, at: DateTime<Utc>) -> io::Result<Vec<RunRecord>> {
        read_runs(&self.file_of(at))
    }
}

/// Appends `lines` to `file` under an exclusive lock, flushed to disk (and, for a new
/// month's file, its folder entry too, so that a power loss cannot lose the whole file).
fn append(file_path: &Path, lines: &[Line]) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = file_path.parent().expect("a history file has a folder");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    set_private(dir, 0o700)?;
    let mut text = String::new();
    for line in lines {
        text.push_str(&serde_json::to_string(line).map_err(io::Error::other)?);
        text.push('\n');
    }
    let new_file = !file_path.exists();
    // Created private: never readable by others, not even for a moment.
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file_path)?;
    file.lock()?;
    // A torn line left by a crash is ended first, so that this record starts a line.
    let ends_cleanly = last_byte(file_path)?.is_none_or(|b| b == b'\n');
    if !ends_cleanly {
        file.write_all(b"\n")?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_data()?;
    if new_file {
        File::open(dir)?.sync_all()?;
    }
    file.unlock()
}

/// The runs of one history file, oldest first. Lines that do not parse (a crash's torn
/// line) are skipped.
fn read_runs(path: &Path) -> io::Result<Vec<RunRecord>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs: BTreeMap<String, RunRecord> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        match parsed {
            Line::Start {
                run,
                command,
                playbook,
                runner,
                at,
                targets,
            } => {
                order.push(run.clone());
                runs.insert(
                    run.clone(),
                    RunRecord {
                        id: run,
                        command,
                        playbook,
                        runner,
                        started: at,
                        finished: None,
                        exit_status: None,
                        targets,
                        sites: Vec::new(),
                    },
                );
            }
            Line::Site { run, site } => {
                if let Some(r) = runs.get_mut(&run) {
                    // A site's line written when it finished is replaced by the
                    // fuller one written when the command ended.
                    match r.sites.iter_mut().find(|s| s.site == site.site) {
                        Some(earlier) => *earlier = *site,
                        None => r.sites.push(*site),
                    }
                }
            }
            Line::Finish {
                run,
                at,
                exit_status,
            } => {
                if let Some(r) = runs.get_mut(&run) {
                    r.finished = Some(at);
                    r.exit_status = Some(exit_status);
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| runs.remove(&id))
        .collect())
}

impl Recording {
    /// Records one site's outcome as soon as it is known, so that a command killed later
    /// still shows what it had done; the record `finish` writes for the site replaces it.
    pub fn site(&self, site: &SiteRecord) -> io::Result<()> {
        append(
            &self.file,
            &[Line::Site {
                run: self.run.clone(),
                site: Box::new(site.clone()),
            }],
        )
    }

    /// Records what happened to the sites of `run`, then that it ended (its `finished`
    /// time, now if unset, and exit status, 2 if unset).
    pub fn finish(self, run: &RunRecord) -> io::Result<()> {
        let mut lines: Vec<Line> = run
            .sites
            .iter()
            .map(|site| Line::Site {
                run: self.run.clone(),
                site: Box::new(site.clone()),
            })
            .collect();
        lines.push(Line::Finish {
            run: self.run.clone(),
            at: run.finished.unwrap_or_else(Utc::now),
            exit_status: run.exit_status.unwrap_or(2),
        });
        append(&self.file, &lines)
    }
}

/// `user@machine`: the login name from the environment, else from the password database
/// (cron and systemd may not set `USER`), else the numeric uid.
pub fn runner() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(user_of_this_process);
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{host}")
}

fn user_of_this_process() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".to_owned();
    };
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    user_in_passwd(&passwd, uid).unwrap_or_else(|| format!("uid{uid}"))
}

/// The name of `uid` in an `/etc/passwd` text (`name:x:uid:gid:…`).
fn user_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

fn last_byte(path: &Path) -> io::Result<Option<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut byte = [0u8];
    file.read_exact(&mut byte)?;
    Ok(Some(byte[0]))
}

fn set_private(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn run(id: &str, command: &str, playbook: Option<&str>) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            command: command.to_owned(),
            playbook: playbook.map(str::to_owned),
            runner: runner(),
            started: "2026-11-03T03:00:00Z".parse().unwrap(),
            finished: None,
            exit_status: None,
            targets: vec!["blog".to_owned()],
            sites: Vec::new(),
        }
    }

    fn finished(mut record: RunRecord, sites: Vec<SiteRecord>, exit: u8) -> RunRecord {
        record.sites = sites;
        record.finished = Some(Utc::now());
        record.exit_status = Some(exit);
        record
    }

    #[test]
    fn runs_read_back_with_their_sites_and_unfinished_ones_stay_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        let r1 = run("r1", "run", Some("Monthly"));
        let done = history.start(&r1).unwrap();
        let killed = history.start(&run("r2", "backup", None)).unwrap();
        done.finish(&finished(r1, vec![SiteRecord::new("blog", Outcome::Ok)], 0))
            .unwrap();
        drop(killed);
        let runs = history.runs().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].id, "r1");
        assert!(runs[0].is_finished());
        assert_eq!(runs[0].sites[0].site, "blog");
        assert_eq!(runs[0].playbook.as_deref(), Some("Monthly"));
        assert!(
            !runs[1].is_finished(),
            "a run that never finished shows as such"
        );
    }

    #[test]
    fn the_runner_is_found_in_the_password_database() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ntend:x:1001:1001::/home/tend:/bin/sh\n";
        assert_eq!(user_in_passwd(passwd, 1001).as_deref(), Some("tend"));
        assert_eq!(user_in_passwd(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_in_passwd(passwd, 7), None);
    }

    #[test]
    fn each_month_has_its_file_and_since_reads_only_the_months_from_then_on() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        for (id, at) in [
            ("oct", "2026-10-31T23:59:59Z"),
            ("nov", "2026-11-01T00:00:00Z"),
            ("dec", "2026-12-02T03:00:00Z"),
        ] {
            let mut record = run(id, "backup", None);
            record.started = at.parse().unwrap();
            let recording = history.start(&record).unwrap();
            // Finished in the next month: still whole in the file of its start.
            record.finished = Some(record.started + chrono::Duration::days(40));
            record.exit_status = Some(0);
            recording.finish(&record).unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(history.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "runs-2026-10.jsonl",
                "runs-2026-11.jsonl",
                "runs-2026-12.jsonl"
            ]
        );
        let ids = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(history.runs().unwrap()), ["oct", "nov", "dec"]);
        let since = "2026-11-15T00:00:00Z".parse().unwrap();
        assert_eq!(
            ids(history.runs_since(Some(since)).unwrap()),
            ["nov", "dec"]
        );
        assert!(history.runs().unwrap().iter().all(|r| r.is_finished()));
        let november = "2026-11-20T00:00:00Z".parse().unwrap();
        assert_eq!(ids(history.runs_of_month(november).unwrap()), ["nov"]);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_ended() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        history.start(&run("r1", "run", None)).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(history.file_of("2026-11-01T00:00:00Z".parse().unwrap()))
            .unwrap();
        file.write_all(b"{\"record\":\"site\",\"run\":\"r1\",\"si")
            .unwrap();
        let r2 = run("r2", "backup", None);
        history
            .start(&r2)
            .unwrap()
            .finish(&finished(r2, vec![], 1))
            .unwrap();
        let runs = history.runs().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].exit_status, Some(1));
    }

    #[test]
    fn two_writers_at_once_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let history = history.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let record = run(&format!("t{t}-{i}"), "backup", None);
                        let mut site = SiteRecord::new("s", Outcome::Ok);
                        site.error = Some("x".repeat(5000));
                        history
                            .start(&record)
                            .unwrap()
                            .finish(&finished(record, vec![site], 0))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let runs = history.runs().unwrap();
        assert_eq!(runs.len(), 200);
        assert!(runs.iter().all(|r| r.is_finished() && r.sites.len() == 1));
    }
}
