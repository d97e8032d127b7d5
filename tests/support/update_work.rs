//! What the update tests (`tests/update.rs`, `tests/faults_update.rs`) share: a folder with
//! its private package repository, store and inventory; the monthly playbook; and a plugin
//! of the tests' own whose version 2.0 fatals on every front-end request.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{tend, Lab, LabSite, Outcome};

pub const MONTHLY: &str = "name: Monthly update cycle\nhosts: all\nsteps:\n  - backup: { label: pre-update }\n  - maintenance: on\n  - update: { core: minor, plugins: all, themes: all }\n  - maintenance: off\n  - verify:\n      checks:\n        - { path: /, status: 200, contains: ['<title>'] }\n";

pub const FATAL_TEST_V1: &str = "<?php\n/*\n * Plugin Name: tend fatal test\n * Version: 1.0\n * Description: A plugin whose next version breaks every front-end page.\n */\nadd_action('wp_footer', function () { echo '<!-- tend-fatal-test 1.0 -->'; });\n";
pub const FATAL_TEST_V2: &str = "<?php\n/*\n * Plugin Name: tend fatal test\n * Version: 2.0\n */\nadd_action('wp', function () { tend_fatal_test_this_function_does_not_exist(); });\n";

/// A 2.0 of the fatal test plugin whose first request migrates the database — a table of
/// its own, an option of its own and a row it does not own changed — before it fatals.
pub const FATAL_MIGRATING_V2: &str = "<?php\n/*\n * Plugin Name: tend fatal test\n * Version: 2.0\n */\nadd_action('init', function () {\n    global $wpdb;\n    if (get_option('tend_fatal_test_schema') !== '2') {\n        $wpdb->query(\"CREATE TABLE IF NOT EXISTS {$wpdb->prefix}tend_fatal_test_log (id INT PRIMARY KEY)\");\n        $wpdb->query(\"UPDATE {$wpdb->options} SET option_value = 'migrated by tend fatal test' WHERE option_name = 'blogdescription'\");\n        update_option('tend_fatal_test_schema', '2');\n    }\n});\nadd_action('wp', function () { tend_fatal_test_this_function_does_not_exist(); });\n";

/// A version of the fatal test plugin that works, saying `version` in its header.
pub fn fatal_test_good(version: &str) -> String {
    format!("<?php\n/*\n * Plugin Name: tend fatal test\n * Version: {version}\n */\nadd_action('wp_footer', function () {{ echo '<!-- tend-fatal-test {version} -->'; }});\n")
}

/// A zip of `files` (path inside the zip, content).
pub fn zip_of(path: &Path, files: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// A folder for one test: its repository, store and inventory.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        let repo = self.path().join("repo");
        std::fs::create_dir_all(repo.join("plugins")).unwrap();
        repo
    }

    /// Copies `zip` into the repository (under `sub`).
    pub fn add_package(&self, zip: &Path, sub: &str) {
        let target = self.repo().join(sub).join(zip.file_name().unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(zip, target).unwrap();
    }

    /// Indexes the repository with `tend repo index`.
    pub fn index(&self) {
        let repo = self.repo();
        let out = tend(self.path(), &["repo", "index", repo.to_str().unwrap()]);
        assert_eq!(out.code, 0, "repo index: {}", out.stderr);
    }

    /// `inv.yml`: the store and the repository here, `sites` on the lab's host.
    pub fn inventory(&self, lab: &Lab, sites: &[&LabSite], extra_settings: &str) {
        let entries: Vec<(&str, &Path, &str)> = sites
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_path(), s.url.as_str()))
            .collect();
        let text = format!(
            "settings:\n  store: '{}'\n  sources:\n    - repository: '{}'\n{extra_settings}{}",
            self.path().join("store").display(),
            self.repo().display(),
            lab.inventory(&entries)
        );
        std::fs::write(self.path().join("inv.yml"), text).unwrap();
    }

    pub fn playbook(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path().join(name), text).unwrap();
        name.to_owned()
    }

    /// tend with `-i inv.yml` in this folder.
    pub fn tend(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["-i", "inv.yml"];
        all.extend_from_slice(args);
        tend(self.path(), &all)
    }
}

pub fn json(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

/// Installs tend-fatal-test 1.0 on `site` and activates it next to Akismet.
pub fn install_fatal_test_plugin(lab: &Lab, site: &LabSite) {
    let dir = site.path.join("wp-content/plugins/tend-fatal-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tend-fatal-test.php"), FATAL_TEST_V1).unwrap();
    let active =
        "a:2:{i:0;s:19:\"akismet/akismet.php\";i:1;s:35:\"tend-fatal-test/tend-fatal-test.php\";}";
    lab.sql(
        &site.db_name,
        &format!(
            "UPDATE wp_options SET option_value = '{}' WHERE option_name = 'active_plugins'",
            active.replace('\'', "''")
        ),
    );
}

/// The 2.0 package of tend-fatal-test, in the work folder.
pub fn fatal_test_zip(work: &Work) -> PathBuf {
    let zip = work.path().join("tend-fatal-test.2.0.zip");
    zip_of(
        &zip,
        &[("tend-fatal-test/tend-fatal-test.php", FATAL_TEST_V2)],
    );
    zip
}

/// A package of tend-fatal-test named for `version` holding `content`, in the work folder.
pub fn fatal_test_zip_of(work: &Work, version: &str, content: &str) -> PathBuf {
    let zip = work.path().join(format!("tend-fatal-test.{version}.zip"));
    zip_of(&zip, &[("tend-fatal-test/tend-fatal-test.php", content)]);
    zip
}
