//! Putting a snapshot back onto a host: the files replace the CMS root exactly, the
//! database is emptied and reloaded from the dump.
//!
//! Files are unpacked into a sibling directory first and swapped in with two renames, so
//! the site is never a mix of old and new files, and a failed unpack leaves the site as it
//! was. The database import streams the dump through the host's MySQL client; its
//! credentials travel in front of the dump on the same stdin and are written only to a
//! private temporary file that a shell trap removes whatever happens.

use super::archive::{self, TransferError};
use super::store::{PartRef, StoreError};
use crate::cms::{mysql_client, DbCredentials};
use crate::remote::{quote, Connection, RemoteCommand, RemoteError};
use crate::site_error::SiteError;

/// Output limit for restore commands (they print next to nothing).
const OUTPUT_LIMIT: usize = 1024 * 1024;

/// What to carry over from the site being replaced into the restored tree.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    /// The target's own config files (restoring another site's snapshot onto it).
    pub config_files: Vec<String>,
    /// Paths left out of the snapshot (caches): kept from the current site when they are
    /// plain paths, so a restore doesn't throw away what the snapshot never had.
    pub excluded: Vec<String>,
}

/// Unpacks `files` (a snapshot's files part) into a sibling of `root`, carries over what
/// `keep` names, and swaps it in place of `root`.
pub async fn restore_files(
    host: &Connection,
    root: &str,
    files: PartRef<'_>,
    tag: &str,
    keep: &Keep,
) -> Result<(), SiteError> {
    const WHAT: &str = "unpacking the snapshot's files";
    let staging = format!("{}.tend-restore-{tag}", root.trim_end_matches('/'));
    let old = format!("{}.tend-old-{tag}", root.trim_end_matches('/'));
    let unpack = RemoteCommand::script(&format!(
        "rm -rf -- {s} && mkdir -- {s} && tar --extract --file=- --directory={s} --preserve-permissions || {{ rm -rf -- {s}; exit 1; }}",
        s = quote(&staging)
    ));
    let source = files.open().map_err(|e| store_error(WHAT, e))?;
    archive::send(host, &unpack, &[], source, OUTPUT_LIMIT)
        .await
        .map_err(|e| step_error(WHAT, e, |what, e| SiteError::remote_step(what, e)))?;

    let mut script = String::from("set -e; ");
    let plain = |p: &&String| !p.contains(['*', '?', '[']);
    for path in keep.excluded.iter().filter(plain) {
        let path = path
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        let (from, to) = (format!("{root}/{path}"), format!("{staging}/{path}"));
        script.push_str(&format!(
            "if [ -e {from} ] && [ ! -e {to} ]; then mkdir -p -- \"$(dirname -- {to})\"; mv -- {from} {to}; fi; ",
            from = quote(&from),
            to = quote(&to)
        ));
    }
    for file in &keep.config_files {
        let (from, to) = (format!("{root}/{file}"), format!("{staging}/{file}"));
        script.push_str(&format!(
            "if [ -e {from} ]; then cp -p -- {from} {to}; fi; ",
            from = quote(&from),
            to = quote(&to)
        ));
    }
    script.push_str(&format!(
        "mv -- {root} {old}; if mv -- {staging} {root}; then rm -rf -- {old}; else mv -- {old} {root}; exit 1; fi",
        root = quote(root),
        old = quote(&old),
        staging = quote(&staging)
    ));
    host.run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step("swapping the restored files into place", e))?;
    Ok(())
}

