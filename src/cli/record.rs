//! After a command that acts (`run`, `backup`, `restore`, `recover`, `prune`) or checks
//! snapshots (`backups verify`, recorded as `verify`): its record in the run history, made
//! from the command's results.
//!
//! History is a record of what happened, not a condition for doing it: a store whose history
//! cannot be written is reported as a warning and the command still runs and exits as it
//! would. The finished record is also what `settings.notify` is told about
//! (by [`super::session::Session::finish`]); notifications, too, never change the exit status.

use std::sync::{Arc, Mutex};

use crate::backup::SnapshotStore;
use crate::engine::run::SiteRun;
use crate::engine::SiteResult;
use crate::events::{Event, Level, Reporter, SharedReporter};
use crate::history::store::Recording;
use crate::history::{
    ChangeRecord, CheckRecord, HeldRecord, History, RolledBackRecord, RunRecord, SiteRecord,
    SnapshotRecord, UntrackedRecord,
};
use crate::inventory::{Inventory, Site};
use crate::outcome::Outcome;
use crate::site_error::SiteError;

/// The command's reporter, which also records each site in the history as soon as it
/// finishes (once the command's start is recorded), so that a command killed midway
/// keeps the sites it had done.
pub(super) struct Recorder {
    inner: SharedReporter,
    recording: Mutex<Option<Recording>>,
}

impl Recorder {
    pub(super) fn new(inner: SharedReporter) -> Arc<Recorder> {
        Arc::new(Recorder {
            inner,
            recording: Mutex::new(None),
        })
    }

    /// The recorder as the reporter the engine is given.
    pub(super) fn reporter(self: &Arc<Self>) -> SharedReporter {
        self.clone()
    }

    fn recording(&self) -> std::sync::MutexGuard<'_, Option<Recording>> {
        self.recording.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn warn(&self, message: &str) {
        self.inner.event(&Event::Log {
            level: Level::Warning,
            site: None,
            message,
        });
    }
}

impl Reporter for Recorder {
    fn event(&self, event: &Event<'_>) {
        self.inner.event(event);
        if let Event::SiteFinished {
            site,
            outcome,
            error,
            ..
        } = event
        {
            if let Some(recording) = self.recording().as_ref() {
                let mut record = SiteRecord::new(site, *outcome);
                record.error = error.map(crate::secrets::mask);
                if let Err(e) = recording.site(&record) {
                    self.warn(&format!("cannot write the run history: {e}"));
                }
            }
        }
    }
}

/// A command whose start is in the history (when it could be written).
pub(super) struct Started {
    recorder: Arc<Recorder>,
    /// The run as it is known so far, kept whether or not the history could be written
    /// (notifications come from it).
    record: RunRecord,
}

/// Records that `command` (`backup`, `restore`, …) starts on `targets`, under the session's
/// run id; from now on `recorder` records each site as it finishes.
pub(super) fn begin(
    inventory: &Inventory,
    recorder: &Arc<Recorder>,
    run_id: &str,
    command: &str,
    targets: &[&Site],
) -> Started {
    begin_as(inventory, recorder, run_id, command, None, targets)
}

/// [`begin`] for a playbook run, under the id the run already goes by.
pub(super) fn begin_playbook(
    inventory: &Inventory,
    recorder: &Arc<Recorder>,
    run_id: &str,
    playbook: &str,
    targets: &[&Site],
) -> Started {
    begin_as(inventory, recorder, run_id, "run", Some(playbook), targets)
}

fn begin_as(
    inventory: &Inventory,
    recorder: &Arc<Recorder>,
    run_id: &str,
    command: &str,
    playbook: Option<&str>,
    targets: &[&Site],
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
        targets: targets.iter().map(|s| s.name.clone()).collect(),
        sites: Vec::new(),
    };
    match history.start(&record) {
        Ok(recording) => *recorder.recording() = Some(recording),
        Err(e) => recorder.warn(&format!(
            "cannot write the run history {}: {e}",
            history.file_of(record.started).display()
        )),
    }
    Started {
        recorder: recorder.clone(),
        record,
    }
}

