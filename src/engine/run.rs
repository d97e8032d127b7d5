//! `tend run PLAYBOOK`: the playbook's steps, site by site, with rollback.
//!
//! Two phases, as pyinfra does it: first every site is read and its plan computed as data
//! (`plan`) — that is all `--check` does, and what a terminal run shows before asking. Then
//! each site runs under its lock: the updates are planned again from fresh facts and must be
//! the ones the user confirmed (else the site is refused, unchanged), and the steps run in
//! order.
//! Everything that changes a site is first written to the journal on the host; when a step
//! fails, `on_failure` decides: `rollback` undoes the journal (files renamed back, database
//! from the run's snapshot) and verifies again, `stop` ends the site's run where it is,
//! `continue` carries on and reports the site failed.

use std::sync::atomic::{AtomicUsize, Ordering};

mod each;

pub use each::RolledBackChange;

use super::apply::{self, Updater};
use super::journal::{self, Journal};
use super::plan::{self as planning, SitePlan};
use super::{rollback, site_lock, SiteResult};
use crate::backup::create::{self, Contents};
use crate::backup::prune;
use crate::backup::SnapshotStore;
use crate::cms::host_tools::HostToolsCache;
use crate::cms::{CmsKind, Facts};
use crate::events::{Event, Level, Reporter};
use crate::inventory::Check;
use crate::inventory::{Inventory, Site};
use crate::outcome::Outcome;
use crate::playbook::{OnFailure, Playbook, Step, UpdateMode, UpdateStep};
use crate::remote::{quote, Connection, Endpoint, Pool};
use crate::site_error::SiteError;
use crate::updates::held_versions::HeldVersions;
use crate::updates::package::PackageCache;
use crate::updates::policy::{self, Change, Held};
use crate::updates::sources::Sources;
use crate::verify::{self, CheckResult, CheckSpec};
use std::sync::Arc;

/// How long a rollback waits for commands a lost connection left running on the host.
const LOST_COMMANDS_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Everything a run shares between its sites.
pub struct Context<'a> {
    pub playbook: &'a Playbook,
    pub inventory: &'a Inventory,
    pub pool: &'a Pool,
    pub store: &'a dyn SnapshotStore,
    pub reporter: &'a dyn Reporter,
    pub sources: &'a Sources,
    pub packages: &'a PackageCache,
    /// For HTTP checks.
    pub http: &'a reqwest::Client,
    pub tools: &'a HostToolsCache,
    /// This run's id: names its work folders on the hosts.
    pub run_id: &'a str,
    /// The versions that broke sites before (held in plans, remembered by `mode: each`).
    pub held_versions: &'a HeldVersions,
    /// `--retry-held`: plan as if no version had broken a site before.
    pub retry_held: bool,
}

/// A new run id: the time and the process, unique on one runner.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    )
}

/// Whether the playbook changes sites (and so needs a confirmation).
pub fn changes_sites(playbook: &Playbook) -> bool {
    playbook.steps.iter().any(Step::changes_site)
}

/// What a run did to one site.
#[derive(Debug, Clone)]
pub struct SiteRun {
    pub status: Outcome,
    /// The snapshot the playbook's backup step took.
    pub snapshot: Option<String>,
    /// The updates applied (for a rolled-back site: applied, then undone).
    pub changes: Vec<Change>,
    /// `mode: each`: the updates that broke the site and were rolled back alone.
    pub rolled_back: Vec<RolledBackChange>,
    pub held: Vec<Held>,
    /// Newer versions waiting for a step's `min_age`, and until when.
    pub waits: Vec<policy::Waiting>,
    /// Installed components no update source tracks (never updated by tend).
    pub untracked: Vec<policy::Untracked>,
    /// The playbook updates and the site had nothing to update: the steps there only for
    /// the update (snapshot, maintenance, prune) were left out.
    pub nothing_to_update: bool,
    /// Snapshots the prune step removed.
    pub pruned: Vec<String>,
    /// The checks before the first change, and the last verification's.
    pub checks_before: Vec<CheckResult>,
    pub checks: Vec<CheckResult>,
    /// A verification that failed (the one that led to the rollback or failure): kept
    /// apart because `checks` is overwritten by the verification after a rollback.
    pub failed_verification: Vec<CheckResult>,
    /// Why the site failed, was rolled back or was not started.
    pub error: Option<SiteError>,
    /// How the rollback went, when there was one.
    pub rollback: Option<String>,
    /// What failed in the clean-up after the site's work (ending maintenance, clearing
    /// the journal, releasing the lock), with the state that left the site in: reported
    /// beside the outcome of the work, never instead of it.
    pub cleanup: Vec<String>,
}

