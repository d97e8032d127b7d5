//! A work folder whose inventory keeps snapshots in a restic-format repository, and what
//! the repository tests share: a command's JSON, the size of a local repository, and
//! Debian's `restic` on a repository with a password file, as the README runs it (listing
//! and checking it).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{tend, Lab, LabSite, Outcome};

pub const PASSWORD: &str = "correct horse battery staple";

/// A work folder with an inventory whose snapshots go to `repo` (password in `repo.pass`).
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new(lab: &Lab, sites: &[&LabSite]) -> Work {
        let work = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        work.write_password("repo.pass", PASSWORD, 0o600);
        work.write_inventory(lab, sites, "repo.pass");
        work
    }

    /// [`Work::new`], with the repository created by `tend backups init`.
    pub fn initialised(lab: &Lab, sites: &[&LabSite]) -> Work {
        let work = Work::new(lab, sites);
        let out = work.tend(&["backups", "init"]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        work
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        self.path().join("repo")
    }

    pub fn write_password(&self, name: &str, password: &str, mode: u32) {
        let path = self.path().join(name);
        std::fs::write(&path, format!("{password}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn write_inventory(&self, lab: &Lab, sites: &[&LabSite], password_file: &str) {
        let entries: Vec<(&str, &Path, &str)> = sites
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
            .collect();
        let text = format!(
            "settings:\n  store: '{}'\n  repository: {{ location: '{}', password_file: '{}' }}\n{}",
            self.path().join("store").display(),
            self.repo().display(),
            self.path().join(password_file).display(),
            lab.inventory(&entries)
        );
        std::fs::write(self.path().join("inv.yml"), text).unwrap();
    }

    /// Adds `setting` (e.g. `retention: { keep_last: 1 }`) to the inventory's settings.
    pub fn add_setting(&self, setting: &str) {
        let path = self.path().join("inv.yml");
        let inventory = std::fs::read_to_string(&path).unwrap();
        let added = inventory.replacen("settings:\n", &format!("settings:\n  {setting}\n"), 1);
        std::fs::write(path, added).unwrap();
    }

    pub fn tend(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["-i", "inv.yml"];
        all.extend_from_slice(args);
        tend(self.path(), &all)
    }

    /// `restic` on the repository, with the password from the file as the README says.
    pub fn restic(&self, args: &[&str]) -> std::process::Output {
        Command::new("restic")
            .arg("-r")
            .arg(self.repo())
            .args(args)
            .env("RESTIC_PASSWORD_FILE", self.path().join("repo.pass"))
            .env("RESTIC_CACHE_DIR", self.path().join("restic-cache"))
            .output()
            .expect("run restic (Debian package restic)")
    }

    pub fn backup(&self, site: &str) -> Value {
        let out = self.tend(&["--json", "backup", "-l", site]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let result = json(&out)["sites"][0].clone();
        assert_eq!(result["ok"], true, "{result}");
        result
    }
}

pub fn json(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

/// Bytes of every file under `dir`.
pub fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            size_of(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

pub fn restic_snapshots(work: &Work, host: &str) -> Vec<Value> {
    // Listing needs no lock (and a full disk could not take one).
    let out = work.restic(&["--no-lock", "snapshots", "--json", "--host", host]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

pub fn assert_restic_check_clean(work: &Work) {
    restic_check_clean(work, &["check"]);
}

pub fn restic_check_clean(work: &Work, args: &[&str]) {
    let out = work.restic(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "restic check: {text}");
    assert!(text.contains("no errors were found"), "{text}");
}

/// Random bytes (xorshift), which no compression or deduplication shrinks.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut state = seed | 1;
    for chunk in out.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// `restic -r REPOSITORY ARGS` with the password from `password_file`, its cache in
/// `cache`, and `env` (S3 credentials) set: whether it succeeded, and stdout then stderr.
pub fn restic(
    repository: &str,
    password_file: &Path,
    cache: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> (bool, String) {
    let out = Command::new("restic")
        .arg("-r")
        .arg(repository)
        .args(args)
        .env("RESTIC_PASSWORD_FILE", password_file)
        .env("RESTIC_CACHE_DIR", cache)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run restic (Debian package restic)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The largest file under `dir`.
pub fn largest_file(dir: &Path) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let candidate = if meta.is_dir() {
            let path = largest_file(&entry.path());
            (std::fs::metadata(&path).map_or(0, |m| m.len()), path)
        } else {
            (meta.len(), entry.path())
        };
        if best.as_ref().is_none_or(|(size, _)| candidate.0 > *size) {
            best = Some(candidate);
        }
    }
    best.map(|(_, p)| p).unwrap_or_default()
}