/// Records what the command did to each site and how it ended; returns the whole run.
pub(super) fn end(started: Started, sites: Vec<SiteRecord>, exit_status: u8) -> RunRecord {
    let mut record = started.record;
    record.sites = sites;
    record.finished = Some(chrono::Utc::now());
    record.exit_status = Some(exit_status);
    let recording = started.recorder.recording().take();
    if let Some(recording) = recording {
        if let Err(e) = recording.finish(&record) {
            started
                .recorder
                .warn(&format!("cannot write the run history: {e}"));
        }
    }
    record
}

/// A snapshot as the history keeps it (size and label from its manifest in the store).
pub(super) fn snapshot(store: &dyn SnapshotStore, site: &str, id: &str) -> SnapshotRecord {
    match store.find(site, id).ok().flatten() {
        Some(snapshot) => SnapshotRecord::from(&snapshot.manifest),
        None => SnapshotRecord {
            id: id.to_owned(),
            bytes: 0,
            label: None,
            offsite: None,
            files_read: None,
        },
    }
}

/// A failed site's record.
pub(super) fn failed<T>(result: &SiteResult<T>, error: String) -> SiteRecord {
    // A site the run never started (interrupted, `max_failures`) was skipped, not failed.
    let status = match &result.result {
        Err(SiteError::NotStarted(_)) => Outcome::Skipped,
        _ => Outcome::Failed,
    };
    let mut record = SiteRecord::new(&result.site, status);
    record.error = Some(error);
    record.duration_ms = result.elapsed.as_millis() as u64;
    record
}

/// The records of a playbook run.
pub(super) fn run_sites(
    store: &dyn SnapshotStore,
    results: &[SiteResult<SiteRun>],
) -> Vec<SiteRecord> {
    results
        .iter()
        .map(|r| match &r.result {
            Ok(run) => {
                let mut record = SiteRecord::new(&r.site, run.status);
                record.changes = run.changes.iter().map(ChangeRecord::from).collect();
                record.rolled_back = run
                    .rolled_back
                    .iter()
                    .map(|r| RolledBackRecord {
                        kind: r.change.kind.name().to_owned(),
                        slug: r.change.slug.clone(),
                        from: r.change.from.clone(),
                        to: r.change.to.clone(),
                        problem: crate::secrets::mask(&r.problem),
                    })
                    .collect();
                record.held = run.held.iter().map(HeldRecord::from).collect();
                record.held.extend(run.waits.iter().map(HeldRecord::from));
                record.nothing_to_update = run.nothing_to_update;
                record.untracked = run
                    .untracked
                    .iter()
                    .map(|u| UntrackedRecord {
                        kind: u.kind.name().to_owned(),
                        slug: u.slug.clone(),
                        version: u.version.clone(),
                    })
                    .collect();
                record.snapshots = run
                    .snapshot
                    .iter()
                    .map(|id| snapshot(store, &r.site, id))
                    .collect();
                record.pruned = run.pruned.clone();
                record.checks = run.checks.iter().map(CheckRecord::from).collect();
                // After a rollback `checks` is the verification of the restored site; the
                // one that failed before it is recorded too.
                if matches!(run.status, Outcome::RolledBack | Outcome::Partial) {
                    record.failed_checks = run
                        .failed_verification
                        .iter()
                        .map(CheckRecord::from)
                        .collect();
                }
                record.error = run.error.as_ref().map(SiteError::masked);
                record.rollback = run.rollback.clone();
                record.cleanup = run
                    .cleanup
                    .iter()
                    .map(|c| crate::secrets::mask(c))
                    .collect();
                record.duration_ms = r.elapsed.as_millis() as u64;
                record
            }
            Err(e) => failed(r, e.masked()),
        })
        .collect()
}