impl super::Judged for SiteRun {
    fn outcome(&self) -> Outcome {
        self.status
    }

    fn changed(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.nothing_to_update {
            parts.push(planning::NOTHING_TO_UPDATE.to_owned());
        }
        if !self.changes.is_empty() {
            let verb = if self.status.is_success() || self.status == Outcome::Partial {
                "updated"
            } else {
                "undone"
            };
            let list: Vec<String> = self.changes.iter().map(apply::describe).collect();
            parts.push(format!("{verb} {}", list.join(", ")));
        }
        if !self.rolled_back.is_empty() {
            let list: Vec<String> = self
                .rolled_back
                .iter()
                .map(|r| apply::describe(&r.change))
                .collect();
            parts.push(format!("rolled back alone {}", list.join(", ")));
        }
        if let Some(id) = &self.snapshot {
            parts.push(format!("snapshot {id}"));
        }
        if !self.pruned.is_empty() {
            parts.push(format!("{} snapshot(s) pruned", self.pruned.len()));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn problem(&self) -> Option<String> {
        let problem = match (self.status, &self.error, &self.rollback) {
            (Outcome::Ok | Outcome::Recovered, _, _) => None,
            (Outcome::Failed, Some(error), Some(rollback)) => Some(format!("{error}; {rollback}")),
            (_, error, _) => error.as_ref().map(ToString::to_string),
        };
        if self.cleanup.is_empty() {
            return problem;
        }
        let cleanup = format!("clean-up failed: {}", self.cleanup.join("; "));
        Some(match problem {
            Some(problem) => format!("{problem}; {cleanup}"),
            None => cleanup,
        })
    }
}

impl SiteRun {
    fn new() -> SiteRun {
        SiteRun {
            status: Outcome::Ok,
            snapshot: None,
            changes: Vec::new(),
            rolled_back: Vec::new(),
            held: Vec::new(),
            waits: Vec::new(),
            untracked: Vec::new(),
            nothing_to_update: false,
            pruned: Vec::new(),
            checks_before: Vec::new(),
            checks: Vec::new(),
            failed_verification: Vec::new(),
            error: None,
            rollback: None,
            cleanup: Vec::new(),
        }
    }
}

/// Phase two: runs the playbook on every site. `confirmed` is the plan the user was shown
/// and agreed to, when there was one: a site whose updates differ from it now is refused.
pub async fn run(
    ctx: &Context<'_>,
    sites: &[&Site],
    forks: usize,
    confirmed: Option<&[SiteResult<SitePlan>]>,
) -> Vec<SiteResult<SiteRun>> {
    let failures = AtomicUsize::new(0);
    let failures = &failures;
    let limit = ctx.playbook.max_failures;
    super::run_sites(
        &ctx.playbook.name,
        sites,
        forks,
        ctx.reporter,
        |site| async move {
            if let Some(limit) = limit {
                if failures.load(Ordering::SeqCst) >= limit {
                    let mut outcome = SiteRun::new();
                    outcome.status = Outcome::Skipped;
                    outcome.error = Some(SiteError::NotStarted(format!(
                        "{limit} site(s) already failed or were rolled back (max_failures)"
                    )));
                    return Ok(outcome);
                }
            }
            let result = match confirmed.map(|plans| confirmed_changes(plans, site)) {
                Some(Err(not_confirmed)) => Err(not_confirmed),
                Some(Ok(changes)) => run_site(ctx, site, Some(changes)).await,
                None => run_site(ctx, site, None).await,
            };
            let failed = match &result {
                Ok(outcome) => matches!(outcome.status, Outcome::Failed | Outcome::RolledBack),
                Err(_) => true,
            };
            if failed {
                failures.fetch_add(1, Ordering::SeqCst);
            }
            result
        },
    )
    .await
}

/// The updates the user confirmed for `site`, or why there is no plan of it to run.
fn confirmed_changes<'p>(
    plans: &'p [SiteResult<SitePlan>],
    site: &Site,
) -> Result<&'p [Change], SiteError> {
    match plans
        .iter()
        .find(|p| p.site == site.name)
        .map(|p| &p.result)
    {
        Some(Ok(plan)) => Ok(&plan.changes),
        Some(Err(e)) => Err(SiteError::NotConfirmed { reason: e.masked() }),
        None => Err(SiteError::NotConfirmed {
            reason: "it was not in the plan".to_owned(),
        }),
    }
}

