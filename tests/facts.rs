//! `tend facts` against real WordPress sites on the lab's sshd and MariaDB.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{tend, Lab};

fn json_facts(dir: &Path, inventory: &str, extra: &[&str]) -> (i32, Value, String) {
    std::fs::write(dir.join("inv.yml"), inventory).unwrap();
    let mut args = vec!["-i", "inv.yml", "--json"];
    args.extend_from_slice(extra);
    args.push("facts");
    let out = tend(dir, &args);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}\nstderr: {}",
            out.stdout, out.stderr
        )
    });
    (out.code, doc, out.stderr)
}

fn site<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

fn component<'a>(list: &'a Value, slug: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == slug)
        .unwrap_or_else(|| panic!("no {slug} in {list}"))
}

/// The value of a header line (`Version: 5.0.2`) in a file on disk, read independently of tend.
fn header(path: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| {
            l.trim_start_matches([' ', '*'])
                .strip_prefix(&format!("{name}:"))
        })
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} header in {}", path.display()))
}

#[test]
fn facts_report_exactly_what_is_on_disk_and_in_the_database() {
    let lab = Lab::shared();
    let wp = lab.add_site("factsite");
    let work = tempfile::tempdir().unwrap();
    let inventory = lab.inventory(&[("factsite", &wp.path, &wp.url)]);

    // What is there, read without tend.
    let version_php = std::fs::read_to_string(wp.path.join("wp-includes/version.php")).unwrap();
    assert!(
        version_php.contains("$wp_version = '6.1.9';"),
        "the lab runs Debian's WordPress 6.1.9"
    );
    let akismet_version = header(
        &wp.path.join("wp-content/plugins/akismet/akismet.php"),
        "Version",
    );
    let theme_version = header(
        &wp.path
            .join("wp-content/themes/twentytwentythree/style.css"),
        "Version",
    );
    let db_version = lab.sql(
        &wp.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'db_version'",
    );
    let active = lab.sql(
        &wp.db_name,
        "SELECT option_value FROM wp_options WHERE option_name = 'active_plugins'",
    );
    assert!(active.contains("akismet/akismet.php"), "{active}");

    let (code, doc, stderr) = json_facts(work.path(), &inventory, &[]);
    assert_eq!(code, 0, "{stderr}");
    let s = site(&doc, "factsite");
    assert_eq!(s["ok"], true);
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["cms"], "wordpress");
    assert_eq!(s["version"], "6.1.9");
    assert_eq!(s["db_version"], db_version.trim());
    assert!(s["php_version"].as_str().unwrap().starts_with("8."), "{s}");
    let akismet = component(&s["plugins"], "akismet");
    assert_eq!(akismet["version"], akismet_version.as_str());
    assert_eq!(akismet["active"], true);
    let tt3 = component(&s["themes"], "twentytwentythree");
    assert_eq!(tt3["version"], theme_version.as_str());
    assert_eq!(tt3["active"], true);
    assert!(
        !stderr.contains(&wp.db_password) && !doc.to_string().contains(&wp.db_password),
        "the database password never shows"
    );

    // Change what is installed and active, on disk and in the database.
    std::fs::write(
        wp.path.join("wp-content/plugins/hello-tend.php"),
        "<?php\n/*\n * Plugin Name: Hello Tend\n * Version: 1.2.3\n */\n",
    )
    .unwrap();
    let theme_dir = wp.path.join("wp-content/themes/tendtheme");
    std::fs::create_dir_all(&theme_dir).unwrap();
    std::fs::write(
        theme_dir.join("style.css"),
        "/*\nTheme Name: Tend Theme\nVersion: 2.0.1\n*/\n",
    )
    .unwrap();
    std::fs::write(theme_dir.join("index.php"), "<?php\n").unwrap();
    lab.sql(
        &wp.db_name,
        "UPDATE wp_options SET option_value = 'a:1:{i:0;s:14:\"hello-tend.php\";}' WHERE option_name = 'active_plugins'; \
         UPDATE wp_options SET option_value = 'tendtheme' WHERE option_name IN ('template', 'stylesheet');",
    );

    let (code, doc, stderr) = json_facts(work.path(), &inventory, &[]);
    assert_eq!(code, 0, "{stderr}");
    let s = site(&doc, "factsite");
    assert_eq!(component(&s["plugins"], "akismet")["active"], false);
    let hello = component(&s["plugins"], "hello-tend");
    assert_eq!(hello["version"], "1.2.3");
    assert_eq!(hello["active"], true);
    assert_eq!(
        component(&s["themes"], "twentytwentythree")["active"],
        false
    );
    let theme = component(&s["themes"], "tendtheme");
    assert_eq!(theme["version"], "2.0.1");
    assert_eq!(theme["active"], true);
}

