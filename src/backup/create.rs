//! Taking a snapshot of one site: its files as a tar stream and its database as a plain
//! SQL dump, each streamed from the host, compressed and hashed on the way into the store.
//! The dump crosses the network compressed when the host has `zstd` or `gzip` (SQL
//! compresses several times over), and is decompressed on the runner as it arrives.
//!
//! Nothing is staged on the host (shared hosts have little disk) and nothing is held whole
//! in memory. A part counts only if its command exits cleanly: a `tar` that fails, a dump
//! that fails or ends without its "Dump completed" line (the restic lesson: `mysqldump |
//! backup --stdin` can silently store an empty dump) fails the snapshot, and the store
//! drops what was written of it.

use std::time::Instant;

use chrono::Utc;

use super::archive::{self, TransferError};
use super::incremental::{self, ParentUse};
use super::listing::Codec;
use super::manifest::{Manifest, FORMAT};
use super::restore::database_step;
use super::store::{FilesOrder, PartKind, SnapshotStore, StoreError};
use crate::cms::host_tools::HostTools;
use crate::cms::{self, mysql_client, DbCredentials, Facts};
use crate::inventory::Site;
use crate::remote::{Connection, RemoteCommand, RemoteError};
use crate::site_error::SiteError;

/// GNU tar's "some files differ" status: a file changed while it was read. The archive is
/// complete and consistent per file; the snapshot records a warning.
const TAR_FILES_CHANGED: i32 = 1;

/// What to snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    pub files: bool,
    pub database: bool,
}

impl Contents {
    pub const ALL: Contents = Contents {
        files: true,
        database: true,
    };
}

/// Takes a snapshot of `site` into `store`; returns its manifest.
///
/// When unchanged files were to come from the site's previous snapshot and the repository
/// turned out not to hold their data (damaged, or removed by hand), nothing was saved; the
/// snapshot is taken once more reading every file, and says so — so one damaged snapshot
/// never stops a site's nightly backups.
pub async fn snapshot(
    store: &dyn SnapshotStore,
    site: &Site,
    host: &Connection,
    facts: &Facts,
    tools: &HostTools,
    label: Option<&str>,
    contents: Contents,
) -> Result<Manifest, SiteError> {
    let failed_commit = |e: StoreError| {
        SiteError::Store(format!(
            "cannot complete the snapshot in {}: {e}",
            store.location()
        ))
    };
    let first = Attempt {
        parent_use: ParentUse::Newest,
        warnings: Vec::new(),
    };
    match attempt(store, site, host, facts, tools, label, contents, first).await {
        Ok(manifest) => Ok(manifest),
        Err(Failed::Site(e)) => Err(e),
        Err(Failed::ParentDataMissing(e)) => {
            let again = Attempt {
                parent_use: ParentUse::None,
                warnings: vec![format!(
                    "{e}: the snapshot was taken again reading every file; `tend backups verify --read-data` names the damaged snapshots"
                )],
            };
            attempt(store, site, host, facts, tools, label, contents, again)
                .await
                .map_err(|failed| match failed {
                    Failed::Site(e) => e,
                    Failed::ParentDataMissing(e) => failed_commit(e),
                })
        }
    }
}

/// How one attempt at a snapshot goes: whether it may take unchanged files from the
/// previous snapshot, and what its manifest says from the start.
struct Attempt {
    parent_use: ParentUse,
    warnings: Vec<String>,
}

/// Why one attempt at a snapshot failed.
enum Failed {
    /// The site's failure.
    Site(SiteError),
    /// The previous snapshot's data is missing from the repository: nothing was saved, and
    /// an attempt without it can succeed.
    ParentDataMissing(StoreError),
}

