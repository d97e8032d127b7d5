//! `tend run PLAYBOOK`: the plan (what `--check` prints and a terminal run asks about),
//! then the playbook on every selected site.

use std::io::Write;
use std::time::Duration;

use super::{confirm_or_refuse, exit_for, record, CommandError, Invocation};
use crate::cms::host_tools::HostToolsCache;
use crate::diagnostic::InputError;
use crate::engine;
use crate::outcome::Outcome;
use crate::playbook::Playbook;
use crate::select::select_for_playbook;
use crate::ui::{run_view, style::Style};
use crate::updates::held_versions::HeldVersions;
use crate::updates::package::PackageCache;
use crate::updates::sources::Sources;
use crate::verify;

/// How long one HTTP check may take.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct RunFlags {
    pub check: bool,
    pub yes: bool,
    pub retry_held: bool,
}

/// The client for update sources and package downloads.
pub(super) fn download_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(600))
        .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with these settings always builds")
}

pub(super) fn run_playbook(
    call: &Invocation<'_>,
    path: &std::path::Path,
    flags: RunFlags,
) -> Result<u8, CommandError> {
    let inventory = call.inventory;
    let playbook = Playbook::load(path, inventory)?;
    let sites = select_for_playbook(inventory, &playbook.hosts, call.limit.as_ref())?;
    let forks = call
        .forks_flag
        .or(playbook.forks)
        .unwrap_or(inventory.settings.forks);
    let changes = engine::run::changes_sites(&playbook);
    let ask = changes && !flags.check && !flags.yes;
    if ask && !crate::ui::can_ask() {
        return Err(InputError::new(format!(
            "refusing to run `{}` without confirmation: it changes sites and there is no terminal to ask on",
            playbook.name
        ))
        .with_hint("pass --yes to run without being asked (as cron jobs do), or --check to see the plan")
        .into());
    }
    let session = call.session()?;
    let sources = Sources::new(&inventory.settings.sources, download_client());
    let packages = PackageCache::new(PackageCache::default_dir());
    let http = verify::client(CHECK_TIMEOUT);
    let tools = HostToolsCache::default();
    let held_versions = HeldVersions::new(&inventory.settings.store);
    let ctx = engine::run::Context {
        playbook: &playbook,
        inventory,
        pool: session.pool(),
        store: session.store.as_ref(),
        reporter: session.reporter(),
        sources: &sources,
        packages: &packages,
        http: &http,
        tools: &tools,
        run_id: &session.run_id,
        held_versions: &held_versions,
        retry_held: flags.retry_held,
    };
    // The plan the user was shown and agreed to: the run executes exactly it.
    let mut confirmed = None;
    if flags.check || ask {
        let plans = session.block_on(engine::plan::plan(&ctx, &sites, forks));
        // Interrupted while planning: nothing was changed, so nothing to ask or run.
        if let Some(signal) = crate::interrupt::requested() {
            let _ = writeln!(
                std::io::stderr(),
                "interrupted by {} while planning: nothing was changed",
                crate::interrupt::signal_name(signal)
            );
            return Ok(crate::interrupt::exit_status(signal));
        }
        if flags.check {
            session.print(
                || run_view::plan_json(&playbook.name, &plans),
                || run_view::plan_text(&playbook.name, &plans, Style::for_stdout()),
            );
            let outcomes = plans.iter().map(|p| match &p.result {
                Ok(plan) => engine::Judged::outcome(plan),
                Err(_) => Outcome::Failed,
            });
            let exit = exit_for(outcomes);
            return Ok(session.finish(Vec::new(), exit));
        }
        let _ = write!(
            std::io::stderr(),
            "{}",
            run_view::plan_text(&playbook.name, &plans, Style::for_stderr())
        );
        confirm_or_refuse(
            false,
            &format!("Run `{}` on these sites?", playbook.name),
            "run",
        )?;
        confirmed = Some(plans);
    }
    session.record_playbook(&playbook.name, &sites);
    let results = session.block_on(engine::run::run(&ctx, &sites, forks, confirmed.as_deref()));
    session.print(
        || run_view::run_json(&playbook.name, &results),
        || run_view::run_text(&results, Style::for_stdout()),
    );
    let records = record::run_sites(session.store.as_ref(), &results);
    // A clean-up that failed (a lock left behind) does not change a site's outcome, but
    // it is an error: it sets the exit status.
    let exit = exit_for(records.iter().map(|r| r.status)).max(
        if records.iter().any(|r| !r.cleanup.is_empty()) {
            super::command_error::EXIT_FAILED
        } else {
            super::command_error::EXIT_OK
        },
    );
    Ok(session.finish(records, exit))
}
