//! `settings.notify` end to end: the real binary, a local HTTP server standing in for a chat
//! webhook and a local SMTP listener standing in for the mail server, both written here on
//! std TCP so that the test sees exactly what tend sends.
//!
//! The failing site is unreachable (its SSH port is closed), so most of these tests need no
//! lab; one runs the nightly playbook over a real lab site and an unreachable one.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use support::{tend_env, Outcome};

const HOOK_TOKEN: &str = "T0K3N/hook-abcdef123456";
const SMTP_PASSWORD: &str = "smtp-Pa55-word-xyz";

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[derive(Debug, Clone)]
struct Request {
    path: String,
    body: String,
}

/// An HTTP server answering its n-th request with `statuses[n]` (200 once they run out).
fn http_server(statuses: &[u16]) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let statuses = statuses.to_vec();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            log.lock().unwrap().push(Request {
                path: request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let status = statuses.get(n).copied().unwrap_or(200);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, received)
}

/// A minimal SMTP server (greeting, EHLO with AUTH, AUTH, MAIL, RCPT, DATA, QUIT) keeping
/// the transcript of each session.
fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    smtp_server_answering_rcpt("250 ok\r\n")
}

/// The SMTP server, answering `RCPT TO` with `rcpt`.
fn smtp_server_answering_rcpt(rcpt: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let log = sessions.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut transcript = String::new();
            let _ = write!(stream, "220 test.invalid ESMTP\r\n");
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                transcript.push_str(&line);
                let command = line.to_ascii_uppercase();
                let answer = if command.starts_with("EHLO") {
                    "250-test.invalid\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
                } else if command.starts_with("AUTH") {
                    "235 2.7.0 accepted\r\n"
                } else if command.starts_with("DATA") {
                    let _ = write!(stream, "354 go ahead\r\n");
                    loop {
                        let mut data = String::new();
                        if reader.read_line(&mut data).unwrap_or(0) == 0 || data == ".\r\n" {
                            break;
                        }
                        transcript.push_str(&data);
                    }
                    "250 2.0.0 queued\r\n"
                } else if command.starts_with("RCPT") {
                    rcpt
                } else if command.starts_with("QUIT") {
                    let _ = write!(stream, "221 bye\r\n");
                    break;
                } else {
                    "250 ok\r\n"
                };
                let _ = stream.write_all(answer.as_bytes());
            }
            log.lock().unwrap().push(transcript);
        }
    });
    (port, sessions)
}

/// The inventory of one unreachable site, with `notify` as `settings.notify`.
fn write_inventory(dir: &Path, notify: &str) {
    let inventory = format!(
        "settings:\n  store: '{}'\n  connect_timeout: 5\n  notify:\n{notify}sites:\n  gone:\n    host: 127.0.0.1\n    path: /var/www/gone\n    url: http://127.0.0.1:1\n    ssh: {{ port: {} }}\n",
        dir.join("store").display(),
        closed_port()
    );
    std::fs::write(dir.join("inv.yml"), inventory).unwrap();
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![("HOOK_TOKEN", HOOK_TOKEN), ("SMTP_PASSWORD", SMTP_PASSWORD)]
}

fn assert_no_secrets(out: &Outcome) {
    for secret in [HOOK_TOKEN, "abcdef123456", SMTP_PASSWORD] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} shown:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

