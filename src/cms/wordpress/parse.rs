//! Pure parsers for what a WordPress site's files and database say.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cms::database::{DbCredentials, DbEndpoint, Password};
use crate::cms::php_source::{assignment, define, strip_comments};
use crate::cms::Component;

/// `wp-includes/version.php`: the code's version and the schema version it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreVersion {
    pub version: String,
    pub db_version: String,
}

pub fn parse_version_php(source: &str) -> Result<CoreVersion, String> {
    let source = strip_comments(source);
    let version =
        assignment(&source, "$wp_version")?.ok_or("wp-includes/version.php has no $wp_version")?;
    let db_version = assignment(&source, "$wp_db_version")?
        .ok_or("wp-includes/version.php has no $wp_db_version")?;
    Ok(CoreVersion {
        version,
        db_version,
    })
}

/// The database settings of `wp-config.php`; the error says what is wrong in it.
pub fn parse_wp_config(source: &str) -> Result<DbCredentials, String> {
    let source = strip_comments(source);
    let get = |name: &str| -> Result<String, String> {
        define(&source, name)?.ok_or_else(|| format!("does not define {name}"))
    };
    let password = define(&source, "DB_PASSWORD")?.ok_or("does not define DB_PASSWORD")?;
    let table_prefix = assignment(&source, "$table_prefix")?.unwrap_or_else(|| "wp_".to_owned());
    Ok(DbCredentials {
        name: get("DB_NAME")?,
        user: get("DB_USER")?,
        password: Password::new(password),
        endpoint: DbEndpoint::parse(&get("DB_HOST")?),
        table_prefix,
    })
}

/// Header fields of a plugin file or theme stylesheet, read as WordPress's
/// `get_file_data()` does: in the first 8 KiB, a line holding `Name:` after optional
/// comment punctuation; the value ends at `*/` or `?>`.
pub fn file_headers(content: &str, names: &[&str]) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let content = content.replace('\r', "\n");
    for line in content.lines() {
        let mut rest = line.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix("<?php") {
            rest = after;
        }
        let rest = rest.trim_start_matches([' ', '\t', '/', '*', '#', '@']);
        for name in names {
            if found.contains_key(*name) {
                continue;
            }
            let Some(prefix) = rest.get(..name.len()) else {
                continue;
            };
            if !prefix.eq_ignore_ascii_case(name) {
                continue;
            }
            let Some(value) = rest[name.len()..].strip_prefix(':') else {
                continue;
            };
            let value = value
                .find("*/")
                .into_iter()
                .chain(value.find("?>"))
                .min()
                .map_or(value, |end| &value[..end]);
            let value = value.trim();
            if !value.is_empty() {
                found.insert((*name).to_owned(), value.to_owned());
            }
        }
    }
    found
}

/// A plugin file found in `wp-content/plugins`: `akismet/akismet.php` or `hello.php`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    /// Relative to `wp-content/plugins`, as WordPress stores it in `active_plugins`.
    pub basename: String,
    pub version: Option<String>,
}

impl PluginFile {
    /// The plugin's slug: its directory, or the file name without `.php`.
    pub fn slug(&self) -> String {
        match self.basename.split_once('/') {
            Some((dir, _)) => dir.to_owned(),
            None => self.basename.trim_end_matches(".php").to_owned(),
        }
    }
}

/// A plugin if `content` carries a `Plugin Name` header.
pub fn plugin_from_file(basename: &str, content: &str) -> Option<PluginFile> {
    let headers = file_headers(content, &["Plugin Name", "Version"]);
    headers.get("Plugin Name")?;
    Some(PluginFile {
        basename: basename.to_owned(),
        version: headers.get("Version").cloned(),
    })
}

/// A theme's version from its `style.css`, if it is a theme (has `Theme Name`).
pub fn theme_version(content: &str) -> Option<Option<String>> {
    let headers = file_headers(content, &["Theme Name", "Version"]);
    headers.get("Theme Name")?;
    Some(headers.get("Version").cloned())
}

