//! `tend run PLAYBOOK`: the playbook's steps, site by site.
//!
//! This version runs the steps that keep sites safe without changing them — `backup` and
//! `prune` — which is what the nightly backup playbook needs. Playbooks with steps that
//! change sites (`maintenance`, `update`, `verify`) are refused before anything runs, with
//! a clear message, rather than half-run.

use serde::Serialize;

use super::site_lock;
use crate::backup::create::{self, Contents};
use crate::backup::prune;
use crate::backup::Store;
use crate::cms::host_tools::HostToolsCache;
use crate::events::{Event, Reporter};
use crate::inventory::{Inventory, Site};
use crate::playbook::{Playbook, Step};
use crate::remote::Pool;
use crate::site_error::SiteError;

/// The first step this version cannot run, if any.
pub fn unsupported_step(playbook: &Playbook) -> Option<(usize, &'static str)> {
    playbook
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| !matches!(s, Step::Backup(_) | Step::Prune(_)))
        .map(|(i, s)| (i, s.name()))
}

/// What a run did to one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteRun {
    /// The snapshot the playbook's backup step took.
    pub snapshot: Option<String>,
    /// Snapshots the prune step removed.
    pub pruned: Vec<String>,
}

/// What `--check` says each step would do, per site.
pub fn plan(
    playbook: &Playbook,
    sites: &[&Site],
    store: &Store,
    inventory: &Inventory,
) -> Vec<(String, Vec<String>)> {
    sites
        .iter()
        .map(|site| {
            let mut lines = Vec::new();
            let mut will_snapshot = false;
            for step in &playbook.steps {
                match step {
                    Step::Backup(b) => {
                        will_snapshot = true;
                        let label = b
                            .as_ref()
                            .and_then(|b| b.label.clone())
                            .unwrap_or_else(|| "no label".into());
                        lines.push(format!(
                            "backup: take a snapshot (files + database), label {label}"
                        ));
                    }
                    Step::Prune(_) => {
                        let outcome = prune::prune(
                            store,
                            &[site.name.as_str()],
                            &inventory.settings.retention,
                            true,
                        );
                        let removed = outcome.first().map_or(0, |o| o.removed.len());
                        let extra = if will_snapshot {
                            " (before counting this run's snapshot)"
                        } else {
                            ""
                        };
                        lines.push(format!("prune: would remove {removed} snapshot(s){extra}"));
                    }
                    other => lines.push(format!("{}: not supported by this version", other.name())),
                }
            }
            (site.name.clone(), lines)
        })
        .collect()
}

pub async fn run(
    playbook: &Playbook,
    sites: &[&Site],
    inventory: &Inventory,
    pool: &Pool,
    store: &Store,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<super::SiteResult<SiteRun>> {
    let tools = HostToolsCache::default();
    let tools = &tools;
    super::run_sites(&playbook.name, sites, forks, reporter, |site| async move {
        let read = super::facts::read_site(site, pool, tools, reporter).await?;
        let work = async {
            let mut outcome = SiteRun::default();
            for step in &playbook.steps {
                reporter.event(&Event::Step {
                    site: &site.name,
                    step: step.name(),
                });
                match step {
                    Step::Backup(b) => {
                        let label = b.as_ref().and_then(|b| b.label.as_deref());
                        let manifest = create::snapshot(
                            store,
                            site,
                            &read.host,
                            &read.facts,
                            &read.tools,
                            label,
                            Contents::ALL,
                        )
                        .await?;
                        outcome.snapshot = Some(manifest.id);
                    }
                    Step::Prune(_) => {
                        let result = prune::prune(
                            store,
                            &[site.name.as_str()],
                            &inventory.settings.retention,
                            false,
                        );
                        let result = result
                            .into_iter()
                            .next()
                            .expect("one site asked, one answer");
                        if let Some(e) = result.error {
                            return Err(SiteError::site(format!("prune: {e}")));
                        }
                        outcome.pruned =
                            result.removed.into_iter().map(|s| s.manifest.id).collect();
                    }
                    other => {
                        return Err(SiteError::site(format!(
                            "step `{}` is not supported by this version",
                            other.name()
                        )))
                    }
                }
            }
            Ok(outcome)
        };
        site_lock::with_lock(
            &read.host,
            &site.path,
            "run",
            |previous| super::backup::took_over(reporter, &site.name, previous),
            work,
        )
        .await
    })
    .await
}
