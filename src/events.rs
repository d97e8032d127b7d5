//! What happens during a command, as events: logic emits them, the UI decides what to show.
//!
//! Nothing outside `ui` prints. The engine, the remote layer and the CMS adapters report
//! through a [`Reporter`]; progress bars, plain log lines for cron, quiet mode and the
//! `--json` mode are implementations of it.

use std::sync::Arc;

use crate::outcome::Outcome;

/// How much a log line matters; `-q` shows only warnings and errors, `-v` adds `Detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Detail,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A command starts working on `total` sites.
    Begin {
        what: &'a str,
        total: usize,
    },
    SiteStarted {
        site: &'a str,
    },
    /// A named part of a site's work (`connect`, `detect`, `read`, …) begins.
    Step {
        site: &'a str,
        step: &'a str,
    },
    /// A site's work ended: how, and why when it did not simply succeed.
    SiteFinished {
        site: &'a str,
        outcome: Outcome,
        error: Option<&'a str>,
        /// What the work changed, in a few words, when it changed anything.
        changed: Option<&'a str>,
        /// How long the site's work took, when measured.
        elapsed: Option<std::time::Duration>,
    },
    /// An SSH master connection was opened; `sites` will share it.
    Connected {
        destination: &'a str,
    },
    /// A remote command is about to run (shown with `-v`; secrets already masked).
    Command {
        destination: &'a str,
        command: &'a str,
    },
    Log {
        level: Level,
        site: Option<&'a str>,
        message: &'a str,
    },
    /// Everything is done.
    End,
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

pub type SharedReporter = Arc<dyn Reporter>;

/// Drops every event: for library use and tests that look only at results.
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: &Event<'_>) {}
}
