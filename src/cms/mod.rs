//! What tend knows about each CMS, behind one trait and one registry.
//!
//! Every CMS answers the same questions (how to recognise it, what is installed, where its
//! database credentials are, what its error pages look like, what not to back up, how far
//! updates go by default, which versions are end-of-life) and performs the same operations
//! (maintenance mode, updates). Code outside this module talks only to [`Cms`], through
//! [`adapter`] and [`REGISTRY`], and names no CMS; each CMS lives in its own module, and
//! adding one is that module plus one line in [`registry`] (see `example.rs`, compiled for tests).
//! Facts are gathered as commands whose output is parsed by pure functions, so the parsers
//! are tested on captured output without any host.

pub mod database;
#[cfg(test)]
pub mod example;
pub mod file_dump;
pub mod host_cli;
pub mod host_tools;
pub mod joomla;
pub mod magento;
pub mod maintenance_pass;
pub mod mysql_client;
pub mod php_array;
pub mod php_script;
pub mod php_serialize;
pub mod php_source;
pub mod registry;
pub mod swap_update;
pub mod wordpress;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::cms_kind::CmsKind;
pub use registry::{adapter, REGISTRY};

use crate::inventory::Site;
use crate::offer::{Change, ComponentType, Offer};
use crate::remote::Connection;
use crate::site_error::SiteError;
use crate::version::{Level, Version};
pub use database::{DbCredentials, DbEndpoint};
use file_dump::{DumpPart, DumpedFile};
use host_tools::HostTools;

/// What the engine has already read for a site when it asks the CMS for facts: the files
/// the CMS named in [`Cms::fact_files`] (fetched in the same round trip as detection) and
/// what the host offers.
pub struct FactSources<'a> {
    pub files: &'a [DumpedFile],
    pub tools: &'a HostTools,
}

impl FactSources<'_> {
    /// The file at `path` (relative to the CMS root), if it exists.
    pub fn file(&self, path: &str) -> Option<&DumpedFile> {
        // A path may be listed twice (as a detection marker, empty, and in full): the
        // fullest copy is the real one.
        self.files
            .iter()
            .filter(|f| f.path == path)
            .max_by_key(|f| f.content.len())
    }
}

/// A plugin, theme, extension or module as installed on a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub slug: String,
    /// As the component declares it; `None` when it declares none.
    pub version: Option<String>,
    pub active: bool,
}

/// What is on a site now.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub cms: CmsKind,
    pub version: String,
    /// The database schema version, where the CMS keeps one (WordPress `db_version`).
    pub db_version: Option<String>,
    /// The version of the site's PHP CLI on the host.
    pub php_version: Option<String>,
    pub plugins: Vec<Component>,
    pub themes: Vec<Component>,
    /// Read from the site's own config; never serialized, never printed.
    #[serde(skip)]
    pub database: Option<DbCredentials>,
    /// Each plugin's main file (`akismet` → `akismet/akismet.php`): what update APIs and
    /// WordPress's `active_plugins` call a plugin.
    #[serde(skip)]
    pub plugin_files: std::collections::BTreeMap<String, String>,
    /// Composer packages that are not the CMS's own (Magento's third-party modules), as
    /// `composer.lock` lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Component>,
    /// What could not be read, said plainly rather than left out silently.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Facts {
    /// The version installed of a component (`core`: the CMS's own), as these facts read
    /// it; `None` when the component is not installed or its version is unknown.
    pub fn installed_version(
        &self,
        kind: crate::updates::ComponentType,
        slug: &str,
    ) -> Option<String> {
        if kind == crate::updates::ComponentType::Core {
            return Some(self.version.clone());
        }
        let lists: [&[Component]; 3] = match kind {
            crate::updates::ComponentType::Theme => [&self.themes, &[], &[]],
            _ => [&self.plugins, &self.packages, &self.themes],
        };
        lists
            .into_iter()
            .flatten()
            .find(|c| c.slug == slug)
            .and_then(|c| c.version.clone())
    }
}

/// Everything the engine asks of a CMS.
#[async_trait]
pub trait Cms: Send + Sync {
    /// Which CMS this is: its `cms:` name in inventories, manifests and `--json`.
    fn kind(&self) -> CmsKind;

