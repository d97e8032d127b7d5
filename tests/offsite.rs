//! The off-site copy (`settings.offsite`), through the real binary against the lab: every
//! new snapshot copied to a second repository (a local folder, or SeaweedFS on loopback)
//! with its host and tags, only what the off-site repository lacks sent; a broken off-site
//! repository (gone, a wrong password, not writable) or the object store going away mid-copy
//! fails the site and keeps the snapshot; the next successful backup copies what was
//! missed; tend killed mid-copy leaves no snapshot off-site; `restic check` clean throughout.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::repository::{json, noise, restic, size_of};
use support::s3::S3Server;
use support::{tend_env, Lab, LabSite, Outcome};

const PASSWORD: &str = "correct horse battery staple";
const OFFSITE_PASSWORD: &str = "another horse, far away";

/// A work folder whose inventory keeps snapshots in `repo` and copies them to `offsite`
/// (a folder of the work folder, or a location on an S3 server).
struct Work {
    dir: tempfile::TempDir,
    offsite: String,
    env: Vec<(&'static str, String)>,
}

impl Work {
    fn new(lab: &Lab, sites: &[&LabSite], server: Option<&S3Server>) -> Work {
        let dir = tempfile::tempdir().unwrap();
        let (offsite, s3, env) = match server {
            None => (
                dir.path().join("offsite").display().to_string(),
                String::new(),
                Vec::new(),
            ),
            Some(server) => (
                server.location("offsite"),
                "\n    s3: { access_key_id: \"${TEST_S3_KEY}\", secret_access_key: \"${TEST_S3_SECRET}\" }".to_owned(),
                server.restic_env(),
            ),
        };
        let work = Work { dir, offsite, env };
        work.write_password("repo.pass", PASSWORD);
        work.write_password("offsite.pass", OFFSITE_PASSWORD);
        let entries: Vec<(&str, &Path, &str)> = sites
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
            .collect();
        let text = format!(
            "settings:\n  store: '{}'\n  repository: {{ location: '{}', password_file: '{}' }}\n  offsite:\n    location: '{}'\n    password_file: '{}'{s3}\n{}",
            work.path().join("store").display(),
            work.repo().display(),
            work.path().join("repo.pass").display(),
            work.offsite,
            work.path().join("offsite.pass").display(),
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

    /// The off-site repository's folder (a local one).
    fn offsite_dir(&self) -> PathBuf {
        PathBuf::from(&self.offsite)
    }

    fn write_password(&self, name: &str, password: &str) {
        let path = self.path().join(name);
        std::fs::write(&path, format!("{password}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The S3 credentials as the inventory's `${VAR}`s read them.
    fn tend_env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| match *k {
                "AWS_ACCESS_KEY_ID" => ("TEST_S3_KEY", v.as_str()),
                _ => ("TEST_S3_SECRET", v.as_str()),
            })
            .collect()
    }

    fn tend(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["-i", "inv.yml"];
        all.extend_from_slice(args);
        tend_env(self.path(), &all, &self.tend_env())
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["-i", "inv.yml"])
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("TEND_INVENTORY")
            .envs(self.tend_env())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `tend --json backup -l SITE`: its exit code and the site's result.
    fn backup(&self, site: &str) -> (i32, Value, Outcome) {
        let out = self.tend(&["--json", "backup", "-l", site]);
        let result = json(&out)["sites"][0].clone();
        (out.code, result, out)
    }

    fn restic_primary(&self, args: &[&str]) -> (bool, String) {
        restic(
            &self.repo().display().to_string(),
            &self.path().join("repo.pass"),
            &self.path().join("restic-cache"),
            &[],
            args,
        )
    }

    fn restic_offsite(&self, args: &[&str]) -> (bool, String) {
        restic(
            &self.offsite,
            &self.path().join("offsite.pass"),
            &self.path().join("restic-cache"),
            &self.env,
            args,
        )
    }

    /// The snapshots restic lists in the off-site repository (without a lock: a killed
    /// writer's may still be there), `host`'s only.
    fn offsite_snapshots(&self, host: &str) -> Vec<Value> {
        let (ok, out) = self.restic_offsite(&["--no-lock", "snapshots", "--json", "--host", host]);
        assert!(ok, "{out}");
        // stdout (the JSON) comes first; an object store's retries may follow.
        serde_json::from_str::<Value>(out.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {out}"))
            .as_array()
            .unwrap()
            .clone()
    }

    fn primary_snapshots(&self, host: &str) -> Vec<Value> {
        let (ok, out) = self.restic_primary(&["--no-lock", "snapshots", "--json", "--host", host]);
        assert!(ok, "{out}");
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn assert_offsite_check_clean(&self, extra: &[&str]) {
        let mut args = vec!["check", "--no-lock"];
        args.extend_from_slice(extra);
        let (ok, out) = self.restic_offsite(&args);
        assert!(
            ok && out.contains("no errors were found"),
            "restic check: {out}"
        );
    }
}

/// tend's id of a snapshot restic lists, from its `id=` tag.
fn tend_id(snapshot: &Value) -> String {
    snapshot["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str()?.strip_prefix("id="))
        .next()
        .unwrap_or_else(|| panic!("no id tag: {snapshot}"))
        .to_owned()
}

fn ids(snapshots: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = snapshots.iter().map(tend_id).collect();
    ids.sort();
    ids
}

/// `MiB` of incompressible media in the site, so that copying takes a while.
fn add_media(site: &LabSite, mib: usize) {
    let media = site.path.join("wp-content/uploads/media");
    std::fs::create_dir_all(&media).unwrap();
    for i in 0..mib / 4 {
        let seed = 0x9e37_79b9_7f4a_7c15 ^ (site.name.len() + i) as u64;
        std::fs::write(media.join(format!("photo-{i}.jpg")), noise(4 << 20, seed)).unwrap();
    }
}

fn outcome_of(child: std::process::Child) -> Outcome {
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The pack files in a local repository's `data/`.
fn local_packs(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("data"))
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .filter_map(|d| std::fs::read_dir(d.path()).ok())
                .map(|files| files.count())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn each_backup_is_copied_off_site_with_its_tags_and_an_unchanged_one_sends_almost_nothing() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_local");
    let work = Work::new(lab, &[&site], None);

    let out = work.tend(&["--json", "backups", "init"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let created = json(&out)["repositories"].clone();
    assert_eq!(created[1]["name"], "offsite", "{created}");
    assert_eq!(created[1]["created"], true, "{created}");
    // The off-site repository chunks as the repository does (restic's
    // `init --copy-chunker-params`), and is a repository of its own.
    let config = |(ok, out): (bool, String)| -> Value {
        assert!(ok, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    let primary = config(work.restic_primary(&["cat", "config"]));
    let offsite = config(work.restic_offsite(&["cat", "config"]));
    assert_eq!(primary["chunker_polynomial"], offsite["chunker_polynomial"]);
    assert_ne!(primary["id"], offsite["id"]);
    let empty = size_of(&work.offsite_dir());

    let (code, first, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(first["ok"], true, "{first}");
    let first_id = first["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(first["offsite"]["ok"], true, "{first}");
    assert_eq!(first["offsite"]["copied"], serde_json::json!([first_id]));
    let after_first = size_of(&work.offsite_dir());

    // restic lists the copy as it lists the original: host, tags, time.
    let original = work.primary_snapshots(&site.name);
    let copied = work.offsite_snapshots(&site.name);
    assert_eq!(copied.len(), 1, "{copied:?}");
    for key in ["hostname", "tags", "time", "paths"] {
        assert_eq!(copied[0][key], original[0][key], "{key}");
    }
    work.assert_offsite_check_clean(&["--read-data"]);

    let (code, second, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    let second_id = second["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(second["offsite"]["copied"], serde_json::json!([second_id]));
    let after_second = size_of(&work.offsite_dir());
    let (first_growth, second_growth) = (after_first - empty, after_second - after_first);
    eprintln!(
        "off-site repository: first copy +{first_growth} bytes, unchanged second +{second_growth} bytes"
    );
    assert!(first_growth > 1_000_000, "{first_growth}");
    assert!(
        second_growth * 100 < first_growth,
        "an unchanged second backup's copy added {second_growth} bytes after {first_growth}"
    );
    assert_eq!(
        ids(&work.offsite_snapshots(&site.name)),
        ids(&work.primary_snapshots(&site.name))
    );
    work.assert_offsite_check_clean(&[]);

    // The history keeps the copy beside the snapshot.
    let out = work.tend(&["--json", "history", "--site", &site.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("\"offsite\"") && out.stdout.contains(&second_id),
        "{}",
        out.stdout
    );
}

#[test]
fn an_offsite_repository_on_s3_gets_each_snapshot() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_s3");
    let server = S3Server::start("tend-offsite");
    let work = Work::new(lab, &[&site], Some(&server));
    let out = work.tend(&["backups", "init"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let (code, result, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(result["offsite"]["ok"], true, "{result}");
    assert_eq!(result["offsite"]["location"], work.offsite.as_str());
    assert!(
        !out.stdout.contains(&server.secret_key) && !out.stderr.contains(&server.secret_key),
        "the S3 secret was shown"
    );
    let copied = work.offsite_snapshots(&site.name);
    assert_eq!(ids(&copied), [result["snapshot"].as_str().unwrap()]);
    work.assert_offsite_check_clean(&["--read-data"]);
}

#[test]
fn a_broken_offsite_fails_the_site_keeps_the_snapshot_and_the_next_backup_copies_what_was_missed() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_broken");
    let work = Work::new(lab, &[&site], None);
    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    let offsite = work.offsite_dir();
    let aside = work.path().join("offsite-aside");

    let mut missed = Vec::new();
    let mut fails = |what: &str, expected: &str| {
        let (code, result, out) = work.backup(&site.name);
        assert_eq!(code, 1, "{what}: {}\n{}", out.stdout, out.stderr);
        assert_eq!(result["ok"], false, "{what}: {result}");
        assert_eq!(
            result["error_kind"], "offsite_copy_failed",
            "{what}: {result}"
        );
        assert_eq!(result["offsite"]["ok"], false, "{what}: {result}");
        let id = result["snapshot"].as_str().unwrap().to_owned();
        let error = result["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("snapshot {id} saved in the repository"))
                && error.contains("off-site copy to")
                && error.contains(expected),
            "{what}: {error}"
        );
        missed.push(id);
    };

    // The off-site repository gone.
    std::fs::rename(&offsite, &aside).unwrap();
    fails("missing", "tend backups init");
    std::fs::rename(&aside, &offsite).unwrap();
    // A wrong password.
    work.write_password("offsite.pass", "not the password");
    fails("wrong password", "does not open the repository");
    work.write_password("offsite.pass", OFFSITE_PASSWORD);
    // Not writable: a file where its `locks/` folder should be.
    if offsite.join("locks").exists() {
        std::fs::remove_dir_all(offsite.join("locks")).unwrap();
    }
    std::fs::write(offsite.join("locks"), "not a folder").unwrap();
    fails("unwritable", "locks");

    // Every snapshot is in the repository, listed by tend; none went off-site.
    let out = work.tend(&["--json", "backups", "list", "--site", &site.name]);
    let listed: Vec<String> = json(&out)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, missed);
    assert!(work.offsite_snapshots(&site.name).is_empty());

    // A restore's safety snapshot is only warned about: the restore goes on.
    let out = work.tend(&["restore", &site.name, "--snapshot", &missed[0], "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("off-site copy to") && out.stderr.contains("the restore goes on"),
        "{}",
        out.stderr
    );

    // Mended: the next backup copies its snapshot and every one missed before.
    std::fs::remove_file(offsite.join("locks")).unwrap();
    std::fs::create_dir(offsite.join("locks")).unwrap();
    let (code, result, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    let copied: Vec<String> = result["offsite"]["copied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    // The three failed nights, the restore's safety snapshot, and tonight's.
    assert_eq!(copied.len(), 5, "{result}");
    assert_eq!(copied[..3], missed[..]);
    assert_eq!(copied[4], result["snapshot"].as_str().unwrap());
    assert_eq!(
        ids(&work.offsite_snapshots(&site.name)),
        ids(&work.primary_snapshots(&site.name))
    );
    work.assert_offsite_check_clean(&["--read-data"]);
}

#[test]
fn a_playbook_backup_step_whose_copy_fails_fails_the_site_and_keeps_its_snapshot() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_playbook");
    let work = Work::new(lab, &[&site], None);
    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    let nightly = support::repo_root().join("playbooks/nightly-backup.yml");
    let nightly = nightly.to_str().unwrap();

    work.write_password("offsite.pass", "not the password");
    let out = work.tend(&["--json", "run", nightly]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out)["sites"][0].clone();
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["error_kind"], "offsite_copy_failed", "{result}");
    let first = result["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&work.primary_snapshots(&site.name)),
        vec![first.clone()]
    );

    work.write_password("offsite.pass", OFFSITE_PASSWORD);
    let out = work.tend(&["--json", "run", nightly]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let second = json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ids(&work.offsite_snapshots(&site.name)), [first, second]);
    work.assert_offsite_check_clean(&[]);
}

#[test]
fn the_object_store_going_away_mid_copy_fails_the_site_and_the_next_backup_copies_it() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_cut");
    add_media(&site, 48);
    let mut server = S3Server::start("tend-offsite-cut");
    let work = Work::new(lab, &[&site], Some(&server));
    assert_eq!(work.tend(&["backups", "init"]).code, 0);

    let child = work.spawn(&["--json", "backup"]);
    // Once a pack of the copy is in the object store, the store goes away.
    let packs = || -> usize {
        let (ok, out) = work.restic_offsite(&["--no-lock", "list", "packs"]);
        if ok {
            out.lines().filter(|l| l.len() == 64).count()
        } else {
            0
        }
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut child = child;
    while packs() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before the copy sent a pack"
        );
        assert!(Instant::now() < deadline, "no pack within 10 minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    let out = outcome_of(child);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out)["sites"][0].clone();
    assert_eq!(result["error_kind"], "offsite_copy_failed", "{result}");
    let first = result["snapshot"].as_str().unwrap().to_owned();
    // The snapshot is whole in the repository.
    assert_eq!(
        ids(&work.primary_snapshots(&site.name)),
        vec![first.clone()]
    );
    let out = work.tend(&["backups", "verify", "--site", &site.name]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    server.restart();
    assert!(
        work.offsite_snapshots(&site.name).is_empty(),
        "a copy cut short left a snapshot off-site"
    );
    work.assert_offsite_check_clean(&[]);

    let (code, result, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    let second = result["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(
        result["offsite"]["copied"],
        serde_json::json!([first, second])
    );
    assert_eq!(ids(&work.offsite_snapshots(&site.name)), [first, second]);
    work.assert_offsite_check_clean(&["--read-data"]);
}

#[test]
fn tend_killed_mid_copy_leaves_no_snapshot_off_site_and_the_next_backup_copies_it() {
    let lab = Lab::shared();
    let site = lab.add_site("offsite_killed");
    add_media(&site, 96);
    let work = Work::new(lab, &[&site], None);
    assert_eq!(work.tend(&["backups", "init"]).code, 0);
    let offsite = work.offsite_dir();

    let mut child = work.spawn(&["--json", "backup"]);
    let deadline = Instant::now() + Duration::from_secs(600);
    while local_packs(&offsite) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before the copy wrote a pack"
        );
        assert!(Instant::now() < deadline, "no pack within 10 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let out = outcome_of(child);
    assert_eq!(out.code, -1, "{}\n{}", out.stdout, out.stderr);

    // The snapshot was complete in the repository before the copy began; off-site, the
    // copy's packs are there without a snapshot.
    let first = ids(&work.primary_snapshots(&site.name));
    assert_eq!(first.len(), 1);
    assert!(
        work.offsite_snapshots(&site.name).is_empty(),
        "a killed copy left a snapshot off-site"
    );
    work.assert_offsite_check_clean(&[]);

    let (code, result, out) = work.backup(&site.name);
    assert_eq!(code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        result["offsite"]["copied"].as_array().unwrap().len(),
        2,
        "{result}"
    );
    assert_eq!(
        ids(&work.offsite_snapshots(&site.name)),
        ids(&work.primary_snapshots(&site.name))
    );
    work.assert_offsite_check_clean(&["--read-data"]);
}
