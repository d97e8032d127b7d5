//! The command line: clap definitions and the mapping to commands. Nothing else knows clap.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::backup::create::Contents;
use crate::diagnostic::InputError;
use crate::inventory::{Inventory, Site};
use crate::select::{select, SitePattern};
use crate::ui::OutputMode;

mod backup;
mod backups;
mod check;
mod command_error;
mod completions;
mod facts;
mod history;
mod record;
mod recover;
mod repo;
mod report;
mod restore;
mod run;
mod scope;
mod session;

pub use command_error::{CommandError, EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use session::{exit_for, print_data, Session};

const DEFAULT_INVENTORY: &str = "inventory/inventory.yml";

/// The top-level flags are not `global`: [`scope`] gives each subcommand those that apply
/// to it, and lifts a value given after the subcommand into these fields.
#[derive(Debug, Parser)]
#[command(
    name = "tend",
    version,
    about = "Look after fleets of WordPress, Joomla and Magento sites over SSH"
)]
pub struct Cli {
    /// Inventory file [default: $TEND_INVENTORY, else inventory/inventory.yml]
    #[arg(short = 'i', long = "inventory", value_name = "FILE")]
    inventory: Option<PathBuf>,

    /// Sites to work on: comma-separated names, groups and globs; `!name` excludes
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    limit: Option<String>,

    /// Sites worked on at once [default: settings.forks, else 10]
    #[arg(short = 'f', long = "forks", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    forks: Option<u16>,

    /// Print one JSON document with the result on stdout (no progress bars)
    #[arg(long)]
    json: bool,

    /// Only warnings and errors on stderr
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    quiet: bool,

    /// More detail on stderr (connections, remote commands)
    #[arg(short = 'v', long)]
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
        /// Snapshot id, unique id prefix (4+ characters), `latest` (newest sound one holding the parts needed) or a label
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
        /// Restore even when what is on the site now cannot be saved first (it is then lost; what can be saved still is)
        #[arg(long)]
        no_pre_restore_snapshot: bool,
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
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        /// The shell the script is for
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff); read it with `tend man | man -l -`
    Man {
        /// Write tend.1 and a page per subcommand (tend-backup.1, …) into this folder instead
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
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
    /// Re-read every snapshot and check it against its manifest (and the repository's structure with a share of its data)
    Verify {
        /// Only this site's snapshots
        #[arg(long)]
        site: Option<String>,
        /// Read back all of the repository's data, not a share of it
        #[arg(long)]
        read_data: bool,
    },
    /// Apply the retention policy (settings.retention) to the selected sites' snapshots
    Prune {
        /// Show what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Create the snapshot repository (and the off-site one) named in settings.repository / settings.offsite
    Init,
}

/// Parses the command line, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    ignore_file_size_signal();
    let cli = scope::parse();
    let mode = OutputMode {
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    match run(cli, mode) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprint!("{error}");
            if mode.json {
                // Scripts always get a JSON document on stdout.
                println!("{}", error.to_json());
            }
            ExitCode::from(error.exit_status())
        }
    }
}

/// Under a file size limit (`ulimit -f`), a write past it raises SIGXFSZ, whose default
/// action kills the process with no message. Ignored, the write fails with `EFBIG` instead
/// and is handled as a full disk is: the site fails with the cause, nothing half-written is
/// left, and the run goes on. (An ignored signal stays ignored in the ssh and other
/// children tend starts, which is what they should do too.)
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread is started, has
    // no memory-safety requirement.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// What every command that reads the inventory is given.
struct Invocation<'a> {
    inventory: &'a Inventory,
    limit: Option<SitePattern>,
    /// `-f`, when given.
    forks_flag: Option<usize>,
    mode: OutputMode,
}

