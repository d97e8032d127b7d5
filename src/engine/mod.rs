//! Running work over many sites: bounded concurrency, one result per site, failures kept
//! to their site.
//!
//! Each command (facts, backups, restores, recovery, playbook runs) is a function from one
//! site to a result. [`run_sites`] runs it for every selected site with at most `forks` in
//! flight, judges each result into the site's [`Outcome`] (reported as the site finishes)
//! and returns results in inventory order, whatever order they finished in.

pub mod apply;
pub mod backup;
pub mod facts;
pub mod journal;
pub mod plan;
pub mod recover;
pub mod restore;
pub mod restore_offline;
pub mod restore_settle;
pub mod rollback;
pub mod run;
pub mod site_lock;

use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::events::{Event, Reporter};
use crate::inventory::Site;
use crate::outcome::Outcome;
use crate::site_error::SiteError;

/// One site's outcome in a command over many sites.
#[derive(Debug)]
pub struct SiteResult<T> {
    pub site: String,
    pub result: Result<T, SiteError>,
    /// How long the site's work took.
    pub elapsed: std::time::Duration,
}

/// What a site's work says of the site when it returned normally: a playbook run that
/// rolled back returned a result, and the site still failed. Every per-site line and
/// interim history record is judged from this, never assumed `ok`.
pub trait Judged {
    fn outcome(&self) -> Outcome {
        Outcome::Ok
    }

    /// Why the site did not simply succeed (masked before it leaves the engine).
    fn problem(&self) -> Option<String> {
        None
    }

    /// What the work changed, in a few words (`updated plugin akismet 5.0 → 5.5`), for the
    /// site's line in the log.
    fn changed(&self) -> Option<String> {
        None
    }
}

/// [`for_each_site`], reporting the command's start and end and each site's outcome.
pub async fn run_sites<'a, T: Judged + 'a, F, Fut>(
    what: &str,
    sites: &'a [&'a Site],
    forks: usize,
    reporter: &'a dyn Reporter,
    work: F,
) -> Vec<SiteResult<T>>
where
    F: Fn(&'a Site) -> Fut,
    Fut: Future<Output = Result<T, SiteError>> + 'a,
{
    reporter.event(&Event::Begin {
        what,
        total: sites.len(),
    });
    let results = for_each_site(sites, forks, |site| {
        let work = work(site);
        async move {
            // Interrupted (SIGINT, SIGTERM): no new site is started.
            if let Some(signal) = crate::interrupt::requested() {
                drop(work);
                let result = Err(SiteError::NotStarted(crate::interrupt::reason(signal)));
                reporter.event(&Event::SiteFinished {
                    site: &site.name,
                    outcome: Outcome::Skipped,
                    error: Some(&crate::interrupt::reason(signal)),
                    changed: None,
                    elapsed: None,
                });
                return SiteResult {
                    site: site.name.clone(),
                    result,
                    elapsed: std::time::Duration::ZERO,
                };
            }
            let _in_flight = crate::interrupt::InFlight::new(&site.name);
            reporter.event(&Event::SiteStarted { site: &site.name });
            let started = std::time::Instant::now();
            let result = work.await;
            let elapsed = started.elapsed();
            let (outcome, error, changed) = match &result {
                Ok(value) => (
                    value.outcome(),
                    value.problem().map(|e| crate::secrets::mask(&e)),
                    value.changed().map(|c| crate::secrets::mask(&c)),
                ),
                Err(SiteError::NotStarted(reason)) => {
                    (Outcome::Skipped, Some(reason.clone()), None)
                }
                Err(e) => (Outcome::Failed, Some(e.masked()), None),
            };
            reporter.event(&Event::SiteFinished {
                site: &site.name,
                outcome,
                error: error.as_deref(),
                changed: changed.as_deref(),
                elapsed: Some(elapsed),
            });
            SiteResult {
                site: site.name.clone(),
                result,
                elapsed,
            }
        }
    })
    .await;
    reporter.event(&Event::End);
    results
}

/// Runs `work` for every site, at most `forks` at once; results in the order of `sites`.
pub async fn for_each_site<'a, T, F, Fut>(sites: &'a [&'a Site], forks: usize, work: F) -> Vec<T>
where
    F: Fn(&'a Site) -> Fut,
    Fut: Future<Output = T> + 'a,
{
    stream::iter(sites.iter().map(|site| work(site)))
        .buffered(forks.max(1))
        .collect()
        .await
}

/// Reading a site succeeded: nothing more to judge.
impl Judged for crate::cms::Facts {}

/// A snapshot was taken.
impl Judged for crate::backup::Manifest {
    fn changed(&self) -> Option<String> {
        Some(format!(
            "snapshot {} ({})",
            self.id,
            crate::human_size::human_bytes(self.bytes())
        ))
    }
}

/// Whether a site has unfinished work was read.
impl Judged for Option<journal::Journal> {}

/// An interrupted run's work was undone.
impl Judged for recover::Recovered {
    fn outcome(&self) -> Outcome {
        Outcome::Recovered
    }
}
