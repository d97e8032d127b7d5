//! The command line: clap definitions and the mapping to commands. Nothing else knows clap.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::backup::create::Contents;
use crate::diagnostic::InputError;
use crate::engine;
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::remote::Pool;
use crate::select::{select, SitePattern};
use crate::ui::{self, backup_view, facts_view, style::Style, OutputMode};

mod history;
mod record;
mod report;
mod run;

/// Exit status: every selected site succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one site failed, was rolled back or could not be reached.
pub const EXIT_SITE_FAILED: u8 = 1;
/// Exit status: invalid input, or the run could not start.
pub const EXIT_INVALID: u8 = 2;

const DEFAULT_INVENTORY: &str = "inventory/inventory.yml";

#[derive(Debug, Parser)]
#[command(
    name = "tend",
    version,
    about = "Look after fleets of WordPress, Joomla and Magento sites over SSH"
)]
pub struct Cli {
    /// Inventory file [default: $TEND_INVENTORY, else inventory/inventory.yml]
    #[arg(short = 'i', long = "inventory", global = true, value_name = "FILE")]
    inventory: Option<PathBuf>,

    /// Sites to work on: comma-separated names, groups and globs; `!name` excludes
    #[arg(short = 'l', long = "limit", global = true, value_name = "PATTERN")]
    limit: Option<String>,

    /// Sites worked on at once [default: settings.forks, else 10]
    #[arg(short = 'f', long = "forks", global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    forks: Option<u16>,

    /// Print one JSON document with the result on stdout (no progress bars)
    #[arg(long, global = true)]
    json: bool,

