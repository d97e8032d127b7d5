//! The pieces of putting a snapshot back onto a host, each one undoable until the last:
//! the files are unpacked beside the root and swapped in with renames (the old root kept
//! aside until the restore is complete, so it can be put back); the dump is imported
//! beside the live tables under a temporary prefix and swapped in by one atomic
//! `RENAME TABLE`. `engine::restore` puts them in order.
//!
//! The import streams the dump through the host's MySQL client; its credentials travel in
//! front of the dump on the same stdin and reach the client through a pipe on another
//! descriptor: never on the host's disk.

use super::archive::{self, TransferError};
use super::store::{PartRef, StoreError};
use super::{search_replace, temp_tables};
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

/// The snapshot's files unpacked beside the root, not yet in place.
#[derive(Debug, Clone)]
pub struct Staged {
    pub root: String,
    pub staging: String,
    /// Where the current root goes while the restore may still be undone.
    pub old: String,
}

impl Staged {
    /// Where a restore tagged `tag` stages the tree of `root` and keeps the current one
    /// aside (known before either exists).
    pub fn of(root: &str, tag: &str) -> Staged {
        let root = root.trim_end_matches('/').to_owned();
        Staged {
            staging: format!("{root}.tend-restore-{tag}"),
            old: format!("{root}.tend-old-{tag}"),
            root,
        }
    }
}

/// Unpacks `files` (a snapshot's files part) into a sibling of `root`, carries over what
/// `keep` names, and writes `maintenance` (the CMS's maintenance file and its content)
/// into it, so the tree goes live in maintenance mode. Leftovers of an earlier failed
/// restore are removed first. With `carry_excluded_now`, the paths the snapshot left out
/// (caches, tend's journal) are moved from the root into the staged tree now (a rollback,
/// whose journal must move with the files); otherwise [`finish_files`] moves them once the
/// restore can no longer be undone, and `root` is not touched here (nor need it exist).
pub async fn stage_files(
    host: &Connection,
    root: &str,
    files: PartRef<'_>,
    tag: &str,
    keep: &Keep,
    carry_excluded_now: bool,
    maintenance: Option<(&str, &str)>,
) -> Result<Staged, SiteError> {
    const WHAT: &str = "unpacking the snapshot's files";
    let Staged { root, staging, old } = Staged::of(root, tag);
    let unpack = RemoteCommand::script(&format!(
        "rm -rf -- {s} && mkdir -p -- \"$(dirname -- {s})\" && mkdir -- {s} && tar --extract --file=- --directory={s} --preserve-permissions || {{ rm -rf -- {s}; exit 1; }}",
        s = quote(&staging)
    ));
    let source = files.open().map_err(|e| store_error(WHAT, e))?;
    archive::send(host, &unpack, &[], source, OUTPUT_LIMIT)
        .await
        .map_err(|e| step_error(WHAT, e, |what, e| SiteError::remote_step(what, e)))?;

    let mut script = String::from("set -e; ");
    let plain = |p: &&String| !p.contains(['*', '?', '[']);
    for path in keep
        .excluded
        .iter()
        .filter(plain)
        .filter(|_| carry_excluded_now)
    {
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
    if let Some((file, content)) = maintenance {
        script.push_str(&format!(
            "mkdir -p -- \"$(dirname -- {to})\"; printf '%s' {content} > {to}; ",
            content = quote(content),
            to = quote(&format!("{staging}/{file}"))
        ));
    }
    script.push_str("true");
    if let Err(e) = host
        .run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
    {
        let _ = remove_tree(host, &staging).await;
        return Err(SiteError::remote_step(
            "carrying files over into the restored tree",
            e,
        ));
    }
    Ok(Staged { root, staging, old })
}

/// Swaps the staged tree in: the current root (if there is one) is renamed aside to
/// [`Staged::old`], the staged tree renamed into its place; a missing root (a deleted
/// site) is simply created. Returns whether there was a root to keep aside. On failure the
/// root is as it was. A kept-aside root left by an earlier restore that could not put its
/// files back is never overwritten (the swap refuses until someone has looked at it),
/// unless `leftover_is_disposable` (a rollback's: the files of the update being undone).
pub async fn swap_in(
    host: &Connection,
    staged: &Staged,
    leftover_is_disposable: bool,
) -> Result<bool, SiteError> {
    let leftover = if leftover_is_disposable {
        format!("rm -rf -- {}; ", quote(&staged.old))
    } else {
        String::new()
    };
    // A dropped connection must not stop the script between its two renames.
    let script = format!(
        "trap '' HUP PIPE; {leftover}if [ -e {old} ] || [ -L {old} ]; then echo {old} is left from an earlier restore that could not be finished: it holds the files that restore replaced. Move it away or delete it, then run the restore again >&2; exit 1; fi; \
         had=no; if [ -e {root} ] || [ -L {root} ]; then mv -- {root} {old} || exit 1; had=yes; fi; \
         if mv -- {staging} {root}; then echo \"$had\"; else if [ $had = yes ]; then mv -- {old} {root}; fi; exit 1; fi",
        root = quote(&staged.root),
        old = quote(&staged.old),
        staging = quote(&staged.staging)
    );
    let output = host
        .run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step("swapping the restored files into place", e))?;
    Ok(output.stdout_text().trim() == "yes")
}

