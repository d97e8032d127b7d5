//! `tend backup`: a snapshot (files + database) of each selected site.

use super::record;
use super::{exit_for, CommandError, Invocation};
use crate::diagnostic::InputError;
use crate::engine::{self, Judged};
use crate::history::{SiteRecord, SnapshotRecord};
use crate::ui::{backup_view, style::Style};

pub(super) fn backup(call: &Invocation<'_>, label: Option<&str>) -> Result<u8, CommandError> {
    if let Some(label) = label {
        crate::backup::check_label(label).map_err(|e| {
            InputError::new(format!("--label: {e}"))
                .with_hint("use letters, digits, spaces inside, and `-_.:+@`")
        })?;
    }
    let sites = call.selected();
    let session = call.session()?;
    session.record("backup", &sites);
    let results = session.block_on(engine::backup::run(
        &sites,
        session.pool(),
        session.store.as_ref(),
        label,
        call.forks(),
        session.reporter(),
    ));
    session.print(
        || backup_view::backup_json(&results),
        || backup_view::backup_text(&results, Style::for_stdout()),
    );
    let records: Vec<SiteRecord> = results
        .iter()
        .map(|r| match &r.result {
            Ok(backup) => {
                // A snapshot whose off-site copy failed is kept, and the site failed.
                let mut site = SiteRecord::new(&r.site, backup.outcome());
                let mut snapshot = SnapshotRecord::from(&backup.manifest);
                snapshot.offsite = backup.offsite.as_ref().map(Into::into);
                site.snapshots = vec![snapshot];
                site.error = backup.problem().map(|e| crate::secrets::mask(&e));
                site.duration_ms = r.elapsed.as_millis() as u64;
                site
            }
            Err(e) => record::failed(r, e.masked()),
        })
        .collect();
    let exit = exit_for(records.iter().map(|r| r.status));
    Ok(session.finish(records, exit))
}
