//! The journal a run keeps on the host while it changes a site: what it is about to change
//! and how to undo it, written *before* each change.
//!
//! If tend dies mid-update (killed, power loss, lost connection) the journal is what is
//! left to say what happened: `tend run` refuses a site that has one, and `tend recover`
//! reads it to put the site back. The same undo serves the automatic rollback, so recovery
//! is exercised by every rollback, not only by crashes.
//!
//! Every change is a *swap*: the live path is renamed aside, the staged new version is
//! renamed into its place. Renames are cheap (the aside and staging folders live in
//! `<root>/.tend/`, on the site's own filesystem) and each has an exact inverse; undo works
//! from what is on disk, so it is right whether the run died before, between or after the
//! two renames of a swap, and running it twice does no harm. Undo is shell `mv` only: it
//! never depends on the site's PHP, which may be what broke.

use serde::{Deserialize, Serialize};

use crate::remote::{quote, Connection, Deadline, RemoteCommand, BOOKKEEPING_LIMIT};
use crate::site_error::SiteError;

/// tend's bookkeeping on the host is small and quick: it gets the short deadline.
const BOOKKEEPING: Deadline = Deadline::Total(BOOKKEEPING_LIMIT);

/// tend's folder at the site root: the journal and the run's work folders.
pub const DIR: &str = crate::paths::SITE_TEND_DIR;
/// The journal, relative to the site root.
pub const FILE: &str = ".tend/journal.json";

const OUTPUT_LIMIT: usize = 1024 * 1024;

/// What a run has done, or is about to do, to one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub tend_version: String,
    /// The run's id; its work folder is `.tend/work/<run>`.
    pub run: String,
    pub started: String,
    /// Who runs it (runner, pid, command), as in site locks.
    pub owner: String,
    pub site: String,
    pub root: String,
    /// The snapshot taken before the changes: the database is restored from it.
    pub snapshot: Option<String>,
    /// The maintenance file whose presence keeps visitors out (`None`: tend did not put
    /// the site in maintenance, or the CMS keeps maintenance elsewhere).
    pub maintenance: Option<String>,
    /// Maintenance mode was turned on with the CMS's CLI (Joomla's `site:down`), which keeps
    /// it in the site's configuration: a files restore from the snapshot ends it, otherwise
    /// the CLI does.
    #[serde(default)]
    pub maintenance_cli: bool,
    /// The files changed in ways renames cannot undo (a CMS's own updater ran): undoing
    /// restores the files from the snapshot.
    #[serde(default)]
    pub restore_files: bool,
    /// Renames, in the order they were made.
    pub swaps: Vec<Swap>,
    /// The database may differ from the snapshot (code was swapped or a schema upgrade ran).
    pub database_changed: bool,
    /// The run finished what it set out to do and kept the result: recovery only clears up.
    pub kept: bool,
}

/// One replacement of a path at the site root by a new version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swap {
    /// What it is, for messages (`plugin akismet 5.0.2 → 5.5`).
    pub what: String,
    /// The live path, relative to the root.
    pub live: String,
    /// Where the old version goes (relative to the root).
    pub aside: String,
    /// The new version to put in its place; `None` removes the live path (moved aside).
    pub staged: Option<String>,
    /// Whether the live path existed before: a swap of a path that did not exist is undone
    /// by removing what was put there.
    pub existed: bool,
}

impl Journal {
    pub fn new(run: &str, owner: &str, site: &str, root: &str, snapshot: Option<&str>) -> Journal {
        Journal {
            tend_version: env!("CARGO_PKG_VERSION").to_owned(),
            run: run.to_owned(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            owner: owner.to_owned(),
            site: site.to_owned(),
            root: root.to_owned(),
            snapshot: snapshot.map(str::to_owned),
            maintenance: None,
            maintenance_cli: false,
            restore_files: false,
            swaps: Vec::new(),
            database_changed: false,
            kept: false,
        }
    }

    /// The run's work folder, relative to the root.
    pub fn work_dir(&self) -> String {
        work_dir(&self.run)
    }

    /// Whether the site is in maintenance mode by this run's doing.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance.is_some() || self.maintenance_cli
    }

    /// Whether undoing it has anything to put back.
    pub fn changed_anything(&self) -> bool {
        !self.swaps.is_empty()
            || self.maintenance.is_some()
            || self.maintenance_cli
            || self.restore_files
            || self.database_changed
    }
}

pub fn work_dir(run: &str) -> String {
    format!("{DIR}/work/{run}")
}

/// Reads the site's journal, if it has one.
pub async fn read(host: &Connection, root: &str) -> Result<Option<Journal>, SiteError> {
    let script = format!(
        "cd {root} && if [ -f {FILE} ]; then cat {FILE}; fi",
        root = quote(root)
    );
    let output = host
        .run_within(
            &RemoteCommand::script(&script),
            None,
            OUTPUT_LIMIT,
            BOOKKEEPING,
        )
        .await?;
    if output.stdout.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&output.stdout)
        .map(Some)
        .map_err(|e| SiteError::Failed {
            what: format!("reading {root}/{FILE}"),
            detail: format!("not a journal tend can read ({e}); look at it and remove it by hand"),
        })
}

