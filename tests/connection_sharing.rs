//! Fifty sites on one host cost one SSH connection: proven by the lab sshd's own log.
//! (A test binary of its own, so no other test's logins are counted.)

mod support;

use support::{tend, Lab};

#[test]
fn fifty_sites_on_one_host_share_one_ssh_connection() {
    let lab = Lab::start(2);
    let sites = [lab.site("site1"), lab.site("site2")];
    let names: Vec<String> = (1..=50).map(|i| format!("shop-{i:02}")).collect();
    let entries: Vec<(&str, &std::path::Path, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let s = &sites[i % 2];
            (name.as_str(), s.path.as_path(), s.url.as_str())
        })
        .collect();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("inv.yml"), lab.inventory(&entries)).unwrap();

    let before = lab.accepted_logins();
    let out = tend(
        work.path(),
        &["-i", "inv.yml", "-v", "-f", "10", "--json", "facts"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let results = doc["sites"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    assert!(
        results
            .iter()
            .all(|s| s["ok"] == true && s["version"] == "6.1.9"),
        "{doc}"
    );

    // Give sshd a moment to flush its log line.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        lab.accepted_logins() - before,
        1,
        "sshd accepted more than one login"
    );
    assert_eq!(
        out.stderr.matches("ssh: connected to").count(),
        1,
        "{}",
        out.stderr
    );
}
