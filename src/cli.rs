//! The command line: clap definitions and the mapping to commands. Nothing else knows clap.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::diagnostic::InputError;
use crate::engine;
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::remote::Pool;
use crate::select::{select, SitePattern};
use crate::ui::{self, facts_view, style::Style, OutputMode};

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
    Facts,
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
        Command::Facts => facts(&inventory, limit.as_ref(), forks, mode),
    }
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
    mode: OutputMode,
) -> Result<u8, InputError> {
    let all = SitePattern::all();
    let mut patterns = vec![&all];
    patterns.extend(limit);
    let sites = select(inventory, &patterns);
    let reporter = ui::reporter(mode);
    let runtime = runtime()?;
    let results = runtime.block_on(async {
        let pool = Pool::new(
            inventory.settings.connect_timeout,
            inventory.settings.max_sessions,
            reporter.clone(),
        )
        .map_err(|e| {
            InputError::new(format!(
                "cannot create a private directory for SSH control sockets: {e}"
            ))
        })?;
        let results = engine::facts::gather(&sites, &pool, forks, reporter.as_ref()).await;
        pool.shutdown().await;
        Ok::<_, InputError>(results)
    })?;
    let mut out = std::io::stdout().lock();
    if mode.json {
        let _ = writeln!(out, "{}", facts_view::to_json(&results));
    } else {
        let _ = write!(
            out,
            "{}",
            facts_view::to_text(&results, Style::for_stdout())
        );
    }
    let failed = results.iter().any(|r| r.result.is_err());
    Ok(if failed { EXIT_SITE_FAILED } else { EXIT_OK })
}

fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| InputError::new(format!("cannot start the async runtime: {e}")))
}
