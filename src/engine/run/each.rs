//! `update: { mode: each }` (the default): one component at a time, each checked, the one
//! that breaks the site rolled back alone.
//!
//! Core first, then plugins, then themes (extensions for Joomla and Magento). Before each
//! component the site's database is copied (a dump into a private folder beside the
//! store, removed at the end of the run; for a CMS whose own tools apply the change, the
//! files too, since renames cannot undo what they did). The component is applied as in
//! `mode: together` — its swaps written to the journal first — and then:
//!
//! - the checks of the playbook's first `verify` step run (the CMS's built-in checks, the
//!   site's own `checks` and the step's), judged against the baseline taken before the run:
//!   a check that already failed then does not count against the component;
//! - the component's version is read back from the site: a package whose content is not
//!   the version its source announced has failed.
//!
//! A component that fails is rolled back alone: its swaps undone (or the files copy put
//! back), the database replaced by the copy taken just before it (imported beside, swapped
//! in with one `RENAME TABLE`: a table its migration created goes too), the journal written
//! without its swaps — and the checks run again, so the next component starts only from a
//! verified site. Its version is remembered as held for the site
//! ([`crate::updates::held_versions::HeldVersions`]). A core that fails ends the site's
//! cycle, and so does any component under `on_failure: stop` or `continue`: the error goes to `on_failure` as in `together` (the
//! whole site back to the run's snapshot). A per-component rollback that fails, or a site
//! still failing after it, also falls back to that whole-site rollback.
//!
//! The journal keeps every kept component's swaps and the run's snapshot: tend killed
//! between two components (or during one) leaves a journal that `tend recover` undoes to
//! the site as it was before the run — the state verified by the baseline checks. The
//! per-component copies are not needed for that, and die with the run.

use std::time::Instant;

use super::{checks_for, first_verify, SiteState};
use crate::backup::create::{self, Contents};
use crate::backup::folder_store::FolderStore;
use crate::backup::restore::{dump_tables, restore_database, restore_files, Keep};
use crate::backup::{PartKind, Snapshot, SnapshotStore};
use crate::cms::host_tools::HostTools;
use crate::engine::apply::{self, Updater};
use crate::engine::journal;
use crate::events::Level;
use crate::playbook::OnFailure;
use crate::remote::{quote, RemoteCommand};
use crate::site_error::SiteError;
use crate::updates::held_versions::BrokenVersion;
use crate::updates::policy::Change;
use crate::updates::ComponentType;
use crate::verify::{self, CheckResult, CheckSpec};

/// A change that broke the site and was rolled back alone.
#[derive(Debug, Clone)]
pub struct RolledBackChange {
    pub change: Change,
    /// What it broke: `home page (/): answered 500, expected 200; …`.
    pub problem: String,
    /// How long its rollback took.
    pub seconds: f64,
}

impl RolledBackChange {
    /// `plugin client-widgets 1.0.0 → 1.1.0: home page (/): answered 500 …`
    pub fn describe(&self) -> String {
        format!("{}: {}", apply::describe(&self.change), self.problem)
    }
}

/// The copies of the site taken before each component, in a private folder of the store
/// that is removed when the run ends (dropped).
struct ComponentCopies {
    _dir: tempfile::TempDir,
    store: FolderStore,
}

impl ComponentCopies {
    fn new(store_root: &std::path::Path) -> Result<ComponentCopies, SiteError> {
        let failed = |e: std::io::Error| {
            SiteError::Store(format!(
                "creating a folder for the copies taken before each component in {}: {e}",
                store_root.display()
            ))
        };
        std::fs::create_dir_all(store_root).map_err(failed)?;
        let dir = tempfile::Builder::new()
            .prefix(".component-copies-")
            .tempdir_in(store_root)
            .map_err(failed)?;
        let store = FolderStore::new(dir.path());
        Ok(ComponentCopies { _dir: dir, store })
    }
}