/// Decodes RFC 2047 `=?utf-8?b?…?=` words (what lettre makes of a non-ASCII subject).
fn decode_header(value: &str) -> String {
    fn base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes().filter(|&c| c != b'=') {
            let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
                continue;
            };
            bits = (bits << 6) | v as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }
    value
        .split_whitespace()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            match lower
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
            {
                Some(_) => String::from_utf8_lossy(&base64(&word[10..word.len() - 2])).into_owned(),
                None => format!(" {word} "),
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `Subject:` header of a transcript, unfolded and decoded.
fn subject(transcript: &str) -> String {
    let mut value = String::new();
    let mut in_subject = false;
    for line in transcript.lines() {
        if let Some(v) = line.strip_prefix("Subject: ") {
            value.push_str(v);
            in_subject = true;
        } else if in_subject && line.starts_with([' ', '\t']) {
            value.push_str(line);
        } else if in_subject {
            break;
        }
    }
    decode_header(&value)
}

#[test]
fn a_failing_nightly_run_sends_a_webhook_and_an_email() {
    let work = tempfile::tempdir().unwrap();
    // The webhook's first attempt gets a 500: delivery must try again.
    let (http_port, requests) = http_server(&[500]);
    let (smtp_port, mails) = smtp_server();
    let dead = closed_port();
    write_inventory(
        work.path(),
        &format!(
            "    - webhook: http://127.0.0.1:{http_port}/services/${{HOOK_TOKEN}}\n      on: [failure]\n    - email:\n        to: [ops@agency.example]\n        from: tend@agency.example\n        smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none, user: tend, password: \"${{SMTP_PASSWORD}}\" }}\n      on: [failure, rollback, success]\n    - webhook: http://127.0.0.1:{dead}/services/${{HOOK_TOKEN}}\n"
        ),
    );
    let nightly = support::repo_root().join("playbooks/nightly-backup.yml");
    let out = tend_env(
        work.path(),
        &["-q", "-i", "inv.yml", "run", nightly.to_str().unwrap()],
        &env(),
    );
    // The site's failure decides the exit status; the dead notifier does not change it.
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);

    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one 500, then delivered: {requests:?}");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[1].path, format!("/services/{HOOK_TOKEN}"));
    let doc: serde_json::Value = serde_json::from_str(&requests[1].body).unwrap();
    let text = doc["text"].as_str().unwrap();
    assert!(
        text.starts_with("tend: Nightly backup — 1 of 1 site failed"),
        "{text}"
    );
    assert!(text.contains("FAILED gone: cannot reach"), "{text}");
    assert_eq!(doc["command"], "run");
    assert_eq!(doc["playbook"], "Nightly backup");
    assert_eq!(doc["exit_status"], 1);
    assert_eq!(doc["events"], serde_json::json!(["failure"]));
    assert_eq!(doc["sites"][0]["site"], "gone");
    assert_eq!(doc["sites"][0]["status"], "failed");
    assert!(doc["runner"].as_str().unwrap().contains('@'));

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("AUTH PLAIN"), "{mail}");
    assert!(mail.contains("MAIL FROM:<tend@agency.example>"), "{mail}");
    assert!(mail.contains("RCPT TO:<ops@agency.example>"), "{mail}");
    assert_eq!(
        subject(mail),
        "tend: Nightly backup — 1 of 1 site failed",
        "{mail}"
    );
    assert!(mail.contains("FAILED gone: cannot reach"), "{mail}");

    // Every failed attempt is logged, even with -q; the dead notifier is named by its host only.
    assert!(
        out.stderr
            .contains("failed (attempt 1 of 3): answered HTTP 500"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "warning: notification: could not notify webhook http://127.0.0.1:{dead} after 3 attempts"
        )),
        "{}",
        out.stderr
    );
    assert_no_secrets(&out);
}