/// The records of `tend backups verify`: per site, the snapshots found intact under
/// `snapshots`, and the damaged ones named in the error.
pub(super) fn verified_sites(
    results: &[(crate::backup::Snapshot, Vec<String>)],
) -> Vec<SiteRecord> {
    let mut sites: Vec<SiteRecord> = Vec::new();
    for (snapshot, problems) in results {
        let m = &snapshot.manifest;
        let index = match sites.iter().position(|s| s.site == m.site) {
            Some(i) => i,
            None => {
                sites.push(SiteRecord::new(&m.site, Outcome::Ok));
                sites.len() - 1
            }
        };
        let site = &mut sites[index];
        if problems.is_empty() {
            site.snapshots.push(SnapshotRecord::from(m));
        } else {
            site.status = Outcome::Failed;
            let damage = format!("snapshot {} is damaged: {}", m.id, problems.join("; "));
            site.error = Some(match site.error.take() {
                Some(earlier) => format!("{earlier}; {damage}"),
                None => damage,
            });
        }
    }
    sites
}

// What the engine's results become in the history. Here, where records are made, so that
// the history stays plain data below the modules whose results it records.

impl From<&crate::backup::manifest::Manifest> for SnapshotRecord {
    fn from(m: &crate::backup::manifest::Manifest) -> SnapshotRecord {
        SnapshotRecord {
            id: m.id.clone(),
            bytes: m.bytes(),
            label: m.label.clone(),
            offsite: None,
            files_read: m.files.as_ref().and_then(|f| f.listed.as_ref()).map(|l| {
                crate::history::record::FilesReadRecord {
                    new: l.files_new,
                    changed: l.files_changed,
                    racy: l.files_racy,
                    reused: l.files_reused,
                    bytes_read: l.bytes_read,
                    bytes_reused: l.bytes_reused,
                    wire_bytes: l.wire_bytes,
                }
            }),
        }
    }
}

impl From<&crate::backup::offsite::OffsiteOutcome> for crate::history::OffsiteRecord {
    fn from(o: &crate::backup::offsite::OffsiteOutcome) -> crate::history::OffsiteRecord {
        use crate::backup::offsite::OffsiteOutcome;
        match o {
            OffsiteOutcome::Copied(copy) => crate::history::OffsiteRecord {
                location: copy.location.clone(),
                ok: true,
                copied: copy.copied.clone(),
            },
            OffsiteOutcome::Failed(failure) => crate::history::OffsiteRecord {
                location: failure.offsite.clone(),
                ok: false,
                copied: Vec::new(),
            },
        }
    }
}

impl From<&crate::verify::CheckResult> for CheckRecord {
    fn from(c: &crate::verify::CheckResult) -> CheckRecord {
        CheckRecord {
            name: c.name.clone(),
            path: c.path.clone(),
            ok: c.ok,
            status: c.status,
            elapsed_ms: c.elapsed_ms,
            problems: c.problems.clone(),
        }
    }
}

impl From<&crate::updates::policy::Change> for ChangeRecord {
    fn from(c: &crate::updates::policy::Change) -> ChangeRecord {
        ChangeRecord {
            kind: c.kind.name().to_owned(),
            slug: c.slug.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        }
    }
}

/// A version waiting for its soak time is recorded as held back, with when it is taken.
impl From<&crate::updates::policy::Waiting> for HeldRecord {
    fn from(w: &crate::updates::policy::Waiting) -> HeldRecord {
        HeldRecord {
            kind: w.kind.name().to_owned(),
            slug: w.slug.clone(),
            from: w.from.clone(),
            available: Some(w.version.clone()),
            reason: format!("waits (`min_age: {}`): {}", w.min_age, w.describe()),
        }
    }
}

impl From<&crate::updates::policy::Held> for HeldRecord {
    fn from(h: &crate::updates::policy::Held) -> HeldRecord {
        HeldRecord {
            kind: h.kind.name().to_owned(),
            slug: h.slug.clone(),
            from: h.from.clone(),
            available: h.available.clone(),
            reason: h.reason.clone(),
        }
    }
}
