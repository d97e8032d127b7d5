//! WordPress: facts from `wp-includes/version.php`, `wp-config.php`, plugin and theme
//! headers (read the way WordPress itself reads them) and the `options` table.

pub mod package;
pub mod parse;
pub mod update;

use async_trait::async_trait;
use serde::Serialize;

use super::database::{DbCredentials, DbEndpoint};
use super::file_dump::DumpPart;
use super::swap_update::SwapUpdate;
use super::DescribedPackage;
use super::{
    mysql_client, php_script, BuiltinPage, Cms, CmsKind, Component, ConfigError, FactSources, Facts,
};
use crate::inventory::Site;
use crate::offer::ComponentType;
use crate::remote::{Connection, RemoteCommand};
use crate::site_error::SiteError;
use crate::version::Version;
use parse::{
    parse_version_php, parse_wp_config, plugin_from_file, OptionsAnswer, PluginFile, SiteOptions,
};

/// WordPress reads at most this much of a file for its headers (`get_file_data`).
const HEADER_BYTES: usize = 8192;
/// Config and version files are read whole up to this size.
const CONFIG_BYTES: usize = 1024 * 1024;
/// Bound on the options answer.
const OPTIONS_LIMIT: usize = 16 * 1024 * 1024;

const OPTIONS_SCRIPT: &str = include_str!("options.php");

/// WordPress's kind: `cms: wordpress`.
pub const KIND: CmsKind = CmsKind::named("wordpress");

/// The config file with the database credentials (WordPress also accepts it one directory
/// above its root).
const CONFIG_FILE: &str = "wp-config.php";

pub struct WordPress;

#[async_trait]
impl Cms for WordPress {
    fn kind(&self) -> CmsKind {
        KIND
    }

    fn display_name(&self) -> &'static str {
        "WordPress"
    }

    fn markers(&self) -> &'static [&'static str] {
        &[
            "wp-includes/version.php",
            "wp-config.php",
            "../wp-config.php",
        ]
    }

    fn recognises(&self, present: &[&str]) -> bool {
        present.contains(&"wp-includes/version.php")
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[
            DumpPart {
                files: &[
                    "wp-includes/version.php",
                    "wp-config.php",
                    "../wp-config.php",
                ],
                globs: &[],
                limit: CONFIG_BYTES,
            },
            DumpPart {
                files: &[],
                globs: &[
                    "wp-content/plugins/*.php",
                    "wp-content/plugins/*/*.php",
                    "wp-content/themes/*/style.css",
                ],
                limit: HEADER_BYTES,
            },
        ]
    }

    async fn facts(
        &self,
        site: &Site,
        host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let core = sources
            .file("wp-includes/version.php")
            .map(|f| {
                parse_version_php(&f.text())
                    .map_err(|e| SiteError::config("wp-includes/version.php", e))
            })
            .transpose()?;
        let config = sources
            .file("wp-config.php")
            .or_else(|| sources.file("../wp-config.php"))
            .map(|f| f.text());
        let mut plugin_files: Vec<PluginFile> = Vec::new();
        let mut themes: Vec<(String, Option<String>)> = Vec::new();
        for file in sources.files {
            let path = file.path.as_str();
            if let Some(basename) = path.strip_prefix("wp-content/plugins/") {
                if let Some(plugin) = plugin_from_file(basename, &header_part(&file.content)) {
                    plugin_files.push(plugin);
                }
            } else if let Some(rest) = path.strip_prefix("wp-content/themes/") {
                let slug = rest.trim_end_matches("/style.css").to_owned();
                if let Some(version) = parse::theme_version(&header_part(&file.content)) {
                    themes.push((slug, version));
                }
            }
        }
        let core = core.ok_or_else(|| {
            SiteError::config("wp-includes/version.php", "missing: not a WordPress root")
        })?;
        // WordPress also accepts wp-config.php one directory above its root.
        let config = config.ok_or_else(|| {
            SiteError::config(
                "wp-config.php",
                "missing (looked in the root and one level above)",
            )
        })?;
        let database = self.read_credentials(&config)?;

        let options = match &sources.tools.db_client {
            Some(client) => read_options(host, client, &database).await?,
            None => {
                let answer: OptionsAnswer =
                    php_script::run_json(host, site, OPTIONS_SCRIPT, &DbParams::from(&database))
                        .await?;
                answer.options
            }
        };
        let plugins = parse::plugins(&plugin_files, &options.active_plugins);
        let stylesheet = options.stylesheet.clone().unwrap_or_default();
        let mut theme_list: Vec<Component> = themes
            .into_iter()
            .map(|(slug, version)| Component {
                active: slug == stylesheet,
                slug,
                version,
            })
            .collect();
        theme_list.sort_by(|a, b| a.slug.cmp(&b.slug));

        Ok(Facts {
            cms: KIND,
            version: core.version,
            db_version: options.db_version.or(Some(core.db_version)),
            php_version: sources.tools.php_version.clone(),
            plugins,
            themes: theme_list,
            plugin_files: plugin_files
                .iter()
                .map(|p| (p.slug(), p.basename.clone()))
                .collect(),
            database: Some(database),
            packages: Vec::new(),
            warnings: Vec::new(),
        })
    }

    fn default_backup_excludes(&self) -> &'static [&'static str] {
        &[
            "wp-content/cache",
            "wp-content/upgrade",
            "wp-content/wflogs",
        ]
    }

    fn config_files(&self) -> &'static [&'static str] {
        &[CONFIG_FILE]
    }

    fn credentials_file(&self) -> &'static str {
        CONFIG_FILE
    }

    fn read_credentials(&self, config: &str) -> Result<DbCredentials, ConfigError> {
        parse_wp_config(config).map_err(|reason| ConfigError {
            file: CONFIG_FILE,
            reason,
        })
    }

    /// A copy answers at its own address: WordPress keeps it in `siteurl` and `home`.
    fn sql_for_new_address(&self, db: &DbCredentials, url: &str) -> Option<String> {
        Some(format!(
            "UPDATE {} SET option_value = '{}' WHERE option_name IN ('siteurl', 'home')",
            mysql_client::identifier(&format!("{}options", db.table_prefix)),
            url.replace('\\', "\\\\").replace('\'', "''")
        ))
    }

    /// The login page (`wp-login.php`) must answer as well as the home page.
    fn builtin_pages(&self) -> &'static [BuiltinPage] {
        &[BuiltinPage {
            name: "login page",
            path: "/wp-login.php",
        }]
    }

    fn plugin_type(&self) -> ComponentType {
        ComponentType::Plugin
    }

    /// Every plugin and theme: WordPress bundles none that core updates (the default
    /// themes and Akismet are updated on their own, from WordPress.org).
    fn separately_updated<'f>(&self, facts: &'f Facts) -> Vec<(ComponentType, &'f Component)> {
        facts
            .plugins
            .iter()
            .map(|p| (ComponentType::Plugin, p))
            .chain(facts.themes.iter().map(|t| (ComponentType::Theme, t)))
            .collect()
    }

    /// WordPress numbers a major release by its first two parts (6.1, 6.2, … 7.0 are each
    /// a major release) and calls a change of the third a minor release (its maintenance
    /// and security releases): make.wordpress.org's "Version Numbering".
    fn core_release_word(&self, from: &Version, to: &Version) -> Option<&'static str> {
        if to <= from {
            None
        } else if (to.major(), to.minor()) != (from.major(), from.minor()) {
            Some("major release")
        } else {
            Some("minor release")
        }
    }

    fn describe_package(&self, zip: &[u8]) -> Result<Option<DescribedPackage>, String> {
        package::describe(zip)
    }

    fn swap_update(&self) -> Option<&dyn SwapUpdate> {
        Some(&update::WordPressSwaps)
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        &[
            "There has been a critical error on this website",
            "Error establishing a database connection",
            "Briefly unavailable for scheduled maintenance",
        ]
    }

    fn maintenance_file(&self) -> Option<(&'static str, &'static str)> {
        Some((update::MAINTENANCE_FILE, update::MAINTENANCE_CONTENT))
    }

    /// WordPress's `.maintenance` file, written so that a request carrying the run's secret
    /// in the `X-Tend-Maintenance-Pass` header gets the real site (see
    /// [`update::maintenance_content_passing`]); written through stdin.
    async fn set_maintenance_passing(
        &self,
        site: &Site,
        host: &Connection,
        secret: &super::maintenance_pass::PassSecret,
    ) -> Result<Option<super::maintenance_pass::Passage>, SiteError> {
        let content = update::maintenance_content_passing(&secret.sha256_hex());
        host.run(
            &RemoteCommand::script(&update::maintenance_from_stdin_script(&site.path)),
            Some(content.as_bytes()),
            1024,
        )
        .await?;
        Ok(Some(super::maintenance_pass::Passage::Header {
            name: update::PASS_HEADER,
            secret: secret.clone(),
        }))
    }

    /// WordPress's own maintenance mode is its `.maintenance` file, as its updater uses it.
    async fn set_maintenance(
        &self,
        site: &Site,
        host: &Connection,
        on: bool,
    ) -> Result<(), SiteError> {
        host.run(
            &RemoteCommand::script(&update::maintenance_script(&site.path, on)),
            None,
            1024,
        )
        .await?;
        Ok(())
    }
}

