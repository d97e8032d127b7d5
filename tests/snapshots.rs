//! Naming snapshots with `--snapshot` (id prefix, label, `latest`) through the real binary
//! on the lab.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{tend, Lab};

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn snapshots(work: &Path, site: &str) -> Vec<Value> {
    let out = tend(
        work,
        &["-i", "inv.yml", "--json", "backups", "list", "--site", site],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out)["snapshots"].as_array().unwrap().clone()
}

fn restore(work: &Path, site: &str, extra: &[&str]) -> support::Outcome {
    let mut args = vec!["-i", "inv.yml", "--json", "restore", site, "--yes"];
    args.extend_from_slice(extra);
    tend(work, &args)
}

#[test]
fn snapshots_are_named_by_prefix_label_and_latest() {
    let lab = Lab::shared();
    let wp = lab.add_site("naming");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let text = format!(
        "settings:\n  store: '{}'\n{}",
        store.display(),
        lab.inventory(&[(wp.name.as_str(), wp.path.as_path(), wp.url.as_str())])
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();

    let out = tend(
        work.path(),
        &["-i", "inv.yml", "backup", "--label", "nightly"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let nightly = snapshots(work.path(), "naming")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // A database-only restore by label leaves a newer, database-only pre-restore snapshot.
    let out = restore(
        work.path(),
        "naming",
        &["--db-only", "--snapshot", "nightly"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["snapshot"], nightly.as_str());
    let list = snapshots(work.path(), "naming");
    assert_eq!(list.len(), 2, "{list:?}");
    let newest = list.last().unwrap();
    assert_eq!(newest["label"], "pre-restore");
    assert_eq!(newest["files"], false);
    let pre_restore = newest["id"].as_str().unwrap().to_owned();

    // `latest` for a full restore skips it: it holds no files.
    let out = restore(work.path(), "naming", &["--snapshot", "latest"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["snapshot"], nightly.as_str());

    // A prefix that names one snapshot (the time part of the id).
    let prefix = &pre_restore[..pre_restore.find('Z').unwrap() + 1];
    let out = restore(work.path(), "naming", &["--db-only", "--snapshot", prefix]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["snapshot"], pre_restore.as_str());

    // A prefix shared by several is an input error listing them; nothing is restored.
    let out = restore(work.path(), "naming", &["--snapshot", "2026"]);
    let shared = &nightly[..4];
    let out = if shared == "2026" {
        out
    } else {
        restore(work.path(), "naming", &["--snapshot", shared])
    };
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(&nightly), "{}", out.stderr);
    assert!(out.stderr.contains(&pre_restore), "{}", out.stderr);
    assert!(out.stderr.contains("--snapshot"), "{}", out.stderr);

    // An unknown name says what exists.
    let out = restore(work.path(), "naming", &["--snapshot", "weekly"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains(&nightly), "{}", out.stderr);

    // A file restore of the database-only snapshot, named exactly, is refused.
    let out = restore(
        work.path(),
        "naming",
        &["--files-only", "--snapshot", &pre_restore],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("database only"), "{}", out.stderr);
}

#[test]
fn a_site_with_an_unfinished_run_is_not_backed_up() {
    let lab = Lab::shared();
    let wp = lab.add_site("halfdone");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let text = format!(
        "settings:\n  store: '{}'\n{}",
        store.display(),
        lab.inventory(&[(wp.name.as_str(), wp.path.as_path(), wp.url.as_str())])
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();

    // What a run killed mid-update leaves: its journal at the site root, the site in
    // maintenance mode.
    let journal = serde_json::json!({
        "tend_version": "0.1.0", "run": "20261130T031500Z-dead", "started": "2026-11-30T03:15:00Z",
        "owner": "runner pid 4242 (tend run)", "site": "halfdone",
        "root": wp.path.display().to_string(), "snapshot": null,
        "maintenance": ".maintenance", "swaps": [], "database_changed": true, "kept": false
    });
    std::fs::create_dir_all(wp.path.join(".tend")).unwrap();
    std::fs::write(wp.path.join(".tend/journal.json"), journal.to_string()).unwrap();
    std::fs::write(
        wp.path.join(".maintenance"),
        "<?php $upgrading = time(); ?>",
    )
    .unwrap();

    let out = tend(work.path(), &["-i", "inv.yml", "--json", "backup"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    let site = &result["sites"][0];
    assert_eq!(site["ok"], false, "{result}");
    assert!(site["snapshot"].is_null(), "{result}");
    assert_eq!(site["error_kind"], "unfinished_work", "{result}");
    let error = site["error"].to_string();
    assert!(error.contains("tend recover halfdone"), "{error}");
    assert!(error.contains("20261130T031500Z-dead"), "{error}");
    assert!(snapshots(work.path(), "halfdone").is_empty());
}

fn backup(work: &Path, label: &str) -> String {
    let out = tend(
        work,
        &["-i", "inv.yml", "--json", "backup", "--label", label],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out)["sites"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn prune_never_removes_what_recover_needs_nor_the_newest_sound_full_snapshot() {
    let lab = Lab::shared();
    let wp = lab.add_site("pruned");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let text = format!(
        "settings:\n  store: '{}'\n  retention: {{ nightly: {{ keep_last: 1 }}, default: {{ keep_last: 1 }} }}\n{}",
        store.display(),
        lab.inventory(&[(wp.name.as_str(), wp.path.as_path(), wp.url.as_str())])
    );
    std::fs::write(work.path().join("inv.yml"), text).unwrap();
    let oldest = backup(work.path(), "nightly");
    let sound = backup(work.path(), "nightly");
    let broken = backup(work.path(), "nightly");
    let other = backup(work.path(), "manual");

    // The newest nightly is damaged.
    let part = store
        .join("backups/pruned")
        .join(&broken)
        .join("database.sql.zst");
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&part, bytes).unwrap();

    // An unfinished run needs the oldest one for `tend recover`.
    let journal = serde_json::json!({
        "tend_version": "0.1.0", "run": "20261130T031500Z-dead", "started": "2026-11-30T03:15:00Z",
        "owner": "runner pid 4242 (tend run)", "site": "pruned",
        "root": wp.path.display().to_string(), "snapshot": oldest,
        "maintenance": null, "swaps": [], "database_changed": true, "kept": false
    });
    std::fs::create_dir_all(wp.path.join(".tend")).unwrap();
    std::fs::write(wp.path.join(".tend/journal.json"), journal.to_string()).unwrap();

    let out = tend(
        work.path(),
        &["-i", "inv.yml", "backups", "prune", "--dry-run"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("needed by an unfinished run"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("damaged {broken}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("remove  {broken}")),
        "{}",
        out.stdout
    );
    assert_eq!(
        snapshots(work.path(), "pruned").len(),
        4,
        "a dry run removes nothing"
    );

    let out = tend(
        work.path(),
        &["-i", "inv.yml", "--json", "backups", "prune"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc = json(&out);
    let site = &doc["sites"][0];
    assert_eq!(site["removed"], serde_json::json!([broken]), "{doc}");
    let kept = site["kept"].to_string();
    assert!(kept.contains("needed by an unfinished run"), "{doc}");
    let mut left: Vec<String> = snapshots(work.path(), "pruned")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    left.sort();
    assert_eq!(left, [oldest, sound, other]);

    // A host that cannot be asked about unfinished runs keeps everything of its site, even
    // what the rules would remove (the older `manual` one, once the run is recovered).
    std::fs::remove_file(wp.path.join(".tend/journal.json")).unwrap();
    backup(work.path(), "manual");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let inventory = work.path().join("inv.yml");
    let text = std::fs::read_to_string(&inventory).unwrap().replace(
        &format!("port: {},", lab.ssh_port()),
        &format!("port: {port},"),
    );
    std::fs::write(&inventory, text).unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("keeps everything: could not ask"),
        "{}",
        out.stdout
    );
    assert_eq!(snapshots(work.path(), "pruned").len(), 4);
}