#[test]
fn notifiers_are_sent_only_the_events_they_ask_for() {
    let work = tempfile::tempdir().unwrap();
    let (http_port, requests) = http_server(&[]);
    let (smtp_port, mails) = smtp_server();
    write_inventory(
        work.path(),
        &format!(
            "    - webhook: http://127.0.0.1:{http_port}/x\n      on: [success]\n    - email: {{ to: [ops@agency.example], from: tend@agency.example, smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none }} }}\n      on: [rollback]\n"
        ),
    );
    let out = tend_env(
        work.path(),
        &["-i", "inv.yml", "backup", "--label", "nightly"],
        &[],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(requests.lock().unwrap().is_empty());
    assert!(mails.lock().unwrap().is_empty());
    assert!(!out.stderr.contains("notif"), "{}", out.stderr);

    // A command that succeeds (prune, which needs no connection) is a `success`.
    let out = tend_env(work.path(), &["-i", "inv.yml", "backups", "prune"], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let doc: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(doc["events"], serde_json::json!(["success"]));
    assert_eq!(doc["command"], "prune");
    assert_eq!(doc["subject"], "tend: prune — 1 site ok");
    assert!(mails.lock().unwrap().is_empty());
    assert!(
        out.stderr
            .contains(&format!("notified webhook http://127.0.0.1:{http_port}")),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unset_variable_is_an_input_error_naming_it() {
    let work = tempfile::tempdir().unwrap();
    write_inventory(
        work.path(),
        "    - webhook: https://hooks.example/services/${TEND_TEST_NEVER_SET}\n",
    );
    let out = tend_env(work.path(), &["-i", "inv.yml", "check"], &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("environment variable TEND_TEST_NEVER_SET is not set"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("inv.yml:5:16"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: export it"), "{}", out.stderr);

    // Set, it is taken, and `check` never shows it.
    let out = tend_env(
        work.path(),
        &["-i", "inv.yml", "check"],
        &[("TEND_TEST_NEVER_SET", HOOK_TOKEN)],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_no_secrets(&out);
}

#[test]
fn a_lab_nightly_run_with_one_site_down_notifies_and_records_both_sites() {
    let lab = support::Lab::shared();
    let site = lab.add_site("notify_ok");
    let work = tempfile::tempdir().unwrap();
    let (http_port, requests) = http_server(&[]);
    let (smtp_port, mails) = smtp_server();
    let inventory = format!(
        "settings:\n  store: '{}'\n  connect_timeout: 5\n  notify:\n    - webhook: http://127.0.0.1:{http_port}/services/${{HOOK_TOKEN}}\n    - email:\n        to: [ops@agency.example]\n        from: tend@agency.example\n        smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none, user: tend, password: \"${{SMTP_PASSWORD}}\" }}\n{}  down:\n    host: 127.0.0.1\n    path: /var/www/down\n    url: http://127.0.0.1:1\n    ssh: {{ port: {} }}\n",
        work.path().join("store").display(),
        lab.inventory(&[(site.name.as_str(), site.path.as_path(), site.url.as_str())]),
        closed_port()
    );
    std::fs::write(work.path().join("inv.yml"), inventory).unwrap();
    let nightly = support::repo_root().join("playbooks/nightly-backup.yml");
    let out = tend_env(
        work.path(),
        &["-q", "-i", "inv.yml", "run", nightly.to_str().unwrap()],
        &env(),
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_no_secrets(&out);

    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let doc: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    let text = doc["text"].as_str().unwrap();
    assert!(
        text.starts_with("tend: Nightly backup — 1 of 2 sites failed"),
        "{text}"
    );
    assert!(text.contains("FAILED down: cannot reach"), "{text}");
    let statuses: Vec<(&str, &str)> = doc["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["site"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("notify_ok", "ok")), "{statuses:?}");
    assert!(statuses.contains(&("down", "failed")), "{statuses:?}");

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        subject(&mails[0]),
        "tend: Nightly backup — 1 of 2 sites failed"
    );
    assert!(
        mails[0].contains("FAILED down: cannot reach"),
        "{}",
        mails[0]
    );

    // The run is in the history with the snapshot of the site that was backed up.
    let out = tend_env(work.path(), &["--json", "-i", "inv.yml", "history"], &env());
    let history: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let run = &history["runs"][0];
    assert_eq!(run["exit_status"], 1);
    let ok = run["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == "notify_ok")
        .unwrap();
    assert_eq!(ok["snapshots"][0]["label"], "nightly");
}

#[test]
fn a_4xx_webhook_or_a_5xx_smtp_reply_is_tried_once_a_503_three_times() {
    let work = tempfile::tempdir().unwrap();
    // The hook was deleted: the same answer every time.
    let (gone_port, gone) = http_server(&[404, 404, 404]);
    // The chat server is overloaded: worth trying again, then given up on.
    let (busy_port, busy) = http_server(&[503, 503, 503]);
    // 429 asks to come back later: tried again, delivered the second time.
    let (slow_port, slow) = http_server(&[429]);
    // The mail server has no such mailbox (a permanent 5xx reply).
    let (smtp_port, mails) = smtp_server_answering_rcpt("550 5.1.1 no such user\r\n");
    write_inventory(
        work.path(),
        &format!(
            "    - webhook: http://127.0.0.1:{gone_port}/services/${{HOOK_TOKEN}}\n      on: [success]\n    - webhook: http://127.0.0.1:{busy_port}/busy\n      on: [success]\n    - webhook: http://127.0.0.1:{slow_port}/slow\n      on: [success]\n    - email: {{ to: [nobody@agency.example], from: tend@agency.example, smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none }} }}\n      on: [success]\n"
        ),
    );
    // `backups prune` needs no connection and succeeds: its exit status is 0, and stays 0.
    let out = tend_env(work.path(), &["-i", "inv.yml", "backups", "prune"], &env());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    assert_eq!(gone.lock().unwrap().len(), 1, "a 404 is not retried");
    assert_eq!(busy.lock().unwrap().len(), 3, "a 503 is retried");
    assert_eq!(slow.lock().unwrap().len(), 2, "a 429 is retried");
    assert_eq!(mails.lock().unwrap().len(), 1, "an SMTP 550 is not retried");
    assert!(
        out.stderr
            .contains("no such user (a permanent failure, not retried"),
        "{}",
        out.stderr
    );

    let gone_lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("127.0.0.1:{gone_port}")))
        .collect();
    assert_eq!(
        gone_lines,
        [format!(
            "warning: notification: could not notify webhook http://127.0.0.1:{gone_port}: answered HTTP 404 Not Found (a permanent failure, not retried; the exit status is unchanged)"
        )],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "warning: notification: could not notify webhook http://127.0.0.1:{busy_port} after 3 attempts: answered HTTP 503 Service Unavailable"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("notified webhook http://127.0.0.1:{slow_port}")),
        "{}",
        out.stderr
    );
    assert_no_secrets(&out);
}
