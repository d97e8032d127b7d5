//! WordPress: facts from `wp-includes/version.php`, `wp-config.php`, plugin and theme
//! headers (read the way WordPress itself reads them) and the `options` table.

pub mod parse;

use async_trait::async_trait;
use serde::Serialize;

use super::database::{DbCredentials, DbEndpoint};
use super::file_dump::{dump_command, parse_dump, DumpPart, DumpRequest};
use super::{php_script, Cms, CmsKind, Component, Facts};
use crate::inventory::Site;
use crate::remote::Connection;
use crate::site_error::SiteError;
use parse::{parse_version_php, parse_wp_config, plugin_from_file, OptionsAnswer, PluginFile};

/// WordPress reads at most this much of a file for its headers (`get_file_data`).
const HEADER_BYTES: usize = 8192;
/// Config and version files are read whole up to this size.
const CONFIG_BYTES: usize = 1024 * 1024;
/// Bound on the whole facts dump (version file, config, headers of every plugin/theme).
const DUMP_LIMIT: usize = 64 * 1024 * 1024;

const OPTIONS_SCRIPT: &str = include_str!("options.php");

pub struct WordPress;

#[async_trait]
impl Cms for WordPress {
    fn kind(&self) -> CmsKind {
        CmsKind::Wordpress
    }

    async fn facts(&self, site: &Site, host: &Connection) -> Result<Facts, SiteError> {
        let request = DumpRequest {
            root: &site.path,
            parts: &[
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
            ],
        };
        let output = host.run(&dump_command(&request), None, DUMP_LIMIT).await?;
        let files = parse_dump(&output.stdout).map_err(SiteError::site)?;

        let mut core = None;
        let mut config = None;
        let mut parent_config = None;
        let mut plugin_files: Vec<PluginFile> = Vec::new();
        let mut themes: Vec<(String, Option<String>)> = Vec::new();
        for file in &files {
            let path = file.path.as_str();
            if path == "wp-includes/version.php" {
                core = Some(parse_version_php(&file.text()).map_err(SiteError::site)?);
            } else if path == "wp-config.php" {
                config = Some(file.text());
            } else if path == "../wp-config.php" {
                parent_config = Some(file.text());
            } else if let Some(basename) = path.strip_prefix("wp-content/plugins/") {
                let head = header_part(&file.content);
                if let Some(plugin) = plugin_from_file(basename, &head) {
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
            SiteError::site("wp-includes/version.php is missing: not a WordPress root")
        })?;
        // WordPress also accepts wp-config.php one directory above its root.
        let config = config.or(parent_config).ok_or_else(|| {
            SiteError::site("wp-config.php is missing (looked in the root and one level above)")
        })?;
        let database = parse_wp_config(&config).map_err(SiteError::site)?;

        let answer: OptionsAnswer =
            php_script::run_json(host, site, OPTIONS_SCRIPT, &DbParams::from(&database)).await?;
        let options = answer.options;
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
            cms: CmsKind::Wordpress,
            version: core.version,
            db_version: options.db_version.or(Some(core.db_version)),
            php_version: Some(answer.php_version),
            plugins,
            themes: theme_list,
            database: Some(database),
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

    fn error_page_markers(&self) -> &'static [&'static str] {
        &[
            "There has been a critical error on this website",
            "Error establishing a database connection",
            "Briefly unavailable for scheduled maintenance",
        ]
    }
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
