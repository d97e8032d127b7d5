//! `tend restore`: put a snapshot back onto its site or onto another one (e.g. staging),
//! after taking a safety snapshot of what is there now.

use crate::backup::create::{self, Contents};
use crate::backup::manifest::{DATABASE_PART, FILES_PART};
use crate::backup::restore::{restore_database, restore_files, Keep};
use crate::backup::{Snapshot, Store};
use crate::cms::host_tools::HostToolsCache;
use crate::cms::{self, mysql_client, CmsKind};
use crate::events::{Event, Reporter};
use crate::inventory::Site;
use crate::remote::Pool;
use crate::site_error::SiteError;

pub struct Request<'a> {
    pub snapshot: &'a Snapshot,
    pub target: &'a Site,
    pub contents: Contents,
}

#[derive(Debug)]
pub struct Restored {
    /// The snapshot of the target taken just before it was overwritten.
    pub safety_snapshot: String,
}

pub async fn run(
    request: &Request<'_>,
    pool: &Pool,
    store: &Store,
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
        ok: result.is_ok(),
        error: error.as_deref(),
    });
    reporter.event(&Event::End);
    result
}

async fn restore(
    request: &Request<'_>,
    pool: &Pool,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let target = request.target;
    let tools = HostToolsCache::default();
    let read = super::facts::read_site(target, pool, &tools, reporter).await?;
    let work = restore_locked(request, &read, store, reporter);
    super::site_lock::with_lock(
        &read.host,
        &target.path,
        "restore",
        |previous| super::backup::took_over(reporter, &target.name, previous),
        work,
    )
    .await
}

async fn restore_locked(
    request: &Request<'_>,
    read: &super::facts::ReadSite,
    store: &Store,
    reporter: &dyn Reporter,
) -> Result<Restored, SiteError> {
    let (snapshot, target) = (request.snapshot, request.target);
    let manifest = &snapshot.manifest;
    let onto_other = manifest.site != target.name;
    if read.facts.cms != manifest.cms {
        return Err(SiteError::site(format!(
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
        return Err(SiteError::site(format!(
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
                return Err(SiteError::site(format!(
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
    let safety = create::snapshot(
        store,
        target,
        &read.host,
        &read.facts,
        &read.tools,
        Some("pre-restore"),
        contents,
    )
    .await?;

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
            &snapshot.dir.join(FILES_PART),
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
        let db =
            read.facts.database.as_ref().ok_or_else(|| {
                SiteError::site("no database credentials were read for the target")
            })?;
        let client = read.tools.db_client.as_deref().ok_or_else(|| {
            SiteError::site(format!(
                "{} has no mariadb or mysql client",
                read.host.destination()
            ))
        })?;
        let after = if onto_other && manifest.cms == CmsKind::Wordpress {
            // A copy answers at its own address.
            format!(
                "UPDATE {} SET option_value = '{}' WHERE option_name IN ('siteurl', 'home')",
                mysql_client::identifier(&format!("{}options", db.table_prefix)),
                target.url.replace('\\', "\\\\").replace('\'', "''")
            )
        } else {
            String::new()
        };
        restore_database(
            &read.host,
            client,
            db,
            &snapshot.dir.join(DATABASE_PART),
            &after,
        )
        .await?;
    }
    Ok(Restored {
        safety_snapshot: safety.id,
    })
}