    /// The name people know the CMS by (`WordPress`), for messages.
    fn display_name(&self) -> &'static str;

    /// Files (relative to the CMS root) whose presence [`Cms::recognises`] looks at: only
    /// whether each exists is read, for every CMS at once, before the CMS is known.
    fn markers(&self) -> &'static [&'static str];

    /// Whether the files present (among every CMS's markers) are an installation of this
    /// CMS. The registry asks the CMSs in its order; the first that says yes is the site's.
    fn recognises(&self, present: &[&str]) -> bool;

    /// Files, relative to the CMS root, that [`Cms::facts`] needs, with how much of each.
    fn fact_files(&self) -> &'static [DumpPart<'static>];

    /// Reads version, components and database credentials from the site.
    async fn facts(
        &self,
        site: &Site,
        host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError>;

    /// Paths (globs relative to the CMS root) that backups leave out by default: caches
    /// the CMS rebuilds on its own.
    fn default_backup_excludes(&self) -> &'static [&'static str];

    /// The site's own configuration files (relative to the root): kept when a snapshot of
    /// another site is restored onto this one.
    fn config_files(&self) -> &'static [&'static str];

    /// The configuration file (relative to the root) that holds the database credentials.
    fn credentials_file(&self) -> &'static str;

    /// The database credentials in the text of [`Cms::credentials_file`]: what facts read
    /// on the site, and what a restore reads from a snapshot when the site is unreadable.
    fn read_credentials(&self, config: &str) -> Result<DbCredentials, ConfigError>;

    /// What a database copied from the site at `from` onto the one at `to` (a snapshot
    /// restored with `--to`) has replaced in every value as it is imported (serialized
    /// lengths fixed): by default the address in its usual forms (see
    /// [`crate::backup::search_replace::address_pairs`]). Empty: nothing is replaced.
    fn address_replacements(&self, from: &str, to: &str) -> crate::backup::search_replace::Pairs {
        crate::backup::search_replace::address_pairs(from, to)
    }

    /// SQL that makes a database copied from another site answer at `url` (a snapshot
    /// restored with `--to`); `None` when the CMS keeps no address in its database.
    fn sql_for_new_address(&self, _db: &DbCredentials, _url: &str) -> Option<String> {
        None
    }

    /// Texts that mark a page as this CMS's error page, for verification.
    fn error_page_markers(&self) -> &'static [&'static str];

    /// Pages besides the home page that every verification checks answer 200 (WordPress's
    /// login page).
    fn builtin_pages(&self) -> &'static [BuiltinPage] {
        &[]
    }

    /// How far core updates go when a playbook does not say (`core:` of the `update` step).
    fn default_core_level(&self) -> Level {
        Level::Minor
    }

    /// What the CMS itself calls a move of its core from `from` to `to`, where its words
    /// differ from the semver levels tend's policy uses (WordPress calls 6.1 → 6.8 a "major
    /// release", which is `minor` here): plans say both, because the CMS's people read
    /// versions in its words. `None`: the CMS's words are the levels'.
    fn core_release_word(&self, _from: &Version, _to: &Version) -> Option<&'static str> {
        None
    }

    /// The installed components that are updated apart from core, each with its type:
    /// what an update source should track, so that one none tracks (a premium plugin
    /// without a repository entry, custom code) is said rather than silently left out of
    /// the cycle. Default: none — a CMS whose facts cannot tell its own bundled extensions
    /// from third-party ones says nothing rather than flag every core extension.
    fn separately_updated<'f>(&self, _facts: &'f Facts) -> Vec<(ComponentType, &'f Component)> {
        Vec::new()
    }

    /// What the CMS's installed add-ons (`Facts::plugins`) are as update components.
    fn plugin_type(&self) -> ComponentType {
        ComponentType::Extension
    }

    /// Whether `version` is one tend backs up and restores but no longer updates, and if
    /// so, what the site's owner should do instead (`migrate the site to Joomla 4 or 5`).
    fn end_of_life(&self, _version: &str) -> Option<&'static str> {
        None
    }

    /// Refuses to update a site whose version is end-of-life (see [`Cms::end_of_life`]).
    fn check_updatable(&self, facts: &Facts) -> Result<(), SiteError> {
        match self.end_of_life(&facts.version) {
            Some(instead) => Err(SiteError::Unsupported(format!(
                "{} {} is end-of-life: tend backs it up and restores it but does not update it; {instead}",
                self.display_name(),
                facts.version
            ))),
            None => Ok(()),
        }
    }

    /// What a package zip (from a private repository's folder) holds when it is one of this
    /// CMS's packages, read from its files the way the CMS reads them; `Ok(None)` when it
    /// is not; an error when it looks like one but cannot be read.
    fn describe_package(&self, _zip: &[u8]) -> Result<Option<DescribedPackage>, String> {
        Ok(None)
    }

    /// For a CMS whose updates tend applies itself, by staging the new files beside the old
    /// and swapping them with renames: where its packages and components are. `None`: the
    /// CMS's own tools apply updates ([`Cms::apply_change`]).
    fn swap_update(&self) -> Option<&dyn swap_update::SwapUpdate> {
        None
    }

    /// The file (relative to the root) whose presence keeps visitors out, and what tend
    /// writes into it, where the CMS has one: removing it ends maintenance mode without
    /// running the site's PHP, which a rollback must not depend on.
    fn maintenance_file(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Where maintenance mode is a setting inside a configuration file rather than a file
    /// of its own (Joomla's `$offline` in `configuration.php`): the file, and how to switch
    /// its text offline. A restore switches it without running the site's PHP, and puts
    /// back the exact file afterwards.
    fn offline_setting(&self) -> Option<OfflineSetting> {
        None
    }

    /// Turns maintenance mode on or off the CMS's own way.
    async fn set_maintenance(
        &self,
        site: &Site,
        host: &Connection,
        on: bool,
    ) -> Result<(), SiteError>;

    /// Turns maintenance mode on so that visitors get the maintenance page while a request
    /// that carries `secret` the way the returned [`maintenance_pass::Passage`] says reaches
    /// the real site: tend's checks during the update cycle. `None`: the CMS has no such
    /// way, and the checks see what visitors see. Default: plain maintenance mode, `None`.
    /// Ending maintenance ([`Cms::set_maintenance`] with `false`) removes what let requests
    /// through.
    async fn set_maintenance_passing(
        &self,
        site: &Site,
        host: &Connection,
        _secret: &maintenance_pass::PassSecret,
    ) -> Result<Option<maintenance_pass::Passage>, SiteError> {
        self.set_maintenance(site, host, true).await?;
        Ok(None)
    }

    /// Versions the site's own tools offer (Joomla's update servers through its CLI,
    /// composer for Magento), on top of the inventory's sources.
    async fn host_offers(
        &self,
        _site: &Site,
        _host: &Connection,
        _facts: &Facts,
    ) -> Result<Vec<Offer>, SiteError> {
        Ok(Vec::new())
    }

    /// Applies one planned change with the CMS's own tools; `package` is the path on the
    /// host of the change's package when it came from a repository. CMSs whose updates are
    /// applied by tend's own renames (WordPress) do not use this.
    async fn apply_change(
        &self,
        _site: &Site,
        _host: &Connection,
        _facts: &Facts,
        _tools: &HostTools,
        change: &Change,
        _package: Option<&str>,
    ) -> Result<(), SiteError> {
        Err(SiteError::Unsupported(format!(
            "{} {}: this CMS's updates are applied by tend itself",
            change.kind.name(),
            change.slug
        )))
    }
}

/// A maintenance switch inside a configuration file ([`Cms::offline_setting`]).
#[derive(Debug, Clone, Copy)]
pub struct OfflineSetting {
    /// The file (relative to the root).
    pub file: &'static str,
    /// Its text with the site offline, everything else byte for byte; `None` when the text
    /// has no such setting.
    pub switch_on: fn(&str) -> Option<String>,
}

/// What a package holds: which component, at which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedPackage {
    pub kind: ComponentType,
    pub slug: String,
    pub version: String,
}

/// A page every verification of a CMS's sites checks (besides the home page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPage {
    /// What the check is called in reports (`login page`).
    pub name: &'static str,
    pub path: &'static str,
}

/// Why a CMS's configuration could not be read: the file, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct ConfigError {
    pub file: &'static str,
    pub reason: String,
}

impl From<ConfigError> for SiteError {
    fn from(e: ConfigError) -> SiteError {
        SiteError::config(e.file, e.reason)
    }
}