#[test]
fn facts_as_a_table_for_people() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("inv.yml"),
        lab.inventory(&[("site1", &s1.path, &s1.url)]),
    )
    .unwrap();
    let out = tend(work.path(), &["-i", "inv.yml", "facts"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("site1  wordpress 6.1.9  db 53496  php 8."),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  plugin  akismet  "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("  theme   twentytwentythree  1.0      yes"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "no colour codes without a terminal"
    );
}

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_host_fails_only_its_sites() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    let mut inventory = lab.inventory(&[("good", &s1.path, &s1.url)]);
    inventory.push_str(&format!(
        "  gone:\n    host: 127.0.0.1\n    path: /var/www/gone\n    url: http://127.0.0.1:1\n    ssh: {{ port: {} }}\n  gone-too:\n    host: 127.0.0.1\n    path: /var/www/gone2\n    url: http://127.0.0.1:1\n    ssh: {{ port: {} }}\n",
        closed_port(),
        closed_port()
    ));
    let (code, doc, stderr) = json_facts(work.path(), &inventory, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(site(&doc, "good")["ok"], true);
    for name in ["gone", "gone-too"] {
        let s = site(&doc, name);
        assert_eq!(s["ok"], false);
        let error = s["error"].as_str().unwrap();
        assert!(error.starts_with("cannot reach "), "{error}");
        assert!(error.contains("Connection refused"), "{error}");
        assert_eq!(s["error_kind"], "unreachable");
    }
    assert!(stderr.contains("gone: failed: cannot reach"), "{stderr}");
}

