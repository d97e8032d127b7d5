//! `tend restore`: put a snapshot back onto its site or onto another one (e.g. staging),
//! as one unit — files and database, or neither — and never onto a site that could not
//! first be saved.
//!
//! The order is what makes every fault leave the site whole: the snapshot is checked
//! against its manifest before the host is touched; a `pre-restore` snapshot of the parts
//! being replaced is taken, or the restore refuses (unless the user asked to go on without
//! one); the site goes into maintenance mode; the dump is imported beside the live tables;
//! the files are swapped in with the old root kept aside; the tables are swapped in by one
//! atomic `RENAME TABLE`, and if that fails the files go back. Only then is anything
//! removed. Every error says where it left the site ([`RestoreState`]).

use super::restore_offline::Offline;
use super::restore_settle::{self, InFlight, Progress, Settled, TablesSwap};
use crate::backup::create::{self, Contents};
use crate::backup::restore::{
    drop_prefixed, dump_tables, execute, exists, finish_files, import_beside,
    maintenance as maintenance_file, put_back, remove_tree, stage_files, swap_in, swap_statement,
    Keep, Staged,
};
use crate::backup::temp_tables;
use crate::backup::{PartKind, Snapshot, SnapshotStore};
use crate::cms;
use crate::cms::host_tools::HostToolsCache;
use crate::cms::Facts;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{Endpoint, Pool, RemoteError};
use crate::site_error::{RestoreState, SiteError};

pub struct Request<'a> {
    pub snapshot: &'a Snapshot,
    pub target: &'a Site,
    pub contents: Contents,
    /// Go ahead even when what is on the site now cannot be saved first
    /// (`--no-pre-restore-snapshot`): the parts that can be saved still are.
    pub without_safety_snapshot: bool,
    /// The address of the site the snapshot is of: replaced by the target's throughout the
    /// database when the target is another site.
    pub source_url: &'a str,
    /// The client the restored site's HTTP checks are run with.
    pub http: &'a reqwest::Client,
    /// How long PHP may serve the code it had cached (`settings.verify_delay`): the checks
    /// wait that long.
    pub verify_delay: std::time::Duration,
}

#[derive(Debug)]
pub struct Restored {
    /// The snapshot of the target taken just before it was overwritten (none when the
    /// site was too broken to be saved).
    pub safety_snapshot: Option<String>,
    /// The restored site's HTTP checks (its CMS's built-in ones and its own).
    pub checks: Vec<crate::verify::CheckResult>,
    /// How many values the source's address was replaced in (a restore onto another site).
    pub replaced: Option<u64>,
}

impl Restored {
    /// Whether every check of the restored site passed.
    pub fn checks_pass(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Why the restore counts as failed although everything was put back (checks failed),
    /// and how to undo it; `None` when the checks pass.
    pub fn failure(&self, site: &str) -> Option<String> {
        if self.checks_pass() {
            return None;
        }
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.problems.join("; ")))
            .collect();
        let undo = match &self.safety_snapshot {
            Some(id) => format!(
                "undo it with `tend restore {site} --snapshot {id}` (the pre-restore snapshot {id})"
            ),
            None => {
                "no pre-restore snapshot was taken, so there is none to undo it with".to_owned()
            }
        };
        Some(format!(
            "the restored site fails its checks ({}); {undo}",
            failed.join("; ")
        ))
    }
}

pub async fn run(
    request: &Request<'_>,
    pool: &Pool,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let target = request.target;
    reporter.event(&Event::Begin {
        what: "restore",
        total: 1,
    });
    reporter.event(&Event::SiteStarted { site: &target.name });
    // In flight: an interruption lets the restore finish rather than leave the site half
    // restored.
    let in_flight = crate::interrupt::InFlight::new(&target.name);
    let result = restore(request, pool, store, reporter)
        .await
        .map_err(untouched_unless_said);
    drop(in_flight);
    let error = match &result {
        Ok(restored) => restored.failure(&target.name),
        Err(e) => Some(e.masked()),
    };
    reporter.event(&Event::SiteFinished {
        site: &target.name,
        outcome: if error.is_none() {
            crate::outcome::Outcome::Ok
        } else {
            crate::outcome::Outcome::Failed
        },
        error: error.as_deref(),
        changed: None,
        elapsed: None,
    });
    reporter.event(&Event::End);
    result
}

