//! What the repository tests share: a command's JSON, the size of a local repository, and
//! Debian's `restic` on a repository with a password file, as the README runs it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::Outcome;

/// The command's stdout as JSON (`--json`).
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
