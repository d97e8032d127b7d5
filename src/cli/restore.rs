//! `tend restore SITE`: puts a snapshot back onto the site (or onto another one), after
//! showing exactly which snapshot and asking.

use super::record;
use super::{at_flag, check_site_flag, confirm_or_refuse, exit_for, CommandError, Invocation};
use crate::backup::create::Contents;
use crate::diagnostic::InputError;
use crate::engine;
use crate::history::{SiteRecord, SnapshotRecord};
use crate::outcome::Outcome;
use crate::ui::{backup_view, style::Style};

/// What the command line asks to restore.
pub(super) struct Request<'a> {
    pub site: &'a str,
    pub snapshot: &'a str,
    pub contents: Contents,
    pub to: Option<&'a str>,
    pub without_safety_snapshot: bool,
    pub yes: bool,
}

pub(super) fn restore(call: &Invocation<'_>, request: Request<'_>) -> Result<u8, CommandError> {
    let inventory = call.inventory;
    let site = request.site;
    check_site_flag(inventory, Some(site)).map_err(|e| at_flag(e, "restore"))?;
    check_site_flag(inventory, request.to).map_err(|e| at_flag(e, "--to"))?;
    let target = &inventory.sites[request.to.unwrap_or(site)];
    let session = call.session()?;
    let snapshot = session
        .store
        .find(site, request.snapshot)
        .map_err(|e| {
            CommandError::runtime(format!(
                "cannot read the store {}: {e}",
                session.store.location()
            ))
        })?
        .ok_or_else(|| {
            InputError::new(format!("no snapshot `{}` of `{site}`", request.snapshot)).with_hint(
                format!("`tend backups list --site {site}` shows the snapshots there are"),
            )
        })?;
    let what = match (request.contents.files, request.contents.database) {
        (true, true) => "files and database",
        (true, false) => "files",
        _ => "database",
    };
    let safety = if request.without_safety_snapshot {
        "--no-pre-restore-snapshot: whatever of its current state cannot be saved first is LOST"
    } else {
        "a pre-restore snapshot is taken first; nothing is changed if it cannot be"
    };
    let question = format!(
        "Restore snapshot {} of {} ({}, {}) onto {} ({})? Its current {what} will be replaced ({safety}).",
        snapshot.manifest.id,
        site,
        snapshot.manifest.created.format("%Y-%m-%d %H:%M UTC"),
        snapshot.manifest.label.as_deref().unwrap_or("no label"),
        target.name,
        target.url
    );
    confirm_or_refuse(request.yes, &question, "restore")?;

    session.record("restore", &[target]);
    let started = std::time::Instant::now();
    let engine_request = engine::restore::Request {
        snapshot: &snapshot,
        target,
        contents: request.contents,
        without_safety_snapshot: request.without_safety_snapshot,
    };
    let result = session.block_on(engine::restore::run(
        &engine_request,
        session.pool(),
        session.store.as_ref(),
        session.reporter(),
    ));
    session.print(
        || backup_view::restore_json(&target.name, &snapshot.manifest.id, &result),
        || {
            backup_view::restore_text(
                &target.name,
                &snapshot.manifest.id,
                &result,
                Style::for_stdout(),
            )
        },
    );
    let outcome = if result.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Failed
    };
    let mut record = SiteRecord::new(&target.name, outcome);
    record.snapshots = vec![SnapshotRecord::from(&snapshot.manifest)];
    if snapshot.manifest.site != target.name {
        record.restored_from = Some(snapshot.manifest.site.clone());
    }
    if let Ok(restored) = &result {
        if let Some(safety) = &restored.safety_snapshot {
            record.snapshots.push(record::snapshot(
                session.store.as_ref(),
                &target.name,
                safety,
            ));
        }
    }
    record.error = result.as_ref().err().map(|e| e.masked());
    record.duration_ms = started.elapsed().as_millis() as u64;
    Ok(session.finish(vec![record], exit_for([outcome])))
}
