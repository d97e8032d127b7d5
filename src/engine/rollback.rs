//! Putting a site back to where its journal says it was: files back (renamed back, or
//! restored from the run's snapshot when the CMS's own updater changed them), the database
//! restored from the snapshot, maintenance mode ended, the journal cleared.
//!
//! Used by the automatic rollback of `tend run` and by `tend recover` alike. It never needs
//! the site's web PHP (the site may be broken by the very update being undone): files move
//! with `mv` or come out of the snapshot with `tar`, the database is loaded with the host's
//! `mariadb`/`mysql` client. Each part is idempotent, and the journal is cleared last, so a
//! rollback that is itself interrupted is finished by `tend recover`.

use super::journal::{self, Journal};
use crate::backup::restore::{dump_tables, restore_database, restore_files, Keep};
use crate::backup::{PartKind, Snapshot, SnapshotStore};
use crate::cms::host_tools::HostTools;
use crate::cms::{self, Facts};
use crate::inventory::Site;
use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;

/// Undoes everything `journal` records and clears it.
pub async fn undo(
    host: &Connection,
    site: &Site,
    journal: &Journal,
    facts: &Facts,
    tools: &HostTools,
    store: &dyn SnapshotStore,
) -> Result<(), SiteError> {
    if journal.restore_files {
        let snapshot = snapshot(journal, store)?;
        // The journal's folder is carried over into the restored tree, so that it
        // survives until the rollback is complete.
        let keep = Keep {
            config_files: Vec::new(),
            excluded: vec![journal::DIR.to_owned()],
        };
        // The error keeps its kind (the connection, the store, the host's tar).
        restore_files(
            host,
            &journal.root,
            store.part(&snapshot, PartKind::Files),
            &journal.run,
            &keep,
        )
        .await?;
    } else {
        let files = format!(
            "cd {root} && {{ {undo} }}",
            root = quote(&journal.root),
            undo = journal::undo_files_script(journal)
        );
        host.run(&RemoteCommand::script(&files), None, 1024 * 1024)
            .await
            .map_err(|e| SiteError::remote_step("putting the old files back", e))?;
    }

    if journal.database_changed {
        let snapshot = snapshot(journal, store)?;
        let db = facts
            .database
            .as_ref()
            .ok_or_else(|| SiteError::database("the site's credentials are unknown"))?;
        let client = tools.db_client.as_deref().ok_or_else(|| {
            SiteError::failed(
                "restoring the database",
                format!(
                    "{} has no mariadb or mysql client to restore the database with",
                    host.destination()
                ),
            )
        })?;
        let tables = dump_tables(store.part(&snapshot, PartKind::Database))?;
        restore_database(
            host,
            client,
            db,
            store.part(&snapshot, PartKind::Database),
            &tables,
            "",
        )
        .await?;
    }

    let maintenance = journal::end_maintenance_script(journal);
    if !maintenance.is_empty() {
        let script = format!("cd {} && {maintenance}", quote(&journal.root));
        host.run(&RemoteCommand::script(&script), None, 1024)
            .await
            .map_err(|e| SiteError::remote_step("ending maintenance mode", e))?;
    }
    if journal.maintenance_cli && !journal.restore_files {
        cms::adapter(facts.cms)
            .set_maintenance(site, host, false)
            .await?;
    }
    journal::clear(host, journal).await
}

/// The run's snapshot, which the undo restores from.
fn snapshot(journal: &Journal, store: &dyn SnapshotStore) -> Result<Snapshot, SiteError> {
    let id = journal.snapshot.as_deref().ok_or_else(|| {
        SiteError::Store(
            "the site changed, but the run took no snapshot to restore it from".to_owned(),
        )
    })?;
    store
        .find(&journal.site, id)
        .map_err(|e| SiteError::Store(format!("reading snapshot {id}: {e}")))?
        .ok_or_else(|| {
            SiteError::Store(format!(
                "snapshot {id} of {} is not in {} (was the run made from another machine?)",
                journal.site,
                store.location()
            ))
        })
}
