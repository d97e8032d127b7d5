//! Phase one of `tend run`: what the playbook would do to each site, as data.
//!
//! As pyinfra does it, every site is read and its plan computed before anything changes:
//! one [`PlanItem`] per step (which updates, which snapshot, how many checks, what a prune
//! would remove) plus the updates held back and why. `--check` prints this and stops; a
//! terminal run shows it and asks; the run then executes exactly the updates that were
//! shown, refusing a site whose plan changed in between (see `run`).

use serde::Serialize;

use super::journal::{self, Journal};
use super::SiteResult;
use crate::backup::prune;
use crate::cms::Facts;
use crate::inventory::Site;
use crate::playbook::{Playbook, Step, UpdateStep};
use crate::remote::Connection;
use crate::site_error::SiteError;
use crate::updates::held_versions;
use crate::updates::policy::{self, Change, Held, Policy};

use super::run::Context;

/// What one step would do to one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PlanItem {
    /// A snapshot of files and database, with this label.
    Backup {
        label: Option<String>,
    },
    Maintenance {
        on: bool,
    },
    /// These updates (none: nothing to update).
    Update {
        changes: Vec<Change>,
    },
    /// Left out: the site has nothing to update, and this step is there for the update
    /// (see [`Step::idle_without_updates`]).
    Skipped {
        skipped: &'static str,
        reason: &'static str,
    },
    /// This many checks.
    Verify {
        checks: usize,
    },
    /// The retention rules would remove this many snapshots, counted before this run's
    /// own snapshot when the playbook takes one.
    Prune {
        removes: usize,
        before_this_runs_snapshot: bool,
    },
}

/// What a run would do to one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SitePlan {
    /// One item per step, in order.
    pub items: Vec<PlanItem>,
    pub changes: Vec<Change>,
    pub held: Vec<Held>,
    /// Newer versions waiting for a step's `min_age`, and until when.
    pub waits: Vec<policy::Waiting>,
    /// Installed components no update source tracks (never updated by tend).
    pub untracked: Vec<policy::Untracked>,
    /// The playbook updates, and this site has nothing to update: no snapshot, no
    /// maintenance window and no prune unless the playbook asks (`backup: { always: true }`).
    pub nothing_to_update: bool,
    /// Another run's unfinished work on this site (its journal), which blocks it.
    #[serde(skip)]
    pub unfinished: Option<SiteError>,
}

impl super::Judged for SitePlan {
    fn outcome(&self) -> crate::outcome::Outcome {
        if self.unfinished.is_some() {
            crate::outcome::Outcome::Failed
        } else {
            crate::outcome::Outcome::Ok
        }
    }

    fn problem(&self) -> Option<String> {
        self.unfinished.as_ref().map(SiteError::masked)
    }
}

/// Reads every site and plans what the playbook would do. Changes nothing.
pub async fn plan(ctx: &Context<'_>, sites: &[&Site], forks: usize) -> Vec<SiteResult<SitePlan>> {
    super::run_sites("plan", sites, forks, ctx.reporter, |site| async move {
        let read = super::facts::read_site(site, ctx.pool, ctx.tools, ctx.reporter).await?;
        let unfinished = journal::read(&read.host, &site.path)
            .await?
            .map(|j| unfinished(site, &j));
        let update_steps = update_steps(ctx.playbook);
        let UpdatePlans {
            steps: updates,
            untracked,
        } = if update_steps.is_empty() {
            UpdatePlans::default()
        } else {
            for step in &update_steps {
                warn_unmatched(ctx, site, &read.facts, step);
            }
            plan_updates(ctx, site, &read.host, &read.facts, &update_steps).await?
        };
        let mut step_plans = updates.iter();
        let nothing_to_update = nothing_to_update(&update_steps, &updates);
        let mut snapshot_taken = false;
        let steps = &ctx.playbook.steps;
        let items = steps
            .iter()
            .map(|step| {
                if nothing_to_update && step.idle_without_updates(snapshot_taken) {
                    return PlanItem::Skipped {
                        skipped: step.name().as_str(),
                        reason: NOTHING_TO_UPDATE,
                    };
                }
                snapshot_taken |= matches!(step, Step::Backup { .. });
                match step {
                    Step::Backup { label, .. } => PlanItem::Backup {
                        label: label.clone(),
                    },
                    Step::Maintenance { on } => PlanItem::Maintenance { on: *on },
                    Step::Update(_) => PlanItem::Update {
                        changes: step_plans
                            .next()
                            .map(|p| p.changes.clone())
                            .unwrap_or_default(),
                    },
                    Step::Verify { checks } => PlanItem::Verify {
                        checks: super::run::checks_for(site, read.facts.cms, checks).len(),
                    },
                    Step::Prune => {
                        let outcome = prune::prune(
                            ctx.store,
                            &[site.name.as_str()],
                            &ctx.inventory.settings.retention,
                            &Default::default(),
                            true,
                        );
                        PlanItem::Prune {
                            removes: outcome.first().map_or(0, |o| o.removed.len()),
                            before_this_runs_snapshot: snapshot_taken,
                        }
                    }
                }
            })
            .collect();
        Ok(SitePlan {
            items,
            changes: updates.iter().flat_map(|p| p.changes.clone()).collect(),
            held: policy::held_over(&updates),
            waits: policy::waits_over(&updates),
            untracked,
            nothing_to_update,
            unfinished,
        })
    })
    .await
}

