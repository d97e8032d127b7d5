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