    /// Only warnings and errors on stderr
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// More detail on stderr (connections, remote commands)
    #[arg(short = 'v', long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the inventory (and playbooks) without connecting anywhere
    Check {
        /// Playbooks to validate against the inventory
        playbooks: Vec<PathBuf>,
    },
    /// Detect the CMS, version, plugins and themes of each site
    Facts {
        /// Also show what the update sources offer
        #[arg(long)]
        updates: bool,
    },
    /// Private package repositories
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Run a playbook; `--check` plans and prints what would change, changing nothing
    Run {
        /// The playbook file
        playbook: PathBuf,
        /// Plan and print what would be done; change nothing
        #[arg(long)]
        check: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Put back a site an interrupted run left half-changed (a run refuses it until then)
    Recover {
        /// The site (default: every selected site with unfinished work)
        site: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Take a snapshot (files + database) of each selected site
    Backup {
        /// A label stored with the snapshot (e.g. `nightly`, `pre-update`)
        #[arg(long)]
        label: Option<String>,
    },
    /// List, verify and prune snapshots
    Backups {
        #[command(subcommand)]
        command: BackupsCommand,
    },
    /// Past runs: what each command did to each site, from the store's run history
    History {
        /// Only runs that concerned this site, with only its records
        #[arg(long)]
        site: Option<String>,
        /// Only runs started at or after this day (YYYY-MM-DD, UTC) or time (RFC 3339)
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Put a snapshot back (or onto another site); asks for confirmation unless --yes
    Restore {
        /// The site whose snapshot is restored
        site: String,
        /// Snapshot id, or `latest`
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// Restore only the files
        #[arg(long, conflicts_with = "db_only")]
        files_only: bool,
        /// Restore only the database
        #[arg(long)]
        db_only: bool,
        /// Restore onto this site instead (e.g. staging), keeping its own config and database credentials
        #[arg(long, value_name = "SITE2")]
        to: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Write the monthly maintenance report of each client, from the run history
    Report {
        /// The month reported, as YYYY-MM [default: the previous calendar month, UTC]
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// md, html or json; repeat the flag or separate with commas for several
        #[arg(long, value_enum, value_delimiter = ',', default_value = "md")]
        format: Vec<report::ReportFormat>,
        /// The folder the reports are written to (created if missing)
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// Write index.json for a folder of plugin, theme and core zips, from their headers
    Index {
        /// The repository folder
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BackupsCommand {
    /// List snapshots
    List {
        /// Only this site's snapshots
        #[arg(long)]
        site: Option<String>,
    },
    /// Re-read every snapshot and check it against its manifest
    Verify {
        /// Only this site's snapshots
        #[arg(long)]
        site: Option<String>,
    },
    /// Apply the retention policy (settings.retention) to the selected sites' snapshots
    Prune {
        /// Show what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// Parses the command line, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = OutputMode {
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    match run(cli, mode) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprint!("{error}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn run(cli: Cli, mode: OutputMode) -> Result<u8, InputError> {
    // Commands that need no inventory.
    if let Command::Repo {
        command: RepoCommand::Index { dir },
    } = &cli.command
    {
        return repo_index(dir, mode);
    }
    let inventory_path = cli
        .inventory
        .clone()
        .or_else(|| {
            std::env::var_os("TEND_INVENTORY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_INVENTORY));
    let inventory = Inventory::load(&inventory_path)?;
    let limit = match &cli.limit {
        Some(text) => Some(
            SitePattern::parse(text, &inventory)
                .map_err(|e| e.into_argument_error("--limit", text))?,
        ),
        None => None,
    };
    let forks = cli
        .forks
        .map(usize::from)
        .unwrap_or(inventory.settings.forks);

    match cli.command {
        Command::Check { playbooks } => check(&inventory, &playbooks, limit.as_ref(), mode),
        Command::Facts { updates } => facts(&inventory, limit.as_ref(), forks, updates, mode),
        Command::Repo { .. } => unreachable!("handled before the inventory is read"),
        Command::Run {
            playbook,
            check,
            yes,
        } => run::run_playbook(
            &inventory,
            &playbook,
            limit.as_ref(),
            cli.forks.map(usize::from),
            run::RunFlags { check, yes },
            mode,
        ),
        Command::Recover { site, yes } => run::recover(
            &inventory,
            site.as_deref(),
            limit.as_ref(),
            forks,
            yes,
            mode,
        ),
        Command::Backup { label } => {
            backup(&inventory, limit.as_ref(), forks, label.as_deref(), mode)
        }
        Command::Backups { command } => match command {
            BackupsCommand::List { site } => backups_list(&inventory, site.as_deref(), mode),
            BackupsCommand::Verify { site } => backups_verify(&inventory, site.as_deref(), mode),
            BackupsCommand::Prune { dry_run } => {
                backups_prune(&inventory, limit.as_ref(), dry_run, mode)
            }
        },
        Command::History { site, since } => {
            history::history(&inventory, site.as_deref(), since.as_deref(), mode)
        }
        Command::Restore {
            site,
            snapshot,
            files_only,
            db_only,
            to,
            yes,
        } => {
            let contents = Contents {
                files: !db_only,
                database: !files_only,
            };
            restore(
                &inventory,
                &site,
                &snapshot,
                contents,
                to.as_deref(),
                yes,
                mode,
            )
        }
        Command::Report { month, format, out } => report::report(
            &inventory,
            limit.as_ref(),
            month.as_deref(),
            &format,
            &out,
            mode,
        ),
    }
}

/// The sites chosen by `--limit` (all without it).
fn selected<'a>(
    inventory: &'a Inventory,
    limit: Option<&SitePattern>,
) -> Vec<&'a crate::inventory::Site> {
    let all = SitePattern::all();
    let mut patterns = vec![&all];
    patterns.extend(limit);
    select(inventory, &patterns)
}

/// `--site S` must name a site of the inventory (snapshots of removed sites are listed
/// without it).
fn check_site_flag(inventory: &Inventory, site: Option<&str>) -> Result<(), InputError> {
    if let Some(name) = site {
        if !inventory.sites.contains_key(name) {
            let hint =
                crate::diagnostic::did_you_mean(name, inventory.sites.keys().map(String::as_str))
                    .map(|n| format!("did you mean `{n}`?"));
            return Err(InputError::in_argument(
                format!("`{name}` is not a site in the inventory"),
                "--site",
                name,
                1,
                name.chars().count(),
            )
            .with_optional_hint(hint));
        }
    }
    Ok(())
}

fn print_data(
    mode: OutputMode,
    json: impl FnOnce() -> serde_json::Value,
    text: impl FnOnce() -> String,
) {
    let mut out = std::io::stdout().lock();
    if mode.json {
        let _ = writeln!(out, "{}", json());
    } else {
        let _ = write!(out, "{}", text());
    }
}

fn backup(
    inventory: &Inventory,
    limit: Option<&SitePattern>,
    forks: usize,
    label: Option<&str>,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let sites = selected(inventory, limit);
    let store = crate::backup::open_store(&inventory.settings);
    let recorder = record::Recorder::new(ui::reporter(mode));
    let reporter = recorder.reporter();
    let started = record::begin(inventory, &recorder, "backup", &sites);
    let results = runtime()?.block_on(async {
        let pool = pool(inventory, &reporter)?;
        let results =
            engine::backup::run(&sites, &pool, &store, label, forks, reporter.as_ref()).await;
        pool.shutdown().await;
        Ok::<_, InputError>(results)
    })?;
    print_data(
        mode,
        || backup_view::backup_json(&results),
        || backup_view::backup_text(&results, Style::for_stdout()),
    );
    let exit = if results.iter().any(|r| r.result.is_err()) {
        EXIT_SITE_FAILED
    } else {
        EXIT_OK
    };
    let records = results
        .iter()
        .map(|r| match &r.result {
            Ok(manifest) => {
                let mut site = crate::history::SiteRecord::new(&r.site, "ok");
                site.snapshots = vec![crate::history::SnapshotRecord::from(manifest)];
                site.duration_ms = r.elapsed.as_millis() as u64;
                site
            }
            Err(e) => record::failed(r, e.masked()),
        })
        .collect();
    Ok(record::end_and_notify(inventory, started, records, exit))
}

/// The snapshots in the inventory's store, of one site (which must exist) or all.
fn list_snapshots(
    inventory: &Inventory,
    site: Option<&str>,
) -> Result<Vec<crate::backup::Snapshot>, InputError> {
    check_site_flag(inventory, site)?;
    let store = crate::backup::open_store(&inventory.settings);
    store
        .list(site)
        .map_err(|e| InputError::new(format!("cannot read the store {}: {e}", store.location())))
}

fn backups_list(
    inventory: &Inventory,
    site: Option<&str>,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let snapshots = list_snapshots(inventory, site)?;
    print_data(
        mode,
        || backup_view::list_json(&snapshots),
        || backup_view::list_text(&snapshots),
    );
    Ok(EXIT_OK)
}

fn backups_verify(
    inventory: &Inventory,
    site: Option<&str>,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let snapshots = list_snapshots(inventory, site)?;
    let recorder = record::Recorder::new(ui::reporter(mode));
    let checked: Vec<&crate::inventory::Site> = inventory
        .sites
        .values()
        .filter(|s| snapshots.iter().any(|snap| snap.manifest.site == s.name))
        .collect();
    let started = record::begin(inventory, &recorder, "verify", &checked);
    let store = crate::backup::open_store(&inventory.settings);
    let results: Vec<_> = snapshots
        .into_iter()
        .map(|s| {
            let problems = crate::backup::verify::verify(&store, &s);
            (s, problems.iter().map(ToString::to_string).collect())
        })
        .collect();
    print_data(
        mode,
        || backup_view::verify_json(&results),
        || backup_view::verify_text(&results, Style::for_stdout()),
    );
    let exit = if results.iter().any(|(_, p)| !p.is_empty()) {
        EXIT_SITE_FAILED
    } else {
        EXIT_OK
    };
    Ok(record::end_and_notify(
        inventory,
        started,
        record::verified_sites(&results),
        exit,
    ))
}

fn backups_prune(
    inventory: &Inventory,
    limit: Option<&SitePattern>,
    dry_run: bool,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let sites: Vec<&str> = selected(inventory, limit)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let store = crate::backup::open_store(&inventory.settings);
    let recorder = record::Recorder::new(ui::reporter(mode));
    let started = (!dry_run)
        .then(|| record::begin(inventory, &recorder, "prune", &selected(inventory, limit)));
    let results =
        crate::backup::prune::prune(&store, &sites, &inventory.settings.retention, dry_run);
    print_data(
        mode,
        || backup_view::prune_json(&results, dry_run),
        || backup_view::prune_text(&results, dry_run),
    );
    let exit = if results.iter().any(|r| r.error.is_some()) {
        EXIT_SITE_FAILED
    } else {
        EXIT_OK
    };
    if let Some(started) = started {
        let records = results
            .iter()
            .map(|r| {
                let mut site = crate::history::SiteRecord::new(
                    &r.site,
                    if r.error.is_some() { "failed" } else { "ok" },
                );
                site.pruned = r.removed.iter().map(|s| s.manifest.id.clone()).collect();
                site.error = r.error.as_ref().map(ToString::to_string);
                site
            })
            .collect();
        record::end_and_notify(inventory, started, records, exit);
    }
    Ok(exit)
}

/// Names the command-line place of a `--site`-style error.
fn at_flag(mut error: InputError, name: &str) -> InputError {
    if let crate::diagnostic::Origin::Argument { flag, .. } = &mut error.origin {
        *flag = name.to_owned();
    }
    error
}

fn restore(
    inventory: &Inventory,
    site: &str,
    snapshot_id: &str,
    contents: Contents,
    to: Option<&str>,
    yes: bool,
    mode: OutputMode,
) -> Result<u8, InputError> {
    check_site_flag(inventory, Some(site)).map_err(|e| at_flag(e, "restore"))?;
    check_site_flag(inventory, to).map_err(|e| at_flag(e, "--to"))?;
    let target = &inventory.sites[to.unwrap_or(site)];
    let store = crate::backup::open_store(&inventory.settings);
    let snapshot = store
        .find(site, snapshot_id)
        .map_err(|e| InputError::new(format!("cannot read the store {}: {e}", store.location())))?
        .ok_or_else(|| {
            InputError::new(format!("no snapshot `{snapshot_id}` of `{site}`")).with_hint(format!(
                "`tend backups list --site {site}` shows the snapshots there are"
            ))
        })?;
    let what = match (contents.files, contents.database) {
        (true, true) => "files and database",
        (true, false) => "files",
        _ => "database",
    };
    if !yes {
        let question = format!(
            "Restore snapshot {} of {} ({}, {}) onto {} ({})? Its current {what} will be replaced (a pre-restore snapshot is taken first).",
            snapshot.manifest.id,
            site,
            snapshot.manifest.created.format("%Y-%m-%d %H:%M UTC"),
            snapshot.manifest.label.as_deref().unwrap_or("no label"),
            target.name,
            target.url
        );
        if !ui::confirm(&question) {
            return Err(if ui::can_ask() {
                InputError::new("restore cancelled")
            } else {
                InputError::new("refusing to restore without confirmation: not on a terminal")
                    .with_hint("pass --yes to restore without being asked")
            });
        }
    }
    let recorder = record::Recorder::new(ui::reporter(mode));
    let reporter = recorder.reporter();
    let started = record::begin(inventory, &recorder, "restore", &[target]);
    let restore_started = std::time::Instant::now();
    let result = runtime()?.block_on(async {
        let pool = pool(inventory, &reporter)?;
        let request = engine::restore::Request {
            snapshot: &snapshot,
            target,
            contents,
        };
        let result = engine::restore::run(&request, &pool, &store, reporter.as_ref()).await;
        pool.shutdown().await;
        Ok::<_, InputError>(result)
    })?;
    print_data(
        mode,
        || backup_view::restore_json(&target.name, &snapshot.manifest.id, &result),
        || {
            backup_view::restore_text(
                &target.name,
                &snapshot.manifest.id,
                &result,
                Style::for_stdout(),
            )
        },
    );
    let exit = if result.is_ok() {
        EXIT_OK
    } else {
        EXIT_SITE_FAILED
    };
    let mut site =
        crate::history::SiteRecord::new(&target.name, if result.is_ok() { "ok" } else { "failed" });
    site.snapshots = vec![crate::history::SnapshotRecord::from(&snapshot.manifest)];
    if let Ok(restored) = &result {
        if let Some(safety) = &restored.safety_snapshot {
            site.snapshots
                .push(record::snapshot(&store, &target.name, safety));
        }
    }
    site.error = result.as_ref().err().map(|e| e.masked());
    site.duration_ms = restore_started.elapsed().as_millis() as u64;
    Ok(record::end_and_notify(inventory, started, vec![site], exit))
}

fn repo_index(dir: &std::path::Path, mode: OutputMode) -> Result<u8, InputError> {
    let index = crate::updates::repository::index_folder(dir)
        .map_err(|e| InputError::new(format!("cannot index {}: {e}", dir.display())))?;
    print_data(
        mode,
        || serde_json::to_value(&index).unwrap_or_default(),
        || {
            let mut out = format!(
                "{}: {} package(s)\n",
                dir.join("index.json").display(),
                index.packages.len()
            );
            for p in &index.packages {
                out.push_str(&format!(
                    "  {:<6} {:<30} {:<12} {}\n",
                    p.kind.name(),
                    p.slug,
                    p.version,
                    p.url
                ));
            }
            out
        },
    );
    Ok(EXIT_OK)
}

fn pool(
    inventory: &Inventory,
    reporter: &crate::events::SharedReporter,
) -> Result<Pool, InputError> {
    Pool::new(
        inventory.settings.connect_timeout,
        inventory.settings.max_sessions,
        reporter.clone(),
    )
    .map_err(|e| {
        InputError::new(format!(
            "cannot create a private directory for SSH control sockets: {e}"
        ))
    })
}

fn check(
    inventory: &Inventory,
    playbooks: &[PathBuf],
    limit: Option<&SitePattern>,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let mut checked = Vec::new();
    for path in playbooks {
        let playbook = Playbook::load(path, inventory)?;
        let mut patterns = vec![&playbook.hosts];
        patterns.extend(limit);
        let sites: Vec<String> = select(inventory, &patterns)
            .iter()
            .map(|s| s.name.clone())
            .collect();
        checked.push((path.clone(), playbook, sites));
    }
    let mut out = std::io::stdout().lock();
    if mode.json {
        let doc = json!({
            "ok": true,
            "inventory": {
                "file": inventory.file.display().to_string(),
                "sites": inventory.sites.len(),
                "groups": inventory.groups.len(),
            },
            "playbooks": checked.iter().map(|(path, p, sites)| json!({
                "file": path.display().to_string(),
                "name": p.name,
                "steps": p.steps.iter().map(|s| s.name()).collect::<Vec<_>>(),
                "sites": sites,
            })).collect::<Vec<_>>(),
        });
        let _ = writeln!(out, "{doc}");
    } else {
        let _ = writeln!(
            out,
            "{}: ok, {} site(s) in {} group(s)",
            inventory.file.display(),
            inventory.sites.len(),
            inventory.groups.len()
        );
        for (path, p, sites) in &checked {
            let steps: Vec<&str> = p.steps.iter().map(|s| s.name()).collect();
            let _ = writeln!(
                out,
                "{}: ok, \"{}\": {} on {} site(s)",
                path.display(),
                p.name,
                steps.join(", "),
                sites.len()
            );
        }
    }
    Ok(EXIT_OK)
}

fn facts(
    inventory: &Inventory,
    limit: Option<&SitePattern>,
    forks: usize,
    with_updates: bool,
    mode: OutputMode,
) -> Result<u8, InputError> {
    let all = SitePattern::all();
    let mut patterns = vec![&all];
    patterns.extend(limit);
    let sites = select(inventory, &patterns);
    let reporter = ui::reporter(mode);
    let runtime = runtime()?;
    let results = runtime.block_on(async {
        let pool = pool(inventory, &reporter)?;
        let results = engine::facts::gather(&sites, &pool, forks, reporter.as_ref()).await;
        pool.shutdown().await;
        let updates = if with_updates {
            let sources = crate::updates::sources::Sources::new(
                &inventory.settings.sources,
                run::download_client(),
            );
            engine::facts::offered_updates(&results, &sources).await
        } else {
            Vec::new()
        };
        Ok::<_, InputError>((results, updates))
    })?;
    let (results, updates) = results;
    let mut out = std::io::stdout().lock();
    if mode.json {
        let _ = writeln!(out, "{}", facts_view::to_json(&results, &updates));
    } else {
        let _ = write!(
            out,
            "{}",
            facts_view::to_text(&results, &updates, Style::for_stdout())
        );
    }
    let failed = results.iter().any(|r| r.result.is_err())
        || updates.iter().any(|u| matches!(u, Some(Err(_))));
    Ok(if failed { EXIT_SITE_FAILED } else { EXIT_OK })
}

fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| InputError::new(format!("cannot start the async runtime: {e}")))
}