async fn run_site(
    ctx: &Context<'_>,
    site: &Site,
    confirmed: Option<&[Change]>,
) -> Result<SiteRun, SiteError> {
    let read = super::facts::read_site(site, ctx.pool, ctx.tools, ctx.reporter).await?;
    let host = read.host.clone();
    let endpoint = Endpoint::of(site);
    let work = async {
        if let Some(unfinished) = journal::read(&host, &site.path).await? {
            return Err(planning::unfinished(site, &unfinished));
        }
        let mut state = SiteState {
            ctx,
            site,
            host: host.clone(),
            facts: read.facts.clone(),
            journal: None,
            outcome: SiteRun::new(),
            code_changed: None,
            planned: std::collections::VecDeque::new(),
            lost: Vec::new(),
            passage: None,
        };
        // Plan, then act: the updates are planned (and their packages fetched and
        // checked) before the site is touched, so a site that cannot be planned — a source
        // down, a refused package, an end-of-life CMS — fails with nothing changed.
        let update_steps = planning::update_steps(ctx.playbook);
        if !update_steps.is_empty() {
            state.prepare_updates(&update_steps).await?;
        }
        if let Some(confirmed) = confirmed {
            let now: Vec<Change> = state
                .planned
                .iter()
                .flat_map(|p| p.changes.clone())
                .collect();
            if let Some(changed) = planning::differs_from_confirmed(confirmed, &now) {
                return Err(changed);
            }
        }
        state.outcome.nothing_to_update =
            planning::nothing_to_update(&update_steps, state.planned.make_contiguous());
        // From here on the site may change: whatever fails, the outcome (changes,
        // snapshot, rollback) is what the site's result says.
        state.steps(&read.tools).await;
        Ok(state.outcome)
    };
    let held = site_lock::hold(
        ctx.pool,
        &endpoint,
        &site.path,
        "run",
        |previous| super::backup::took_over(ctx.reporter, &site.name, previous),
        work,
    )
    .await?;
    let mut outcome = held.result?;
    if let Err(e) = held.released {
        outcome.cleanup.push(format!(
            "releasing the site's lock: {}; the lock is left, and is taken over as stale once this run has ended",
            e.masked()
        ));
    }
    Ok(outcome)
}

/// Why a step failed.
struct StepFailure {
    /// What went wrong, with the step named.
    error: SiteError,
    /// The failure was there before the run changed anything: undoing the run's changes
    /// would not mend it.
    preexisting: bool,
}

struct SiteState<'a, 'c> {
    ctx: &'a Context<'c>,
    site: &'a Site,
    /// The site's connection; asked of the pool again when it dropped.
    host: Arc<Connection>,
    facts: Facts,
    journal: Option<Journal>,
    outcome: SiteRun,
    /// When tend last changed the site's PHP files.
    code_changed: Option<std::time::Instant>,
    /// The updates planned before anything changed: one plan per update step still to
    /// run, in order (empty: no update step).
    planned: std::collections::VecDeque<policy::Plan>,
    /// The tags of connections that dropped under this site's work: their commands may
    /// still run on the host.
    lost: Vec<String>,
    /// How the checks get through the site's maintenance mode while it is on (a new
    /// secret each time it is turned on); `None` when it is off or the CMS has no way.
    passage: Option<crate::cms::maintenance_pass::Passage>,
}

impl SiteState<'_, '_> {
    fn log(&self, level: Level, message: &str) {
        self.ctx.reporter.event(&Event::Log {
            level,
            site: Some(&self.site.name),
            message,
        });
    }

    /// The connection to the site's host, opened again (the pool reconnects) if it
    /// dropped: what undoes or finishes the run's changes must not fail because the
    /// connection that made them was cut.
    async fn reconnect(&mut self) -> Result<(), SiteError> {
        if self.host.is_alive().await {
            return Ok(());
        }
        self.log(
            Level::Warning,
            "the connection to the host dropped; opening it again",
        );
        self.lost.push(self.host.tag().to_owned());
        self.host = self.ctx.pool.connect(&Endpoint::of(self.site)).await?;
        Ok(())
    }

    /// Waits for what the lost connections left running on the host (a database upgrade
    /// goes on when its connection is cut) before anything is undone under it.
    async fn wait_for_lost_commands(&mut self) {
        for tag in std::mem::take(&mut self.lost) {
            match self
                .host
                .wait_for_processes_of(&tag, LOST_COMMANDS_WAIT)
                .await
            {
                Ok(true) => {}
                Ok(false) => self.log(
                    Level::Warning,
                    &format!(
                        "commands of the lost connection still run on the host after {} s; rolling back anyway",
                        LOST_COMMANDS_WAIT.as_secs()
                    ),
                ),
                Err(e) => self.log(
                    Level::Warning,
                    &format!("could not look for commands of the lost connection: {}", crate::secrets::mask(&e.to_string())),
                ),
            }
        }
    }

