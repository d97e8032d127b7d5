//! Which of the top-level flags (`-i -l -f --json -q -v`) each subcommand takes.
//!
//! The contract's form is `tend [-i INVENTORY] [-l PATTERN] [-f N] [--json] [-q] [-v]
//! <command>`, and `tend backup -l acme` works as well. clap's `global = true` gives both,
//! but also lists every such flag in every subcommand's help and completions
//! (`tend repo index --help` offering `--limit`, `tend restore` offering `--forks`). So the
//! flags are defined once, on [`Cli`], without `global`; [`command`] copies each one onto
//! the subcommands it applies to ([`flags_of`]), and [`parse`] lifts a value given after the
//! subcommand into [`Cli`], where the commands read it. Before the subcommand every flag is
//! accepted (that is the contract's form, and the top-level help lists them all).

use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::Cli;

const INVENTORY: &str = "inventory";
const LIMIT: &str = "limit";
const FORKS: &str = "forks";
const JSON: &str = "json";
const QUIET: &str = "quiet";
const VERBOSE: &str = "verbose";

/// Every flag that can be given after a subcommand, in `Cli`'s order.
const ALL: &[&str] = &[INVENTORY, LIMIT, FORKS, JSON, QUIET, VERBOSE];

/// The flags a leaf subcommand (`backup`, `backups list`) takes; None for one this table
/// does not know yet (it then takes them all, as before — a unit test lists the leaves).
fn flags_of(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        // Work on sites over SSH, several at once.
        "facts" | "run" | "recover" | "backup" => ALL,
        // Work on (or report on) selected sites, one process, no connections at once.
        "check" | "backups list" | "backups verify" | "backups prune" | "history" | "report" => {
            &[INVENTORY, LIMIT, JSON, QUIET, VERBOSE]
        }
        // Names its site itself; or works on the store, no site.
        "restore" | "backups init" => &[INVENTORY, JSON, QUIET, VERBOSE],
        // Needs no inventory.
        "repo index" => &[JSON, QUIET, VERBOSE],
        // Print a file generated from these definitions; nothing to select or report.
        "completions" | "man" => &[],
        _ => return None,
    })
}

/// The flags a subcommand takes: its own if it is a leaf, else those all its subcommands
/// take (`tend backups -l acme list`).
fn applicable(command: &clap::Command, path: &str) -> Vec<&'static str> {
    let mut children = command.get_subcommands().peekable();
    if children.peek().is_none() {
        return flags_of(path).unwrap_or(ALL).to_vec();
    }
    let mut common = ALL.to_vec();
    for child in children {
        let taken = applicable(child, &format!("{path} {}", child.get_name()));
        common.retain(|f| taken.contains(f));
    }
    common
}

fn scoped(mut command: clap::Command, path: &str, flags: &[clap::Arg]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        command = command.mut_subcommand(&name, |c| scoped(c, &child_path, flags));
    }
    if path.is_empty() {
        return command;
    }
    for id in applicable(&command, path) {
        if let Some(flag) = flags.iter().find(|f| f.get_id() == id) {
            command = command.arg(flag.clone().help_heading("Global Options"));
        }
    }
    command
}

/// The whole command line: what is parsed, completed and documented in the man page.
pub(super) fn command() -> clap::Command {
    let command = Cli::command();
    let flags: Vec<clap::Arg> = command
        .get_arguments()
        .filter(|a| ALL.contains(&a.get_id().as_str()))
        .cloned()
        .collect();
    scoped(command, "", &flags)
}

/// Parses the process's arguments (exiting with clap's message and status 2 on a mistake).
pub(super) fn parse() -> Cli {
    let mut command = command();
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| parse_matches(&matches));
    match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let e = e.format(&mut command);
            let wants_json = std::env::args_os().skip(1).any(|a| a == "--json");
            if wants_json && e.use_stderr() {
                // Scripts always get a JSON document on stdout, also for a command line
                // clap refuses (help and version are not errors).
                println!("{}", usage_error_json(&e));
            }
            e.exit()
        }
    }
}

/// `{"error": …}` for a command line clap refused: its message without the usage text.
fn usage_error_json(e: &clap::Error) -> serde_json::Value {
    let rendered = e.to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    serde_json::json!({"error": {
        "message": message, "file": null, "line": null, "column": null, "hint": null,
    }})
}

fn parse_matches(matches: &ArgMatches) -> Result<Cli, clap::Error> {
    let mut cli = Cli::from_arg_matches(matches)?;
    lift(&mut cli, matches);
    Ok(cli)
}