impl SiteState<'_, '_> {
    /// Applies `changes` one at a time (see the module's doc). An error is the site's
    /// failure, for `on_failure`; components rolled back alone are in the outcome.
    pub(super) async fn update_each(
        &mut self,
        updater: &Updater<'_>,
        tools: &HostTools,
        changes: Vec<Change>,
        first_index: usize,
    ) -> Result<(), SiteError> {
        let specs = checks_for(
            self.site,
            self.facts.cms,
            first_verify(self.ctx.playbook).unwrap_or_default(),
        );
        let copies = ComponentCopies::new(&self.ctx.inventory.settings.store)?;
        // What the CMS's own tools change cannot be renamed back: their files are copied too.
        let own_tools = crate::cms::adapter(self.facts.cms).swap_update().is_none();
        let contents = Contents {
            files: own_tools,
            database: true,
        };
        for (index, change) in (first_index..).zip(changes) {
            if let Some(signal) = crate::interrupt::requested() {
                return Err(SiteError::Interrupted(crate::interrupt::reason(signal)));
            }
            self.reconnect().await?;
            let what = apply::describe(&change);
            self.log(
                Level::Detail,
                &format!("{what}: copying the site before it"),
            );
            let copy = create::snapshot(
                &copies.store,
                self.site,
                &self.host,
                &self.facts,
                tools,
                None,
                contents,
            )
            .await
            .map_err(|e| SiteError::During {
                what: format!("{what}: copying the site before it"),
                cause: Box::new(e),
            })?;
            let copy = copies
                .store
                .find(&self.site.name, &copy.id)
                .map_err(|e| SiteError::Store(format!("reading the copy before {what}: {e}")))?
                .ok_or_else(|| SiteError::Store(format!("the copy before {what} is gone")))?;
            // What the site is once this component is rolled back.
            let facts_before = self.facts.clone();
            self.journal();
            let mut journal = self.journal.take().expect("just started");
            let first_swap = journal.swaps.len();
            let applied = apply::apply(
                updater,
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
            self.code_changed = Some(Instant::now());
            if let Err(e) = applied {
                // Not a verdict on the component (a package refused, a connection cut):
                // the site's failure, as in `together`.
                self.outcome.changes.push(change);
                return Err(e);
            }
            let problem = self.judge(&change, &specs).await?;
            let Some(problem) = problem else {
                self.log(Level::Detail, &format!("{what}: verified"));
                self.outcome.changes.push(change);
                continue;
            };
            // A core that goes back ends the cycle (plugins are not updated on it); with
            // `on_failure: stop` or `continue` nothing is rolled back: the failure is the
            // step's, as in `together`, and `on_failure` decides.
            if change.kind == ComponentType::Core
                || self.ctx.playbook.on_failure != OnFailure::Rollback
            {
                if self.ctx.playbook.on_failure == OnFailure::Rollback {
                    // The site goes back to the run's snapshot: this version broke it.
                    self.remember_broken(&change, &problem);
                }
                self.outcome.changes.push(change);
                return Err(SiteError::VerificationFailed(format!("{what}: {problem}")));
            }
            self.log(
                Level::Warning,
                &format!("{what}: {problem}; rolling it back alone"),
            );
            let started = Instant::now();
            if let Err(e) = self
                .roll_back_component(&copies, &copy, first_swap, index, tools)
                .await
            {
                self.outcome.changes.push(change);
                return Err(SiteError::failed(
                    format!("{what} broke the site ({problem}), and rolling it back alone"),
                    e.masked(),
                ));
            }
            let seconds = started.elapsed().as_secs_f64();
            self.facts = facts_before;
            // The next component starts only from a verified site.
            self.settle().await;
            let results = self.checks_past_maintenance(&specs).await?;
            let still = self.new_failures(&results);
            if !still.is_empty() {
                self.outcome.changes.push(change);
                return Err(SiteError::VerificationFailed(format!(
                    "{what} broke the site ({problem}); rolled back alone, the site still fails: {}",
                    still.join(" | ")
                )));
            }
            self.remember_broken(&change, &problem);
            self.log(
                Level::Warning,
                &format!("{what}: rolled back alone in {seconds:.1} s; the site verifies again"),
            );
            self.outcome.rolled_back.push(RolledBackChange {
                change,
                problem,
                seconds,
            });
        }
        Ok(())
    }

    /// What the component just applied broke, if anything: checks that fail now and did
    /// not before the run, or a version on the site that is not the one announced.
    async fn judge(
        &mut self,
        change: &Change,
        specs: &[CheckSpec],
    ) -> Result<Option<String>, SiteError> {
        // The version is read back first, while PHP may still serve the code it cached
        // (`settle` waits for that before the HTTP checks): it needs no web request.
        let read = crate::engine::facts::read_site(
            self.site,
            self.ctx.pool,
            self.ctx.tools,
            self.ctx.reporter,
        )
        .await;
        self.settle().await;
        let results = self.checks_past_maintenance(specs).await?;
        let failing = self.new_failures(&results);
        if !failing.is_empty() {
            self.outcome.failed_verification = results;
            return Ok(Some(failing.join(" | ")));
        }
        self.outcome.checks = results;
        let read = match read {
            Ok(read) => read.facts,
            Err(e) => {
                return Ok(Some(format!(
                    "the site's versions could not be read after the update: {}",
                    e.masked()
                )))
            }
        };
        let installed = read.installed_version(change.kind, &change.slug);
        self.facts = read;
        let announced = crate::version::Version::parse(&change.to).ok();
        let matches = match (&installed, announced) {
            (Some(now), Some(to)) => crate::version::Version::parse(now).ok() == Some(to),
            (Some(now), None) => *now == change.to,
            (None, _) => false,
        };
        if matches {
            return Ok(None);
        }
        Ok(Some(match installed {
            Some(now) => format!(
                "the site reports version {now} after the update, not {}: the package is not the version its source announced",
                change.to
            ),
            None => "the site reports no version of it after the update".to_owned(),
        }))
    }

    /// The checks that fail in `results` and did not fail before the run.
    fn new_failures(&self, results: &[CheckResult]) -> Vec<String> {
        results
            .iter()
            .filter(|r| !r.ok)
            .filter(|r| {
                !self
                    .outcome
                    .checks_before
                    .iter()
                    .any(|b| b.name == r.name && b.path == r.path && !b.ok)
            })
            .map(|r| format!("{} ({}): {}", r.name, r.path, r.problems.join("; ")))
            .collect()
    }

    /// Runs `specs` against the real site while the run keeps it in maintenance mode.
    /// Where the CMS lets tend's requests through its maintenance mode (the run's pass, see
    /// `cms::maintenance_pass`), the checks carry it and visitors keep the maintenance
    /// page; elsewhere (Joomla) the mode is lifted for the seconds the checks take and put
    /// back at once (the journal keeps saying the site is in maintenance, so recovery ends
    /// it either way).
    async fn checks_past_maintenance(
        &mut self,
        specs: &[CheckSpec],
    ) -> Result<Vec<CheckResult>, SiteError> {
        let in_maintenance = self
            .journal
            .as_ref()
            .is_some_and(journal::Journal::in_maintenance);
        if !in_maintenance || self.passage.is_some() {
            return Ok(verify::run_checks_passing(
                self.ctx.http,
                &self.site.url,
                specs,
                self.passage.as_ref(),
            )
            .await);
        }
        let cms = crate::cms::adapter(self.facts.cms);
        self.reconnect().await?;
        cms.set_maintenance(self.site, &self.host, false).await?;
        let results = verify::run_checks(self.ctx.http, &self.site.url, specs).await;
        self.reconnect().await?;
        cms.set_maintenance(self.site, &self.host, true).await?;
        Ok(results)
    }

    /// Puts the component back: its files (swaps undone, or the copy's files for a CMS
    /// whose own tools changed them) and the database as the copy taken just before it.
    async fn roll_back_component(
        &mut self,
        copies: &ComponentCopies,
        copy: &Snapshot,
        first_swap: usize,
        index: usize,
        tools: &HostTools,
    ) -> Result<(), SiteError> {
        self.reconnect().await?;
        self.wait_for_lost_commands().await;
        let mut journal = self.journal.clone().expect("a component was applied");
        let store: &dyn SnapshotStore = &copies.store;
        if journal.restore_files {
            let keep = Keep {
                config_files: Vec::new(),
                excluded: copy.manifest.excludes.clone(),
            };
            restore_files(
                &self.host,
                &journal.root,
                store.part(copy, PartKind::Files),
                &format!("{}-{index}", journal.run),
                &keep,
            )
            .await?;
        } else {
            let mut component = journal.clone();
            component.swaps = journal.swaps[first_swap..].to_vec();
            let script = format!(
                "cd {root} && {{ {undo} }}",
                root = quote(&journal.root),
                undo = journal::undo_files_script(&component)
            );
            self.host
                .run(&RemoteCommand::script(&script), None, 1024 * 1024)
                .await
                .map_err(|e| SiteError::remote_step("putting the component's old files back", e))?;
        }
        let db = self
            .facts
            .database
            .as_ref()
            .ok_or_else(|| SiteError::database("the site's credentials are unknown"))?;
        let client = tools.db_client.as_deref().ok_or_else(|| {
            SiteError::failed(
                "restoring the database",
                format!(
                    "{} has no mariadb or mysql client to restore the database with",
                    self.host.destination()
                ),
            )
        })?;
        let part = store.part(copy, PartKind::Database);
        let tables = dump_tables(part)?;
        restore_database(&self.host, client, db, part, &tables, "").await?;
        journal.swaps.truncate(first_swap);
        journal::write_then(&self.host, &journal, "").await?;
        self.journal = Some(journal);
        self.code_changed = Some(Instant::now());
        Ok(())
    }

    /// Remembers the version that broke the site, so that the next runs hold it.
    fn remember_broken(&self, change: &Change, problem: &str) {
        let broken = BrokenVersion {
            kind: change.kind,
            slug: change.slug.clone(),
            version: change.to.clone(),
            broke_on: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            problem: crate::secrets::mask(problem),
        };
        if let Err(e) = self.ctx.held_versions.remember(&self.site.name, broken) {
            self.log(
                Level::Warning,
                &format!(
                    "could not remember that {} broke the site ({e}): the next run will offer it again",
                    apply::describe(change)
                ),
            );
        }
    }
}