    fn left_state(&self, journal: &Journal, undo_started: bool) -> String {
        left_state(&self.site.name, journal, undo_started)
    }

    async fn steps(&mut self, tools: &crate::cms::host_tools::HostTools) {
        let playbook = self.ctx.playbook;
        let mut failure: Option<StepFailure> = None;
        let mut baseline_taken = false;
        for step in &playbook.steps {
            if failure.is_some() && playbook.on_failure != OnFailure::Continue {
                break;
            }
            // Interrupted: no further step; what was changed is undone below as after a
            // failed step (with `on_failure: rollback`).
            if let Some(signal) = crate::interrupt::requested() {
                let error = SiteError::Interrupted(crate::interrupt::reason(signal));
                self.log(Level::Warning, &error.masked());
                if failure.is_none() {
                    failure = Some(StepFailure {
                        error,
                        preexisting: false,
                    });
                }
                break;
            }
            // A site with nothing to update gets no snapshot, maintenance window or
            // prune unless the playbook asks.
            if self.outcome.nothing_to_update
                && step.idle_without_updates(self.outcome.snapshot.is_some())
            {
                self.log(
                    Level::Detail,
                    &format!("{}: skipped ({})", step.name(), planning::NOTHING_TO_UPDATE),
                );
                continue;
            }
            // The checks are taken before the first change, to tell "broken by the
            // update" from "already broken".
            if !baseline_taken && step.changes_site() {
                baseline_taken = true;
                if let Some(verify) = first_verify(playbook) {
                    let specs = checks_for(self.site, self.facts.cms, verify);
                    self.outcome.checks_before =
                        verify::run_checks(self.ctx.http, &self.site.url, &specs).await;
                }
            }
            self.ctx.reporter.event(&Event::Step {
                site: &self.site.name,
                step: step.name().as_str(),
            });
            if let Err(e) = self.step(step, tools).await {
                self.log(Level::Warning, &e.error.masked());
                if failure.is_none() {
                    failure = Some(e);
                }
            }
        }
        match failure {
            None => self.finish_kept().await,
            Some(failure) => {
                let rollback_wanted = playbook.on_failure == OnFailure::Rollback
                    && !failure.preexisting
                    && self.journal.as_ref().is_some_and(Journal::changed_anything);
                self.outcome.error = Some(failure.error);
                if rollback_wanted {
                    self.roll_back(tools).await;
                } else {
                    self.outcome.status = Outcome::Failed;
                    self.finish_kept().await;
                }
            }
        }
    }

    async fn step(
        &mut self,
        step: &Step,
        tools: &crate::cms::host_tools::HostTools,
    ) -> Result<(), StepFailure> {
        let name = step.name();
        let fail = |e: SiteError| StepFailure {
            error: SiteError::Step {
                step: name.as_str(),
                cause: Box::new(e),
            },
            preexisting: false,
        };
        // A connection that dropped since the last step is opened again.
        if step.changes_site() || matches!(step, Step::Backup { .. }) {
            self.reconnect().await.map_err(fail)?;
        }
        match step {
            Step::Backup { label, .. } => {
                let manifest = create::snapshot(
                    self.ctx.store,
                    self.site,
                    &self.host,
                    &self.facts,
                    tools,
                    label.as_deref(),
                    Contents::ALL,
                )
                .await
                .map_err(fail)?;
                self.outcome.snapshot = Some(manifest.id.clone());
                // The snapshot stays the run's (and is listed); a failed off-site copy
                // fails the site before anything is changed.
                match crate::backup::offsite::copy_after(self.ctx.store, &manifest) {
                    Some(crate::backup::offsite::OffsiteOutcome::Failed(failure)) => {
                        Err(fail(SiteError::OffsiteCopyFailed(failure)))
                    }
                    _ => Ok(()),
                }
            }
            Step::Maintenance { on } => self.maintenance(*on).await.map_err(fail),
            Step::Update(step) => self.update(step, tools).await.map_err(fail),
            Step::Verify { checks } => self.verify(checks).await,
            Step::Prune => {
                // What an unfinished run needs for `tend recover` is never removed: the
                // journal on the host (this run's, or one left before it) names it.
                let mut ids: Vec<String> = self
                    .journal
                    .as_ref()
                    .and_then(|j| j.snapshot.clone())
                    .into_iter()
                    .collect();
                let needed = match journal::read(&self.host, &self.site.path).await {
                    Ok(found) => {
                        ids.extend(found.and_then(|j| j.snapshot));
                        prune::Needed::Snapshots(ids)
                    }
                    Err(e) => prune::Needed::Unknown(format!(
                        "its journal could not be read ({})",
                        e.masked()
                    )),
                };
                let needed = std::collections::BTreeMap::from([(self.site.name.clone(), needed)]);
                let result = prune::prune(
                    self.ctx.store,
                    &[self.site.name.as_str()],
                    &self.ctx.inventory.settings.retention,
                    &needed,
                    false,
                );
                let result = result
                    .into_iter()
                    .next()
                    .expect("one site asked, one answer");
                if let Some(e) = result.error {
                    return Err(fail(SiteError::Store(e.to_string())));
                }
                self.outcome.pruned = result.removed.into_iter().map(|s| s.manifest.id).collect();
                Ok(())
            }
        }
    }

