//! `tend repo index` on a folder of real-format zips, through the real binary.

use std::io::Write;
use std::process::Command;

fn zip_with(path: &std::path::Path, files: &[(&str, &str)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, content) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn repo_index_reads_headers_and_writes_checksums() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    zip_with(
        &dir.path().join("plugins/agency-forms.1.4.zip"),
        &[(
            "agency-forms/agency-forms.php",
            "<?php\n/**\n * Plugin Name: Agency Forms\n * Version: 1.4\n */\n",
        )],
    );
    zip_with(
        &dir.path().join("themes/agency.2.0.1.zip"),
        &[
            (
                "agency/style.css",
                "/*\nTheme Name: Agency\nVersion: 2.0.1\n*/\n",
            ),
            ("agency/index.php", "<?php\n"),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["--json", "repo", "index"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let packages = index["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2);
    assert_eq!(packages[0]["slug"], "agency-forms");
    assert_eq!(packages[0]["type"], "plugin");
    assert_eq!(packages[0]["version"], "1.4");
    assert_eq!(packages[0]["url"], "plugins/agency-forms.1.4.zip");
    assert_eq!(packages[1]["type"], "theme");
    assert_eq!(packages[1]["version"], "2.0.1");
    let sha = std::process::Command::new("sha256sum")
        .arg(dir.path().join("themes/agency.2.0.1.zip"))
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(packages[1]["sha256"], sha.as_str());

    // A zip that is no CMS package is refused with its name.
    zip_with(
        &dir.path().join("plugins/junk.zip"),
        &[("junk/readme.txt", "hello")],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["repo", "index"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plugins/junk.zip"));
}

/// Issue 14, item 4: `tend repo index` writes each package's `released` — the zip's
/// modification time, or `--released` for packages new to the index — and keeps a date
/// once written while the file stays the same.
#[test]
fn repo_index_writes_release_dates_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    let forms = dir.path().join("plugins/agency-forms.1.4.zip");
    zip_with(
        &forms,
        &[(
            "agency-forms/agency-forms.php",
            "<?php\n/**\n * Plugin Name: Agency Forms\n * Version: 1.4\n */\n",
        )],
    );
    // The zip was put here on 2026-11-02 10:00 UTC.
    let put = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_793_613_600);
    std::fs::File::options()
        .write(true)
        .open(&forms)
        .unwrap()
        .set_modified(put)
        .unwrap();
    let index = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(["repo", "index"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        (index, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (first, text) = index(&[]);
    assert_eq!(first["packages"][0]["released"], "2026-11-02T10:00:00Z");
    assert!(text.contains("2026-11-02"), "{text}");

    // A new package takes `--released`; the first keeps its date.
    zip_with(
        &dir.path().join("plugins/agency-seo.2.0.zip"),
        &[(
            "agency-seo/agency-seo.php",
            "<?php\n/**\n * Plugin Name: Agency SEO\n * Version: 2.0\n */\n",
        )],
    );
    let (second, _) = index(&["--released", "2026-11-28"]);
    let released = |index: &serde_json::Value, slug: &str| {
        index["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["slug"] == slug)
            .unwrap()["released"]
            .clone()
    };
    assert_eq!(released(&second, "agency-forms"), "2026-11-02T10:00:00Z");
    assert_eq!(released(&second, "agency-seo"), "2026-11-28T00:00:00Z");

    // A package whose file changed is dated anew.
    zip_with(
        &forms,
        &[(
            "agency-forms/agency-forms.php",
            "<?php\n/**\n * Plugin Name: Agency Forms\n * Version: 1.4\n * Description: rebuilt\n */\n",
        )],
    );
    let (third, _) = index(&["--released", "2026-11-29T12:30:00+02:00"]);
    assert_eq!(released(&third, "agency-forms"), "2026-11-29T10:30:00Z");
    assert_eq!(released(&third, "agency-seo"), "2026-11-28T00:00:00Z");

    // A date that is not RFC 3339 is refused, naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["repo", "index"])
        .arg(dir.path())
        .args(["--released", "29/11/2026"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--released") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
}