/// SQL run before the dump: drops every table and view, so that tables the snapshot did
/// not have are gone afterwards.
const EMPTY_DATABASE_SQL: &str = "SET FOREIGN_KEY_CHECKS=0;
SET SESSION group_concat_max_len = 4194304;
SELECT IFNULL(CONCAT('DROP VIEW IF EXISTS ', GROUP_CONCAT(CONCAT('`', REPLACE(table_name, '`', '``'), '`'))), 'DO 0') INTO @tend_drop FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'VIEW';
PREPARE tend_stmt FROM @tend_drop; EXECUTE tend_stmt; DEALLOCATE PREPARE tend_stmt;
SELECT IFNULL(CONCAT('DROP TABLE IF EXISTS ', GROUP_CONCAT(CONCAT('`', REPLACE(table_name, '`', '``'), '`'))), 'DO 0') INTO @tend_drop FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE';
PREPARE tend_stmt FROM @tend_drop; EXECUTE tend_stmt; DEALLOCATE PREPARE tend_stmt;
SET FOREIGN_KEY_CHECKS=1;
";

/// Empties `db` and imports `dump` (a snapshot's database part), then runs `after` (SQL,
/// e.g. setting a restored copy's URL).
pub async fn restore_database(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    dump: PartRef<'_>,
    after: &str,
) -> Result<(), SiteError> {
    const WHAT: &str = "importing the database dump";
    let options = mysql_client::option_file(db);
    let mut prefix = options.clone().into_bytes();
    prefix.extend_from_slice(EMPTY_DATABASE_SQL.as_bytes());
    // The dump restores its own session settings at its end; `after` runs after that.
    let command = import_command(client, &db.name, options.len());
    let source = dump.open().map_err(|e| store_error(WHAT, e))?;
    archive::send(host, &command, &prefix, source, OUTPUT_LIMIT)
        .await
        .map_err(|e| step_error(WHAT, e, database_step))?;
    if !after.is_empty() {
        let update = mysql_client::query_command(client, db, after);
        host.run(&update, Some(options.as_bytes()), OUTPUT_LIMIT)
            .await
            .map_err(|e| database_step("updating the restored database", e))?;
    }
    Ok(())
}

/// Reads `option_bytes` bytes of stdin into a private option file (exactly: `dd bs=1`
/// never reads ahead into the dump), then feeds the rest of stdin to the client.
pub fn import_command(client: &str, database: &str, option_bytes: usize) -> RemoteCommand {
    RemoteCommand::script(&format!(
        "umask 077; d=$(mktemp -d) || exit 1; trap 'rm -rf \"$d\"' EXIT; trap 'exit 1' HUP INT TERM; \
         dd bs=1 count={option_bytes} of=\"$d/client.cnf\" 2>/dev/null || exit 1; \
         {client} --defaults-extra-file=\"$d/client.cnf\" --default-character-set=utf8mb4 -- {database}",
        client = quote(client),
        database = quote(database),
    ))
}

/// A failed transfer: `remote`'s error when the remote side failed, the store's when
/// reading the snapshot did.
fn step_error(
    what: &str,
    error: TransferError,
    remote: impl FnOnce(&str, RemoteError) -> SiteError,
) -> SiteError {
    match error {
        TransferError::Remote(e) => remote(what, e),
        TransferError::Store(e) => store_error(what, e),
    }
}

fn store_error(what: &str, error: StoreError) -> SiteError {
    SiteError::Store(format!("{what} failed reading the store: {error}"))
}

/// A database client on the host failed: the connection's kind when the connection
/// failed, else a database error saying what was being done.
pub(super) fn database_step(what: &str, error: RemoteError) -> SiteError {
    match error {
        e @ (RemoteError::Connect { .. }
        | RemoteError::Transport { .. }
        | RemoteError::TimedOut { .. }) => SiteError::Remote(e),
        e => SiteError::database(format!("{what} failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_reads_its_credentials_from_stdin_and_removes_them() {
        let cmd = import_command("mariadb", "wp_site", 97);
        let text = cmd.as_str();
        assert!(
            text.contains("dd bs=1 count=97 of=\"$d/client.cnf\""),
            "{text}"
        );
        assert!(text.contains("trap 'rm -rf \"$d\"' EXIT"), "{text}");
        assert!(text.ends_with("mariadb --defaults-extra-file=\"$d/client.cnf\" --default-character-set=utf8mb4 -- wp_site"), "{text}");
    }
}