/// An error that does not say where it left the site came before anything was changed.
fn untouched_unless_said(error: SiteError) -> SiteError {
    match error {
        e @ (SiteError::NoSafetySnapshot { .. }
        | SiteError::SnapshotDamaged { .. }
        | SiteError::RestoreFailed { .. }) => e,
        cause => SiteError::RestoreFailed {
            state: RestoreState::Untouched,
            cause: Box::new(cause),
        },
    }
}

async fn restore(
    request: &Request<'_>,
    pool: &Pool,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let target = request.target;
    // The snapshot must be whole before anything is touched.
    reporter.event(&Event::Step {
        site: &target.name,
        step: "verify snapshot",
    });
    check_snapshot(store, request)?;
    let tools = HostToolsCache::default();
    let read = match super::facts::read_site(target, pool, &tools, reporter).await {
        Ok(read) => read,
        // A damaged or hacked site may no longer read (its config deleted, say). Restoring
        // it onto itself must still work: what the snapshot recorded stands in for it.
        // So may one whose database refuses the site's account: the snapshot's credentials
        // are tried then, and the pre-restore snapshot decides whether anything is changed.
        Err(why)
            if (why.is_site_unreadable() || matches!(why, SiteError::Database(_)))
                && request.snapshot.manifest.site == target.name =>
        {
            let host = pool.connect(&Endpoint::of(target)).await?;
            let host_tools = tools.get(&host, &target.php).await?;
            let facts = facts_from_snapshot(store, request.snapshot)?;
            let message = format!("the site could not be read ({}); restoring with what the snapshot recorded, including its database credentials", why.masked());
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&target.name),
                message: &message,
            });
            super::facts::ReadSite {
                host,
                tools: host_tools,
                facts,
            }
        }
        Err(e) => return Err(e),
    };
    let work = restore_locked(request, &read, pool, store, reporter);
    let mut restored = super::site_lock::with_lock(
        pool,
        &crate::remote::Endpoint::of(target),
        &target.path,
        "restore",
        |previous| super::backup::took_over(reporter, &target.name, previous),
        work,
    )
    .await?;
    // The site as it answers now: PHP may serve the code it had cached for a moment.
    reporter.event(&Event::Step {
        site: &target.name,
        step: "verify",
    });
    tokio::time::sleep(request.verify_delay).await;
    let specs = super::run::checks_for(target, read.facts.cms, &[]);
    restored.checks = crate::verify::run_checks(request.http, &target.url, &specs).await;
    Ok(restored)
}

/// The site's facts as the snapshot recorded them, with the database credentials from the
/// config file inside the snapshot's archive.
pub(crate) fn facts_from_snapshot(
    store: &dyn SnapshotStore,
    snapshot: &Snapshot,
) -> Result<Facts, SiteError> {
    let manifest = &snapshot.manifest;
    let cms = cms::adapter(manifest.cms);
    let config_name = cms.credentials_file();
    let config = read_from_archive(store, snapshot, config_name)?;
    let database = cms.read_credentials(&config)?;
    Ok(Facts {
        cms: manifest.cms,
        version: manifest.version.clone(),
        db_version: manifest.db_version.clone(),
        php_version: None,
        plugins: manifest.plugins.clone(),
        themes: manifest.themes.clone(),
        database: Some(database),
        plugin_files: Default::default(),
        packages: Vec::new(),
        warnings: Vec::new(),
    })
}

