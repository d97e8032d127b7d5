//! `tend restore`: put a snapshot back onto its site or onto another one (e.g. staging),
//! after taking a safety snapshot of what is there now.

use crate::backup::create::{self, Contents};
use crate::backup::restore::{restore_database, restore_files, Keep};
use crate::backup::{PartKind, Snapshot, SnapshotStore};
use crate::cms;
use crate::cms::host_tools::HostToolsCache;
use crate::cms::Facts;
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{Endpoint, Pool};
use crate::site_error::SiteError;

pub struct Request<'a> {
    pub snapshot: &'a Snapshot,
    pub target: &'a Site,
    pub contents: Contents,
}

#[derive(Debug)]
pub struct Restored {
    /// The snapshot of the target taken just before it was overwritten (none when the
    /// site was too broken to be saved).
    pub safety_snapshot: Option<String>,
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
    let result = restore(request, pool, store, reporter).await;
    let error = result.as_ref().err().map(SiteError::masked);
    reporter.event(&Event::SiteFinished {
        site: &target.name,
        outcome: if result.is_ok() {
            crate::outcome::Outcome::Ok
        } else {
            crate::outcome::Outcome::Failed
        },
        error: error.as_deref(),
    });
    reporter.event(&Event::End);
    result
}

async fn restore(
    request: &Request<'_>,
    pool: &Pool,
    store: &dyn SnapshotStore,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let target = request.target;
    let tools = HostToolsCache::default();
    let mut site_was_read = true;
    let read = match super::facts::read_site(target, pool, &tools, reporter).await {
        Ok(read) => read,
        // A damaged or hacked site may no longer read (its config deleted, say). Restoring
        // it onto itself must still work: what the snapshot recorded stands in for it.
        Err(why) if why.is_site_unreadable() && request.snapshot.manifest.site == target.name => {
            let host = pool.connect(&Endpoint::of(target)).await?;
            let host_tools = tools.get(&host, &target.php).await?;
            let facts = facts_from_snapshot(store, request.snapshot)?;
            let message = format!("the site could not be read ({why}); restoring with what the snapshot recorded, including its database credentials");
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&target.name),
                message: &message,
            });
            site_was_read = false;
            super::facts::ReadSite {
                host,
                tools: host_tools,
                facts,
            }
        }
        Err(e) => return Err(e),
    };
    let work = restore_locked(request, &read, site_was_read, store, reporter);
    super::site_lock::with_lock(
        pool,
        &crate::remote::Endpoint::of(target),
        &target.path,
        "restore",
        |previous| super::backup::took_over(reporter, &target.name, previous),
        work,
    )
    .await
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

async fn restore_locked(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    site_was_read: bool,
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

    reporter.event(&Event::Step {
        site: &target.name,
        step: "safety snapshot",
    });
    let safety = match create::snapshot(
        store,
        target,
        &read.host,
        &read.facts,
        &read.tools,
        Some("pre-restore"),
        contents,
    )
    .await
    {
        Ok(manifest) => Some(manifest.id),
        // A site too broken to be read may be too broken to be saved as it is; putting it
        // back matters more then, and the user is told.
        Err(e) if !site_was_read => {
            let message = format!(
                "no pre-restore snapshot of the broken site could be taken: {}",
                e.masked()
            );
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&target.name),
                message: &message,
            });
            None
        }
        Err(e) => return Err(e),
    };

    let tag = manifest.id.clone();
    if contents.files {
        reporter.event(&Event::Step {
            site: &target.name,
            step: "restore files",
        });
        let keep = Keep {
            config_files: if onto_other {
                cms::adapter(read.facts.cms)
                    .config_files()
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            } else {
                Vec::new()
            },
            excluded: manifest.excludes.clone(),
        };
        restore_files(
            &read.host,
            &target.path,
            store.part(snapshot, PartKind::Files),
            &tag,
            &keep,
        )
        .await?;
    }
    if contents.database {
        reporter.event(&Event::Step {
            site: &target.name,
            step: "restore database",
        });
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
        // A copy answers at its own address.
        let after = if onto_other {
            cms::adapter(manifest.cms).sql_for_new_address(db, &target.url)
        } else {
            None
        }
        .unwrap_or_default();
        restore_database(
            &read.host,
            client,
            db,
            store.part(snapshot, PartKind::Database),
            &after,
        )
        .await?;
    }
    Ok(Restored {
        safety_snapshot: safety,
    })
}
