//! SIGINT and SIGTERM: stop starting work, finish or undo what is in flight, say so.
//!
//! Killing tend in the middle of an update leaves a site in maintenance with its journal
//! (recoverable with `tend recover`, but silent). So the command session watches for the
//! two signals ([`watch`]). On the first one tend starts nothing new — no site, and in a
//! playbook no further step: the step in flight finishes, then, if steps were left unrun,
//! the site is rolled back as if a step had failed (its journal undone); a rollback or a
//! restore in flight is finished — and says so on stderr. When the work in
//! flight is done, the command prints its results as usual, with the sites it did not start
//! as `skipped`, names the sites whose work could not be undone (`tend recover SITE`), and
//! exits with 130 (SIGINT) or 143 (SIGTERM). A second signal, or [`GRACE`] passing, ends
//! tend at once, naming the sites that were in flight and may need `tend recover`. With
//! nothing in flight (a prompt, planning, between sites) the first signal ends tend at once:
//! there is nothing to finish.
//!
//! The state is process-wide (a run has one session and signals are process-wide): which
//! signal came, which sites are in flight, which have a journal on their host.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::events::{Event, Level, SharedReporter};

/// How long sites in flight get to finish or be rolled back after the first signal.
pub const GRACE: Duration = Duration::from_secs(120);

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static IN_FLIGHT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static JOURNALED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The signal that asked tend to stop (`SIGINT` = 2, `SIGTERM` = 15), if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// The exit status of a run ended by `signal`, as shells report it.
pub fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(1)
}

/// `SIGINT` / `SIGTERM`.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Why a site was not started or a playbook stopped before its next step.
pub fn reason(signal: i32) -> String {
    format!("tend was interrupted ({})", signal_name(signal))
}

fn set(set: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    set.lock().unwrap_or_else(|e| e.into_inner())
}

/// A site in flight until the guard is dropped.
pub struct InFlight(String);

impl InFlight {
    pub fn new(site: &str) -> InFlight {
        set(&IN_FLIGHT).insert(site.to_owned());
        InFlight(site.to_owned())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        set(&IN_FLIGHT).remove(&self.0);
    }
}

/// The site's host now holds a journal of this run (work that `tend recover` can undo).
pub fn journal_written(site: &str) {
    set(&JOURNALED).insert(site.to_owned());
}

/// The site's journal is gone: its work was finished or undone.
pub fn journal_cleared(site: &str) {
    set(&JOURNALED).remove(site);
}

/// The sites whose journal this run wrote and has not cleared.
pub fn journaled() -> Vec<String> {
    set(&JOURNALED).iter().cloned().collect()
}

fn stop_now(signal: i32, why: &str) -> ! {
    let in_flight: BTreeSet<String> = set(&IN_FLIGHT).iter().cloned().collect();
    let journaled: BTreeSet<String> = journaled().into_iter().collect();
    let mut text = format!("tend: {why}; stopping now\n");
    for site in &journaled {
        text.push_str(&format!(
            "tend: {site} was left with unfinished work: run `tend recover {site}`\n"
        ));
    }
    for site in in_flight.difference(&journaled) {
        text.push_str(&format!(
            "tend: {site} was stopped in the middle of its work; if it was left half-changed, `tend recover {site}` puts it back\n"
        ));
    }
    eprint!("{text}");
    std::process::exit(i32::from(exit_status(signal)))
}

/// Watches for SIGINT and SIGTERM for the rest of the process (spawned on the session's
/// runtime). See the module doc for what each does.
pub async fn watch(reporter: SharedReporter) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let first = tokio::select! {
        _ = int.recv() => libc::SIGINT,
        _ = term.recv() => libc::SIGTERM,
    };
    SIGNAL.store(first, Ordering::SeqCst);
    if set(&IN_FLIGHT).is_empty() {
        stop_now(
            first,
            &format!("{} received, nothing in flight", signal_name(first)),
        );
    }
    reporter.event(&Event::Log {
        level: Level::Warning,
        site: None,
        message: &format!(
            "{} received: starting no new site or step; finishing or rolling back the sites in flight (at most {} s; a second signal stops at once)",
            signal_name(first),
            GRACE.as_secs()
        ),
    });
    tokio::select! {
        _ = int.recv() => stop_now(first, "interrupted again"),
        _ = term.recv() => stop_now(first, "interrupted again"),
        _ = tokio::time::sleep(GRACE) => stop_now(first, &format!("the sites in flight did not finish within {} s", GRACE.as_secs())),
    }
}
