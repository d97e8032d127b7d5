//! `tend check` on good and bad input, through the real binary: every invalid input exits 2
//! with file:line:column, what was expected, and a hint where one helps.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tend(dir: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TEND_INVENTORY")
        .output()
        .expect("run tend");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = "\
groups:
  acme: { client: ACME Ltd }
defaults:
  ssh: { user: deploy }
sites:
  acme-blog:
    host: web1.example.com
    path: /var/www/acme
    url: https://acme.example.com
    groups: [acme]
  solo:
    host: web2.example.com
    path: /var/www/solo
    url: https://solo.example.com
";

/// Checks an inventory text and expects exit 2 with `location` and `message` in stderr.
fn expect_inventory_error(text: &str, location: &str, message: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", text);
    let out = tend(dir.path(), &["-i", "inv.yml", "check"]);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for an error: {}",
        out.stdout
    );
    assert!(
        out.stderr.starts_with("error: "),
        "rendered once, at the top: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("--> {location}\n")),
        "want {location} in:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(message),
        "want {message:?} in:\n{}",
        out.stderr
    );
    out.stderr
}

#[test]
fn a_good_inventory_and_the_shipped_playbooks_pass() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let monthly = root.join("playbooks/monthly-update.yml");
    let nightly = root.join("playbooks/nightly-backup.yml");
    let out = tend(
        dir.path(),
        &[
            "-i",
            "inv.yml",
            "check",
            monthly.to_str().unwrap(),
            nightly.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("inv.yml: ok, 2 site(s) in 1 group(s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"Monthly update cycle\""),
        "{}",
        out.stdout
    );
}

#[test]
fn the_example_inventory_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The example names ~/.ssh/id_ed25519 and ~/.ssh/known_hosts: a home that has them.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    write(&home.path().join(".ssh"), "id_ed25519", "key");
    write(&home.path().join(".ssh"), "known_hosts", "");
    let run = |home: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["-i", "inventory/example.yml", "--json", "check"])
            .current_dir(root)
            .env("NO_COLOR", "1")
            .env("HOME", home)
            .env_remove("TEND_INVENTORY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(home.path());
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["inventory"]["sites"], 3, "one site of each CMS");

    // Without them, each is an error pointing at `defaults:`, reported once.
    let empty = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(empty.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the identity_file `") && stderr.contains("id_ed25519` does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("known_hosts` does not exist"), "{stderr}");
    assert!(stderr.contains("--> inventory/example.yml:10:"), "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 2, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["error"]["more"].as_array().unwrap().len(), 1, "{doc}");
}

#[test]
fn yaml_syntax_error() {
    let err = expect_inventory_error(
        "sites:\n  blog:\n    host: x\n   path: /a\n",
        "inv.yml:4:4",
        "did not find expected key",
    );
    assert!(err.contains("hint: check the indentation"), "{err}");
}

#[test]
fn unknown_key_with_a_suggestion() {
    let err = expect_inventory_error(
        "sites:\n  blog:\n    hots: web1\n    path: /a\n    url: http://a\n",
        "inv.yml:3:5",
        "unknown key `hots`",
    );
    assert!(err.contains("hint: did you mean `host`?"), "{err}");
    assert!(
        err.contains("3 |     hots: web1\n  |     ^\n"),
        "shows the line with a caret: {err}"
    );
}

#[test]
fn unknown_key_in_settings_and_defaults() {
    expect_inventory_error(
        "settings:\n  froks: 3\n",
        "inv.yml:2:3",
        "unknown key `froks`",
    );
    expect_inventory_error(
        "defaults:\n  ssh: { usr: x }\n",
        "inv.yml:2:10",
        "unknown key `usr`",
    );
}

#[test]
fn wrong_type() {
    expect_inventory_error(
        "sites:\n  blog: {host: x, path: /a, url: \"http://a\", ssh: {port: abc}}\n",
        "inv.yml:2:58",
        "invalid type: string \"abc\", expected u16",
    );
    expect_inventory_error(
        "sites:\n  blog:\n    host: x\n    path: /a\n    url: http://a\n    groups: acme\n",
        "inv.yml:6:13",
        "invalid type: string \"acme\", expected a sequence",
    );
}

#[test]
fn missing_host_path_or_url() {
    let err = expect_inventory_error(
        "sites:\n  blog:\n    path: /a\n    url: http://a\n",
        "inv.yml:2:3",
        "site `blog` has no `host`",
    );
    assert!(err.contains("hint: add `host: "), "{err}");
    expect_inventory_error(
        "sites:\n  blog:\n    host: h\n    url: http://a\n",
        "inv.yml:2:3",
        "site `blog` has no `path`",
    );
    expect_inventory_error(
        "sites:\n  blog:\n    host: h\n    path: /a\n",
        "inv.yml:2:3",
        "site `blog` has no `url`",
    );
}

