//! The S3 server the repository tests stand on: SeaweedFS started by the harness on
//! loopback, checked here with Debian's restic so that a failure in tend's S3 tests is
//! never the server's.

mod support;

use std::process::Command;

use support::s3::S3Server;

fn restic(server: &S3Server, location: &str, args: &[&str], secret: &str) -> (bool, String) {
    let out = Command::new("restic")
        .arg("--repo")
        .arg(location)
        .args(args)
        .env("RESTIC_PASSWORD", "test password")
        .env("AWS_ACCESS_KEY_ID", &server.access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("RESTIC_CACHE_DIR", server.dir.join("restic-cache"))
        .output()
        .expect("run restic (scripts/install-deps.sh installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn seaweedfs_serves_a_restic_repository_checks_credentials_and_keeps_data_across_a_restart() {
    let mut server = S3Server::start("tend-smoke");
    let location = server.location("sites/repo");
    let secret = server.secret_key.clone();

    let (ok, out) = restic(&server, &location, &["init"], &secret);
    assert!(ok, "{out}");
    let data = server.dir.join("file.txt");
    std::fs::write(&data, "a file kept in S3\n").unwrap();
    let (ok, out) = restic(
        &server,
        &location,
        &["backup", data.to_str().unwrap()],
        &secret,
    );
    assert!(ok, "{out}");

    // The identity is checked: a wrong secret is refused.
    let (ok, out) = restic(&server, &location, &["snapshots"], "not the secret");
    assert!(!ok, "a wrong secret was accepted: {out}");

    // Killed and back on the same ports: what it held is still there and sound.
    server.restart();
    let (ok, out) = restic(&server, &location, &["check", "--read-data"], &secret);
    assert!(ok, "{out}");
    let (ok, out) = restic(
        &server,
        &location,
        &["dump", "latest", data.to_str().unwrap()],
        &secret,
    );
    assert!(ok, "{out}");
    assert_eq!(out, "a file kept in S3\n");
}