    /// The site's journal, started (and written before anything changes) when needed.
    fn journal(&mut self) -> &mut Journal {
        let site = self.site;
        let snapshot = self.outcome.snapshot.clone();
        let run = self.ctx.run_id;
        self.journal.get_or_insert_with(|| {
            Journal::new(
                run,
                &site_lock::owner_line("run"),
                &site.name,
                &site.path,
                snapshot.as_deref(),
            )
        })
    }

    async fn maintenance(&mut self, on: bool) -> Result<(), SiteError> {
        let cms = crate::cms::adapter(self.facts.cms);
        if on {
            let journal = self.journal();
            if journal.in_maintenance() {
                return Ok(());
            }
            // The journal says so first: if tend dies now, recovery ends maintenance.
            match cms.maintenance_file() {
                Some((file, _)) => journal.maintenance = Some(file.to_owned()),
                None => journal.maintenance_cli = true,
            }
            let journal = self.journal.as_ref().expect("just started");
            journal::write_then(&self.host, journal, "").await?;
            // Visitors get the maintenance page; tend's checks carry the new secret.
            let secret = crate::cms::maintenance_pass::PassSecret::new().map_err(|e| {
                SiteError::Unsupported(format!(
                    "no random secret for the checks through maintenance mode: {e}"
                ))
            })?;
            self.passage = cms
                .set_maintenance_passing(self.site, &self.host, &secret)
                .await?;
            self.log(
                Level::Detail,
                if self.passage.is_some() {
                    "maintenance mode on (tend's checks get through)"
                } else {
                    "maintenance mode on"
                },
            );
        } else {
            let Some(journal) = self.journal.as_ref() else {
                return Ok(());
            };
            if !journal.in_maintenance() {
                return Ok(());
            }
            cms.set_maintenance(self.site, &self.host, false).await?;
            self.passage = None;
            let journal = self.journal.as_mut().expect("present");
            journal.maintenance = None;
            journal.maintenance_cli = false;
            journal::write_then(&self.host, journal, "").await?;
            self.log(Level::Detail, "maintenance mode off");
        }
        Ok(())
    }

    /// Plans the updates and fetches their packages into the cache, checking them.
    async fn prepare_updates(&mut self, steps: &[&UpdateStep]) -> Result<(), SiteError> {
        let planning::UpdatePlans {
            steps: planned,
            untracked,
        } = planning::plan_updates(self.ctx, self.site, &self.host, &self.facts, steps).await?;
        self.outcome.untracked = untracked;
        for change in planned.iter().flat_map(|p| &p.changes) {
            if change.offer.package.is_empty() {
                continue;
            }
            let zip = self
                .ctx
                .packages
                .fetch(&change.offer, self.ctx.sources.client())
                .await
                .map_err(|e| e.for_change(&apply::describe(change)))?;
            apply::check_package(&zip, change)
                .await
                .map_err(|e| SiteError::PackageRefused {
                    change: apply::describe(change),
                    reason: e.to_string(),
                })?;
        }
        self.outcome.held = policy::held_over(&planned);
        self.outcome.waits = policy::waits_over(&planned);
        self.planned = planned.into();
        Ok(())
    }

    /// After `mode: each`: a site with components rolled back alone is `partial` (some
    /// changes kept) or `rolled_back` (none kept), with the culprits as its error.
    fn judge_partial(&mut self) {
        if self.outcome.rolled_back.is_empty() {
            return;
        }
        let culprits: Vec<String> = self
            .outcome
            .rolled_back
            .iter()
            .map(RolledBackChange::describe)
            .collect();
        self.outcome.status = if self.outcome.changes.is_empty() {
            Outcome::RolledBack
        } else {
            Outcome::Partial
        };
        self.outcome.error = Some(SiteError::ComponentsRolledBack(culprits.join("; ")));
        let rollbacks: Vec<String> = self
            .outcome
            .rolled_back
            .iter()
            .map(|r| format!("{} in {:.1} s", apply::describe(&r.change), r.seconds))
            .collect();
        self.outcome.rollback = Some(format!(
            "rolled back alone (files and database as just before it; verified again): {}",
            rollbacks.join(", ")
        ));
    }

