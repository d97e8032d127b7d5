//! `tend history` and the recording of runs through the real binary, without a lab: a
//! store whose history cannot be written warns and changes nothing else, bad flags are
//! input errors with their place, and commands that need no host (prune) are recorded.

mod support;

use std::path::Path;

use support::tend;

fn write_inventory(dir: &Path) {
    let text = format!(
        "settings:\n  store: '{}'\nsites:\n  blog:\n    host: 127.0.0.1\n    path: /var/www/blog\n    url: http://127.0.0.1:1\n",
        dir.join("store").display()
    );
    std::fs::write(dir.join("inv.yml"), text).unwrap();
}

#[test]
fn an_empty_history_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write_inventory(dir.path());
    let out = tend(dir.path(), &["-i", "inv.yml", "history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "no runs recorded\n");
    let out = tend(dir.path(), &["-i", "inv.yml", "--json", "history"]);
    assert_eq!(out.stdout.trim(), r#"{"runs":[]}"#);
}

#[test]
fn a_prune_is_recorded_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    write_inventory(dir.path());
    let out = tend(dir.path(), &["-i", "inv.yml", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A dry run changes nothing and leaves no record.
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "backups", "prune", "--dry-run"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = tend(dir.path(), &["-i", "inv.yml", "--json", "history"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc}");
    assert_eq!(runs[0]["command"], "prune");
    assert_eq!(runs[0]["exit_status"], 0);
    assert_eq!(runs[0]["targets"], serde_json::json!(["blog"]));
    assert_eq!(runs[0]["sites"][0]["status"], "ok");
    let month = &runs[0]["started"].as_str().unwrap()[..7];
    let file = dir.path().join(format!("store/history/runs-{month}.jsonl"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(file).unwrap().permissions());
    assert_eq!(
        mode & 0o777,
        0o600,
        "the history is readable by its owner only"
    );
}

#[test]
fn a_history_that_cannot_be_written_is_a_warning_and_the_command_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_inventory(dir.path());
    // A file where the history folder should be: no history can be written (even as root).
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    std::fs::write(dir.path().join("store/history"), "not a folder").unwrap();
    let out = tend(dir.path(), &["-i", "inv.yml", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("blog: keeps 0"), "{}", out.stdout);
    assert!(
        out.stderr.contains("warning: cannot write the run history"),
        "{}",
        out.stderr
    );
    // Reading it is the command's whole job: there it is an error, of the run (exit 1), not
    // of the input (exit 2).
    let out = tend(dir.path(), &["-i", "inv.yml", "history"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read the run history"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_flags_are_input_errors_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    write_inventory(dir.path());
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "history", "--since", "yesterday"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("error: `yesterday` is not a date"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--since yesterday"), "{}", out.stderr);
    assert!(out.stderr.contains("YYYY-MM-DD"), "{}", out.stderr);
    let out = tend(dir.path(), &["-i", "inv.yml", "history", "--site", "blgo"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `blog`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn limit_selects_the_sites_whose_records_history_shows() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "settings:\n  store: '{}'\nsites:\n  blog:\n    host: 127.0.0.1\n    path: /var/www/blog\n    url: http://127.0.0.1:1\n  shop:\n    host: 127.0.0.1\n    path: /var/www/shop\n    url: http://127.0.0.1:1\n",
        dir.path().join("store").display()
    );
    std::fs::write(dir.path().join("inv.yml"), text).unwrap();
    let out = tend(dir.path(), &["-i", "inv.yml", "backups", "prune"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "-l", "shop", "--json", "history"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let run = &doc["runs"][0];
    assert_eq!(run["targets"], serde_json::json!(["shop"]), "{doc}");
    let sites: Vec<&str> = run["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["shop"], "{doc}");
    // Given after the command, too.
    let after = tend(
        dir.path(),
        &["-i", "inv.yml", "--json", "history", "-l", "shop"],
    );
    assert_eq!(after.stdout, out.stdout);
}