#[test]
fn a_wrong_host_key_fails_that_site_and_says_so() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    // Key files in a directory with a space: ssh options must carry the path whole.
    let keys = work.path().join("keys dir");
    std::fs::create_dir(&keys).unwrap();
    // Another key in known_hosts for the lab's address: what a man in the middle looks like.
    let key = keys.join("other_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let other = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let fake_known = keys.join("known_hosts_wrong");
    std::fs::write(
        &fake_known,
        format!("[127.0.0.1]:{} {}", lab.ssh_port(), other),
    )
    .unwrap();
    let empty_known = keys.join("known_hosts_empty");
    std::fs::write(&empty_known, "").unwrap();

    let right_known = keys.join("known_hosts_right");
    std::fs::copy(lab.var("LAB_KNOWN_HOSTS"), &right_known).unwrap();
    let mut inventory = lab.inventory(&[("good", &s1.path, &s1.url)]);
    for (name, known) in [
        ("spoofed", &fake_known),
        ("stranger", &empty_known),
        ("spaced", &right_known),
    ] {
        inventory.push_str(&format!(
            "  {name}:\n    host: 127.0.0.1\n    path: '{}'\n    url: {}\n    ssh: {{ known_hosts_file: '{}' }}\n",
            s1.path.display(),
            s1.url,
            known.display()
        ));
    }
    let (code, doc, stderr) = json_facts(work.path(), &inventory, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(site(&doc, "good")["ok"], true);
    assert_eq!(
        site(&doc, "spaced")["ok"],
        true,
        "a known_hosts path with a space works"
    );
    let spoofed = site(&doc, "spoofed")["error"].as_str().unwrap().to_owned();
    assert!(
        spoofed.contains("host key verification failed"),
        "{spoofed}"
    );
    assert!(spoofed.contains("does not match the one in"), "{spoofed}");
    assert_eq!(site(&doc, "spoofed")["error_kind"], "host_key_mismatch");
    assert_eq!(site(&doc, "stranger")["error_kind"], "host_key_unknown");
    let stranger = site(&doc, "stranger")["error"].as_str().unwrap().to_owned();
    assert!(stranger.contains("is not in"), "{stranger}");
    // Strict checking never adds keys on its own.
    assert_eq!(std::fs::read_to_string(&empty_known).unwrap(), "");
}

#[test]
fn paths_with_shell_syntax_arrive_as_one_word() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let parent = tempfile::tempdir().unwrap();
    let weird = parent
        .path()
        .join("it's a \"site\"; touch PWNED; $(touch PWNED2) `touch PWNED3`");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&s1.path)
        .arg(&weird)
        .status()
        .unwrap();
    assert!(status.success());
    let work = tempfile::tempdir().unwrap();
    let (code, doc, stderr) = json_facts(
        work.path(),
        &lab.inventory(&[("weird", &weird, &s1.url)]),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(site(&doc, "weird")["version"], "6.1.9");
    let home = std::env::var("HOME").unwrap();
    for marker in ["PWNED", "PWNED2", "PWNED3"] {
        assert!(
            !Path::new(&home).join(marker).exists(),
            "{marker} was created: the path was run as shell code"
        );
        assert!(
            !weird.join(marker).exists(),
            "{marker} was created in the site"
        );
    }
}

#[test]
fn a_missing_site_root_is_a_clear_error() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    let missing = Path::new("/nonexistent/tend/site");
    let (code, doc, stderr) = json_facts(
        work.path(),
        &lab.inventory(&[("good", &s1.path, &s1.url), ("missing", missing, &s1.url)]),
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(site(&doc, "good")["ok"], true);
    let error = site(&doc, "missing")["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("the site root /nonexistent/tend/site does not exist"),
        "{error}"
    );
    assert_eq!(site(&doc, "missing")["error_kind"], "root_missing");
}

#[test]
fn a_configured_cms_that_is_not_there_is_refused() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let work = tempfile::tempdir().unwrap();
    let mut inventory = lab.inventory(&[("site1", &s1.path, &s1.url)]);
    inventory.push_str("    cms: joomla\n");
    let (code, doc, _) = json_facts(work.path(), &inventory, &[]);
    assert_eq!(code, 1);
    let error = site(&doc, "site1")["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("the inventory says joomla, but the files in"),
        "{error}"
    );
    assert_eq!(site(&doc, "site1")["error_kind"], "cms_not_found");
}

#[test]
fn a_wrong_database_password_fails_the_site_without_showing_it() {
    let lab = Lab::shared();
    let wp = lab.add_site("badpass");
    let config = wp.path.join("wp-config.php");
    let text = std::fs::read_to_string(&config).unwrap();
    let wrong = "Wr0ng-pass-for-the-test";
    std::fs::write(&config, text.replace(&wp.db_password, wrong)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let (code, doc, stderr) = json_facts(
        work.path(),
        &lab.inventory(&[("badpass", &wp.path, &wp.url)]),
        &["-v"],
    );
    assert_eq!(code, 1, "{stderr}");
    let error = site(&doc, "badpass")["error"].as_str().unwrap().to_owned();
    assert!(error.contains("the site's database"), "{error}");
    assert!(error.contains("Access denied"), "{error}");
    assert_eq!(site(&doc, "badpass")["error_kind"], "database");
    for shown in [&error, &stderr, &doc.to_string()] {
        assert!(!shown.contains(wrong), "the password shows: {shown}");
    }
}
