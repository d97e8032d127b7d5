//! `tend backup`: a snapshot of each selected site, files and database.

use super::site_lock;
use crate::backup::create::{self, Contents};
use crate::backup::offsite::{self, OffsiteOutcome};
use crate::backup::{Manifest, SnapshotStore};
use crate::cms::host_tools::HostToolsCache;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::Pool;
use crate::site_error::SiteError;

/// One site's snapshot, or why it could not be taken.
pub type SiteBackup = super::SiteResult<Backup>;

/// A snapshot taken, and what became of its off-site copy (`None`: no `settings.offsite`).
#[derive(Debug, Clone)]
pub struct Backup {
    pub manifest: Manifest,
    pub offsite: Option<OffsiteOutcome>,
}

/// A snapshot whose off-site copy failed is saved, and the site failed all the same: the
/// night did not leave the copy the store is set up to keep.
impl super::Judged for Backup {
    fn outcome(&self) -> crate::outcome::Outcome {
        match self.offsite {
            Some(OffsiteOutcome::Failed(_)) => crate::outcome::Outcome::Failed,
            _ => crate::outcome::Outcome::Ok,
        }
    }

    fn problem(&self) -> Option<String> {
        match &self.offsite {
            Some(OffsiteOutcome::Failed(failure)) => Some(failure.to_string()),
            _ => None,
        }
    }

    fn changed(&self) -> Option<String> {
        let snapshot = super::Judged::changed(&self.manifest)?;
        Some(match &self.offsite {
            Some(OffsiteOutcome::Copied(copy)) if copy.copied.len() > 1 => format!(
                "{snapshot}, copied off-site with {} earlier snapshot(s) missing there",
                copy.copied.len() - 1
            ),
            Some(OffsiteOutcome::Copied(_)) => format!("{snapshot}, copied off-site"),
            _ => snapshot,
        })
    }
}

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
) -> Result<Backup, SiteError> {
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
    let manifest = site_lock::with_lock(
        pool,
        &crate::remote::Endpoint::of(site),
        &site.path,
        "backup",
        |previous| took_over(reporter, &site.name, previous),
        work,
    )
    .await?;
    // The site is no longer needed (nor locked) while its snapshot goes off-site.
    if store.offsite_location().is_some() {
        reporter.event(&Event::Step {
            site: &site.name,
            step: "off-site copy",
        });
    }
    let offsite = offsite::copy_after(store, &manifest);
    Ok(Backup { manifest, offsite })
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
