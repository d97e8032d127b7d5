//! `tend recover [SITE]`: finish what an interrupted run left on a site.
//!
//! A run that dies mid-update leaves its journal on the host (and the site usually in
//! maintenance mode). Recovery puts the site back to the state before the run — the
//! journal's swaps undone, the database restored from the run's snapshot — ends
//! maintenance mode, clears the journal and verifies the site. A journal marked `kept` (the
//! run had finished and was only clearing up) is just cleared. The site's facts are read
//! as usual; when the site cannot be read (a half-replaced core, say), the database
//! credentials come from the run's snapshot instead.

use serde::Serialize;

use super::journal::{self, Journal};
use super::{rollback, site_lock};
use crate::backup::SnapshotStore;
use crate::cms::host_tools::HostToolsCache;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{Endpoint, Pool};
use crate::site_error::SiteError;
use crate::verify::{self, CheckResult};

/// What recovery found and did on one site.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    /// The interrupted run, when there was one.
    pub run: Option<String>,
    /// What was put back, one line each.
    pub undone: Vec<String>,
    pub checks: Vec<CheckResult>,
}

/// Reads the journal of each site (to show what recovery would do before asking).
pub async fn pending(
    sites: &[&Site],
    pool: &Pool,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<super::SiteResult<Option<Journal>>> {
    super::run_sites("recover", sites, forks, reporter, |site| async move {
        let host = pool.connect(&Endpoint::of(site)).await?;
        journal::read(&host, &site.path).await
    })
    .await
}

/// What undoing `journal` means, one line each.
pub fn describe(journal: &Journal) -> Vec<String> {
    if journal.kept {
        return vec!["the run had finished; only its leftovers are cleared".to_owned()];
    }
    let mut lines: Vec<String> = Vec::new();
    for swap in journal.swaps.iter().rev() {
        if !lines.contains(&swap.what) {
            lines.push(swap.what.clone());
        }
    }
    let mut out: Vec<String> = lines.into_iter().map(|w| format!("undo {w}")).collect();
    if journal.database_changed {
        out.push(format!(
            "restore the database from snapshot {}",
            journal.snapshot.as_deref().unwrap_or("(none)")
        ));
    }
    if journal.maintenance.is_some() {
        out.push("end maintenance mode".to_owned());
    }
    out
}

pub async fn recover(
    sites: &[&Site],
    pool: &Pool,
    store: &dyn SnapshotStore,
    http: &reqwest::Client,
    verify_delay: std::time::Duration,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<super::SiteResult<Recovered>> {
    let tools = HostToolsCache::default();
    let tools = &tools;
    super::run_sites("recover", sites, forks, reporter, |site| async move {
        let host = pool.connect(&Endpoint::of(site)).await?;
        let Some(journal) = journal::read(&host, &site.path).await? else {
            return Ok(Recovered {
                run: None,
                undone: Vec::new(),
                checks: Vec::new(),
            });
        };
        let read = match super::facts::read_site(site, pool, tools, reporter).await {
            Ok(read) => read,
            Err(why) if why.is_site_unreadable() => {
                let id = journal.snapshot.clone().ok_or_else(|| {
                    SiteError::failed(
                        "the site cannot be read and the interrupted run took no snapshot",
                        &why,
                    )
                })?;
                let snapshot = store
                    .find(&site.name, &id)
                    .map_err(|e| SiteError::Store(format!("reading snapshot {id}: {e}")))?
                    .ok_or_else(|| {
                        SiteError::Store(format!("snapshot {id} is not in {}", store.location()))
                    })?;
                let message = format!("the site cannot be read ({why}); using the database credentials recorded in snapshot {id}");
                reporter.event(&Event::Log {
                    level: Level::Warning,
                    site: Some(&site.name),
                    message: &message,
                });
                super::facts::ReadSite {
                    host: host.clone(),
                    tools: tools.get(&host, &site.php).await?,
                    facts: super::restore::facts_from_snapshot(store, &snapshot)?,
                }
            }
            Err(e) => return Err(e),
        };
        let undone = describe(&journal);
        let work = async {
            if journal.kept {
                let end = journal::end_maintenance_script(&journal);
                if !end.is_empty() {
                    journal::write_then(&host, &journal, &end).await?;
                }
                journal::clear(&host, &journal).await?;
            } else {
                rollback::undo(&host, site, &journal, &read.facts, &read.tools, store).await?;
            }
            Ok(())
        };
        site_lock::with_lock(
            pool,
            &Endpoint::of(site),
            &site.path,
            "recover",
            |previous| super::backup::took_over(reporter, &site.name, previous),
            work,
        )
        .await?;
        // PHP may serve the files it had cached for a moment (opcache revalidation).
        tokio::time::sleep(verify_delay).await;
        let specs = super::run::checks_for(site, read.facts.cms, &[]);
        let checks = verify::run_checks(http, &site.url, &specs).await;
        Ok(Recovered {
            run: Some(journal.run.clone()),
            undone,
            checks,
        })
    })
    .await
}
