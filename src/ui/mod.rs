//! Everything the user sees. The only module that prints, knows indicatif or colours.
//!
//! The output policy (after uv): data on stdout — a table for people, one JSON document
//! with `--json`; progress and logs on stderr; bars only when stderr is a terminal and
//! neither `--json` nor `-q` is given; no colour when `NO_COLOR` is set or the stream is
//! not a terminal; secrets masked in everything shown.

pub mod backup_view;
pub mod check_view;
pub mod console;
pub mod facts_view;
pub mod history_view;
pub mod recover_view;
pub mod repo_view;
pub mod report_view;
pub mod run_view;
pub mod style;
pub mod table;

use std::io::IsTerminal;
use std::sync::Arc;

use crate::events::{Level, SharedReporter};

/// How the user asked tend to talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputMode {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// The reporter for this invocation: progress bars on a terminal, plain log lines
/// otherwise (cron, pipes, `--json`), only warnings and errors with `-q`.
pub fn reporter(mode: OutputMode) -> SharedReporter {
    let stderr_tty = std::io::stderr().is_terminal();
    let min_level = if mode.quiet {
        Level::Warning
    } else if mode.verbose {
        Level::Detail
    } else {
        Level::Info
    };
    let bars = stderr_tty && !mode.json && !mode.quiet;
    let reasons = mode.json || !stdout_is_stderr();
    Arc::new(console::ConsoleReporter::new(
        bars,
        reasons,
        min_level,
        style::Style::for_stderr(),
    ))
}

/// Whether stdout and stderr are the same file or pipe (`>>log 2>&1`, a terminal): then
/// what the command prints on stdout is read next to its log lines.
fn stdout_is_stderr() -> bool {
    use std::os::fd::AsFd;
    let id = |fd: std::os::fd::BorrowedFd<'_>| {
        fd_metadata(fd).map(|m| {
            (
                std::os::unix::fs::MetadataExt::dev(&m),
                std::os::unix::fs::MetadataExt::ino(&m),
            )
        })
    };
    match (id(std::io::stdout().as_fd()), id(std::io::stderr().as_fd())) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The metadata of an open file descriptor (`fstat`), through a duplicate of it.
fn fd_metadata(fd: std::os::fd::BorrowedFd<'_>) -> Option<std::fs::Metadata> {
    let owned = fd.try_clone_to_owned().ok()?;
    std::fs::File::from(owned).metadata().ok()
}

/// Whether we can ask the user something: stdin and stderr are terminals.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on the terminal; `false` without one (never assume yes).
pub fn confirm(question: &str) -> bool {
    use std::io::{BufRead, Write};
    if !can_ask() {
        return false;
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// The line a command's text output gives a site that failed.
pub fn site_failed(style: &style::Style, site: &str, error: &str) -> String {
    format!("{}  {} {error}\n", style.bold(site), style.bad("FAILED"))
}
