//! After a command that acts (`run`, `backup`, `restore`, `recover`, `prune`): its record in
//! the run history, made from the command's results.
//!
//! History is a record of what happened, not a condition for doing it: a store whose history
//! cannot be written is reported on stderr and the command still runs and exits as it would.
//! The finished record is also what `settings.notify` is told about ([`end_and_notify`]);
//! notifications, too, never change the exit status.

use std::io::Write;

use crate::backup::Store;
use crate::engine::run::{SiteRun, Status};
use crate::engine::SiteResult;
use crate::events::Reporter;
use crate::history::store::Recording;
use crate::history::{
    ChangeRecord, CheckRecord, HeldRecord, History, RunRecord, SiteRecord, SnapshotRecord,
};
use crate::inventory::Inventory;

/// A command whose start is in the history (when it could be written).
pub(super) struct Started {
    recording: Option<Recording>,
    /// The run as it is known so far, kept whether or not the history could be written
    /// (notifications come from it).
    record: RunRecord,
}

fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

/// Records that `command` starts.
pub(super) fn begin(
    inventory: &Inventory,
    run_id: &str,
    command: &str,
    playbook: Option<&str>,
) -> Started {
    let history = History::new(&inventory.settings.store);
    let record = RunRecord {
        id: run_id.to_owned(),
        command: command.to_owned(),
        playbook: playbook.map(str::to_owned),
        runner: crate::history::store::runner(),
        started: chrono::Utc::now(),
        finished: None,
        exit_status: None,
        sites: Vec::new(),
    };
    match history.start(&record) {
        Ok(recording) => Started {
            recording: Some(recording),
            record,
        },
        Err(e) => {
            warn(&format!(
                "cannot write the run history {}: {e}",
                history.file().display()
            ));
            Started {
                recording: None,
                record,
            }
        }
    }
}

/// Records what the command did to each site and how it ended; returns the whole run.
pub(super) fn end(started: Started, sites: Vec<SiteRecord>, exit_status: u8) -> RunRecord {
    let mut record = started.record;
    record.sites = sites;
    record.finished = Some(chrono::Utc::now());
    record.exit_status = Some(exit_status);
    if let Some(recording) = started.recording {
        if let Err(e) = recording.finish(&record) {
            warn(&format!("cannot write the run history: {e}"));
        }
    }
    record
}

/// [`end`], then the notifications the run calls for; returns `exit_status` unchanged.
/// For commands that are not inside the async runtime.
pub(super) fn end_and_notify(
    inventory: &Inventory,
    reporter: &dyn Reporter,
    started: Started,
    sites: Vec<SiteRecord>,
    exit_status: u8,
) -> u8 {
    let record = end(started, sites, exit_status);
    if crate::notify::to_send(&inventory.settings.notify, &record).is_empty() {
        return exit_status;
    }
    match super::runtime() {
        Ok(runtime) => runtime.block_on(crate::notify::notify(
            &inventory.settings.notify,
            &record,
            reporter,
        )),
        Err(e) => warn(&format!("cannot send notifications: {}", e.message)),
    }
    exit_status
}

/// [`end_and_notify`] for commands already running in the async runtime.
pub(super) async fn end_and_notify_async(
    inventory: &Inventory,
    reporter: &dyn Reporter,
    started: Started,
    sites: Vec<SiteRecord>,
    exit_status: u8,
) -> u8 {
    let record = end(started, sites, exit_status);
    crate::notify::notify(&inventory.settings.notify, &record, reporter).await;
    exit_status
}

/// A snapshot as the history keeps it (size and label from its manifest in the store).
pub(super) fn snapshot(store: &Store, site: &str, id: &str) -> SnapshotRecord {
    let manifest = store.find(site, id).ok().flatten().map(|s| s.manifest);
    SnapshotRecord {
        id: id.to_owned(),
        bytes: manifest.as_ref().map_or(0, |m| m.bytes()),
        label: manifest.and_then(|m| m.label),
    }
}

/// A failed site's record.
pub(super) fn failed<T>(result: &SiteResult<T>, error: String) -> SiteRecord {
    let mut record = SiteRecord::new(&result.site, "failed");
    record.error = Some(error);
    record.duration_ms = result.elapsed.as_millis() as u64;
    record
}

/// The records of a playbook run.
pub(super) fn run_sites(store: &Store, results: &[SiteResult<SiteRun>]) -> Vec<SiteRecord> {
    results
        .iter()
        .map(|r| match &r.result {
            Ok(run) => {
                let status = match run.status {
                    Status::Ok => "ok",
                    Status::Failed => "failed",
                    Status::RolledBack => "rolled_back",
                    Status::Skipped => "skipped",
                };
                let mut record = SiteRecord::new(&r.site, status);
                record.changes = run.changes.iter().map(ChangeRecord::from).collect();
                record.held = run.held.iter().map(HeldRecord::from).collect();
                record.snapshots = run
                    .snapshot
                    .iter()
                    .map(|id| snapshot(store, &r.site, id))
                    .collect();
                record.pruned = run.pruned.clone();
                record.checks = run.checks.iter().map(CheckRecord::from).collect();
                record.error = run.error.as_deref().map(crate::secrets::mask);
                record.rollback = run.rollback.clone();
                record.duration_ms = r.elapsed.as_millis() as u64;
                record
            }
            Err(e) => failed(r, e.masked()),
        })
        .collect()
}
