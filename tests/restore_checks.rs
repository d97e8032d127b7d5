//! A restore is verified, and a restore onto another site takes its address throughout the
//! database: on real lab sites through the real binary.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{tend, Lab, LabSite};

fn write_inventory(work: &Path, lab: &Lab, sites: &[&LabSite], checks: &str) {
    let store = work.join("store");
    let entries: Vec<(&str, &Path, &str)> = sites
        .iter()
        .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
        .collect();
    let mut text = format!(
        "settings:\n  store: '{}'\n{}",
        store.display(),
        lab.inventory(&entries)
    );
    text.push_str(checks);
    std::fs::write(work.join("inv.yml"), text).unwrap();
}

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn backup(work: &Path, site: &str) -> String {
    let out = tend(work, &["-i", "inv.yml", "--json", "-l", site, "backup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn http_get(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_restore_whose_checks_fail_is_failed_and_names_the_snapshot_that_undoes_it() {
    let lab = Lab::shared();
    let wp = lab.add_site("verifyrestore");
    let work = tempfile::tempdir().unwrap();
    let old = backup_with_blogname(lab, &wp, work.path());
    // The site now says Marker-B, which its own check looks for; the snapshot does not.
    lab.sql(
        &wp.db_name,
        "UPDATE wp_options SET option_value = 'Marker-B' WHERE option_name = 'blogname'",
    );
    assert!(http_get(&wp.url).contains("Marker-B"));

    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "restore",
            &wp.name,
            "--snapshot",
            &old,
            "--yes",
        ],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let v = json(&out);
    assert_eq!(v["status"], "failed", "{v}");
    let before = v["safety_snapshot"].as_str().unwrap().to_owned();
    let undo = format!("tend restore {} --snapshot {before}", wp.name);
    assert_eq!(v["undo"], undo.as_str(), "{v}");
    assert!(v["error"].as_str().unwrap().contains(&undo), "{v}");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["ok"] == false), "{v}");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "home page" && c["ok"] == true),
        "{v}"
    );
    assert!(!http_get(&wp.url).contains("Marker-B"));

    // History holds the checks and the failure.
    let out = tend(work.path(), &["-i", "inv.yml", "--json", "history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&before), "{}", out.stdout);

    // The text says how to undo it, and doing so puts the site back.
    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "restore",
            &wp.name,
            "--snapshot",
            &before,
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(http_get(&wp.url).contains("Marker-B"));
}

fn backup_with_blogname(lab: &Lab, wp: &LabSite, work: &Path) -> String {
    write_inventory(
        work,
        lab,
        &[wp],
        "    checks:\n      - path: /\n        contains: ['Marker-B']\n",
    );
    backup(work, &wp.name)
}