impl From<SiteError> for Failed {
    fn from(e: SiteError) -> Failed {
        Failed::Site(e)
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    store: &dyn SnapshotStore,
    site: &Site,
    host: &Connection,
    facts: &Facts,
    tools: &HostTools,
    label: Option<&str>,
    contents: Contents,
    how: Attempt,
) -> Result<Manifest, Failed> {
    let started = Instant::now();
    let created = Utc::now();
    let local = |what: &str, e: StoreError| {
        SiteError::Store(format!("{what} in {}: {e}", store.location()))
    };
    store
        .clean_partials(&site.name)
        .map_err(|e| local("cannot clean up earlier interrupted backups", e))?;
    let mut pending = store
        .begin(&site.name, created)
        .map_err(|e| local("cannot start the snapshot", e))?;
    let mut warnings = how.warnings;

    let excludes = excludes(site, facts);
    // The listing before any part: a store that takes unchanged files from the previous
    // snapshot fixes that snapshot when it starts writing.
    let listed = if contents.files {
        incremental::prepare(
            pending.as_mut(),
            host,
            &site.path,
            &excludes,
            how.parent_use,
        )
        .await?
    } else {
        incremental::Prepared::NotListed
    };
    // The database first: a repository builds its tree in name order (`database/` before
    // `files/`); for a folder store the order does not matter.
    let database = if contents.database {
        let db = facts.database.as_ref().ok_or_else(|| {
            SiteError::database(format!(
                "no credentials were read for this {} site",
                facts.cms
            ))
        })?;
        let client = tools.dump_client.as_deref().ok_or_else(|| {
            SiteError::failed(
                "dumping the database",
                format!(
                    "{} has neither mariadb-dump nor mysqldump",
                    host.destination()
                ),
            )
        })?;
        let command = dump_command(client, db, tools.compressor);
        let options = mysql_client::option_file(db);
        let part = pending
            .create_part(PartKind::Database)
            .map_err(|e| local("cannot create the database part", e))?;
        let received = archive::receive(
            host,
            &command,
            Some(options.as_bytes()),
            tools.compressor,
            part,
            &[],
        )
        .await
        .map_err(|e| receive_error("dumping the database", e, database_step))?;
        if !dump_is_complete(&received.tail) {
            return Err(SiteError::database(format!(
                "the dump of `{}` ended without its \"Dump completed\" line: refusing an incomplete dump",
                db.name
            ))
            .into());
        }
        Some(received.part)
    } else {
        None
    };

    let files = if let incremental::Prepared::Listed(plan) = listed {
        let (part, notes) = incremental::store(plan, host, &site.path).await?;
        warnings.extend(notes);
        Some(part)
    } else if contents.files {
        if matches!(listed, incremental::Prepared::NoGnuFind) {
            warnings.push(incremental::NO_GNU_FIND.to_owned());
        }
        let command = tar_command(&site.path, &excludes, pending.files_order());
        let part = pending
            .create_part(PartKind::Files)
            .map_err(|e| local("cannot create the files part", e))?;
        let received = archive::receive(
            host,
            &command,
            None,
            Codec::Plain,
            part,
            &[TAR_FILES_CHANGED],
        )
        .await
        .map_err(|e| {
            receive_error("archiving the site's files", e, |what, e| {
                SiteError::remote_step(what, e)
            })
        })?;
        if received.tolerated_status.is_some() {
            warnings.push(format!(
                "some files changed while they were archived (each file is stored whole): {}",
                received.stderr.trim()
            ));
        }
        Some(received.part)
    } else {
        None
    };

    let manifest = Manifest {
        format: FORMAT,
        id: pending.id().to_owned(),
        site: site.name.clone(),
        created,
        label: label.map(str::to_owned),
        host: site.host.clone(),
        path: site.path.clone(),
        cms: facts.cms,
        version: facts.version.clone(),
        db_version: facts.db_version.clone(),
        plugins: facts.plugins.clone(),
        themes: facts.themes.clone(),
        files,
        database,
        table_prefix: facts.database.as_ref().map(|db| db.table_prefix.clone()),
        excludes,
        tend_version: env!("CARGO_PKG_VERSION").to_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
        warnings,
    };
    match pending.commit(&manifest) {
        Ok(()) => Ok(manifest),
        Err(e @ StoreError::ParentDataMissing { .. }) => Err(Failed::ParentDataMissing(e)),
        Err(e) => Err(local("cannot complete the snapshot", e).into()),
    }
}

/// tend's own work folder (a run's journal and the versions it keeps aside), the CMS's own
/// cache directories and the site's `backup.exclude`.
fn excludes(site: &Site, facts: &Facts) -> Vec<String> {
    let mut out: Vec<String> = vec![crate::paths::SITE_TEND_DIR.to_owned()];
    out.extend(
        cms::adapter(facts.cms)
            .default_backup_excludes()
            .iter()
            .map(|s| (*s).to_owned()),
    );
    for extra in &site.backup_exclude {
        if !out.contains(extra) {
            out.push(extra.clone());
        }
    }
    out
}

/// `tar` of the CMS root to stdout, paths relative to it (`./…`), symlinks kept as links.
/// Exclusions are anchored at the root. [`FilesOrder::ByName`] asks GNU tar for name
/// order and for hard links as the files they name.
pub fn tar_command(root: &str, excludes: &[String], order: FilesOrder) -> RemoteCommand {
    let mut command = RemoteCommand::new("tar")
        .arg("--create")
        .arg("--file=-")
        .arg(format!("--directory={root}"))
        .arg("--anchored")
        .arg("--warning=no-file-changed");
    if order == FilesOrder::ByName {
        command = command.arg("--sort=name").arg("--hard-dereference");
    }
    for pattern in excludes {
        let pattern = pattern
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        command = command.arg(format!("--exclude=./{pattern}"));
    }
    command.arg(".")
}

/// A consistent dump (`--single-transaction`), streamed row by row (`--quick`), with
/// routines and triggers, binary columns as hex; credentials come on stdin. Compressed on
/// the host by `wire` (unless plain): a pipe's exit status is its last command's, so the
/// dump's own status is carried out of the pipe on file descriptor 3 and is the script's —
/// a dump that failed or was killed fails the backup however the compressor ended (POSIX
/// `sh`, no `pipefail` needed).
pub fn dump_command(client: &str, db: &DbCredentials, wire: Codec) -> RemoteCommand {
    let dump = RemoteCommand::new(client)
        .arg("--defaults-extra-file=/dev/stdin")
        .arg("--single-transaction")
        .arg("--quick")
        .arg("--routines")
        .arg("--triggers")
        .arg("--hex-blob")
        .arg("--default-character-set=utf8mb4")
        .arg("--no-tablespaces")
        .arg("--")
        .arg(&db.name);
    if wire == Codec::Plain {
        return dump;
    }
    RemoteCommand::script(&format!(
        "exec 4>&1; s=$( {{ {{ {}; echo $? >&3; }} | {} >&4; }} 3>&1 ); exit ${{s:-1}}",
        dump.as_str(),
        wire.compressor()
    ))
}

/// mysqldump and mariadb-dump end a complete dump with `-- Dump completed on …`.
pub fn dump_is_complete(tail: &[u8]) -> bool {
    String::from_utf8_lossy(tail).contains("-- Dump completed")
}

/// A failed part: `remote`'s error when the remote side failed, the store's when writing
/// to it did.
fn receive_error(
    what: &str,
    error: TransferError,
    remote: impl FnOnce(&str, RemoteError) -> SiteError,
) -> SiteError {
    match error {
        TransferError::Remote(e) => remote(what, e),
        TransferError::Store(e) => {
            SiteError::Store(format!("{what} failed writing to the store: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn tar_excludes_are_anchored_at_the_root() {
        let cmd = tar_command(
            "/srv/my site",
            &["wp-content/cache".into(), "./tmp/".into()],
            FilesOrder::AsArchived,
        );
        assert_eq!(
            cmd.as_str(),
            "tar --create --file=- '--directory=/srv/my site' --anchored --warning=no-file-changed --exclude=./wp-content/cache --exclude=./tmp ."
        );
    }

    fn credentials(name: &str) -> DbCredentials {
        DbCredentials {
            name: name.into(),
            user: "shop".into(),
            password: crate::cms::database::Password::new("secret".into()),
            endpoint: crate::cms::database::DbEndpoint::parse("localhost"),
            table_prefix: "wp_".into(),
        }
    }

    #[test]
    fn the_dump_is_compressed_on_the_host_keeping_its_own_exit_status() {
        let db = credentials("shop db");
        let plain = dump_command("mariadb-dump", &db, Codec::Plain);
        assert!(plain
            .as_str()
            .starts_with("mariadb-dump --defaults-extra-file=/dev/stdin"));
        assert!(
            plain.as_str().ends_with("-- 'shop db'"),
            "{}",
            plain.as_str()
        );
        let zstd = dump_command("mariadb-dump", &db, Codec::Zstd);
        assert_eq!(
            zstd.as_str(),
            format!(
                "exec 4>&1; s=$( {{ {{ {}; echo $? >&3; }} | zstd -q -c -3 >&4; }} 3>&1 ); exit ${{s:-1}}",
                plain.as_str()
            )
        );
    }

    /// The script run by `sh` with stand-ins for the dump (a process of its own, as the
    /// dump is): the output is the compressed stream, the status the dump's.
    #[test]
    fn the_compressed_dump_exits_with_the_dumps_status() {
        let run = |dump: &str| {
            let script = format!(
                "exec 4>&1; s=$( {{ {{ {dump}; echo $? >&3; }} | gzip -c -3 >&4; }} 3>&1 ); exit ${{s:-1}}"
            );
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            let mut plain = String::new();
            flate2::read::MultiGzDecoder::new(&out.stdout[..])
                .read_to_string(&mut plain)
                .unwrap();
            (out.status.code(), plain)
        };
        assert_eq!(
            run("sh -c 'printf \"x;\\n-- Dump completed\\n\"'"),
            (Some(0), "x;\n-- Dump completed\n".to_owned())
        );
        assert_eq!(
            run("sh -c 'printf INSERT; exit 3'"),
            (Some(3), "INSERT".to_owned())
        );
        assert_eq!(
            run("sh -c 'printf INSERT; kill -9 $$'"),
            (Some(137), "INSERT".to_owned())
        );
    }

    #[test]
    fn recognises_a_complete_dump() {
        assert!(dump_is_complete(
            b"UNLOCK TABLES;\n-- Dump completed on 2026-11-21  3:00:01\n"
        ));
        assert!(!dump_is_complete(b"INSERT INTO `wp_posts` VALUES (1,"));
    }
}