impl Invocation<'_> {
    /// The sites chosen by `--limit` (all without it).
    fn selected(&self) -> Vec<&Site> {
        selected(self.inventory, self.limit.as_ref())
    }

    /// Sites worked on at once: `-f`, else `settings.forks`.
    fn forks(&self) -> usize {
        self.forks_flag.unwrap_or(self.inventory.settings.forks)
    }

    fn session(&self) -> Result<Session<'_>, CommandError> {
        Session::open(self.inventory, self.mode)
    }
}

fn run(cli: Cli, mode: OutputMode) -> Result<u8, CommandError> {
    // Commands that need no inventory.
    if let Command::Repo {
        command: RepoCommand::Index { dir },
    } = &cli.command
    {
        return repo::index(dir, mode);
    }
    if let Command::Completions { shell } = &cli.command {
        return completions::completions(*shell);
    }
    if let Command::Man { out } = &cli.command {
        return completions::man(out.as_deref());
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
    let call = Invocation {
        inventory: &inventory,
        limit,
        forks_flag: cli.forks.map(usize::from),
        mode,
    };

    match cli.command {
        Command::Check { playbooks } => check::check(&call, &playbooks),
        Command::Facts { updates } => facts::facts(&call, updates),
        Command::Repo { .. } => unreachable!("handled before the inventory is read"),
        Command::Completions { .. } => unreachable!("handled before the inventory is read"),
        Command::Man { .. } => unreachable!("handled before the inventory is read"),
        Command::Run {
            playbook,
            check,
            yes,
        } => run::run_playbook(&call, &playbook, run::RunFlags { check, yes }),
        Command::Recover { site, yes } => recover::recover(&call, site.as_deref(), yes),
        Command::Backup { label } => backup::backup(&call, label.as_deref()),
        Command::Backups { command } => match command {
            BackupsCommand::List { site } => backups::list(&call, site.as_deref()),
            BackupsCommand::Verify { site, read_data } => {
                backups::verify(&call, site.as_deref(), read_data)
            }
            BackupsCommand::Prune { dry_run } => backups::prune(&call, dry_run),
            BackupsCommand::Init => backups::init(&call),
        },
        Command::History { site, since } => {
            let selected: Option<Vec<&str>> = call
                .limit
                .as_ref()
                .map(|_| call.selected().iter().map(|s| s.name.as_str()).collect());
            history::history(
                &inventory,
                selected.as_deref(),
                site.as_deref(),
                since.as_deref(),
                mode,
            )
        }
        Command::Restore {
            site,
            snapshot,
            files_only,
            db_only,
            to,
            no_pre_restore_snapshot,
            yes,
        } => {
            let contents = Contents {
                files: !db_only,
                database: !files_only,
            };
            restore::restore(
                &call,
                restore::Request {
                    site: &site,
                    snapshot: &snapshot,
                    contents,
                    to: to.as_deref(),
                    without_safety_snapshot: no_pre_restore_snapshot,
                    yes,
                },
            )
        }
        Command::Report { month, format, out } => report::report(
            &inventory,
            call.limit.as_ref(),
            month.as_deref(),
            &format,
            &out,
            mode,
        ),
    }
}

/// The sites chosen by `--limit` (all without it).
fn selected<'a>(inventory: &'a Inventory, limit: Option<&SitePattern>) -> Vec<&'a Site> {
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

/// Names the command-line place of a `--site`-style error.
fn at_flag(mut error: InputError, name: &str) -> InputError {
    if let crate::diagnostic::Origin::Argument { flag, .. } = &mut error.origin {
        *flag = name.to_owned();
    }
    error
}

/// Asks `question` unless `yes`; without a terminal, refuses with a hint to pass `--yes`.
fn confirm_or_refuse(yes: bool, question: &str, what: &str) -> Result<(), CommandError> {
    if yes || crate::ui::confirm(question) {
        return Ok(());
    }
    Err(CommandError::Input(if crate::ui::can_ask() {
        InputError::new(format!("{what} cancelled; nothing was changed"))
    } else {
        InputError::new(format!(
            "refusing to {what} without confirmation: not on a terminal"
        ))
        .with_hint(format!("pass --yes to {what} without being asked"))
    }))
}