    async fn update(
        &mut self,
        step: &UpdateStep,
        tools: &crate::cms::host_tools::HostTools,
    ) -> Result<(), SiteError> {
        // Each update step takes its own plan, in order.
        let planned = self.planned.pop_front().unwrap_or_default();
        if planned.changes.is_empty() {
            self.log(Level::Detail, "nothing to update");
            return Ok(());
        }
        let updater = Updater {
            sources: self.ctx.sources,
            packages: self.ctx.packages,
            reporter: self.ctx.reporter,
        };
        // Core first: plugins and themes are then checked against the new core.
        let mut changes = planned.changes;
        changes.sort_by_key(|c| c.kind);
        // Each change of the run has its own number (its staging and aside folders), across
        // update steps.
        let first_index = self.outcome.changes.len() + self.outcome.rolled_back.len();
        if step.mode == UpdateMode::Each {
            let result = self
                .update_each(&updater, tools, changes, first_index)
                .await;
            self.judge_partial();
            return result;
        }
        for (index, change) in (first_index..).zip(changes) {
            self.journal();
            let mut journal = self.journal.take().expect("just started");
            let result = apply::apply(
                &updater,
                &self.host,
                self.site,
                &self.facts,
                tools,
                &mut journal,
                &change,
                index,
            )
            .await;
            self.journal = Some(journal);
            self.code_changed = Some(std::time::Instant::now());
            self.outcome.changes.push(change);
            result?;
        }
        Ok(())
    }

    /// Waits until PHP serves the code as it is now (see `settings.verify_delay`).
    async fn settle(&self) {
        if let Some(changed) = self.code_changed {
            let delay = self.ctx.inventory.settings.verify_delay;
            if let Some(left) = delay.checked_sub(changed.elapsed()) {
                tokio::time::sleep(left).await;
            }
        }
    }