#[test]
fn host_from_defaults_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inv.yml",
        "defaults:\n  host: web1\nsites:\n  blog: { path: /a, url: http://a }\n",
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn site_in_an_undefined_group() {
    let err = expect_inventory_error(
        "groups:\n  acme: {}\nsites:\n  blog:\n    host: h\n    path: /a\n    url: http://a\n    groups: [acme, acne]\n",
        "inv.yml:8:20",
        "site `blog` is in group `acne`, which is not defined",
    );
    assert!(err.contains("hint: did you mean `acme`?"), "{err}");
}

#[test]
fn duplicate_site_points_at_the_second() {
    expect_inventory_error(
        "sites:\n  blog: { host: h, path: /a, url: http://a }\n  shop: { host: h, path: /b, url: http://b }\n  blog: { host: h, path: /c, url: http://c }\n",
        "inv.yml:4:3",
        "site `blog` is defined twice",
    );
}

#[test]
fn bad_values() {
    expect_inventory_error(
        "sites:\n  blog: { host: h, path: relative/dir, url: http://a }\n",
        "inv.yml:2:26",
        "`path` must be absolute",
    );
    expect_inventory_error(
        "sites:\n  blog: { host: h, path: /a, url: \"ftp://a\" }\n",
        "inv.yml:2:35",
        "`url` must be an http(s) URL",
    );
    expect_inventory_error(
        "settings:\n  sources: [wordpress.com]\n",
        "inv.yml:2:13",
        "invalid value: string \"wordpress.com\"",
    );
    expect_inventory_error(
        "sites:\n  blog: { host: h, path: /a, url: http://a, cms: drupal }\n",
        "inv.yml:2:50",
        "unknown value `drupal`",
    );
}

#[test]
fn missing_inventory_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = tend(dir.path(), &["check"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot read inventory inventory/inventory.yml"),
        "{}",
        out.stderr
    );
}

#[test]
fn inventory_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "elsewhere.yml", GOOD);
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("check")
        .current_dir(dir.path())
        .env("TEND_INVENTORY", "elsewhere.yml")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn invalid_limit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "-l", "solo,acme-blgo", "check"],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: `acme-blgo` is not a site or group in the inventory\n  --> --limit solo,acme-blgo\n                   ^^^^^^^^^\n  = hint: did you mean `acme-blog`?\n"
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "-l", "nothing-*", "check"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`nothing-*` matches no site or group"),
        "{}",
        out.stderr
    );
}

#[test]
fn unknown_playbook_step() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    write(
        dir.path(),
        "pb.yml",
        "name: x\nsteps:\n  - backup: {}\n  - updaet: {}\n",
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "check", "pb.yml"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--> pb.yml:4:5\n"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unknown value `updaet`, expected a step"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: did you mean `update`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn playbook_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    let cases = [
        (
            "name: x\nsteps:\n  - update: {}\n",
            "pb.yml:3:5",
            "no `backup` step comes before it",
        ),
        (
            "name: x\nhosts: [acme, globex]\nsteps:\n  - prune: {}\n",
            "pb.yml:2:8",
            "hosts: `globex` is not a site or group",
        ),
        (
            "name: x\nsteps:\n  - update: { core: minr }\n  - backup: {}\non_failure: stop\n",
            "pb.yml:3:21",
            "unknown value `minr`",
        ),
        (
            "name: x\nsteps:\n  - maintenance: maybe\n",
            "pb.yml:3:18",
            "expected `on` or `off`",
        ),
        (
            "name: x\nstep:\n  - prune: {}\n",
            "pb.yml:2:1",
            "unknown key `step`",
        ),
        (
            "name: x\non_failure: retry\nsteps:\n  - prune: {}\n",
            "pb.yml:2:13",
            "unknown value `retry`",
        ),
    ];
    for (text, location, message) in cases {
        write(dir.path(), "pb.yml", text);
        let out = tend(dir.path(), &["-i", "inv.yml", "check", "pb.yml"]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("--> {location}\n")),
            "{text}: want {location}:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(message),
            "{text}: want {message:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn without_rollback_a_playbook_may_skip_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    write(
        dir.path(),
        "pb.yml",
        "name: x\non_failure: stop\nsteps:\n  - update: { plugins: [akismet] }\n",
    );
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "-l", "acme", "check", "pb.yml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("update on 1 site(s)"), "{}", out.stdout);
}