/// Writes `journal` (atomically: written aside, then renamed), then runs `then` — a shell
/// fragment run at the site root — in the same round trip. The journal is on disk before
/// any of `then` runs.
pub async fn write_then(
    host: &Connection,
    journal: &Journal,
    then: &str,
) -> Result<String, SiteError> {
    let text = serde_json::to_vec_pretty(journal).expect("a journal always serializes");
    crate::interrupt::journal_written(&journal.site);
    let script = format!(
        "set -e; cd {root}; umask 077; mkdir -p {DIR}/work; chmod 700 {DIR}; \
         cat > {FILE}.tmp; mv -f {FILE}.tmp {FILE}; umask 022; {then}",
        root = quote(&journal.root),
        then = if then.is_empty() { ":" } else { then },
    );
    let output = host
        .run_within(
            &RemoteCommand::script(&script),
            Some(&text),
            OUTPUT_LIMIT,
            BOOKKEEPING,
        )
        .await?;
    Ok(output.stdout_text())
}

/// The shell that makes `swaps` (run at the site root, after the journal listing them is
/// written).
pub fn swap_script(swaps: &[Swap]) -> String {
    let mut script = String::new();
    for swap in swaps {
        let live = quote(&swap.live);
        if swap.existed {
            script.push_str(&format!(
                "mkdir -p \"$(dirname {aside})\"; mv {live} {aside}; ",
                aside = quote(&swap.aside)
            ));
        }
        if let Some(staged) = &swap.staged {
            script.push_str(&format!("mv {} {live}; ", quote(staged)));
        }
    }
    script
}

/// The shell that puts the files back as they were before `journal`'s swaps (run at the
/// site root). Idempotent: it looks at what is on disk, so it is right after a crash at any
/// point and when run twice. Whatever it takes away goes to the work folder's `undone/`.
pub fn undo_files_script(journal: &Journal) -> String {
    let trash = format!("{}/undone", journal.work_dir());
    let mut script = format!("set -e; mkdir -p {}; ", quote(&trash));
    for (i, swap) in journal.swaps.iter().enumerate().rev() {
        let live = quote(&swap.live);
        let aside = quote(&swap.aside);
        let away = quote(&format!("{trash}/{i}"));
        if swap.existed {
            script.push_str(&format!(
                "if [ -e {aside} ] || [ -L {aside} ]; then \
                   if [ -e {live} ] || [ -L {live} ]; then rm -rf {away}; mv {live} {away}; fi; \
                   mv {aside} {live}; \
                 fi; "
            ));
        } else {
            script.push_str(&format!(
                "if [ -e {live} ] || [ -L {live} ]; then rm -rf {away}; mv {live} {away}; fi; "
            ));
        }
    }
    script
}

/// The shell that takes the site out of maintenance, if the journal put it in.
pub fn end_maintenance_script(journal: &Journal) -> String {
    match &journal.maintenance {
        // With the file a write cut between its `cat` and its `mv` may have left aside.
        Some(file) => format!(
            "rm -f {} {}; ",
            quote(file),
            quote(&format!("{file}.tend-tmp"))
        ),
        None => String::new(),
    }
}

/// Removes the journal and the run's work folder (the old versions kept aside).
pub async fn clear(host: &Connection, journal: &Journal) -> Result<(), SiteError> {
    let script = format!(
        "cd {root} && rm -f {FILE} && rm -rf {work} && (rmdir {DIR}/work {DIR} 2>/dev/null || true)",
        root = quote(&journal.root),
        work = quote(&journal.work_dir()),
    );
    host.run_within(
        &RemoteCommand::script(&script),
        None,
        OUTPUT_LIMIT,
        BOOKKEEPING,
    )
    .await?;
    crate::interrupt::journal_cleared(&journal.site);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> Journal {
        let mut j = Journal::new("r1", "me", "blog", "/srv/www", Some("snap"));
        j.swaps = vec![
            Swap {
                what: "plugin akismet".into(),
                live: "wp-content/plugins/akismet".into(),
                aside: ".tend/work/r1/old/0".into(),
                staged: Some(".tend/work/r1/new/0".into()),
                existed: true,
            },
            Swap {
                what: "core file".into(),
                live: "wp-new.php".into(),
                aside: ".tend/work/r1/old/1".into(),
                staged: Some(".tend/work/r1/new/1/wp-new.php".into()),
                existed: false,
            },
        ];
        j
    }

    #[test]
    fn swaps_move_aside_then_into_place() {
        let script = swap_script(&journal().swaps);
        let aside = script
            .find("mv wp-content/plugins/akismet .tend/work/r1/old/0")
            .unwrap();
        let into = script
            .find("mv .tend/work/r1/new/0 wp-content/plugins/akismet")
            .unwrap();
        assert!(aside < into);
        // A path that did not exist is not moved aside.
        assert!(!script.contains("mv wp-new.php"));
    }

    #[test]
    fn undo_goes_backwards_and_only_moves_what_is_there() {
        let script = undo_files_script(&journal());
        let new_file = script.find("[ -e wp-new.php ]").unwrap();
        let plugin = script.find("[ -e .tend/work/r1/old/0 ]").unwrap();
        assert!(new_file < plugin, "the last swap is undone first: {script}");
        assert!(script.contains("mv .tend/work/r1/old/0 wp-content/plugins/akismet"));
    }

    #[test]
    fn the_journal_round_trips_as_json() {
        let j = journal();
        let text = serde_json::to_string(&j).unwrap();
        let back: Journal = serde_json::from_str(&text).unwrap();
        assert_eq!(back, j);
        assert!(j.changed_anything());
    }
}