/// Undoes [`swap_in`]: the restored tree goes back to the staging name (then removed),
/// the kept root back in place (when there was one).
pub async fn put_back(host: &Connection, staged: &Staged, had_root: bool) -> Result<(), SiteError> {
    let script = if had_root {
        format!(
            "trap '' HUP PIPE; mv -- {root} {staging} && mv -- {old} {root} && rm -rf -- {staging}",
            root = quote(&staged.root),
            old = quote(&staged.old),
            staging = quote(&staged.staging)
        )
    } else {
        format!("rm -rf -- {root}", root = quote(&staged.root))
    };
    host.run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step("putting the site's files back", e))?;
    Ok(())
}

/// Ends a restore's file part once it can no longer be undone: the paths the snapshot left
/// out (caches) move from the kept-aside root into the restored one, and the rest of the
/// kept-aside root is removed.
pub async fn finish_files(
    host: &Connection,
    staged: &Staged,
    had_root: bool,
    keep: &Keep,
) -> Result<(), SiteError> {
    if !had_root {
        return Ok(());
    }
    let (root, old) = (&staged.root, &staged.old);
    let mut script = String::new();
    let plain = |p: &&String| !p.contains(['*', '?', '[']);
    for path in keep.excluded.iter().filter(plain) {
        let path = path
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        let (from, to) = (format!("{old}/{path}"), format!("{root}/{path}"));
        script.push_str(&format!(
            "if [ -e {from} ] && [ ! -e {to} ]; then mkdir -p -- \"$(dirname -- {to})\"; mv -- {from} {to}; fi; ",
            from = quote(&from),
            to = quote(&to)
        ));
    }
    script.push_str(&format!("rm -rf -- {}", quote(old)));
    host.run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step("removing the replaced files", e))?;
    Ok(())
}

/// Puts a snapshot's files in place of `root` in one go (stage, swap, finish): what a
/// rollback does, with the journal moved along.
pub async fn restore_files(
    host: &Connection,
    root: &str,
    files: PartRef<'_>,
    tag: &str,
    keep: &Keep,
) -> Result<(), SiteError> {
    let staged = stage_files(host, root, files, tag, keep, true, None).await?;
    let had_root = swap_in(host, &staged, true).await?;
    finish_files(host, &staged, had_root, &Keep::default()).await
}

/// Replaces `db`'s tables with the dump's in one go (import beside, atomic swap, drop the
/// old), then runs `after`: what a rollback does. A failed import leaves the tables as
/// they were.
pub async fn restore_database(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    dump: PartRef<'_>,
    tables: &[String],
    after: &str,
) -> Result<(), SiteError> {
    import_beside(host, client, db, dump, Vec::new()).await?;
    let swap = swap_statement(host, client, db, tables).await?;
    if let Err(e) = execute(host, client, db, &swap).await {
        let _ = drop_prefixed(host, client, db, temp_tables::NEW_PREFIX).await;
        return Err(e);
    }
    drop_prefixed(host, client, db, temp_tables::OLD_PREFIX).await?;
    if !after.is_empty() {
        execute(host, client, db, after).await?;
    }
    Ok(())
}

