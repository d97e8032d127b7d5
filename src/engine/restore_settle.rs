//! A restore whose connection to the host dropped part-way: finished or undone on a new
//! connection, so that a cut connection leaves the site whole rather than in an unknown
//! state.
//!
//! When the connection drops, what the host did last is not known: the command in flight
//! goes on running there (sshd only closes its pipes), and it may still rename the files
//! or the tables. So its commands are waited for first (up to [`super::run`]'s limit for
//! lost commands), and then the host is asked where the restore got. Every step leaves a
//! trace that says so: the staged tree `ROOT.tend-restore-ID` exists until the file swap
//! renames it into place, and the imported `tndnew_` tables exist until the one
//! `RENAME TABLE` swaps them in. The swap of the tables decides:
//!
//! - **swapped**: both parts are the snapshot's (the files were swapped in before the
//!   tables were); only the clean-up is left, which is done: the restore is finished;
//! - **not swapped** (or never asked for): the files are put back if they were swapped,
//!   the staged tree and the imported tables removed: the site is as it was.
//!
//! If the host cannot be reached again, or the lost commands do not end, nothing is
//! guessed: the restore fails with [`RestoreState::Unknown`](crate::site_error::RestoreState)
//! and the site stays in maintenance mode.

use std::time::Duration;

use crate::backup::restore::{drop_prefixed, finish_files, put_back, remove_tree, Keep, Staged};
use crate::backup::temp_tables;
use crate::cms::{mysql_client, DbCredentials};
use crate::remote::{quote, Connection, Endpoint, Pool, RemoteCommand};
use crate::secrets::mask;
use crate::site_error::SiteError;

/// How long the commands of a lost connection may go on before nothing is decided.
const LOST_COMMANDS_WAIT: Duration = Duration::from_secs(120);

/// How far the restore had got when its connection dropped, as far as tend knows.
#[derive(Debug, Default)]
pub struct Progress {
    /// The script swapping the staged files into place was sent.
    pub files_swap_sent: bool,
    /// What became of the `RENAME TABLE` swapping the imported tables in.
    pub tables: TablesSwap,
    /// How many values the source's address was replaced in (a copy).
    pub replaced: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TablesSwap {
    /// Not sent (yet): the live tables are the old ones.
    #[default]
    NotSent,
    /// Sent, and its answer lost with the connection: the host knows.
    Sent,
    /// Refused by the server: the live tables are the old ones.
    Refused,
}

/// What the restore was doing, for finding out where it got.
pub struct InFlight<'a> {
    pub endpoint: Endpoint,
    /// The connection that dropped: its commands are waited for.
    pub lost: &'a Connection,
    /// Where the staged and the kept-aside trees are (known before they exist).
    pub staged: Staged,
    /// Whether the restore replaces the files.
    pub files: bool,
    /// The database being replaced, and the client on the host.
    pub database: Option<(&'a DbCredentials, &'a str)>,
    pub keep: &'a Keep,
}

/// Where a lost restore was brought to.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// The tables had been swapped in: the restore was finished (its clean-up done, or
    /// said in `warnings`).
    Finished { warnings: Vec<String> },
    /// The tables had not been swapped in: everything was put back.
    PutBack,
}

/// Finds out where the restore got on a new connection, and finishes or undoes it. An
/// error: nothing could be decided (the host is still unreachable, its commands still run,
/// or the undoing failed), and why.
pub async fn settle(
    pool: &Pool,
    inflight: &InFlight<'_>,
    progress: &Progress,
) -> Result<Settled, String> {
    let host = pool.connect(&inflight.endpoint).await.map_err(|e| {
        format!(
            "the host could not be reached again ({})",
            mask(&e.to_string())
        )
    })?;
    match host
        .wait_for_processes_of(inflight.lost.tag(), LOST_COMMANDS_WAIT)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "the commands of the lost connection still ran on the host after {} s",
                LOST_COMMANDS_WAIT.as_secs()
            ))
        }
        Err(e) => {
            return Err(format!(
                "the commands of the lost connection could not be looked for ({})",
                mask(&e.to_string())
            ))
        }
    }
    let trees = Trees::look(&host, &inflight.staged).await?;
    let tables_swapped = match (inflight.database, progress.tables) {
        (Some((db, client)), TablesSwap::Sent) => {
            imported_tables_left(&host, client, db).await? == 0
        }
        _ => false,
    };
    if tables_swapped {
        let mut warnings = Vec::new();
        let (db, client) = inflight.database.expect("swapped tables have a database");
        if let Err(e) = drop_prefixed(&host, client, db, temp_tables::OLD_PREFIX).await {
            warnings.push(format!(
                "the replaced tables ({}*) could not be dropped: {}",
                temp_tables::OLD_PREFIX,
                e.masked()
            ));
        }
        if inflight.files {
            if let Err(e) = finish_files(&host, &inflight.staged, trees.old, inflight.keep).await {
                warnings.push(format!(
                    "the replaced files in {} could not be removed: {}",
                    inflight.staged.old,
                    e.masked()
                ));
            }
        }
        return Ok(Settled::Finished { warnings });
    }
    // Not swapped: everything goes back. The staged tree gone after its swap was sent
    // means the swap renamed it into place (a failed swap renames nothing, or back).
    let undo = async {
        if inflight.files && progress.files_swap_sent && !trees.staging {
            put_back(&host, &inflight.staged, trees.old).await?;
        } else if trees.staging {
            remove_tree(&host, &inflight.staged.staging).await?;
        }
        if let Some((db, client)) = inflight.database {
            drop_prefixed(&host, client, db, temp_tables::NEW_PREFIX).await?;
        }
        Ok::<(), SiteError>(())
    };
    undo.await
        .map_err(|e| format!("putting the site back failed ({})", e.masked()))?;
    Ok(Settled::PutBack)
}

/// Which of the restore's trees are on the host.
struct Trees {
    staging: bool,
    old: bool,
}

impl Trees {
    async fn look(host: &Connection, staged: &Staged) -> Result<Trees, String> {
        let script = [&staged.staging, &staged.old]
            .iter()
            .map(|p| {
                format!(
                    "if [ -e {p} ] || [ -L {p} ]; then echo yes; else echo no; fi",
                    p = quote(p)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let output = host
            .run(&RemoteCommand::script(&script), None, 1024)
            .await
            .map_err(|e| {
                format!(
                    "looking at the site's files failed ({})",
                    mask(&e.to_string())
                )
            })?;
        let text = output.stdout_text();
        let answers: Vec<&str> = text.split_whitespace().collect();
        match answers.as_slice() {
            [staging, old] => Ok(Trees {
                staging: *staging == "yes",
                old: *old == "yes",
            }),
            _ => Err(format!(
                "looking at the site's files gave an answer tend does not understand: {text:?}"
            )),
        }
    }
}

/// How many tables of an unfinished import are in the database.
async fn imported_tables_left(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
) -> Result<u64, String> {
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '{}%'",
        temp_tables::NEW_PREFIX.replace('_', "\\_")
    );
    let rows = mysql_client::query(host, client, db, &sql, 1024)
        .await
        .map_err(|e| format!("asking the database for its tables failed ({})", e.masked()))?;
    rows.first()
        .and_then(|row| row.first())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| "the database's answer was not a count of tables".to_owned())
}