    async fn verify(&mut self, step_checks: &[Check]) -> Result<(), StepFailure> {
        self.settle().await;
        let specs = checks_for(self.site, self.facts.cms, step_checks);
        let results = verify::run_checks_passing(
            self.ctx.http,
            &self.site.url,
            &specs,
            self.passage.as_ref(),
        )
        .await;
        self.outcome.checks = results.clone();
        let failed: Vec<&CheckResult> = results.iter().filter(|r| !r.ok).collect();
        if failed.is_empty() {
            self.log(
                Level::Detail,
                &format!("verified: {} check(s) passed", results.len()),
            );
            return Ok(());
        }
        self.outcome.failed_verification = results.clone();
        let was_failing = |r: &CheckResult| {
            self.outcome
                .checks_before
                .iter()
                .any(|b| b.name == r.name && b.path == r.path && !b.ok)
        };
        let preexisting = failed.iter().all(|r| was_failing(r));
        let problems = failed
            .iter()
            .map(|r| {
                format!(
                    "{} ({}): {}{}",
                    r.name,
                    r.path,
                    r.problems.join("; "),
                    if was_failing(r) {
                        " — already failing before the run"
                    } else {
                        ""
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let after = if self.outcome.changes.is_empty() {
            String::new()
        } else {
            format!(
                "after {}: ",
                self.outcome
                    .changes
                    .iter()
                    .map(apply::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let message = if preexisting {
            format!("{problems} (the site was already failing these checks before the run changed anything, so the run's changes are kept)")
        } else {
            format!("{after}{problems}")
        };
        Err(StepFailure {
            error: SiteError::VerificationFailed(message),
            preexisting,
        })
    }

    /// The run is over and its result is kept: maintenance ends, the journal and the old
    /// versions kept aside are cleared. When that fails, the outcome stays what it was
    /// and the failure, with the state it leaves, is reported beside it; a site left in
    /// maintenance mode has failed.
    async fn finish_kept(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        let mut journal = journal;
        journal.kept = true;
        if let Err(e) = self.clear_kept(&journal).await {
            let mut state = journal.clone();
            // The journal on the host says `kept` or not: either way recovery finishes.
            state.kept = false;
            let mut text = format!(
                "ending the run on the host: {}; {}",
                e.masked(),
                self.left_state(&state, false)
            );
            if !state.swaps.is_empty() {
                text.push_str(" (or, to keep the new versions, remove maintenance mode and the journal by hand)");
            }
            self.outcome.cleanup.push(text);
            self.outcome.status = Outcome::Failed;
        }
    }

    async fn clear_kept(&mut self, journal: &Journal) -> Result<(), SiteError> {
        self.reconnect().await?;
        let journal = journal.clone();
        journal::write_then(&self.host, &journal, "").await?;
        if journal.in_maintenance() {
            self.log(
                Level::Warning,
                "the site is still in maintenance mode at the end of the run; ending it",
            );
            crate::cms::adapter(self.facts.cms)
                .set_maintenance(self.site, &self.host, false)
                .await?;
        }
        journal::clear(&self.host, &journal).await
    }

    /// Puts the site back as the journal says it was, then verifies it again.
    /// When the rollback cannot be done (not even on a connection opened again), the
    /// outcome says what state the site is in and that `tend recover` puts it back.
    async fn roll_back(&mut self, tools: &crate::cms::host_tools::HostTools) {
        let mut journal = self.journal.take().expect("a rollback has a journal");
        self.log(Level::Warning, "rolling back");
        if let Err(e) = self.reconnect().await {
            self.outcome.status = Outcome::Failed;
            self.outcome.rollback = Some(format!(
                "ROLLBACK NOT DONE: the host cannot be reached again ({}); {}",
                e.masked(),
                self.left_state(&journal, false)
            ));
            return;
        }
        self.wait_for_lost_commands().await;
        // Maintenance through the CMS's CLI rewrites its configuration (Joomla leaves
        // configuration.php read-only afterwards): the snapshot puts it back exactly.
        if journal.maintenance_cli && journal.snapshot.is_some() {
            journal.restore_files = true;
        }
        // Visitors are kept out while files and database go back (where the CMS's
        // maintenance mode is a file tend can write without running PHP).
        if !journal.in_maintenance() {
            if let Some((file, content)) = crate::cms::adapter(self.facts.cms).maintenance_file() {
                journal.maintenance = Some(file.to_owned());
                let script = format!(
                    "mkdir -p \"$(dirname {file})\" && printf '%s' {content} > {file}",
                    content = quote(content),
                    file = quote(file)
                );
                if let Err(e) = journal::write_then(&self.host, &journal, &script).await {
                    self.outcome.status = Outcome::Failed;
                    self.outcome.rollback = Some(format!(
                        "ROLLBACK NOT DONE: putting the site in maintenance mode failed ({}); {}",
                        e.masked(),
                        self.left_state(&journal, false)
                    ));
                    return;
                }
            }
        }
        let started = std::time::Instant::now();
        if let Err(e) = rollback::undo(
            &self.host,
            self.site,
            &journal,
            &self.facts,
            tools,
            self.ctx.store,
        )
        .await
        {
            self.outcome.status = Outcome::Failed;
            self.outcome.rollback = Some(format!(
                "ROLLBACK FAILED: {}; {}",
                e.masked(),
                self.left_state(&journal, true)
            ));
            return;
        }
        let took = started.elapsed();
        self.code_changed = Some(std::time::Instant::now());
        self.settle().await;
        self.outcome.status = Outcome::RolledBack;
        let specs = checks_for(
            self.site,
            self.facts.cms,
            first_verify(self.ctx.playbook).unwrap_or_default(),
        );
        let results = verify::run_checks(self.ctx.http, &self.site.url, &specs).await;
        let failing: Vec<String> = results
            .iter()
            .filter(|r| !r.ok)
            .map(|r| format!("{} ({}): {}", r.name, r.path, r.problems.join("; ")))
            .collect();
        self.outcome.checks = results;
        self.outcome.rollback = Some(if failing.is_empty() {
            format!(
                "rolled back to snapshot {} in {:.1} s; verified again: all checks pass",
                journal.snapshot.as_deref().unwrap_or("(none)"),
                took.as_secs_f64()
            )
        } else {
            format!(
                "rolled back to snapshot {} in {:.1} s; still failing after the rollback: {}",
                journal.snapshot.as_deref().unwrap_or("(none)"),
                took.as_secs_f64(),
                failing.join(" | ")
            )
        });
    }
}

/// What the site is left as when tend could not finish with it: which changes are on
/// disk, whether it is in maintenance mode, whether its journal is there, and the
/// command that puts it back.
fn left_state(site: &str, journal: &Journal, undo_started: bool) -> String {
    let mut swapped: Vec<&str> = Vec::new();
    for swap in &journal.swaps {
        if !swapped.contains(&swap.what.as_str()) {
            swapped.push(&swap.what);
        }
    }
    let mut parts = Vec::new();
    let files = if swapped.is_empty() && !journal.restore_files {
        "no file of the site was changed".to_owned()
    } else if journal.restore_files {
        "the files were changed by the CMS's own tools".to_owned()
    } else {
        format!("the new files of {} are in place", swapped.join(", "))
    };
    parts.push(if undo_started {
        format!("{files} (the rollback may have put part of them back)")
    } else {
        files
    });
    if journal.database_changed {
        parts.push("the database may have been upgraded".to_owned());
    }
    parts.push(if journal.in_maintenance() {
        "maintenance mode is on".to_owned()
    } else {
        "maintenance mode is off".to_owned()
    });
    parts.push(format!(
        "its journal ({}/{}) is on the host: `tend recover {}` puts the site back as it was before the run",
        journal.root.trim_end_matches('/'),
        journal::FILE,
        site
    ));
    format!("the site is left as it is: {}", parts.join("; "))
}

/// The checks of the playbook's first verify step, if it has one.
fn first_verify(playbook: &Playbook) -> Option<&[Check]> {
    playbook.steps.iter().find_map(|s| match s {
        Step::Verify { checks } => Some(checks.as_slice()),
        _ => None,
    })
}

/// The built-in checks of the CMS, the site's own and the step's.
pub fn checks_for(site: &Site, cms: CmsKind, step_checks: &[Check]) -> Vec<CheckSpec> {
    let mut specs = verify::builtin_checks(cms);
    specs.extend(site.checks.iter().map(CheckSpec::from));
    specs.extend(step_checks.iter().map(CheckSpec::from));
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Judged;

    #[test]
    fn the_state_left_names_the_changes_maintenance_and_the_journal() {
        let mut journal = Journal::new("r1", "me", "blog", "/srv/www/", Some("snap"));
        journal.maintenance = Some(".maintenance".into());
        journal.swaps.push(journal::Swap {
            what: "core wordpress 6.1.9 → 6.8.12".into(),
            live: "wp-admin".into(),
            aside: ".tend/work/r1/old/0/wp-admin".into(),
            staged: Some(".tend/work/r1/new/0/wp-admin".into()),
            existed: true,
        });
        journal.database_changed = true;
        let text = left_state("blog", &journal, false);
        assert_eq!(
            text,
            "the site is left as it is: the new files of core wordpress 6.1.9 → 6.8.12 are in place; \
             the database may have been upgraded; maintenance mode is on; its journal \
             (/srv/www/.tend/journal.json) is on the host: `tend recover blog` puts the site back \
             as it was before the run"
        );
        journal.maintenance = None;
        journal.swaps.clear();
        journal.database_changed = false;
        let text = left_state("blog", &journal, true);
        assert!(
            text.contains(
                "no file of the site was changed (the rollback may have put part of them back)"
            ),
            "{text}"
        );
        assert!(text.contains("maintenance mode is off"), "{text}");
    }

    #[test]
    fn a_partial_site_says_what_it_kept_and_what_it_rolled_back_alone() {
        let change = |slug: &str, from: &str, to: &str| Change {
            kind: crate::updates::ComponentType::Plugin,
            slug: slug.into(),
            from: from.into(),
            to: to.into(),
            offer: crate::updates::Offer {
                cms: crate::cms::wordpress::KIND,
                kind: crate::updates::ComponentType::Plugin,
                slug: slug.into(),
                version: to.into(),
                package: String::new(),
                sha256: None,
                source: "repo".into(),
                released: None,
            },
        };
        let mut run = SiteRun::new();
        run.status = Outcome::Partial;
        run.changes.push(change("akismet", "5.0.2", "5.5"));
        run.rolled_back.push(RolledBackChange {
            change: change("client-widgets", "1.0.0", "1.1.0"),
            problem: "home page (/): answered 500, expected 200".into(),
            seconds: 0.8,
        });
        assert_eq!(
            run.changed().as_deref(),
            Some("updated plugin akismet 5.0.2 → 5.5; rolled back alone plugin client-widgets 1.0.0 → 1.1.0")
        );
        assert_eq!(
            run.rolled_back[0].describe(),
            "plugin client-widgets 1.0.0 → 1.1.0: home page (/): answered 500, expected 200"
        );
    }

    #[test]
    fn a_failed_clean_up_is_reported_beside_the_outcome() {
        let mut run = SiteRun::new();
        run.cleanup.push("releasing the site's lock: broken".into());
        assert_eq!(run.outcome(), Outcome::Ok);
        assert_eq!(
            run.problem().as_deref(),
            Some("clean-up failed: releasing the site's lock: broken")
        );
        run.status = Outcome::RolledBack;
        run.error = Some(SiteError::VerificationFailed("home page".into()));
        assert_eq!(
            run.problem().as_deref(),
            Some("verify failed: home page; clean-up failed: releasing the site's lock: broken")
        );
    }
}
