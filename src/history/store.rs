//! The history file: appending records under a lock, reading them back into runs.

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
        site: SiteRecord,
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
    file: PathBuf,
}

/// A command being recorded: its `start` line is on disk.
#[derive(Debug, Clone)]
pub struct Recording {
    history: History,
    pub run: String,
}

impl History {
    pub fn new(store: &Path) -> History {
        History {
            file: store.join("history").join("runs.jsonl"),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Records that `run` starts (its id, command, playbook, runner and start time); the
    /// returned recording adds the sites and the end.
    pub fn start(&self, run: &RunRecord) -> io::Result<Recording> {
        self.append(&[Line::Start {
            run: run.id.clone(),
            command: run.command.clone(),
            playbook: run.playbook.clone(),
            runner: run.runner.clone(),
            at: run.started,
            targets: run.targets.clone(),
        }])?;
        Ok(Recording {
            history: self.clone(),
            run: run.id.clone(),
        })
    }

    fn append(&self, lines: &[Line]) -> io::Result<()> {
        let dir = self.file.parent().expect("the history file has a folder");
        fs::create_dir_all(dir)?;
        set_private(dir, 0o700)?;
        let mut text = String::new();
        for line in lines {
            text.push_str(&serde_json::to_string(line).map_err(io::Error::other)?);
            text.push('\n');
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)?;
        set_private(&self.file, 0o600)?;
        file.lock()?;
        // A torn line left by a crash is ended first, so that this record starts a line.
        let ends_cleanly = last_byte(&self.file)?.is_none_or(|b| b == b'\n');
        if !ends_cleanly {
            file.write_all(b"\n")?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        file.unlock()
    }

    /// Every run, oldest first. Lines that do not parse (a crash's torn line) are skipped.
    pub fn runs(&self) -> io::Result<Vec<RunRecord>> {
        let file = match File::open(&self.file) {
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
                            Some(earlier) => *earlier = site,
                            None => r.sites.push(site),
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
}

impl Recording {
    /// Records one site's outcome as soon as it is known, so that a command killed later
    /// still shows what it had done; the record `finish` writes for the site replaces it.
    pub fn site(&self, site: &SiteRecord) -> io::Result<()> {
        self.history.append(&[Line::Site {
            run: self.run.clone(),
            site: site.clone(),
        }])
    }

    /// Records what happened to the sites of `run`, then that it ended (its `finished`
    /// time, now if unset, and exit status, 2 if unset).
    pub fn finish(self, run: &RunRecord) -> io::Result<()> {
        let mut lines: Vec<Line> = run
            .sites
            .iter()
            .map(|site| Line::Site {
                run: self.run.clone(),
                site: site.clone(),
            })
            .collect();
        lines.push(Line::Finish {
            run: self.run.clone(),
            at: run.finished.unwrap_or_else(Utc::now),
            exit_status: run.exit_status.unwrap_or(2),
        });
        self.history.append(&lines)
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

    fn run(id: &str, command: &str, playbook: Option<&str>) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            command: command.to_owned(),
            playbook: playbook.map(str::to_owned),
            runner: runner(),
            started: Utc::now(),
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
        done.finish(&finished(r1, vec![SiteRecord::new("blog", "ok")], 0))
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
    fn a_torn_last_line_is_skipped_and_ended() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        history.start(&run("r1", "run", None)).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(history.file())
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
                        let mut site = SiteRecord::new("s", "ok");
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