/// The tables a snapshot's dump creates, read through before anything is touched; an
/// error when it cannot be imported beside the live tables.
pub fn dump_tables(part: PartRef<'_>) -> Result<Vec<String>, SiteError> {
    let dump = part
        .open()
        .map_err(|e| store_error("reading the snapshot's dump", e))?;
    temp_tables::check(dump).map_err(|e| match e {
        temp_tables::RewriteError::Io(e) => {
            SiteError::Store(format!("reading the snapshot's dump failed: {e}"))
        }
        e => SiteError::Unsupported(e.to_string()),
    })
}

/// Removes a tree tend made beside the root (a staged or a kept-aside one).
pub async fn remove_tree(host: &Connection, path: &str) -> Result<(), SiteError> {
    host.run(
        &RemoteCommand::script(&format!("rm -rf -- {}", quote(path))),
        None,
        OUTPUT_LIMIT,
    )
    .await
    .map_err(|e| SiteError::remote_step(format!("removing {path}"), e))?;
    Ok(())
}

/// Whether `path` exists on the host (as anything, a dangling link included).
pub async fn exists(host: &Connection, path: &str) -> Result<bool, SiteError> {
    let output = host
        .run(
            &RemoteCommand::script(&format!(
                "if [ -e {p} ] || [ -L {p} ]; then echo yes; else echo no; fi",
                p = quote(path)
            )),
            None,
            1024,
        )
        .await?;
    Ok(output.stdout_text().trim() == "yes")
}

/// Writes (`Some`) or removes (`None`) the CMS's maintenance file `file` under `root`
/// (written aside, then renamed, so a request never sees half a file).
pub async fn maintenance(
    host: &Connection,
    root: &str,
    file: &str,
    content: Option<&str>,
) -> Result<(), SiteError> {
    let path = format!("{}/{file}", root.trim_end_matches('/'));
    let script = match content {
        Some(content) => format!(
            "printf '%s' {content} > {tmp} && mv -f -- {tmp} {path} || {{ rm -f -- {tmp}; exit 1; }}",
            content = quote(content),
            tmp = quote(&format!("{path}.tend-tmp")),
            path = quote(&path)
        ),
        None => format!("rm -f -- {}", quote(&path)),
    };
    host.run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step("switching maintenance mode", e))?;
    Ok(())
}

/// SQL that drops every base table whose name starts with `prefix` (leftovers of an
/// interrupted restore, or the tables a failed one imported).
fn drop_prefixed_sql(prefix: &str) -> String {
    format!(
        "SET FOREIGN_KEY_CHECKS=0;
SET SESSION group_concat_max_len = 4194304;
SELECT IFNULL(CONCAT('DROP TABLE IF EXISTS ', GROUP_CONCAT(CONCAT('`', REPLACE(table_name, '`', '``'), '`'))), 'DO 0') INTO @tend_drop FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name LIKE '{prefix}%';
PREPARE tend_stmt FROM @tend_drop; EXECUTE tend_stmt; DEALLOCATE PREPARE tend_stmt;
SET FOREIGN_KEY_CHECKS=1;
",
        prefix = prefix.replace('_', "\\_")
    )
}

/// Imports `dump` (a snapshot's database part) into `db` beside the live tables, under
/// [`temp_tables::NEW_PREFIX`]; leftovers of an earlier interrupted restore are dropped
/// first. The live tables are not touched. On failure, what was imported is dropped again.
/// `replace` (a restore onto another site: its address for the source's) is replaced in
/// the dump's values as it streams; returns how many values changed.
pub async fn import_beside(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    dump: PartRef<'_>,
    replace: search_replace::Pairs,
) -> Result<u64, SiteError> {
    const WHAT: &str = "importing the database dump";
    let options = mysql_client::option_file(db);
    let mut prefix = options.clone().into_bytes();
    prefix.extend_from_slice(drop_prefixed_sql(temp_tables::NEW_PREFIX).as_bytes());
    prefix.extend_from_slice(drop_prefixed_sql(temp_tables::OLD_PREFIX).as_bytes());
    let command = import_command(client, &db.name, options.len());
    let source = dump.open().map_err(|e| store_error(WHAT, e))?;
    let renamed = temp_tables::Rewriter::new(source);
    let (source, changed): (Box<dyn std::io::Read + Send>, _) = if replace.is_empty() {
        (Box::new(renamed), None)
    } else {
        let replacer = search_replace::Replacer::new(renamed, replace);
        let changed = replacer.counter();
        (Box::new(replacer), Some(changed))
    };
    let imported = archive::send(host, &command, &prefix, source, OUTPUT_LIMIT)
        .await
        .map_err(|e| step_error(WHAT, e, database_step));
    if imported.is_err() {
        let _ = drop_prefixed(host, client, db, temp_tables::NEW_PREFIX).await;
    }
    imported.map(|_| changed.map_or(0, |c| c.load(std::sync::atomic::Ordering::Relaxed)))
}

