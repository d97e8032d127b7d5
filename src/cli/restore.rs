//! `tend restore SITE`: puts a snapshot back onto the site (or onto another one), after
//! showing exactly which snapshot and asking.

use super::record;
use super::{at_flag, check_site_flag, confirm_or_refuse, exit_for, CommandError, Invocation};
use crate::backup::choose::{self, ChooseError};
use crate::backup::create::Contents;
use crate::backup::Snapshot;
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
    let snapshot = crate::backup::choose::choose(
        session.store.as_ref(),
        site,
        request.snapshot,
        request.contents,
    )
    .map_err(|e| not_chosen(e, site, request.snapshot, &session.store.location()))?;
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
    let m = &snapshot.manifest;
    let question = format!(
        "Restore snapshot {} of {} (label {}, taken {}, {}, {} {}) onto {} ({})? Its current {what} will be replaced ({safety}).",
        m.id,
        site,
        m.label.as_deref().unwrap_or("none"),
        m.created.format("%Y-%m-%d %H:%M UTC"),
        crate::backup::choose::parts(&snapshot),
        m.cms,
        m.version,
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
        source_url: &inventory.sites[site].url,
        http: &crate::verify::client(super::run::CHECK_TIMEOUT),
        verify_delay: inventory.settings.verify_delay,
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
    let failure = match &result {
        Ok(restored) => restored.failure(&target.name),
        Err(e) => Some(e.masked()),
    };
    let outcome = if failure.is_none() {
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
        record.checks = restored
            .checks
            .iter()
            .map(crate::history::CheckRecord::from)
            .collect();
        if let Some(safety) = &restored.safety_snapshot {
            record.snapshots.push(record::snapshot(
                session.store.as_ref(),
                &target.name,
                safety,
            ));
        }
    }
    record.error = failure;
    record.duration_ms = started.elapsed().as_millis() as u64;
    Ok(session.finish(vec![record], exit_for([outcome])))
}

/// Why `--snapshot NAME` names no usable snapshot, as an error at the flag.
fn not_chosen(error: ChooseError, site: &str, name: &str, location: &str) -> CommandError {
    let at_flag = |message: String| {
        InputError::in_argument(message, "--snapshot", name, 1, name.chars().count().max(1))
    };
    let line = |s: &Snapshot| {
        format!(
            "{} ({}, {}, {})",
            s.manifest.id,
            s.manifest.label.as_deref().unwrap_or("no label"),
            s.manifest.created.format("%Y-%m-%d %H:%M UTC"),
            choose::parts(s)
        )
    };
    let list = |all: &[Snapshot]| {
        all.iter()
            .map(|s| format!("  {}", line(s)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let error = match error {
        ChooseError::Store(e) => {
            return CommandError::runtime(format!("cannot read the store {location}: {e}"))
        }
        ChooseError::Unknown { existing } if existing.is_empty() => {
            at_flag(format!("`{site}` has no snapshots")).with_hint(format!(
                "`tend backup -l {site}` takes one"
            ))
        }
        ChooseError::Unknown { existing } => at_flag(format!(
            "no snapshot of `{site}` has the id, id prefix (at least {} characters) or label `{name}`; there are:\n{}",
            choose::MIN_PREFIX,
            list(&existing)
        )),
        ChooseError::Ambiguous { candidates } => at_flag(format!(
            "`{name}` starts the ids of {} snapshots of `{site}`:\n{}",
            candidates.len(),
            list(&candidates)
        ))
        .with_hint("give more characters of the id"),
        ChooseError::MissingParts { snapshot } => at_flag(format!(
            "snapshot {} holds {}, not what this restore needs",
            line(&snapshot),
            choose::parts(&snapshot)
        )),
        ChooseError::NoneUsable { skipped } => at_flag(format!(
            "no snapshot `{name}` of `{site}` is sound and holds what this restore needs:\n{}",
            skipped
                .iter()
                .map(|(s, why)| format!("  {}: {why}", line(s)))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    };
    CommandError::Input(error)
}
