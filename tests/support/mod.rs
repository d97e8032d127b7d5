//! The test lab, seen from Rust: real sshd, MariaDB, PHP and WordPress on loopback, started
//! by `scripts/lab.sh` and torn down by its watchdog when the test process exits.
//!
//! A test binary shares one lab ([`Lab::shared`]); tests that change a site add their own
//! with [`Lab::add_site`] so that tests can run in parallel.

#![allow(dead_code)]

pub mod browser;
pub mod process;
pub mod repository;
pub mod s3;
pub mod update_work;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Lab {
    pub dir: PathBuf,
    vars: std::sync::Mutex<HashMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct LabSite {
    pub name: String,
    pub path: PathBuf,
    pub url: String,
    pub db_name: String,
    pub db_user: String,
    pub db_password: String,
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the real tend binary in `dir`.
pub fn tend(dir: &Path, args: &[&str]) -> Outcome {
    tend_env(dir, args, &[])
}

/// Runs the real tend binary in `dir` with these environment variables set.
pub fn tend_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TEND_INVENTORY")
        .envs(env.iter().copied())
        .output()
        .expect("run tend");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_checked(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lab {
    /// The lab of this test binary (two WordPress sites), started on first use.
    pub fn shared() -> &'static Lab {
        static LAB: OnceLock<Lab> = OnceLock::new();
        LAB.get_or_init(|| Lab::start(2))
    }

    /// Starts a new lab with `sites` WordPress sites; it goes away with this process.
    pub fn start(sites: usize) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("tend-lab-")
            .tempdir()
            .expect("lab dir")
            .keep();
        let script = repo_root().join("scripts/lab.sh");
        run_checked(
            Command::new("bash")
                .arg(&script)
                .arg("up")
                .arg(&dir)
                .arg("--sites")
                .arg(sites.to_string())
                .arg("--watch")
                .arg(std::process::id().to_string()),
            "scripts/lab.sh up",
        );
        let lab = Lab {
            dir,
            vars: std::sync::Mutex::new(HashMap::new()),
        };
        lab.reload();
        lab
    }

    fn reload(&self) {
        let env = self.dir.join("lab.env");
        let out = run_checked(
            Command::new("bash").arg("-c").arg(
                "set -a; . \"$1\"; for v in ${!LAB_@} ${!SITE_@}; do printf '%s=%s\\0' \"$v\" \"${!v}\"; done",
            ).arg("_").arg(&env),
            "read lab.env",
        );
        let vars = out
            .split('\0')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        *self.vars.lock().unwrap() = vars;
    }

    pub fn var(&self, name: &str) -> String {
        self.vars
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("lab.env has no {name}"))
    }

    /// Adds a WordPress site of its own for a test that changes things.
    pub fn add_site(&self, name: &str) -> LabSite {
        self.add_site_with(name, "tcp")
    }

    /// Adds a site whose `DB_HOST` is `127.0.0.1:PORT` (`tcp`) or `localhost:/socket` (`socket`).
    pub fn add_site_with(&self, name: &str, db_host_style: &str) -> LabSite {
        let script = repo_root().join("scripts/lab.sh");
        run_checked(
            Command::new("bash")
                .arg(&script)
                .arg("add-site")
                .arg(&self.dir)
                .arg(name)
                .arg("--db-host-style")
                .arg(db_host_style),
            "scripts/lab.sh add-site",
        );
        self.reload();
        self.site(name)
    }

    /// Adds a site made by one of the fixture scripts (`scripts/lab-joomla.sh`,
    /// `scripts/lab-magento.sh`): a CMS that cannot be installed here, as a fixture tree with
    /// its real file formats, a real database and stand-ins for its command-line tools.
    pub fn add_fixture_site(&self, script: &str, name: &str, args: &[&str]) -> LabSite {
        let script = repo_root().join("scripts").join(script);
        run_checked(
            Command::new("bash")
                .arg(&script)
                .arg(&self.dir)
                .arg(name)
                .args(args),
            &format!("scripts/{}", script.file_name().unwrap().to_string_lossy()),
        );
        self.reload();
        self.site(name)
    }

    pub fn site(&self, name: &str) -> LabSite {
        LabSite {
            name: name.to_owned(),
            path: PathBuf::from(self.var(&format!("SITE_{name}_PATH"))),
            url: self.var(&format!("SITE_{name}_URL")),
            db_name: self.var(&format!("SITE_{name}_DB_NAME")),
            db_user: self.var(&format!("SITE_{name}_DB_USER")),
            db_password: self.var(&format!("SITE_{name}_DB_PASSWORD")),
        }
    }

    pub fn ssh_port(&self) -> u16 {
        self.var("LAB_SSH_PORT").parse().unwrap()
    }

