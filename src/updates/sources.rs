//! The inventory's update sources, asked in order, as one list of offers per site.
//!
//! A private repository's index is read once per command and shared by every site; the
//! WordPress.org API is asked per site, because what it answers depends on what the site
//! has installed. A source that cannot be asked fails the site's update rather than being
//! skipped: planning from the remaining sources could pick a version the missing source
//! would have overridden.

use tokio::sync::OnceCell;

use std::path::Path;

use super::policy::Change;
use super::repository::{self, Index, IndexError, Location};
use super::wordpress_org::{self, CoreCheckError, WordpressOrg};
use super::ComponentType;
use super::Offer;
use crate::cms::Facts;
use crate::inventory::Source;
use crate::site_error::SiteError;

pub struct Sources {
    entries: Vec<Entry>,
    client: reqwest::Client,
}

enum Entry {
    WordpressOrg(WordpressOrg),
    Repository {
        location: Location,
        index: OnceCell<Result<Index, IndexError>>,
    },
}

impl Sources {
    pub fn new(list: &[Source], client: reqwest::Client) -> Sources {
        let entries = list
            .iter()
            .map(|source| match source {
                Source::WordpressOrg { api } => {
                    Entry::WordpressOrg(WordpressOrg::new(api, client.clone()))
                }
                Source::Repository(place) => Entry::Repository {
                    location: Location::parse(place),
                    index: OnceCell::new(),
                },
            })
            .collect();
        Sources { entries, client }
    }

    /// The WordPress.org API among the sources, if any (for core checksums).
    pub fn wordpress_org(&self) -> Option<&WordpressOrg> {
        self.entries.iter().find_map(|e| match e {
            Entry::WordpressOrg(api) => Some(api),
            Entry::Repository { .. } => None,
        })
    }

    /// Checks a fetched package against what its source publishes besides a sha256
    /// (WordPress.org: the md5 of every core file); `top` is the package's top folder.
    pub async fn check_package(
        &self,
        change: &Change,
        zip: &Path,
        top: &str,
    ) -> Result<(), CoreCheckError> {
        match self.wordpress_org() {
            Some(api)
                if change.kind == ComponentType::Core
                    && change.offer.source == wordpress_org::SOURCE =>
            {
                api.check_core_package(&change.to, zip, top).await
            }
            _ => Ok(()),
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Everything the sources offer for the site's CMS, in source order.
    pub async fn offers(&self, facts: &Facts) -> Result<Vec<Offer>, SourceError> {
        self.offers_dated(facts, false).await
    }

    /// [`Sources::offers`], with release dates asked where a source gives them only on a
    /// separate request (WordPress.org) when `dated` (a step with `min_age`); a private
    /// repository's index says them anyway.
    pub async fn offers_dated(
        &self,
        facts: &Facts,
        dated: bool,
    ) -> Result<Vec<Offer>, SourceError> {
        Ok(self.offered(facts, dated).await?.offers)
    }

    /// [`Sources::offers_dated`], with every component some source tracks, offering a
    /// newer version or not (WordPress.org's `no_update`, any entry of a repository's
    /// index): what no source tracks is said, not silently left out of the cycle.
    pub async fn offered(&self, facts: &Facts, dated: bool) -> Result<Offered, SourceError> {
        let mut offers = Vec::new();
        let mut tracked = Vec::new();
        for entry in &self.entries {
            match entry {
                Entry::WordpressOrg(api) => {
                    let check = api
                        .check_dated(facts, dated)
                        .await
                        .map_err(|e| SourceError {
                            name: "wordpress.org".to_owned(),
                            detail: e.to_string(),
                        })?;
                    offers.extend(check.offers);
                    tracked.extend(check.tracked);
                }
                Entry::Repository { location, index } => {
                    let index = index
                        .get_or_init(|| repository::read_index(location, &self.client))
                        .await
                        .as_ref()
                        .map_err(|e| SourceError {
                            name: "repository".to_owned(),
                            detail: e.to_string(),
                        })?;
                    offers.extend(
                        repository::offers(location, index)
                            .into_iter()
                            .filter(|o| o.cms == facts.cms),
                    );
                }
            }
        }
        tracked.extend(offers.iter().map(|o| (o.kind, o.slug.clone())));
        tracked.sort();
        tracked.dedup();
        Ok(Offered { offers, tracked })
    }
}

/// What the sources offer a site, and which of its components they track.
#[derive(Debug, Clone, Default)]
pub struct Offered {
    pub offers: Vec<Offer>,
    /// Sorted, each once.
    pub tracked: Vec<(ComponentType, String)>,
}

/// An update source that could not be asked, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {detail}")]
pub struct SourceError {
    /// Which source: `wordpress.org`, `repository`.
    pub name: String,
    pub detail: String,
}

impl From<SourceError> for SiteError {
    fn from(e: SourceError) -> SiteError {
        SiteError::UpdateSource(e.to_string())
    }
}
