//! `tend run` and `tend recover`: from flags to the engine, and the results to the UI.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::{pool, print_data, record, runtime, selected, EXIT_OK, EXIT_SITE_FAILED};
use crate::cms::host_tools::HostToolsCache;
use crate::diagnostic::InputError;
use crate::engine::{self, run::Status};
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::select::{select, SitePattern};
use crate::ui::{self, run_view, style::Style, OutputMode};
use crate::updates::package::PackageCache;
use crate::updates::sources::Sources;
use crate::verify;

/// How long one HTTP check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RunFlags {
    pub check: bool,
    pub yes: bool,
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

pub fn run_playbook(
    inventory: &Inventory,
    path: &std::path::Path,
    limit: Option<&SitePattern>,
    forks_flag: Option<usize>,
    flags: RunFlags,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let playbook = Playbook::load(path, inventory)?;
    let mut patterns = vec![&playbook.hosts];
    patterns.extend(limit);
    let sites = select(inventory, &patterns);
    let forks = forks_flag
        .or(playbook.forks)
        .unwrap_or(inventory.settings.forks);
    let store = crate::backup::open_store(&inventory.settings);
    let changes = engine::run::changes_sites(&playbook);
    let ask = changes && !flags.check && !flags.yes;
    if ask && !ui::can_ask() {
        return Err(InputError::new(format!(
            "refusing to run `{}` without confirmation: it changes sites and there is no terminal to ask on",
            playbook.name
        ))
        .with_hint("pass --yes to run without being asked (as cron jobs do), or --check to see the plan"));
    }
    let recorder = record::Recorder::new(ui::reporter(mode));
    let reporter = recorder.reporter();
    let sources = Sources::new(&inventory.settings.sources, download_client());
    let packages = PackageCache::new(PackageCache::default_dir());
    let http = verify::client(CHECK_TIMEOUT);
    let tools = HostToolsCache::default();
    let run_id = engine::run::new_run_id();
    runtime()?.block_on(async {
        let pool = pool(inventory, &reporter)?;
        let ctx = engine::run::Context {
            playbook: &playbook,
            inventory,
            pool: &pool,
            store: &store,
            reporter: reporter.as_ref(),
            sources: &sources,
            packages: &packages,
            http: &http,
            tools: &tools,
            run_id: &run_id,
        };
        if flags.check || ask {
            let plans = engine::run::plan(&ctx, &sites, forks).await;
            if flags.check {
                pool.shutdown().await;
                print_data(
                    mode,
                    || run_view::plan_json(&playbook.name, &plans),
                    || run_view::plan_text(&playbook.name, &plans, Style::for_stdout()),
                );
                let blocked = plans
                    .iter()
                    .any(|p| p.result.as_ref().map_or(true, |p| p.unfinished.is_some()));
                return Ok(if blocked { EXIT_SITE_FAILED } else { EXIT_OK });
            }
            let _ = write!(
                std::io::stderr(),
                "{}",
                run_view::plan_text(&playbook.name, &plans, Style::for_stderr())
            );
            if !ui::confirm(&format!("Run `{}` on these sites?", playbook.name)) {
                pool.shutdown().await;
                return Err(InputError::new("run cancelled; nothing was changed"));
            }
        }
        let started = record::begin_playbook(inventory, &recorder, &run_id, &playbook.name, &sites);
        let results = engine::run::run(&ctx, &sites, forks).await;
        pool.shutdown().await;
        print_data(
            mode,
            || run_view::run_json(&playbook.name, &results),
            || run_view::run_text(&results, Style::for_stdout()),
        );
        let all_ok = results
            .iter()
            .all(|r| r.result.as_ref().is_ok_and(|run| run.status == Status::Ok));
        let exit = if all_ok { EXIT_OK } else { EXIT_SITE_FAILED };
        let sites = record::run_sites(&store, &results);
        Ok(record::end_and_notify_async(inventory, started, sites, exit).await)
    })
}

