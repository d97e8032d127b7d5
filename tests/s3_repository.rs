//! Snapshots in a repository on an S3-compatible object store (SeaweedFS started by the
//! harness on loopback), through the real binary on the lab: backup, restore
//! byte-identical, Debian's `restic` reading what tend wrote, the credentials never shown,
//! and the object store going away in the middle of a backup.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::repository::{json, noise};
use support::s3::S3Server;
use support::{db_state, tend_env, tree, Lab, LabSite, Outcome};

const PASSWORD: &str = "correct horse battery staple";

struct Work {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Work {
    /// An inventory with `sites` whose repository is `location` on `server`.
    fn new(lab: &Lab, server: &S3Server, location: &str, sites: &[&LabSite]) -> Work {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("repo.pass");
        std::fs::write(&pass, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let entries: Vec<(&str, &Path, &str)> = sites
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
            .collect();
        let text = format!(
            "settings:\n  store: '{}'\n  repository:\n    location: '{location}'\n    password_file: '{}'\n    s3: {{ access_key_id: \"${{TEST_S3_KEY}}\", secret_access_key: \"${{TEST_S3_SECRET}}\" }}\n{}",
            dir.path().join("store").display(),
            pass.display(),
            lab.inventory(&entries)
        );
        std::fs::write(dir.path().join("inv.yml"), text).unwrap();
        Work {
            dir,
            env: vec![
                ("TEST_S3_KEY".into(), server.access_key.clone()),
                ("TEST_S3_SECRET".into(), server.secret_key.clone()),
            ],
        }
    }

    fn tend(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["-i", "inv.yml"];
        full.extend_from_slice(args);
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        tend_env(self.dir.path(), &full, &env)
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["-i", "inv.yml"])
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("TEND_INVENTORY")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Debian's restic on `location` of `server`.
fn restic(server: &S3Server, location: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("restic")
        .arg("--repo")
        .arg(location)
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("AWS_ACCESS_KEY_ID", &server.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret_key)
        .env("RESTIC_CACHE_DIR", server.dir.join("restic-cache"))
        .output()
        .expect("run restic (scripts/install-deps.sh installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The database as `db_state` sees it, but `wp_options` compared row by row without what
/// WordPress's own cron rewrites whenever the site is visited (the restore's check visits it).
fn stable_db(lab: &Lab, site: &LabSite) -> String {
    let checksums: Vec<String> = db_state(lab, site)
        .lines()
        .filter(|line| !line.contains(".wp_options\t"))
        .map(str::to_owned)
        .collect();
    format!(
        "{}\n{}",
        checksums.join("\n"),
        lab.sql(
            &site.db_name,
            "SELECT option_name, option_value FROM wp_options \
             WHERE option_name <> 'cron' AND option_name NOT LIKE '%transient%' ORDER BY option_name"
        )
    )
}

fn assert_secret_hidden(server: &S3Server, out: &Outcome) {
    assert!(
        !out.stdout.contains(&server.secret_key) && !out.stderr.contains(&server.secret_key),
        "the S3 secret was shown:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_site_backed_up_to_s3_restores_byte_identical_and_restic_reads_it() {
    let lab = Lab::shared();
    let site = lab.add_site("s3_round");
    let server = S3Server::start("tend-round");
    let location = server.location("agency/tend");
    let work = Work::new(lab, &server, &location, &[&site]);

    let out = work.tend(&["backups", "init"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_secret_hidden(&server, &out);

    let before = (tree(&site.path, &[]), stable_db(lab, &site));
    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_secret_hidden(&server, &out);
    let result = json(&out);
    assert_eq!(result["sites"][0]["ok"], true, "{result}");

    // Debian's restic sees the snapshot (the site as its host) and finds the repository sound.
    let (ok, listed) = restic(&server, &location, &["snapshots", "--json"]);
    assert!(ok, "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["hostname"], "s3_round");
    let (ok, checked) = restic(&server, &location, &["check", "--read-data"]);
    assert!(ok, "{checked}");

    // The site changes, and the snapshot puts it back.
    std::fs::write(site.path.join("index.php"), "<?php // broken\n").unwrap();
    std::fs::write(site.path.join("stray.txt"), "not in the snapshot\n").unwrap();
    lab.sql(
        &site.db_name,
        "UPDATE wp_options SET option_value = 'x' WHERE option_name = 'blogname'",
    );
    let out = work.tend(&["--json", "restore", "s3_round", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_secret_hidden(&server, &out);
    assert_eq!(
        tree(&site.path, &[]),
        before.0,
        "files differ after restore"
    );
    assert_eq!(
        stable_db(lab, &site),
        before.1,
        "database differs after restore"
    );
}

#[test]
fn a_wrong_s3_secret_is_an_error_that_does_not_show_it() {
    let lab = Lab::shared();
    let site = lab.site("site1");
    let server = S3Server::start("tend-wrong");
    let location = server.location("tend");
    let mut work = Work::new(lab, &server, &location, &[&site]);
    let wrong = "not-the-secret-0123456789";
    work.env[1].1 = wrong.to_owned();
    let out = work.tend(&["backups", "init"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
        "{}",
        out.stderr
    );
}

/// The object store killed while a backup uploads: no snapshot appears, the repository
/// stays sound for restic once the store is back, and the next backup succeeds.
#[test]
fn the_object_store_going_away_mid_upload_leaves_no_snapshot_and_a_sound_repository() {
    let lab = Lab::shared();
    let site = lab.add_site("s3_cut");
    // Enough incompressible data that the upload takes a while.
    let media = site.path.join("wp-content/uploads/media");
    std::fs::create_dir_all(&media).unwrap();
    for i in 0..12 {
        let seed = 0x9e37_79b9_7f4a_7c15 ^ i;
        std::fs::write(media.join(format!("photo-{i}.jpg")), noise(4 << 20, seed)).unwrap();
    }
    let mut server = S3Server::start("tend-cut");
    let location = server.location("tend");
    let work = Work::new(lab, &server, &location, &[&site]);
    let out = work.tend(&["backups", "init"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let mut child = work.spawn(&["--json", "backup"]);
    // Once the first data pack is in the store, the store goes away.
    let packs = |server: &S3Server| -> usize {
        let (ok, out) = restic(server, &location, &["list", "packs"]);
        if ok {
            out.lines().filter(|l| l.len() == 64).count()
        } else {
            0
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while packs(&server) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before any pack was uploaded"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no pack within 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.kill();
    let output = child.wait_with_output().unwrap();
    let out = Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["sites"][0]["ok"], false, "{}", out.stdout);

    server.restart();
    let (ok, listed) = restic(&server, &location, &["snapshots", "--json"]);
    assert!(ok, "{listed}");
    // stdout (the JSON) comes first; restic's retries while the store warms up follow.
    assert_eq!(
        listed.lines().next(),
        Some("[]"),
        "an interrupted backup left a snapshot: {listed}"
    );
    // The failed backup could not remove its lock from the store that was gone: restic
    // checks without taking one (tend's next backup sees the lock's process is gone).
    let (ok, checked) = restic(&server, &location, &["check", "--no-lock"]);
    assert!(ok, "{checked}");

    let out = work.tend(&["--json", "backup"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let (ok, checked) = restic(&server, &location, &["check", "--no-lock", "--read-data"]);
    assert!(ok, "{checked}");
    let (_, listed) = restic(&server, &location, &["snapshots", "--json"]);
    let listed: Value = serde_json::from_str(listed.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