/// A warning for each `hold` of the site and `exclude` of the step that matches nothing
/// installed (today `hold: [client-widget]` on a site without it would hold nothing,
/// silently). Only the plan can tell: it needs the site's facts.
fn warn_unmatched(ctx: &Context<'_>, site: &Site, facts: &Facts, step: &UpdateStep) {
    for (names, key, whose) in [
        (&site.hold, "hold", "the site's"),
        (&step.exclude, "exclude", "the playbook's"),
    ] {
        for name in policy::unmatched(names, facts) {
            ctx.reporter.event(&crate::events::Event::Log {
                level: crate::events::Level::Warning,
                site: Some(&site.name),
                message: &format!(
                    "{whose} `{key}: {name}` matches nothing installed on the site, so it holds nothing back (misspelt, or removed?)"
                ),
            });
        }
    }
}

/// What a site with nothing to update is said to have.
pub const NOTHING_TO_UPDATE: &str = "nothing to update";

/// Whether the playbook updates and every one of its update steps has nothing to do.
pub(super) fn nothing_to_update(steps: &[&UpdateStep], plans: &[policy::Plan]) -> bool {
    !steps.is_empty() && plans.iter().all(|p| p.changes.is_empty())
}

/// The playbook's update steps, in order.
pub(super) fn update_steps(playbook: &Playbook) -> Vec<&UpdateStep> {
    playbook
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Update(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// The updates the sources offer the site and each update step's policy allows: one plan
/// per step, in order, each planned from the site as the steps before it leave it.
pub(super) async fn plan_updates(
    ctx: &Context<'_>,
    site: &Site,
    host: &Connection,
    facts: &Facts,
    steps: &[&UpdateStep],
) -> Result<UpdatePlans, SiteError> {
    crate::cms::adapter(facts.cms).check_updatable(facts)?;
    let dated = steps.iter().any(|s| s.min_age.is_some());
    let offered = ctx.sources.offered(facts, dated).await?;
    let mut offers = offered.offers;
    let mut tracked = offered.tracked;
    let from_host = crate::cms::adapter(facts.cms)
        .host_offers(site, host, facts)
        .await?;
    tracked.extend(from_host.iter().map(|o| (o.kind, o.slug.clone())));
    offers.extend(from_host);
    // Versions that broke this site before are not offered again (unless retried).
    let remembered = if ctx.retry_held {
        Vec::new()
    } else {
        ctx.held_versions.read(&site.name).map_err(|e| {
            SiteError::Store(format!(
                "reading the versions that broke {} before: {e}",
                site.name
            ))
        })?
    };
    let withheld = held_versions::withhold(&mut offers, &remembered);
    let policies: Vec<Policy<'_>> = steps
        .iter()
        .map(|step| Policy::of(Some(step), &site.hold, facts.cms))
        .collect();
    let mut plans = policy::plan_steps(facts, &offers, &policies);
    let changes: Vec<policy::Change> = plans.iter().flat_map(|p| p.changes.clone()).collect();
    if let Some(first) = plans.first_mut() {
        first.held.extend(held_versions::held_entries(
            &withheld,
            &changes,
            |kind, slug| facts.installed_version(kind, slug),
        ));
    }
    Ok(UpdatePlans {
        steps: plans,
        untracked: policy::untracked(facts, &tracked),
    })
}

/// The updates of a site: one plan per update step, and what no source tracks.
#[derive(Debug, Clone, Default)]
pub(super) struct UpdatePlans {
    pub steps: Vec<policy::Plan>,
    pub untracked: Vec<policy::Untracked>,
}

/// The error of a site another run left unfinished.
pub(super) fn unfinished(site: &Site, journal: &Journal) -> SiteError {
    SiteError::Unfinished {
        site: site.name.clone(),
        run: journal.run.clone(),
        started: journal.started.clone(),
        owner: journal.owner.clone(),
    }
}

/// Whether the updates about to run are the ones the user confirmed; `None` when they are,
/// else the error that refuses the site before anything changes.
pub(super) fn differs_from_confirmed(confirmed: &[Change], now: &[Change]) -> Option<SiteError> {
    let key = |c: &Change| (c.kind, c.slug.clone(), c.from.clone(), c.to.clone());
    let mut a: Vec<_> = confirmed.iter().map(key).collect();
    let mut b: Vec<_> = now.iter().map(key).collect();
    a.sort();
    b.sort();
    if a == b {
        return None;
    }
    let list = |changes: &[Change]| {
        if changes.is_empty() {
            NOTHING_TO_UPDATE.to_owned()
        } else {
            changes
                .iter()
                .map(super::apply::describe)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    Some(SiteError::PlanChanged {
        confirmed: list(confirmed),
        now: list(now),
    })
}
