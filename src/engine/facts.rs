//! `tend facts`: connect, read the site's files in one round trip, detect the CMS, let the
//! CMS read the rest (its database).

use crate::cms::file_dump::{dump_command, parse_dump, DumpPart, DumpRequest};
use std::sync::Arc;

use crate::cms::host_tools::{HostTools, HostToolsCache};
use crate::cms::{self, CmsKind, FactSources, Facts, REGISTRY};
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{Connection, Endpoint, Pool, RemoteError, EXIT_NO_DIR};
use crate::site_error::SiteError;

/// Largest dump of a site's fact files (configs, version files, plugin headers).
const DUMP_LIMIT: usize = 64 * 1024 * 1024;

/// One site's facts, or why they could not be read.
pub type SiteFacts = super::SiteResult<Facts>;

/// Reads facts for every site, `forks` at a time, over the pool's shared connections.
pub async fn gather(
    sites: &[&Site],
    pool: &Pool,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<SiteFacts> {
    let tools = HostToolsCache::default();
    let tools = &tools;
    super::run_sites("facts", sites, forks, reporter, |site| async move {
        let facts = read_site(site, pool, tools, reporter).await?.facts;
        for warning in &facts.warnings {
            reporter.event(&Event::Log {
                level: Level::Warning,
                site: Some(&site.name),
                message: warning,
            });
        }
        Ok(facts)
    })
    .await
}

/// A site as read: its host connection, what the host offers, and its facts.
pub struct ReadSite {
    pub host: Arc<Connection>,
    pub tools: HostTools,
    pub facts: Facts,
}

/// Connects to `site`'s host and reads its facts: the first part of every command.
pub async fn read_site(
    site: &Site,
    pool: &Pool,
    tools: &HostToolsCache,
    reporter: &dyn Reporter,
) -> Result<ReadSite, SiteError> {
    let step = |step: &str| {
        reporter.event(&Event::Step {
            site: &site.name,
            step,
        })
    };
    step("connect");
    let host = pool.connect(&Endpoint::of(site)).await?;
    let host_tools = tools.get(&host, &site.php).await?;

    step("read");
    // Every CMS's fact files and the detection markers, in one round trip: the CMS is not
    // known yet, and asking for a few files that don't exist costs nothing.
    let markers = REGISTRY.markers();
    let mut parts: Vec<DumpPart<'_>> = REGISTRY.fact_files();
    // Only whether each marker exists is read.
    parts.push(DumpPart {
        files: &markers,
        globs: &[],
        limit: 0,
    });
    let command = dump_command(&DumpRequest {
        root: &site.path,
        parts: &parts,
    });
    let output = match host.run(&command, None, DUMP_LIMIT).await {
        Ok(output) => output,
        Err(RemoteError::CommandFailed {
            status: Some(EXIT_NO_DIR),
            ..
        }) => {
            return Err(SiteError::RootMissing {
                path: site.path.clone(),
                destination: host.destination().to_owned(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let files =
        parse_dump(&output.stdout).map_err(|e| SiteError::failed("reading the site's files", e))?;

    step("detect");
    let present: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let kind = check_cms(site, REGISTRY.detect(&present))?;

    let sources = FactSources {
        files: &files,
        tools: &host_tools,
    };
    let facts = cms::adapter(kind).facts(site, &host, &sources).await?;
    Ok(ReadSite {
        host,
        tools: host_tools,
        facts,
    })
}

/// The detected CMS, checked against the inventory's `cms:`.
fn check_cms(site: &Site, detected: Option<CmsKind>) -> Result<CmsKind, SiteError> {
    let not_found = |found: Option<CmsKind>| SiteError::CmsNotFound {
        path: site.path.clone(),
        expected: site.cms.map(|c| c.name().to_owned()),
        found: found.map(|c| c.name().to_owned()),
        known: cms::REGISTRY
            .all()
            .iter()
            .map(|c| c.display_name().to_owned())
            .collect(),
    };
    match (site.cms, detected) {
        (Some(configured), Some(found)) if configured != found => Err(not_found(Some(found))),
        (_, Some(found)) => Ok(found),
        (_, None) => Err(not_found(None)),
    }
}

/// What the update sources offer one site: for each installed component, the newest
/// version offered (any level, nothing excluded), or why the sources could not be asked.
pub type OfferedUpdates =
    Option<Result<Vec<crate::updates::policy::Change>, crate::updates::sources::SourceError>>;

/// The updates the sources offer each site that was read (`None` for sites that were not).
pub async fn offered_updates(
    results: &[SiteFacts],
    sources: &crate::updates::sources::Sources,
) -> Vec<OfferedUpdates> {
    use crate::playbook::Selection;
    use crate::updates::policy::{plan, Policy};
    let all = Selection::All;
    let policy = Policy {
        core: crate::version::Level::Major,
        plugins: &all,
        themes: &all,
        extensions: &all,
        exclude: &[],
        hold: &[],
        min_age: None,
        now: chrono::Utc::now(),
    };
    let mut out = Vec::with_capacity(results.len());
    for result in results {
        out.push(match &result.result {
            Ok(facts) => Some(
                sources
                    .offers(facts)
                    .await
                    .map(|offers| plan(facts, &offers, &policy).changes),
            ),
            Err(_) => None,
        });
    }
    out
}