    /// The `defaults:` block reaching this lab's sshd.
    pub fn ssh_defaults(&self) -> String {
        format!(
            "defaults:\n  ssh: {{ user: {}, port: {}, identity_file: '{}', known_hosts_file: '{}' }}\n",
            self.var("LAB_USER"),
            self.ssh_port(),
            self.var("LAB_SSH_KEY"),
            self.var("LAB_KNOWN_HOSTS"),
        )
    }

    /// An inventory with `entries` (name, site root, url) on this lab's host.
    pub fn inventory(&self, entries: &[(&str, &Path, &str)]) -> String {
        let mut text = self.ssh_defaults();
        text.push_str("sites:\n");
        for (name, path, url) in entries {
            text.push_str(&format!(
                "  {name}:\n    host: 127.0.0.1\n    path: '{}'\n    url: {url}\n",
                path.display().to_string().replace('\'', "''")
            ));
        }
        text
    }

    /// Runs SQL as the lab's database root and returns the tab-separated rows.
    /// A 300,000-row table `table` in `database`, so that a dump or an import of the site
    /// takes long enough to be interrupted.
    pub fn add_bulk_table(&self, database: &str, table: &str) {
        self.sql(
            database,
            &format!("CREATE TABLE {table} (id INT PRIMARY KEY, pad VARCHAR(255)); INSERT INTO {table} SELECT seq, REPEAT(MD5(seq), 6) FROM seq_1_to_300000"),
        );
    }

    pub fn sql(&self, database: &str, query: &str) -> String {
        run_checked(
            Command::new("mariadb")
                .arg(format!(
                    "--defaults-file={}",
                    self.dir.join("mysql/root.cnf").display()
                ))
                .arg("--batch")
                .arg("--skip-column-names")
                .arg(database)
                .arg("-e")
                .arg(query),
            "mariadb",
        )
    }

    /// How many SSH logins the lab's sshd has accepted (its log is cleared at start).
    pub fn accepted_logins(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.join("ssh/sshd.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("Accepted publickey"))
            .count()
    }
}

/// Every entry under `root`: kind, mode and content hash (or link target), by relative path.
pub fn tree(root: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if skip
                .iter()
                .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
            {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let value = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                walk(root, &path, skip, out);
                format!("dir {mode:o}")
            } else {
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                format!("file {mode:o} {digest:x}")
            };
            out.insert(rel, value);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, skip, &mut out);
    out
}

/// The list of the site's tables, `CHECKSUM TABLE` of each, and for an options table a
/// digest of its rows but WordPress's own caches ([`options_state`]).
pub fn db_state(lab: &Lab, site: &LabSite) -> String {
    let tables = lab.sql(&site.db_name, "SHOW TABLES");
    let list: Vec<String> = tables
        .lines()
        .filter(|t| !t.ends_with("_options"))
        .map(|t| format!("`{t}`"))
        .collect();
    let checksums = if list.is_empty() {
        String::new()
    } else {
        lab.sql(
            &site.db_name,
            &format!("CHECKSUM TABLE {}", list.join(", ")),
        )
    };
    let options: Vec<String> = tables
        .lines()
        .filter(|t| t.ends_with("_options"))
        .map(|t| format!("{t}\t{}", options_state(lab, site, t)))
        .collect();
    format!("{tables}\n{checksums}\n{}", options.join("\n"))
}

/// Every row of an options table but the caches WordPress itself writes whenever it
/// serves a page (its transients, and the `cron` schedule it tops up on each request even
/// with WP-Cron disabled): the checks tend runs load pages, so those rows may change
/// between two reads of a site that nothing else touched. Every other option — the
/// address, `db_version`, a plugin's own settings — is compared exactly.
fn options_state(lab: &Lab, site: &LabSite, table: &str) -> String {
    lab.sql(
        &site.db_name,
        &format!(
            "SELECT COUNT(*), BIT_XOR(CAST(CONV(SUBSTR(MD5(CONCAT_WS(0x00, option_name, \
             option_value, autoload)), 1, 16), 16, 10) AS UNSIGNED)) FROM `{table}` \
             WHERE option_name NOT LIKE '\\_transient\\_%' \
             AND option_name NOT LIKE '\\_site\\_transient\\_%' AND option_name <> 'cron'"
        ),
    )
}

/// The packages built from Debian's newer release by `scripts/lab-packages.sh` (cached in
/// `target/`, built once).
pub fn packages() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo_root().join("target/lab-packages");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/lab-packages.sh"))
            .arg(&dir)
            .output()
            .expect("run lab-packages.sh");
        assert!(
            out.status.success(),
            "scripts/lab-packages.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// The zip in the packages folder whose name starts with `prefix`.
pub fn package(prefix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = walk(packages())
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "zip")
                && p.file_name().unwrap().to_string_lossy().starts_with(prefix)
        })
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no {prefix}* zip in {}", packages().display()))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The processes whose working directory is `dir` and whose program is `name`.
pub fn processes_in(dir: &Path, name: &str) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            (comm.trim() == name && cwd == dir).then_some(pid)
        })
        .collect()
}