pub fn recover(
    inventory: &Inventory,
    site: Option<&str>,
    limit: Option<&SitePattern>,
    forks: usize,
    yes: bool,
    mode: OutputMode,
) -> Result<u8, InputError> {
    super::check_site_flag(inventory, site).map_err(|e| super::at_flag(e, "recover"))?;
    let sites = match site {
        Some(name) => vec![&inventory.sites[name]],
        None => selected(inventory, limit),
    };
    let store = crate::backup::open_store(&inventory.settings);
    let recorder = record::Recorder::new(ui::reporter(mode));
    let reporter = recorder.reporter();
    let http = verify::client(CHECK_TIMEOUT);
    runtime()?.block_on(async {
        let pool = pool(inventory, &reporter)?;
        let pending = engine::recover::pending(&sites, &pool, forks, reporter.as_ref()).await;
        let mut to_recover = Vec::new();
        let mut summary = String::new();
        for (p, site) in pending.iter().zip(&sites) {
            if let Ok(Some(journal)) = &p.result {
                to_recover.push(*site);
                summary.push_str(&format!(
                    "{}: interrupted run {} (started {}, {})\n",
                    site.name, journal.run, journal.started, journal.owner
                ));
                for line in engine::recover::describe(journal) {
                    summary.push_str(&format!("  {line}\n"));
                }
            }
        }
        if !to_recover.is_empty() && !yes {
            let _ = write!(std::io::stderr(), "{summary}");
            if !ui::confirm("Put these sites back as they were before the interrupted run?") {
                pool.shutdown().await;
                return Err(if ui::can_ask() {
                    InputError::new("recovery cancelled; nothing was changed")
                } else {
                    InputError::new("refusing to recover without confirmation: not on a terminal")
                        .with_hint("pass --yes to recover without being asked")
                });
            }
        }
        let started = (!to_recover.is_empty())
            .then(|| {
                record::begin(inventory, &recorder, "recover", &to_recover)
            });
        let results = engine::recover::recover(
            &to_recover,
            &pool,
            &store,
            &http,
            inventory.settings.verify_delay,
            forks,
            reporter.as_ref(),
        )
        .await;
        pool.shutdown().await;
        let unreadable: Vec<(&str, String)> = pending
            .iter()
            .filter_map(|p| p.result.as_ref().err().map(|e| (p.site.as_str(), e.masked())))
            .collect();
        print_data(
            mode,
            || {
                let mut sites: Vec<serde_json::Value> = results
                    .iter()
                    .map(|r| match &r.result {
                        Ok(done) => json!({"site": r.site, "status": "recovered", "run": done.run, "undone": done.undone, "checks": done.checks, "error": null}),
                        Err(e) => json!({"site": r.site, "status": "failed", "run": null, "undone": [], "checks": [], "error": e.masked()}),
                    })
                    .collect();
                sites.extend(unreadable.iter().map(|(site, e)| json!({"site": site, "status": "failed", "run": null, "undone": [], "checks": [], "error": e})));
                json!({"sites": sites})
            },
            || {
                let style = Style::for_stdout();
                let mut out = String::new();
                if results.is_empty() && unreadable.is_empty() {
                    out.push_str("nothing to recover: no site has unfinished work\n");
                }
                for r in &results {
                    match &r.result {
                        Ok(done) => {
                            let failing = done.checks.iter().filter(|c| !c.ok).count();
                            out.push_str(&format!(
                                "{}  {}  run {}{}\n",
                                style.bold(&r.site),
                                style.good("recovered"),
                                done.run.as_deref().unwrap_or("-"),
                                if failing == 0 {
                                    "; checks pass".to_owned()
                                } else {
                                    format!("; {failing} check(s) failing")
                                }
                            ));
                            for line in &done.undone {
                                out.push_str(&format!("  {line}\n"));
                            }
                        }
                        Err(e) => out.push_str(&crate::ui::site_failed(&style, &r.site, &e.masked())),
                    }
                }
                for (site, e) in &unreadable {
                    out.push_str(&crate::ui::site_failed(&style, site, e));
                }
                out
            },
        );
        let ok = unreadable.is_empty() && results.iter().all(|r| r.result.is_ok());
        let exit = if ok { EXIT_OK } else { EXIT_SITE_FAILED };
        if let Some(started) = started {
            let sites = results
                .iter()
                .map(|r| match &r.result {
                    Ok(done) => {
                        let mut site = crate::history::SiteRecord::new(&r.site, "recovered");
                        site.checks = done.checks.iter().map(crate::history::CheckRecord::from).collect();
                        site.rollback = Some(format!(
                            "interrupted run {} undone: {}",
                            done.run.as_deref().unwrap_or("-"),
                            done.undone.join("; ")
                        ));
                        site.duration_ms = r.elapsed.as_millis() as u64;
                        site
                    }
                    Err(e) => record::failed(r, e.masked()),
                })
                .collect();
            record::end_and_notify_async(inventory, started, sites, exit).await;
        }
        Ok(exit)
    })
}