#[test]
fn with_json_an_input_error_is_still_a_json_document_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inv.yml",
        "sites:\n  a: { host: h.example, path: /x, url: https://a.example, groups: [nope] }\n",
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "--json", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let error = &doc["error"];
    assert_eq!(
        error["message"],
        "site `a` is in group `nope`, which is not defined"
    );
    assert!(
        error["file"].as_str().unwrap().ends_with("inv.yml"),
        "{doc}"
    );
    assert_eq!(error["line"], 2);
    assert_eq!(error["column"], 68);
    assert!(error["hint"].as_str().unwrap().contains("groups:"), "{doc}");
    // The usual rendering on stderr as well.
    assert!(out.stderr.contains("--> inv.yml:2:68"), "{}", out.stderr);

    // A bad flag value too, and a missing inventory.
    let out = tend(dir.path(), &["-i", "inv.yml", "--json", "-l", "", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert!(doc["error"]["message"].is_string(), "{doc}");
    let out = tend(dir.path(), &["-i", "missing.yml", "--json", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert!(doc["error"]["message"].is_string(), "{doc}");
}

/// Runs tend as cron does: stdout and stderr into one log file (`>>log 2>&1`).
fn tend_logged(dir: &Path, args: &[&str]) -> (i32, String) {
    let log = std::fs::File::create(dir.join("log")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TEND_INVENTORY")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .expect("run tend");
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(dir.join("log")).unwrap(),
    )
}

/// Cron's view (no terminal in tests): one line per site on stderr with its outcome and
/// time, each failure once in the log, and the step-by-step lines only with `-v`.
#[test]
fn without_a_terminal_each_site_is_one_line_and_a_failure_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inv.yml",
        &format!(
            "settings: {{ store: {} }}\nsites:\n  a: {{ host: 127.0.0.1, path: /x, url: https://a.example, ssh: {{ port: 1 }} }}\n  b: {{ host: 127.0.0.1, path: /x, url: https://b.example, ssh: {{ port: 1 }} }}\n",
            dir.path().join("store").display()
        ),
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line per site: {}", out.stderr);
    for site in ["a", "b"] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{site}: failed")))
            .unwrap_or_else(|| panic!("no line for {site}: {}", out.stderr));
        assert!(line.ends_with(" s)"), "{line}");
    }
    assert!(!out.stderr.contains("connect\n"), "{}", out.stderr);

    // Into one log, as from cron: each failure once.
    let (code, log) = tend_logged(dir.path(), &["-i", "inv.yml", "backup"]);
    assert_eq!(code, 1, "{log}");
    assert_eq!(
        log.matches("Connection refused").count(),
        2,
        "each failure once: {log}"
    );
    assert!(log.contains("a: failed ("), "{log}");

    let out = tend(dir.path(), &["-i", "inv.yml", "-v", "backup"]);
    assert!(out.stderr.contains("a: connect"), "{}", out.stderr);
    let out = tend(dir.path(), &["-i", "inv.yml", "-q", "backup"]);
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
}

#[test]
fn every_error_of_the_inventory_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inv.yml",
        "\
groups:
  acme: {}
sites:
  a:
    host: h.example
    path: relative/path
    url: https://a.example
    groups: [acne]
  b:
    host: h.example
    url: ftp://b.example
  c:
    host: h.example
    path: /c
    url: https://c.example
    ssh: { identity_file: /nonexistent/key }
    checks: [{ path: no-slash }]
",
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for (location, message) in [
        ("inv.yml:6:11", "`path` must be absolute"),
        ("inv.yml:8:14", "group `acne`, which is not defined"),
        ("inv.yml:9:3", "site `b` has no `path`"),
        ("inv.yml:11:10", "`url` must be an http(s) URL"),
        ("inv.yml:17:22", "a check's `path` must start with `/`"),
    ] {
        assert!(
            out.stderr.contains(&format!("--> {location}")),
            "no {location}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
    }
    assert!(out.stderr.contains("5 errors"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("error: ").count(), 5, "{}", out.stderr);

    // Once those are fixed, the missing key is found (it needs a valid inventory).
    write(
        dir.path(),
        "inv.yml",
        "sites:\n  c:\n    host: h.example\n    path: /c\n    url: https://c.example\n    ssh: { identity_file: /nonexistent/key }\n",
    );
    let out = tend(dir.path(), &["-i", "inv.yml", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("site `c`: the identity_file `/nonexistent/key` does not exist"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--> inv.yml:6:27"), "{}", out.stderr);
}

#[test]
fn every_error_of_each_playbook_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inv.yml", GOOD);
    write(
        dir.path(),
        "one.yml",
        "name: x\nforks: 0\nhosts: [acme, globex]\nsteps:\n  - update: {}\n  - verify: { checks: [{ path: nope }] }\n",
    );
    write(dir.path(), "two.yml", "name: y\nsteps: []\n");
    let out = tend(
        dir.path(),
        &["-i", "inv.yml", "check", "one.yml", "two.yml"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    for (location, message) in [
        ("one.yml:2:8", "`forks` must be at least 1"),
        ("one.yml:3:8", "`globex` is not a site or group"),
        ("one.yml:6:32", "a check's `path` must start with `/`"),
        ("one.yml:5:5", "no `backup` step comes before it"),
        ("two.yml:2:8", "the playbook has no steps"),
    ] {
        assert!(
            out.stderr.contains(&format!("--> {location}")),
            "no {location}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
    }
    assert!(out.stderr.contains("5 errors"), "{}", out.stderr);
}

#[test]
fn a_command_line_clap_refuses_is_json_too_under_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = tend(dir.path(), &["--json", "backup", "--nosuch"]);
    assert_eq!(out.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", out.stdout));
    assert_eq!(
        doc["error"]["message"], "unexpected argument '--nosuch' found",
        "{doc}"
    );
    assert!(out.stderr.contains("Usage: tend backup"), "{}", out.stderr);
    // Without --json, stdout stays empty.
    let out = tend(dir.path(), &["backup", "--nosuch"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
}
