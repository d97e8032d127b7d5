//! The HTML reports as a browser shows and prints them: headless Chromium (Debian's
//! `chromium` package) prints a file to PDF, read back as text with `pdftotext` (Debian's
//! `poppler-utils`), or dumps the DOM it built. Tests that need it fail without it rather
//! than passing untested.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The text of `html` as Chromium prints it (A4, no header or footer), laid out as on paper.
pub fn printed_text(html: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let pdf = work.path().join("printed.pdf");
    headless(
        work.path(),
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".to_owned(),
        ],
        html,
    );
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) is needed to read the printed report");
    assert!(
        text.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&text.stdout).into_owned()
}

/// The DOM Chromium built from `html`.
pub fn dom(html: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    headless(work.path(), &["--dump-dom".to_owned()], html)
}

/// Chromium from Debian's `chromium` package; the test fails without it rather than
/// passing untested.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!(
        "chromium is not installed: the HTML report is checked by rendering it in headless \
         Chromium. Install it with `apt-get install -y --no-install-recommends chromium \
         poppler-utils` (scripts/install-deps.sh)"
    );
}

/// Runs headless Chromium with `args` on the file `html` with a fresh profile in `profile`,
/// killed after two minutes; returns its stdout.
fn headless(profile: &Path, args: &[String], html: &Path) -> String {
    let url = format!("file://{}", html.display());
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(&url)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish rendering {url} in two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chromium failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