/// What the site's `options` table says (see `options.php`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OptionsAnswer {
    pub php_version: String,
    pub options: SiteOptions,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct SiteOptions {
    #[serde(default)]
    pub active_plugins: Vec<String>,
    pub template: Option<String>,
    pub stylesheet: Option<String>,
    pub db_version: Option<String>,
}

/// The options from `SELECT option_name, option_value` rows (the client's answer).
pub fn options_from_rows(rows: &[Vec<String>]) -> Result<SiteOptions, String> {
    let mut options = SiteOptions::default();
    for row in rows {
        let (Some(name), Some(value)) = (row.first(), row.get(1)) else {
            continue;
        };
        match name.as_str() {
            "active_plugins" => {
                options.active_plugins = crate::cms::php_serialize::unserialize(value)
                    .map_err(|e| format!("active_plugins in the options table: {e}"))?
                    .strings()
            }
            "template" => options.template = Some(value.clone()),
            "stylesheet" => options.stylesheet = Some(value.clone()),
            "db_version" => options.db_version = Some(value.clone()),
            _ => {}
        }
    }
    Ok(options)
}

/// Plugins with their active state; several files of one plugin directory count once.
pub fn plugins(files: &[PluginFile], active: &[String]) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::new();
    for file in files {
        let slug = file.slug();
        let is_active = active.iter().any(|a| a == &file.basename);
        match out.iter_mut().find(|c| c.slug == slug) {
            Some(existing) => {
                // A directory with several plugin headers: the active file's version wins.
                if is_active {
                    existing.active = true;
                    existing.version = file.version.clone();
                }
            }
            None => out.push(Component {
                slug,
                version: file.version.clone(),
                active: is_active,
            }),
        }
    }
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first lines of Debian's wordpress 6.1.9 `wp-includes/version.php`.
    const VERSION_PHP: &str = "<?php\n/**\n * WordPress Version\n *\n * Contains version information for the current WordPress release.\n *\n * @package WordPress\n * @since 1.2.0\n */\n\n/**\n * The WordPress version string.\n *\n * Holds the current version number for WordPress core. Used to bust caches\n * and to enable development mode for scripts when running from the /src directory.\n *\n * @global string $wp_version\n */\n$wp_version = '6.1.9';\n\n/**\n * Holds the WordPress DB revision, increments when changes are made to the WordPress DB schema.\n *\n * @global int $wp_db_version\n */\n$wp_db_version = 53496;\n";

    /// The header of Akismet 5.0.2 as shipped with WordPress 6.1.
    const AKISMET: &str = "<?php\n/**\n * @package Akismet\n */\n/*\nPlugin Name: Akismet Anti-Spam\nPlugin URI: https://akismet.com/\nDescription: Used by millions, Akismet is quite possibly the best way in the world to <strong>protect your blog from spam</strong>.\nVersion: 5.0.2\nRequires at least: 5.0\nRequires PHP: 5.2\nAuthor: Automattic\nAuthor URI: https://automattic.com/wordpress-plugins/\nLicense: GPLv2 or later\nText Domain: akismet\n*/\n";

    /// The header of twentytwentythree 1.0's style.css.
    const TT3_STYLE: &str = "/*\nTheme Name: Twenty Twenty-Three\nTheme URI: https://wordpress.org/themes/twentytwentythree\nAuthor: the WordPress team\nAuthor URI: https://wordpress.org\nDescription: Twenty Twenty-Three is designed to take advantage of the new design tools introduced in WordPress 6.1.\nRequires at least: 6.1\nTested up to: 6.1\nRequires PHP: 5.6\nVersion: 1.0\nLicense: GNU General Public License v2 or later\nText Domain: twentytwentythree\n*/\n";

    #[test]
    fn reads_the_core_version() {
        assert_eq!(
            parse_version_php(VERSION_PHP).unwrap(),
            CoreVersion {
                version: "6.1.9".into(),
                db_version: "53496".into()
            }
        );
        assert!(parse_version_php("<?php\n").is_err());
    }

    #[test]
    fn reads_wp_config_like_the_sample() {
        let config = "<?php\n/** The name of the database for WordPress */\ndefine( 'DB_NAME', 'database_name_here' );\n\n/** Database username */\ndefine( 'DB_USER', 'username_here' );\n\n/** Database password */\ndefine( 'DB_PASSWORD', 'pa\\'ss#word' );\n\n/** Database hostname */\ndefine( 'DB_HOST', 'localhost:/run/mysqld/mysqld.sock' );\n// define( 'DB_HOST', 'old' );\ndefine( 'DB_CHARSET', 'utf8' );\n$table_prefix = 'wp2_';\nrequire_once ABSPATH . 'wp-settings.php';\n";
        let db = parse_wp_config(config).unwrap();
        assert_eq!(db.name, "database_name_here");
        assert_eq!(db.user, "username_here");
        assert_eq!(db.password.expose(), "pa'ss#word");
        assert_eq!(db.table_prefix, "wp2_");
        assert_eq!(
            db.endpoint,
            DbEndpoint::Socket {
                host: "localhost".into(),
                path: "/run/mysqld/mysqld.sock".into()
            }
        );
        let missing = parse_wp_config("<?php define('DB_NAME','x');").unwrap_err();
        assert!(missing.contains("DB_PASSWORD"), "{missing}");
    }

    #[test]
    fn reads_plugin_and_theme_headers_like_wordpress() {
        let p = plugin_from_file("akismet/akismet.php", AKISMET).unwrap();
        assert_eq!(p.slug(), "akismet");
        assert_eq!(p.version.as_deref(), Some("5.0.2"));
        assert!(plugin_from_file("akismet/class.akismet.php", "<?php\nclass Akismet {}").is_none());
        let hello = plugin_from_file(
            "hello.php",
            "<?php\n/*\n * Plugin Name: Hello Dolly\n * Version: 1.7.2 */",
        )
        .unwrap();
        assert_eq!(hello.slug(), "hello");
        assert_eq!(hello.version.as_deref(), Some("1.7.2"));
        assert_eq!(theme_version(TT3_STYLE), Some(Some("1.0".into())));
        assert_eq!(theme_version("body { color: red }"), None);
    }

    #[test]
    fn marks_active_plugins() {
        let files = vec![
            PluginFile {
                basename: "akismet/akismet.php".into(),
                version: Some("5.0.2".into()),
            },
            PluginFile {
                basename: "hello.php".into(),
                version: Some("1.7.2".into()),
            },
        ];
        let list = plugins(&files, &["akismet/akismet.php".into()]);
        assert_eq!(
            list[0],
            Component {
                slug: "akismet".into(),
                version: Some("5.0.2".into()),
                active: true
            }
        );
        assert!(!list[1].active);
    }

    #[test]
    fn reads_options_rows_from_the_client() {
        let rows = crate::cms::mysql_client::parse_batch(
            "active_plugins\ta:1:{i:0;s:19:\"akismet/akismet.php\";}\ndb_version\t53496\nstylesheet\ttwentytwentythree\ntemplate\ttwentytwentythree\n",
        );
        let options = options_from_rows(&rows).unwrap();
        assert_eq!(options.active_plugins, ["akismet/akismet.php"]);
        assert_eq!(options.db_version.as_deref(), Some("53496"));
        assert_eq!(options.stylesheet.as_deref(), Some("twentytwentythree"));
    }

    #[test]
    fn reads_the_options_answer() {
        let answer: OptionsAnswer = serde_json::from_str(
            r#"{"php_version":"8.2.36","options":{"active_plugins":["akismet/akismet.php"],"template":"twentytwentythree","stylesheet":"twentytwentythree","db_version":"53496"}}"#,
        )
        .unwrap();
        assert_eq!(answer.options.active_plugins, ["akismet/akismet.php"]);
        assert_eq!(answer.options.db_version.as_deref(), Some("53496"));
    }
}
