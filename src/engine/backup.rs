//! `tend backup`: a snapshot of each selected site, files and database.

use super::site_lock;
use crate::backup::create::{self, Contents};
use crate::backup::{Manifest, Store};
use crate::cms::host_tools::HostToolsCache;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::Pool;
use crate::site_error::SiteError;

#[derive(Debug)]
pub struct SiteBackup {
    pub site: String,
    pub result: Result<Manifest, SiteError>,
}

pub async fn run(
    sites: &[&Site],
    pool: &Pool,
    store: &Store,
    label: Option<&str>,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<SiteBackup> {
    reporter.event(&Event::Begin {
        what: "backup",
        total: sites.len(),
    });
    let tools = HostToolsCache::default();
    let tools = &tools;
    let results = super::for_each_site(sites, forks, |site| async move {
        reporter.event(&Event::SiteStarted { site: &site.name });
        let result = backup_site(site, pool, tools, store, label, reporter).await;
        let error = result.as_ref().err().map(SiteError::masked);
        reporter.event(&Event::SiteFinished {
            site: &site.name,
            ok: result.is_ok(),
            error: error.as_deref(),
        });
        SiteBackup {
            site: site.name.clone(),
            result,
        }
    })
    .await;
    reporter.event(&Event::End);
    results
}

async fn backup_site(
    site: &Site,
    pool: &Pool,
    tools: &HostToolsCache,
    store: &Store,
    label: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Manifest, SiteError> {
    let read = super::facts::read_site(site, pool, tools, reporter).await?;
    let work = async {
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
        &read.host,
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