/// The options facts need, through the host's MySQL/MariaDB client.
async fn read_options(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
) -> Result<SiteOptions, SiteError> {
    let sql = format!(
        "SELECT option_name, option_value FROM {} WHERE option_name IN ('active_plugins', 'template', 'stylesheet', 'db_version')",
        mysql_client::identifier(&format!("{}options", db.table_prefix))
    );
    let rows = mysql_client::query(host, client, db, &sql, OPTIONS_LIMIT).await?;
    parse::options_from_rows(&rows).map_err(SiteError::database)
}

/// The options facts need, through the site's own PHP (mysqli), for hosts without a
/// MySQL client.
pub async fn read_options_with_php(
    host: &Connection,
    site: &Site,
    db: &DbCredentials,
) -> Result<SiteOptions, SiteError> {
    let answer: OptionsAnswer =
        php_script::run_json(host, site, OPTIONS_SCRIPT, &DbParams::from(db)).await?;
    Ok(answer.options)
}

/// The first bytes of a file, where WordPress looks for headers.
fn header_part(content: &[u8]) -> String {
    String::from_utf8_lossy(&content[..content.len().min(HEADER_BYTES)]).into_owned()
}

/// Connection parameters for tend's PHP scripts (see `php_script`).
#[derive(Serialize)]
pub struct DbParams<'a> {
    host: &'a str,
    port: Option<u16>,
    socket: Option<&'a str>,
    user: &'a str,
    password: &'a str,
    name: &'a str,
    prefix: &'a str,
}

impl<'a> From<&'a DbCredentials> for DbParams<'a> {
    fn from(db: &'a DbCredentials) -> DbParams<'a> {
        let (host, port, socket) = match &db.endpoint {
            DbEndpoint::Tcp { host, port } => (host.as_str(), *port, None),
            DbEndpoint::Socket { host, path } => (host.as_str(), None, Some(path.as_str())),
        };
        DbParams {
            host,
            port,
            socket,
            user: &db.user,
            password: db.password.expose(),
            name: &db.name,
            prefix: &db.table_prefix,
        }
    }
}