/// Drops the tables whose names start with `prefix`.
pub async fn drop_prefixed(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    prefix: &str,
) -> Result<(), SiteError> {
    mysql_client::query(host, client, db, &drop_prefixed_sql(prefix), OUTPUT_LIMIT).await?;
    Ok(())
}

/// How long the swap waits for queries holding the live tables (a long report, a backup
/// tool's lock) before it gives up and the restore is undone: the site is in maintenance
/// meanwhile, and a hung restore helps nobody.
pub const SWAP_LOCK_WAIT_SECS: u32 = 20;

/// The one statement that swaps the imported tables in: every live table (those the
/// snapshot does not have included) renamed to [`temp_tables::OLD_PREFIX`], every imported
/// one to its own name. Built before anything is swapped, so a name too long is found early.
pub async fn swap_statement(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    imported: &[String],
) -> Result<String, SiteError> {
    let rows = mysql_client::query(
        host,
        client,
        db,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
        OUTPUT_LIMIT,
    )
    .await?;
    let too_long = |e: temp_tables::RewriteError| SiteError::database(e);
    let mut pairs = Vec::new();
    for row in rows {
        let Some(name) = row.into_iter().next() else {
            continue;
        };
        if name.starts_with(temp_tables::NEW_PREFIX) || name.starts_with(temp_tables::OLD_PREFIX) {
            continue;
        }
        let old = temp_tables::with_prefix(temp_tables::OLD_PREFIX, &name).map_err(too_long)?;
        pairs.push(format!(
            "{} TO {}",
            mysql_client::identifier(&name),
            mysql_client::identifier(&old)
        ));
    }
    for name in imported {
        let new = temp_tables::prefixed(name).map_err(too_long)?;
        pairs.push(format!(
            "{} TO {}",
            mysql_client::identifier(&new),
            mysql_client::identifier(name)
        ));
    }
    if pairs.is_empty() {
        return Ok("DO 0".to_owned());
    }
    Ok(format!(
        "SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_SECS}; RENAME TABLE {}",
        pairs.join(", ")
    ))
}

/// Runs SQL against `db` (the swap, the new address of a copy).
pub async fn execute(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    sql: &str,
) -> Result<(), SiteError> {
    mysql_client::query(host, client, db, sql, OUTPUT_LIMIT).await?;
    Ok(())
}

/// Reads `option_bytes` bytes of stdin (exactly: `dd bs=1` never reads ahead into the
/// dump) into a shell variable, and hands them to the client on descriptor 3 through a
/// pipe from the shell's built-in `printf`: the credentials are never on the host's disk,
/// never in an argument or the environment. The rest of stdin goes to the client.
pub fn import_command(client: &str, database: &str, option_bytes: usize) -> RemoteCommand {
    RemoteCommand::script(&format!(
        "cnf=$(dd bs=1 count={option_bytes} 2>/dev/null) || exit 1; exec 4<&0; \
         printf '%s\\n' \"$cnf\" | {client} --defaults-extra-file=/dev/fd/3 --default-character-set=utf8mb4 -- {database} 3<&0 0<&4 4<&-",
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
    fn the_import_reads_its_credentials_from_stdin_into_a_pipe() {
        let cmd = import_command("mariadb", "wp_site", 97);
        let text = cmd.as_str();
        assert!(
            text.contains("cnf=$(dd bs=1 count=97 2>/dev/null)"),
            "{text}"
        );
        assert!(!text.contains("mktemp") && !text.contains("/tmp"), "{text}");
        assert!(
            text.ends_with("printf '%s\\n' \"$cnf\" | mariadb --defaults-extra-file=/dev/fd/3 --default-character-set=utf8mb4 -- wp_site 3<&0 0<&4 4<&-"),
            "{text}"
        );
    }
}
