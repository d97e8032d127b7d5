//! Each kind of site error a user can provoke in the lab, through the real binary: its exit
//! status, its message and its `error_kind` in `--json` (what scripts decide on). The kinds
//! covered elsewhere with their own scenario: unreachable host, host key mismatch and
//! unknown host, missing site root, configured CMS not there, wrong database password
//! (`tests/facts.rs`), locked site (`tests/backup.rs`).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{tend, Lab};

fn facts(dir: &Path, inventory: &str) -> (i32, Value, String) {
    std::fs::write(dir.join("inv.yml"), inventory).unwrap();
    let out = tend(dir, &["-i", "inv.yml", "--json", "facts"]);
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, doc, out.stderr)
}

#[test]
fn a_key_the_host_refuses_fails_the_site_as_authentication_refused() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("not_authorized");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let mut inventory = lab.inventory(&[("good", &s1.path, &s1.url)]);
    inventory.push_str(&format!(
        "  refused:\n    host: 127.0.0.1\n    path: '{}'\n    url: {}\n    ssh: {{ identity_file: '{}' }}\n",
        s1.path.display(),
        s1.url,
        key.display()
    ));
    let (code, doc, stderr) = facts(work.path(), &inventory);
    assert_eq!(code, 1, "{stderr}");
    let sites = doc["sites"].as_array().unwrap();
    assert_eq!(sites[0]["ok"], true, "{doc}");
    let refused = &sites[1];
    assert_eq!(refused["error_kind"], "authentication_refused", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("refused the SSH key (permission denied)"),
        "{error}"
    );
    assert!(stderr.contains("refused: failed: "), "{stderr}");
}

#[test]
fn a_site_whose_configuration_is_gone_fails_as_config_unreadable() {
    let lab = Lab::shared();
    let wp = lab.add_site("noconfig");
    std::fs::remove_file(wp.path.join("wp-config.php")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let inventory = lab.inventory(&[("noconfig", &wp.path, &wp.url)]);
    let (code, doc, stderr) = facts(work.path(), &inventory);
    assert_eq!(code, 1, "{stderr}");
    let site = &doc["sites"][0];
    assert_eq!(site["error_kind"], "config_unreadable", "{site}");
    assert_eq!(
        site["error"],
        "wp-config.php: missing (looked in the root and one level above)"
    );
    // A backup of it fails the same way, at run time (exit 1), leaving no snapshot.
    let out = tend(work.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("noconfig: failed: wp-config.php: missing"),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_input_exits_2_and_a_store_that_cannot_be_read_exits_1() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("inv.yml"),
        format!(
            "settings:\n  store: '{}'\nsites:\n  blog:\n    host: 127.0.0.1\n    path: /srv/blog\n    url: http://127.0.0.1:1\n",
            work.path().join("store").display()
        ),
    )
    .unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "-l", "nosuch", "backup"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    // A file where the store's backups folder should be: reading it fails at run time.
    std::fs::create_dir_all(work.path().join("store")).unwrap();
    std::fs::write(work.path().join("store/backups"), "not a folder").unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "backups", "list"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: cannot read the store "),
        "{}",
        out.stderr
    );
}