/// A flag's value in `matches`, if this (sub)command takes it and it was given.
fn given<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Option<T> {
    matches.try_get_one::<T>(id).ok().flatten().cloned()
}

/// Flags given after the subcommand (at any depth) override those given before it.
fn lift(cli: &mut Cli, matches: &ArgMatches) {
    let mut level = matches;
    while let Some((_, sub)) = level.subcommand() {
        if let Some(inventory) = given::<PathBuf>(sub, INVENTORY) {
            cli.inventory = Some(inventory);
        }
        if let Some(limit) = given::<String>(sub, LIMIT) {
            cli.limit = Some(limit);
        }
        if let Some(forks) = given::<u16>(sub, FORKS) {
            cli.forks = Some(forks);
        }
        if given::<bool>(sub, JSON) == Some(true) {
            cli.json = true;
        }
        let quiet = given::<bool>(sub, QUIET) == Some(true);
        let verbose = given::<bool>(sub, VERBOSE) == Some(true);
        if quiet || verbose {
            cli.quiet = quiet;
            cli.verbose = verbose;
        }
        level = sub;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let matches = command().try_get_matches_from(args)?;
        parse_matches(&matches)
    }

    fn flags_in_help(path: &[&str]) -> Vec<String> {
        let mut command = command();
        command.build();
        let mut sub = &command;
        for name in path {
            sub = sub.find_subcommand(name).unwrap();
        }
        sub.get_arguments()
            .filter(|a| ALL.contains(&a.get_id().as_str()))
            .map(|a| a.get_id().to_string())
            .collect()
    }

    #[test]
    fn the_definitions_are_valid() {
        command().debug_assert();
    }

    #[test]
    fn every_leaf_subcommand_says_which_flags_it_takes() {
        fn leaves(command: &clap::Command, path: &str, out: &mut Vec<String>) {
            for child in command.get_subcommands() {
                let child_path = format!("{path} {}", child.get_name());
                if child.get_subcommands().next().is_none() {
                    out.push(child_path.trim().to_owned());
                } else {
                    leaves(child, &child_path, out);
                }
            }
        }
        let mut all = Vec::new();
        leaves(&Cli::command(), "", &mut all);
        let unknown: Vec<&String> = all.iter().filter(|p| flags_of(p).is_none()).collect();
        assert!(unknown.is_empty(), "add these to flags_of: {unknown:?}");
    }

    #[test]
    fn a_subcommand_offers_only_the_flags_that_apply_to_it() {
        assert_eq!(flags_in_help(&["backup"]), ALL);
        assert_eq!(
            flags_in_help(&["repo", "index"]),
            [JSON, QUIET, VERBOSE].map(String::from)
        );
        assert!(flags_in_help(&["completions"]).is_empty());
        assert!(!flags_in_help(&["restore"]).contains(&LIMIT.to_owned()));
        // `backups init` selects no sites, so `-l` goes after `list`, `verify` or `prune`.
        assert_eq!(
            flags_in_help(&["backups"]),
            [INVENTORY, JSON, QUIET, VERBOSE].map(String::from)
        );
    }

    #[test]
    fn flags_work_before_and_after_the_subcommand() {
        for args in [
            &["tend", "-l", "acme-*", "-f", "3", "--json", "backup"][..],
            &["tend", "backup", "-l", "acme-*", "-f", "3", "--json"],
            &[
                "tend", "-l", "x", "backup", "--limit", "acme-*", "-f3", "--json",
            ],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.limit.as_deref(), Some("acme-*"), "{args:?}");
            assert_eq!(cli.forks, Some(3), "{args:?}");
            assert!(cli.json, "{args:?}");
        }
        let cli = parse(&["tend", "backups", "list", "-i", "inv.yml", "-q"]).unwrap();
        assert_eq!(cli.inventory, Some(PathBuf::from("inv.yml")));
        assert!(cli.quiet && !cli.verbose);
        let cli = parse(&["tend", "-q", "backups", "-v", "list"]).unwrap();
        assert!(!cli.quiet && cli.verbose);
        // The contract's form takes every flag before any command.
        parse(&[
            "tend", "-i", "i.yml", "-l", "a", "-f", "2", "--json", "-q", "check",
        ])
        .unwrap();
    }

    #[test]
    fn a_flag_that_does_not_apply_is_refused_after_the_subcommand() {
        let err = parse(&["tend", "repo", "index", "dir", "--limit", "x"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = parse(&["tend", "restore", "s", "-f", "2"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(parse(&["tend", "backup", "-q", "-v"]).is_err());
    }
}
