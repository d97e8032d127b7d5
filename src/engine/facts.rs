//! `tend facts`: connect, detect the CMS, read what is installed.

use crate::cms::{self, detect, CmsKind, Facts};
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{Endpoint, Pool, RemoteError};
use crate::site_error::SiteError;

/// One site's facts, or why they could not be read.
#[derive(Debug)]
pub struct SiteFacts {
    pub site: String,
    pub result: Result<Facts, SiteError>,
}

/// Reads facts for every site, `forks` at a time, over the pool's shared connections.
pub async fn gather(
    sites: &[&Site],
    pool: &Pool,
    forks: usize,
    reporter: &dyn Reporter,
) -> Vec<SiteFacts> {
    reporter.event(&Event::Begin {
        what: "facts",
        total: sites.len(),
    });
    let results = super::for_each_site(sites, forks, |site| async move {
        reporter.event(&Event::SiteStarted { site: &site.name });
        let result = site_facts(site, pool, reporter).await;
        if let Ok(facts) = &result {
            for warning in &facts.warnings {
                reporter.event(&Event::Log {
                    level: Level::Warning,
                    site: Some(&site.name),
                    message: warning,
                });
            }
        }
        let error = result.as_ref().err().map(SiteError::masked);
        reporter.event(&Event::SiteFinished {
            site: &site.name,
            ok: result.is_ok(),
            error: error.as_deref(),
        });
        SiteFacts {
            site: site.name.clone(),
            result,
        }
    })
    .await;
    reporter.event(&Event::End);
    results
}

async fn site_facts(site: &Site, pool: &Pool, reporter: &dyn Reporter) -> Result<Facts, SiteError> {
    reporter.event(&Event::Step {
        site: &site.name,
        step: "connect",
    });
    let host = pool.connect(&Endpoint::of(site)).await?;

    reporter.event(&Event::Step {
        site: &site.name,
        step: "detect",
    });
    let kind = detect_cms(site, &host).await?;

    reporter.event(&Event::Step {
        site: &site.name,
        step: "read",
    });
    cms::adapter(kind).facts(site, &host).await
}

/// The site's CMS: detected from its files, and checked against the inventory's `cms:`.
async fn detect_cms(site: &Site, host: &crate::remote::Connection) -> Result<CmsKind, SiteError> {
    let probe = detect::probe_command(&site.path);
    let output = match host.run(&probe, None, 64 * 1024).await {
        Ok(output) => output,
        Err(RemoteError::CommandFailed { .. }) => {
            return Err(SiteError::site(format!(
                "the site root {} does not exist on {} (or is not readable by the SSH user)",
                site.path,
                host.destination()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let text = output.stdout_text();
    let present: Vec<&str> = text.lines().collect();
    let detected = detect::detect(&present);
    match (site.cms, detected) {
        (Some(configured), Some(found)) if configured != found => Err(SiteError::site(format!(
            "the inventory says {configured}, but the files in {} are {found}'s",
            site.path
        ))),
        (_, Some(found)) => Ok(found),
        (Some(configured), None) => Err(SiteError::site(format!(
            "the inventory says {configured}, but no {configured} installation was found in {}",
            site.path
        ))),
        (None, None) => Err(SiteError::site(format!(
            "no WordPress, Joomla or Magento installation found in {}",
            site.path
        ))),
    }
}
