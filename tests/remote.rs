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
use tend::remote::{Deadline, Endpoint, Pool, RemoteCommand, RemoteError};

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

/// The processes whose command line names `needle` (the ssh master names its control
/// socket), read from /proc.
fn processes_naming(needle: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| String::from_utf8_lossy(arg).contains(needle))
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_connection_whose_master_was_killed_is_opened_again_on_the_next_ask() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let echo = RemoteCommand::new("echo").arg("still here");
        let first = pool.connect(&endpoint(lab)).await.unwrap();
        first.run(&echo, None, 1024).await.unwrap();
        assert!(first.is_alive().await);

        let socket = first.control_socket().to_string_lossy().into_owned();
        let masters = processes_naming(&socket);
        assert_eq!(masters.len(), 1, "one master for {socket}: {masters:?}");
        let killed = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(masters[0].to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        while !processes_naming(&socket).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The connection held by a site is dead: its commands fail, as data.
        assert!(!first.is_alive().await);
        let err = first.run(&echo, None, 1024).await.unwrap_err();
        assert!(matches!(err, RemoteError::Transport { .. }), "{err}");

        // The next ask opens a new one; sites asking together still share one connection.
        let lab_endpoint = endpoint(lab);
        let asks = (0..10).map(|_| pool.connect(&lab_endpoint));
        let again: Vec<_> = futures::future::join_all(asks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(!Arc::ptr_eq(&first, &again[0]));
        assert!(again.iter().all(|c| Arc::ptr_eq(c, &again[0])));
        assert_eq!(pool.open_connections(), 2);
        let out = again[0].run(&echo, None, 1024).await.unwrap();
        assert_eq!(out.stdout_text(), "still here\n");
        drop((first, again));
        pool.shutdown().await;
    });
}

/// A TCP relay from a port of its own to the lab's sshd, counting the connections it took.
fn relay(listener: std::net::TcpListener, to: u16) -> Arc<std::sync::atomic::AtomicUsize> {
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    accepted
}

#[test]
fn a_failed_endpoint_is_tried_again_after_its_backoff_not_before() {
    let lab = Lab::shared();
    let work = tempfile::tempdir().unwrap();
    // A port where nothing listens yet; later, a relay to the lab's sshd listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The lab's host key, known under the relay's port.
    let known = std::fs::read_to_string(lab.var("LAB_KNOWN_HOSTS"))
        .unwrap()
        .replace(&format!("]:{} ", lab.ssh_port()), &format!("]:{port} "));
    let known_hosts = work.path().join("known_hosts");
    std::fs::write(&known_hosts, known).unwrap();
    let relayed = Endpoint {
        port: Some(port),
        known_hosts_file: Some(known_hosts),
        ..endpoint(lab)
    };
    let backoff = tend::remote::Backoff {
        first: Duration::from_secs(3),
        max: Duration::from_secs(3),
    };
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent))
            .unwrap()
            .with_backoff(backoff);
        // Sites asking while the host is down all get its failure.
        let asked_at = std::time::Instant::now();
        let asks = (0..5).map(|_| pool.connect(&relayed));
        let failures: Vec<RemoteError> = futures::future::join_all(asks)
            .await
            .into_iter()
            .map(Result::unwrap_err)
            .collect();
        assert!(
            matches!(
                &failures[0],
                RemoteError::Connect {
                    failure: tend::remote::ConnectFailure::Unreachable,
                    ..
                }
            ),
            "{}",
            failures[0]
        );
        assert!(failures.iter().all(|f| f == &failures[0]), "{failures:?}");

        // The host comes back; within the back-off the pool still answers with the failure,
        // without trying (the relay sees no connection).
        let accepted = relay(
            std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
            lab.ssh_port(),
        );
        let err = pool.connect(&relayed).await.unwrap_err();
        assert!(
            asked_at.elapsed() < backoff.first,
            "the machine is too slow for this test: the back-off passed before its check"
        );
        assert_eq!(err, failures[0]);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);

        // Once the back-off has passed, the next ask tries again, and gets through.
        tokio::time::sleep(backoff.first).await;
        let host = pool.connect(&relayed).await.unwrap();
        let out = host
            .run(&RemoteCommand::new("echo").arg("back"), None, 1024)
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "back\n");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(host);
        pool.shutdown().await;
    });
}

#[test]
fn a_stream_ends_with_the_remote_side_and_a_command_past_its_deadline_is_abandoned() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        // Input that never ends, to a command that reads ten bytes and exits: the call
        // ends with the command.
        let mut endless = tokio::io::repeat(b'x');
        let head = RemoteCommand::new("head").arg("-c").arg("10");
        let out = host
            .run_with_input(&head, &mut endless, 1024)
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "xxxxxxxxxx");

        // A command past its deadline is abandoned, as data; the connection stays usable.
        let sleep = RemoteCommand::new("sleep").arg("30");
        let err = host
            .run_within(&sleep, None, 1024, Deadline::Total(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::TimedOut { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("did not finish within its deadline of 1 s"),
            "{err}"
        );
        // A transfer that stalls (nothing read, nothing written) ends the same way.
        let stall = RemoteCommand::new("sleep").arg("30");
        let err = host
            .run_within(&stall, None, 1024, Deadline::Idle(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no data moved for 1 s"), "{err}");
        let echo = RemoteCommand::new("echo").arg("still here");
        let out = host.run(&echo, None, 1024).await.unwrap();
        assert_eq!(out.stdout_text(), "still here\n");
        pool.shutdown().await;
    });
}

#[test]
fn what_a_connection_left_running_on_the_host_is_found_and_waited_for() {
    let lab = Lab::shared();
    runtime().block_on(async {
        let first = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let second = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let a = first.connect(&endpoint(lab)).await.unwrap();
        let b = second.connect(&endpoint(lab)).await.unwrap();
        assert_ne!(a.tag(), b.tag());
        // A command of `a` that goes on after its channel closed, as one whose connection
        // was cut does.
        let orphan = RemoteCommand::script("nohup sleep 3 >/dev/null 2>&1 </dev/null &");
        a.run(&orphan, None, 1024).await.unwrap();
        assert!(
            !b.wait_for_processes_of(a.tag(), Duration::from_secs(1))
                .await
                .unwrap(),
            "still running after 1 s"
        );
        assert!(b
            .wait_for_processes_of(a.tag(), Duration::from_secs(60))
            .await
            .unwrap());
        // Nothing of `b` runs but the wait itself, which does not count.
        assert!(b
            .wait_for_processes_of(b.tag(), Duration::from_secs(5))
            .await
            .unwrap());
        drop((a, b));
        first.shutdown().await;
        second.shutdown().await;
    });
}
