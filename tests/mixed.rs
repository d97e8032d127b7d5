//! One inventory with a WordPress, a Joomla and a Magento site runs the repository's own
//! nightly and monthly playbooks end to end. WordPress is real; Joomla and Magento are
//! fixture sites with stand-ins for their command-line tools (see `tests/joomla.rs` and
//! `tests/magento.rs`).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{package, repo_root, tend, Lab};

fn json(out: &support::Outcome) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

#[test]
fn stand_in_mixed_inventory_runs_the_nightly_and_monthly_playbooks() {
    let lab = Lab::shared();
    let wordpress = lab.add_site("mixed_wp");
    let joomla = lab.add_fixture_site("lab-joomla.sh", "mixed_joomla", &[]);
    let magento =
        lab.add_fixture_site("lab-magento.sh", "mixed_magento", &["--mode", "production"]);
    let core = repo_root().join("tests/fixtures/joomla/packages/core-5.1.3");
    std::fs::create_dir_all(joomla.path.join(".standin")).unwrap();
    std::fs::write(
        joomla.path.join(".standin/updates.json"),
        format!(
            "{{\"core\": {{\"version\": \"5.1.3\", \"files\": \"{}\"}}}}",
            core.display()
        ),
    )
    .unwrap();

    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join("plugins")).unwrap();
    std::fs::copy(
        package("akismet."),
        repo.join("plugins")
            .join(package("akismet.").file_name().unwrap()),
    )
    .unwrap();
    let out = tend(work.path(), &["repo", "index", repo.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let site = |name: &str, path: &Path, url: &str, extra: &str| {
        format!(
            "  {name}:\n    host: 127.0.0.1\n    path: '{}'\n    url: {url}\n{extra}",
            path.display()
        )
    };
    let inventory = format!(
        "settings:\n  store: '{}'\n  sources:\n    - repository: '{}'\n{}sites:\n{}{}{}",
        work.path().join("store").display(),
        repo.display(),
        lab.ssh_defaults(),
        site(
            &wordpress.name,
            &wordpress.path,
            &wordpress.url,
            "    cms: wordpress\n"
        ),
        site(&joomla.name, &joomla.path, &joomla.url, "    cms: joomla\n"),
        site(
            &magento.name,
            &magento.path,
            &magento.url,
            &format!(
                "    cms: magento\n    composer: '{}'\n",
                lab.var("SITE_mixed_magento_COMPOSER")
            )
        ),
    );
    std::fs::write(work.path().join("inv.yml"), inventory).unwrap();
    let playbooks = repo_root().join("playbooks");

    let nightly = playbooks.join("nightly-backup.yml");
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "--json", "run", nightly.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for s in json(&out)["sites"].as_array().unwrap() {
        assert_eq!(s["status"], "ok", "{s}");
        assert!(s["snapshot"].is_string(), "{s}");
    }

    let monthly = playbooks.join("monthly-update.yml");
    let out = tend(
        work.path(),
        &[
            "-i",
            "inv.yml",
            "--json",
            "run",
            monthly.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let result = json(&out);
    let by_site = |name: &str| {
        result["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == name)
            .unwrap()
            .clone()
    };
    let changed = |name: &str| -> Vec<String> {
        by_site(name)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["slug"].as_str().unwrap(),
                    c["to"].as_str().unwrap()
                )
            })
            .collect()
    };
    for name in ["mixed_wp", "mixed_joomla", "mixed_magento"] {
        assert_eq!(by_site(name)["status"], "ok", "{}", by_site(name));
    }
    assert!(changed("mixed_wp").contains(&"akismet 5.5".to_owned()));
    assert_eq!(changed("mixed_joomla"), vec!["joomla 5.1.3"]);
    assert_eq!(
        changed("mixed_magento"),
        vec!["magento 2.4.8", "acme/module-tendtest 1.1.0"]
    );

    let facts = json(&tend(work.path(), &["-i", "inv.yml", "--json", "facts"]));
    let versions: Vec<(String, String)> = facts["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["cms"].as_str().unwrap().to_owned(),
                s["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        versions.contains(&("joomla".into(), "5.1.3".into())),
        "{versions:?}"
    );
    assert!(
        versions.contains(&("magento".into(), "2.4.8".into())),
        "{versions:?}"
    );
}
