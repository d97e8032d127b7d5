//! `tend backup`: a snapshot of each selected site, files and database.

use super::site_lock;
use crate::backup::create::{self, Contents};
use crate::backup::{Manifest, SnapshotStore};
use crate::cms::host_tools::HostToolsCache;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::Pool;
use crate::site_error::SiteError;

/// One site's snapshot, or why it could not be taken.
pub type SiteBackup = super::SiteResult<Manifest>;

pub async fn run(
    sites: &[&Site],
    pool: &Pool,
    store: &dyn SnapshotStore,
    label: Option<&str>,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<SiteBackup> {
    let tools = HostToolsCache::default();
    let tools = &tools;
    super::run_sites("backup", sites, forks, reporter, |site| {
        backup_site(site, pool, tools, store, label, reporter)
    })
    .await
}

async fn backup_site(
    site: &Site,
    pool: &Pool,
    tools: &HostToolsCache,
    store: &dyn SnapshotStore,
    label: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Manifest, SiteError> {
    let read = super::facts::read_site(site, pool, tools, reporter).await?;
    let work = async {
        // A site an interrupted run left half changed (perhaps in maintenance mode) is not
        // a state worth keeping: a snapshot of it would be restored as if it were sound.
        if let Some(unfinished) = super::journal::read(&read.host, &site.path).await? {
            let message = format!(
                "not backed up: run {} left unfinished work on the site (a snapshot now would hold a half-changed site)",
                unfinished.run
            );
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&site.name),
                message: &message,
            });
            return Err(super::plan::unfinished(site, &unfinished));
        }
        reporter.event(&Event::Step {
            site: &site.name,
            step: "snapshot",
        });
        create::snapshot(
            store,
            site,
            &read.host,
            &read.facts,
            &read.tools,
            label,
            Contents::ALL,
        )
        .await
    };
    site_lock::with_lock(
        pool,
        &crate::remote::Endpoint::of(site),
        &site.path,
        "backup",
        |previous| took_over(reporter, &site.name, previous),
        work,
    )
    .await
}

/// Warns that a stale lock (left by a run that died) was taken over.
pub fn took_over(reporter: &dyn Reporter, site: &str, previous: &str) {
    let message = format!("took over a stale lock left by a run that is gone ({previous})");
    reporter.event(&Event::Log {
        level: Level::Warning,
        site: Some(site),
        message: &message,
    });
}