/// The text of `name` (relative to the root) inside the snapshot's files.
fn read_from_archive(
    store: &dyn SnapshotStore,
    snapshot: &Snapshot,
    name: &str,
) -> Result<String, SiteError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        SiteError::Store(format!(
            "reading {name} from snapshot {}: {e}",
            snapshot.manifest.id
        ))
    };
    let files = store
        .open_part(snapshot, PartKind::Files)
        .map_err(|e| unreadable(&e))?;
    find_in_tar(files, name)
        .map_err(|e| unreadable(&e))?
        .ok_or_else(|| SiteError::config(name, format!("not in snapshot {}", snapshot.manifest.id)))
}

/// The text of `name` (relative to the root) in a tar stream, if it is there.
fn find_in_tar(stream: impl std::io::Read, name: &str) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut tar = tar::Archive::new(stream);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if path == name {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// The snapshot against its manifest (sizes, sha256, content), and its dump readable
/// beside the live tables: both before anything is touched.
fn check_snapshot(store: &dyn SnapshotStore, request: &Request<'_>) -> Result<(), SiteError> {
    let snapshot = request.snapshot;
    let problems = crate::backup::verify::verify(store, snapshot);
    if !problems.is_empty() {
        return Err(SiteError::SnapshotDamaged {
            id: snapshot.manifest.id.clone(),
            problems: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok(())
}

/// What the pre-restore snapshot saved.
struct Safety {
    id: Option<String>,
}

async fn safety_snapshot(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    contents: Contents,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Safety, SiteError> {
    let target = request.target;
    let warn = |message: &str| {
        reporter.event(&Event::Log {
            level: Level::Warning,
            site: Some(&target.name),
            message,
        })
    };
    // A deleted root holds nothing to lose.
    let mut wanted = contents;
    if wanted.files && !exists(&read.host, &target.path).await? {
        warn(&format!(
            "the site root {} does not exist: there are no files to save before restoring",
            target.path
        ));
        wanted.files = false;
    }
    if !wanted.files && !wanted.database {
        return Ok(Safety { id: None });
    }
    let take = |wanted| {
        create::snapshot(
            store,
            target,
            &read.host,
            &read.facts,
            &read.tools,
            Some("pre-restore"),
            wanted,
        )
    };
    match take(wanted).await {
        Ok(manifest) => {
            let message = format!(
                "pre-restore snapshot {} holds what is on the site now",
                manifest.id
            );
            reporter.event(&Event::Log {
                level: Level::Info,
                site: Some(&target.name),
                message: &message,
            });
            // The safety snapshot is in the repository: a failed off-site copy of it does
            // not hold the restore up (the next backup copies it).
            if let Some(crate::backup::offsite::OffsiteOutcome::Failed(failure)) =
                crate::backup::offsite::copy_after(store, &manifest)
            {
                warn(&format!(
                    "{failure}; the restore goes on, and the next backup copies what is missing"
                ));
            }
            Ok(Safety {
                id: Some(manifest.id),
            })
        }
        Err(e) if !request.without_safety_snapshot => {
            Err(SiteError::NoSafetySnapshot { cause: Box::new(e) })
        }
        Err(e) => {
            warn(&format!(
                "NO PRE-RESTORE SNAPSHOT could be taken ({}); going on as --no-pre-restore-snapshot asks",
                e.masked()
            ));
            // Whatever can still be saved is.
            if wanted.files && wanted.database {
                for (alone, saved, lost) in [
                    (
                        Contents {
                            files: true,
                            database: false,
                        },
                        "files",
                        "database",
                    ),
                    (
                        Contents {
                            files: false,
                            database: true,
                        },
                        "database",
                        "files",
                    ),
                ] {
                    if let Ok(manifest) = take(alone).await {
                        warn(&format!(
                            "only the {saved} part of the site was saved (pre-restore snapshot {}); its current {lost} part is NOT saved",
                            manifest.id
                        ));
                        return Ok(Safety {
                            id: Some(manifest.id),
                        });
                    }
                }
            }
            warn("nothing of what is on the site now was saved");
            Ok(Safety { id: None })
        }
    }
}

async fn restore_locked(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    pool: &Pool,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let (snapshot, target) = (request.snapshot, request.target);
    let manifest = &snapshot.manifest;
    let onto_other = manifest.site != target.name;
    if read.facts.cms != manifest.cms {
        return Err(SiteError::Unsupported(format!(
            "the snapshot is of a {} site, but {} runs {}",
            manifest.cms, target.name, read.facts.cms
        )));
    }
    let contents = Contents {
        files: request.contents.files && manifest.files.is_some(),
        database: request.contents.database && manifest.database.is_some(),
    };
    if request.contents.files && manifest.files.is_none()
        || request.contents.database && manifest.database.is_none()
    {
        return Err(SiteError::Store(format!(
            "snapshot {} does not hold every part asked for",
            manifest.id
        )));
    }
    if onto_other && contents.database {
        let theirs = read
            .facts
            .database
            .as_ref()
            .map(|d| d.table_prefix.as_str());
        if let (Some(ours), Some(theirs)) = (manifest.table_prefix.as_deref(), theirs) {
            if ours != theirs {
                return Err(SiteError::Unsupported(format!(
                    "the snapshot's tables use the prefix `{ours}` but {}'s config uses `{theirs}`",
                    target.name
                )));
            }
        }
    }
    // Everything the database part needs, found before anything is touched.
    let database = if contents.database {
        let db = read
            .facts
            .database
            .as_ref()
            .ok_or_else(|| SiteError::database("no credentials were read for the target"))?;
        let client = read.tools.db_client.as_deref().ok_or_else(|| {
            SiteError::failed(
                "restoring the database",
                format!("{} has no mariadb or mysql client", read.host.destination()),
            )
        })?;
        let tables = dump_tables(store.part(snapshot, PartKind::Database))?;
        Some((db, client, tables))
    } else {
        None
    };

    reporter.event(&Event::Step {
        site: &target.name,
        step: "safety snapshot",
    });
    let safety = safety_snapshot(request, read, contents, store, reporter).await?;

    let cms = cms::adapter(read.facts.cms);
    let maintenance = cms.maintenance_file();
    let root_exists = exists(&read.host, &target.path).await?;
    if let (Some((file, content)), true) = (maintenance, root_exists) {
        maintenance_file(&read.host, &target.path, file, Some(content)).await?;
    }
    // Where maintenance mode is a setting in the CMS's configuration (Joomla), that file
    // is switched instead.
    let mut offline = match cms.offline_setting() {
        Some(setting) => Some(
            Offline::switch_live(&read.host, &target.path, root_exists, setting, |message| {
                reporter.event(&Event::Log {
                    level: Level::Warning,
                    site: Some(&target.name),
                    message,
                })
            })
            .await?,
        ),
        None => None,
    };
    let outcome = replace(
        request,
        read,
        pool,
        contents,
        database.as_ref(),
        offline.as_mut(),
        store,
        reporter,
    )
    .await;
    // Maintenance ends on every way out but two: files swapped in that could not be put
    // back after the database failed (the site is mixed then), and a lost connection
    // (where it stopped is not known): the site stays closed until someone has looked.
    let keep_closed = matches!(
        &outcome,
        Err(SiteError::RestoreFailed {
            state: RestoreState::FilesRestoredOnly { .. } | RestoreState::Unknown { .. },
            ..
        })
    );
    if let (Some((file, _)), false) = (maintenance, keep_closed) {
        // On the connection the pool has now: the restore's may have dropped.
        let host = pool
            .connect(&Endpoint::of(target))
            .await
            .map_err(SiteError::from);
        let removed = match &host {
            Ok(host) if exists(host, &target.path).await.unwrap_or(true) => {
                maintenance_file(host, &target.path, file, None).await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = removed {
            let message = format!(
                "the maintenance file {file} could not be removed ({}); remove it by hand",
                e.masked()
            );
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&target.name),
                message: &message,
            });
            if outcome.is_ok() {
                return Err(SiteError::RestoreFailed {
                    state: RestoreState::RestoredInMaintenance {
                        file: format!("{}/{file}", target.path.trim_end_matches('/')),
                    },
                    cause: Box::new(e),
                });
            }
        }
    }
    if let (Some(offline), false) = (&offline, keep_closed) {
        // The exact file the live tree should have: the restored one's, or the site's own.
        let restored_live = outcome.is_ok() && contents.files;
        let switched_back = match pool.connect(&Endpoint::of(target)).await {
            Ok(host) => offline.switch_back(&host, restored_live).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = switched_back {
            let message = format!(
                "{} could not be switched back from maintenance mode ({}); the site stays offline until it is",
                offline.live_file(),
                e.masked()
            );
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&target.name),
                message: &message,
            });
            if outcome.is_ok() {
                return Err(SiteError::RestoreFailed {
                    state: RestoreState::RestoredOffline {
                        file: offline.live_file(),
                    },
                    cause: Box::new(e),
                });
            }
        }
    }
    let replaced = outcome?;
    Ok(Restored {
        safety_snapshot: safety.id,
        checks: Vec::new(),
        replaced,
    })
}

/// The connection dropped: what the host did last is not known.
fn lost_connection(error: &SiteError) -> bool {
    matches!(
        error,
        SiteError::Remote(RemoteError::Connect { .. } | RemoteError::Transport { .. })
            | SiteError::RemoteStep {
                error: RemoteError::Connect { .. } | RemoteError::Transport { .. },
                ..
            }
    )
}

/// The replacing itself, as one unit: the dump imported beside the live tables, the files
/// swapped in, the tables swapped in by one `RENAME TABLE`; the files put back when that
/// fails. Every error says where the site was left.
#[allow(clippy::too_many_arguments)]
async fn replace(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    pool: &Pool,
    contents: Contents,
    database: Option<&(&crate::cms::DbCredentials, &str, Vec<String>)>,
    offline: Option<&mut Offline>,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Option<u64>, SiteError> {
    let target = request.target;
    let keep = keep_from(request, read);
    let mut progress = Progress::default();
    let outcome = replace_steps(
        request,
        read,
        contents,
        database,
        &keep,
        offline,
        store,
        reporter,
        &mut progress,
    )
    .await;
    let cause = match outcome {
        Err(SiteError::RestoreFailed {
            state: RestoreState::Unknown { old_files },
            cause,
        }) => (old_files, cause),
        other => return other,
    };
    // The connection dropped: find out where the restore got, and finish or undo it.
    let (old_files, cause) = cause;
    let warn = |message: &str| {
        reporter.event(&Event::Log {
            level: Level::Warning,
            site: Some(&target.name),
            message,
        })
    };
    warn(&format!(
        "the connection dropped during the restore ({}); finding out on a new connection where it got",
        cause.masked()
    ));
    let inflight = InFlight {
        endpoint: Endpoint::of(target),
        lost: &read.host,
        staged: Staged::of(&target.path, &request.snapshot.manifest.id),
        files: contents.files,
        database: database.map(|(db, client, _)| (*db, *client)),
        keep: &keep,
    };
    match restore_settle::settle(pool, &inflight, &progress).await {
        Ok(Settled::Finished { warnings }) => {
            warn("the tables had been swapped in: the restore was finished on the new connection");
            for warning in &warnings {
                warn(warning);
            }
            Ok(progress.replaced)
        }
        Ok(Settled::PutBack) => Err(SiteError::RestoreFailed {
            state: RestoreState::Unchanged,
            cause,
        }),
        Err(why) => {
            warn(&format!(
                "the restore could not be finished or undone: {why}"
            ));
            Err(SiteError::RestoreFailed {
                state: RestoreState::Unknown { old_files },
                cause,
            })
        }
    }
}

/// What the restored tree takes over from the site it replaces.
fn keep_from(request: &Request<'_>, read: &super::facts::ReadSite) -> Keep {
    let onto_other = request.snapshot.manifest.site != request.target.name;
    Keep {
        config_files: if onto_other {
            cms::adapter(read.facts.cms)
                .config_files()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            Vec::new()
        },
        excluded: request.snapshot.manifest.excludes.clone(),
    }
}

/// The steps of [`replace`], noting in `progress` how far they got; a lost connection is
/// an error with [`RestoreState::Unknown`].
#[allow(clippy::too_many_arguments)]
async fn replace_steps(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    contents: Contents,
    database: Option<&(&crate::cms::DbCredentials, &str, Vec<String>)>,
    keep: &Keep,
    offline: Option<&mut Offline>,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
    progress: &mut Progress,
) -> Result<Option<u64>, SiteError> {
    let (snapshot, target) = (request.snapshot, request.target);
    let manifest = &snapshot.manifest;
    let onto_other = manifest.site != target.name;
    let host = &read.host;
    let unchanged = |cause: SiteError| SiteError::RestoreFailed {
        state: if lost_connection(&cause) {
            RestoreState::Unknown {
                old_files: format!(
                    "{}.tend-old-{}",
                    target.path.trim_end_matches('/'),
                    manifest.id
                ),
            }
        } else {
            RestoreState::Unchanged
        },
        cause: Box::new(cause),
    };
    let step = |step| {
        reporter.event(&Event::Step {
            site: &target.name,
            step,
        })
    };
    let drop_new = |db, client| async move {
        let _ = drop_prefixed(host, client, db, temp_tables::NEW_PREFIX).await;
    };

    let mut replaced = None;
    if let Some((db, client, _)) = database {
        step("import database");
        // A copy answers at its own address: the source's is replaced throughout its values.
        let pairs = if onto_other {
            cms::adapter(manifest.cms).address_replacements(request.source_url, &target.url)
        } else {
            Vec::new()
        };
        let changed = import_beside(
            host,
            client,
            db,
            store.part(snapshot, PartKind::Database),
            pairs,
        )
        .await
        .map_err(unchanged)?;
        if onto_other {
            let message = format!(
                "{} was replaced by {} in {changed} database value(s)",
                request.source_url, target.url
            );
            reporter.event(&Event::Log {
                level: Level::Info,
                site: Some(&target.name),
                message: &message,
            });
            replaced = Some(changed);
            progress.replaced = replaced;
        }
        // A copy answers at its own address: set on the imported tables, before they go live.
        if onto_other {
            let mut imported = (*db).clone();
            imported.table_prefix = format!("{}{}", temp_tables::NEW_PREFIX, db.table_prefix);
            if let Some(sql) =
                cms::adapter(manifest.cms).sql_for_new_address(&imported, &target.url)
            {
                if let Err(e) = execute(host, client, db, &sql).await {
                    drop_new(*db, *client).await;
                    return Err(unchanged(e));
                }
            }
        }
    }
    let swap = match database {
        Some((db, client, tables)) => match swap_statement(host, client, db, tables).await {
            Ok(swap) => Some(swap),
            Err(e) => {
                drop_new(*db, *client).await;
                return Err(unchanged(e));
            }
        },
        None => None,
    };

    let mut files = None;
    if contents.files {
        step("restore files");
        let staged = async {
            let staged = stage_files(
                host,
                &target.path,
                store.part(snapshot, PartKind::Files),
                &manifest.id,
                keep,
                false,
                cms::adapter(read.facts.cms).maintenance_file(),
            )
            .await?;
            // The staged tree goes live offline too (Joomla's configuration).
            if let Some(offline) = offline {
                if let Err(e) = offline
                    .switch_staged(host, &staged.staging, onto_other)
                    .await
                {
                    let _ = remove_tree(host, &staged.staging).await;
                    return Err(e);
                }
            }
            progress.files_swap_sent = true;
            match swap_in(host, &staged, false).await {
                Ok(had_root) => Ok((staged, had_root)),
                Err(e) => {
                    let _ = remove_tree(host, &staged.staging).await;
                    Err(e)
                }
            }
        }
        .await;
        match staged {
            Ok(done) => files = Some(done),
            Err(e) => {
                if let Some((db, client, _)) = database {
                    drop_new(*db, *client).await;
                }
                return Err(unchanged(e));
            }
        }
    }

    if let (Some((db, client, _)), Some(swap)) = (database, &swap) {
        step("swap database");
        progress.tables = TablesSwap::Sent;
        if let Err(e) = execute(host, client, db, swap).await {
            if !lost_connection(&e) {
                progress.tables = TablesSwap::Refused;
                drop_new(*db, *client).await;
            }
            let state = match &files {
                _ if lost_connection(&e) => RestoreState::Unknown {
                    old_files: format!(
                        "{}.tend-old-{}",
                        target.path.trim_end_matches('/'),
                        manifest.id
                    ),
                },
                None => RestoreState::Unchanged,
                Some((staged, had_root)) => match put_back(host, staged, *had_root).await {
                    Ok(()) => RestoreState::Unchanged,
                    // Where the putting back got is found out on a new connection.
                    Err(e) if lost_connection(&e) => RestoreState::Unknown {
                        old_files: staged.old.clone(),
                    },
                    Err(_) => RestoreState::FilesRestoredOnly {
                        old_files: staged.old.clone(),
                    },
                },
            };
            return Err(SiteError::RestoreFailed {
                state,
                cause: Box::new(e),
            });
        }
    }

    // Done: what follows is clean-up, whose failure does not undo the restore.
    let warn = |message: String| {
        reporter.event(&Event::Log {
            level: Level::Warning,
            site: Some(&target.name),
            message: &message,
        })
    };
    if let Some((db, client, _)) = database {
        if let Err(e) = drop_prefixed(host, client, db, temp_tables::OLD_PREFIX).await {
            warn(format!(
                "the replaced tables ({}*) could not be dropped: {}",
                temp_tables::OLD_PREFIX,
                e.masked()
            ));
        }
    }
    if let Some((staged, had_root)) = &files {
        if let Err(e) = finish_files(host, staged, *had_root, keep).await {
            warn(format!(
                "the replaced files in {} could not be removed: {}",
                staged.old,
                e.masked()
            ));
        }
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::CheckResult;

    fn check(name: &str, ok: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            path: "/".into(),
            ok,
            status: Some(200),
            elapsed_ms: 1,
            problems: if ok {
                Vec::new()
            } else {
                vec!["does not contain `Marker`".into()]
            },
        }
    }

    #[test]
    fn failed_checks_fail_the_restore_and_name_the_snapshot_that_undoes_it() {
        let mut restored = Restored {
            safety_snapshot: Some("20261130T010203Z-abcd".into()),
            checks: vec![check("home page", true), check("/shop/", true)],
            replaced: None,
        };
        assert_eq!(restored.failure("blog"), None);
        restored.checks[1] = check("/shop/", false);
        let why = restored.failure("blog").unwrap();
        assert!(why.contains("/shop/: does not contain `Marker`"), "{why}");
        assert!(
            why.contains("`tend restore blog --snapshot 20261130T010203Z-abcd`"),
            "{why}"
        );
        restored.safety_snapshot = None;
        let why = restored.failure("blog").unwrap();
        assert!(why.contains("no pre-restore snapshot"), "{why}");
    }
}
