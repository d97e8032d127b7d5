//! The remote layer on its own, against the lab's real sshd: quoting, streaming, failures
//! and the cap on channels per connection.

mod support;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use support::Lab;
use tend::events::Silent;
use tend::remote::{Endpoint, Pool, RemoteCommand, RemoteError};

fn endpoint(lab: &Lab) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        user: Some(lab.var("LAB_USER")),
        port: Some(lab.ssh_port()),
        identity_file: Some(PathBuf::from(lab.var("LAB_SSH_KEY"))),
        known_hosts_file: Some(PathBuf::from(lab.var("LAB_KNOWN_HOSTS"))),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn arguments_with_shell_syntax_round_trip_unchanged() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        for word in [
            "a b  c",
            "it's",
            "\"double\" quotes",
            "$(touch /tmp/tend-pwned) `id` ${HOME}",
            "a; rm -rf /nonexistent; echo",
            "*?[glob]",
            "new\nline",
            "back\\slash",
            "",
        ] {
            let cmd = RemoteCommand::new("printf").arg("%s").arg(word);
            let out = host.run(&cmd, None, 1024).await.unwrap();
            assert_eq!(out.stdout_text(), word, "{}", cmd.as_str());
        }
        assert!(!std::path::Path::new("/tmp/tend-pwned").exists());
        pool.shutdown().await;
    });
}

/// Counts bytes without keeping them: what a backup's writer to disk looks like.
struct Counter(u64);

impl tokio::io::AsyncWrite for Counter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0 += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn output_is_streamed_and_stdin_is_fed() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        let size: u64 = 256 * 1024 * 1024;
        let cmd = RemoteCommand::new("head")
            .arg("-c")
            .arg(size.to_string())
            .arg("/dev/zero");
        let mut sink = Counter(0);
        let (written, _) = host.stream_to(&cmd, None, &mut sink).await.unwrap();
        assert_eq!(written, size);
        assert_eq!(sink.0, size);

        let input = b"line one\nline two\n".repeat(1000);
        let out = host
            .run(&RemoteCommand::new("wc").arg("-c"), Some(&input), 1024)
            .await
            .unwrap();
        assert_eq!(out.stdout_text().trim(), input.len().to_string());

        // Collected output is capped: a runaway command can't fill the runner's memory.
        let err = host.run(&cmd, None, 1024 * 1024).await.unwrap_err();
        assert!(matches!(err, RemoteError::OutputTooLarge { .. }), "{err}");
        pool.shutdown().await;
    });
}

#[test]
fn a_failed_command_reports_host_command_status_and_stderr_tail() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        let script = "for i in $(seq 1 50); do echo \"noise $i\" >&2; done; echo 'the real reason' >&2; exit 7";
        let cmd = RemoteCommand::new("sh").arg("-c").arg(script);
        let err = host.run(&cmd, None, 1024).await.unwrap_err();
        match &err {
            RemoteError::CommandFailed { status, stderr_tail, .. } => {
                assert_eq!(*status, Some(7));
                assert!(stderr_tail.ends_with("the real reason"), "{stderr_tail}");
                assert!(!stderr_tail.contains("noise 10\n"), "only the tail is kept: {stderr_tail}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        let destination = format!("command on {}@127.0.0.1:{} failed (exit status 7): sh -c", lab.var("LAB_USER"), lab.ssh_port());
        assert!(text.starts_with(&destination), "{text}");
        assert!(text.contains("stderr: "), "{text}");
        pool.shutdown().await;
    });
}

#[test]
fn channels_per_connection_are_capped() {
    let lab = Lab::shared();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap().to_owned();
    runtime().block_on(async {
        let cap = 3;
        let pool = Pool::new(Duration::from_secs(10), cap, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        // Each command marks itself present, records how many are present, waits, leaves.
        let script = "d=$1; touch \"$d/running.$2\"; ls \"$d\" | grep -c '^running' >> \"$d/seen\"; sleep 0.3; rm \"$d/running.$2\"";
        let runs = (0..12).map(|i| {
            let host = host.clone();
            let cmd = RemoteCommand::new("sh").arg("-c").arg(script).arg("sh").arg(&dir).arg(i.to_string());
            async move { host.run(&cmd, None, 1024).await }
        });
        for result in futures::future::join_all(runs).await {
            result.unwrap();
        }
        pool.shutdown().await;
    });
    let seen = std::fs::read_to_string(work.path().join("seen")).unwrap();
    let counts: Vec<usize> = seen.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 12);
    assert!(
        counts.iter().all(|&c| c <= 3),
        "more than 3 at once: {counts:?}"
    );
    assert!(
        counts.contains(&3),
        "the cap is used, not just respected: {counts:?}"
    );
}

#[test]
fn wordpress_options_through_php_for_hosts_without_a_mysql_client() {
    use tend::cms::wordpress::{parse::parse_wp_config, read_options_with_php};
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let inventory_text = lab.inventory(&[("site1", &s1.path, &s1.url)]);
    let source =
        tend::yaml_source::YamlSource::from_text(std::path::Path::new("inv.yml"), &inventory_text);
    let inventory = tend::inventory::Inventory::from_source(&source).unwrap();
    let site = &inventory.sites["site1"];
    let config = std::fs::read_to_string(s1.path.join("wp-config.php")).unwrap();
    let db = parse_wp_config(&config).unwrap();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        let options = read_options_with_php(&host, site, &db).await.unwrap();
        assert_eq!(options.active_plugins, ["akismet/akismet.php"]);
        assert_eq!(options.stylesheet.as_deref(), Some("twentytwentythree"));
        assert_eq!(options.db_version.as_deref(), Some("53496"));
        pool.shutdown().await;
    });
}
