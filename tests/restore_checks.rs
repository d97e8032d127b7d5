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

/// PHP's own reading of a serialized value: what `var_dump(unserialize(...))` prints.
fn php_unserialize(value: &str) -> String {
    let out = std::process::Command::new("php")
        .args(["-r", "var_dump(unserialize($argv[1]));", "--", value])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_restore_onto_another_site_takes_its_address_throughout_the_database() {
    let lab = Lab::shared();
    let source = lab.add_site("urlsource");
    let copy = lab.add_site("urlcopy");
    let work = tempfile::tempdir().unwrap();
    write_inventory(work.path(), lab, &[&source, &copy], "");
    let (from, to) = (
        source.url.trim_end_matches('/'),
        copy.url.trim_end_matches('/'),
    );
    let link = format!("<a href=\"{from}/hello-world/\">It's ünïcode</a>");
    lab.sql(
        &source.db_name,
        &format!(
            "UPDATE wp_posts SET post_content = '{}' WHERE ID = 1",
            link.replace('\'', "''")
        ),
    );
    let text = format!("<a href=\"{from}/shop/\">Shop</a>");
    let widget = format!(
        "a:2:{{i:2;a:2:{{s:5:\"title\";s:4:\"Link\";s:4:\"text\";s:{}:\"{text}\";}}s:12:\"_multiwidget\";i:1;}}",
        text.len()
    );
    assert!(php_unserialize(&widget).contains(&format!("{from}/shop/")));
    lab.sql(
        &source.db_name,
        &format!(
            "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('widget_text', '{}', 'yes') ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)",
            widget.replace('\'', "''")
        ),
    );
    // As blocks and some plugins store it: JSON-escaped.
    let json_of = |url: &str| format!("{{\"url\":\"{}\\/x\"}}", url.replace('/', "\\/"));
    lab.sql(
        &source.db_name,
        &format!(
            "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (1, '_tend_json', '{}')",
            json_of(from).replace('\\', "\\\\")
        ),
    );
    backup(work.path(), &source.name);

    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "restore",
            &source.name,
            "--to",
            &copy.name,
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&out);
    assert_eq!(v["status"], "ok", "{v}");
    assert!(v["replaced"].as_u64().unwrap() >= 4, "{v}");

    let sql = |q: &str| lab.sql(&copy.db_name, q).trim().to_owned();
    assert_eq!(
        sql(&format!(
            "SELECT COUNT(*) FROM wp_posts WHERE guid LIKE '{from}%' OR post_content LIKE '%{from}%'"
        )),
        "0"
    );
    assert!(sql("SELECT guid FROM wp_posts WHERE ID = 1").starts_with(to));
    assert_eq!(
        sql("SELECT post_content FROM wp_posts WHERE ID = 1"),
        link.replace(from, to)
    );
    let widget = sql("SELECT option_value FROM wp_options WHERE option_name = 'widget_text'");
    assert!(widget.contains(&format!("{to}/shop/")), "{widget}");
    let read = php_unserialize(&widget);
    assert!(read.contains(&format!("{to}/shop/")), "{read}");
    assert!(!read.contains("bool(false)"), "{read}");
    assert_eq!(
        sql("SELECT meta_value FROM wp_postmeta WHERE meta_key = '_tend_json'")
            .replace("\\\\", "\\"),
        json_of(to)
    );
    // WordPress itself reads it at the new address, and production is untouched.
    assert!(http_get(to).contains(to));
    assert!(lab
        .sql(&source.db_name, "SELECT guid FROM wp_posts WHERE ID = 1")
        .starts_with(from));
}
