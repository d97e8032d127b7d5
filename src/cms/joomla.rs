//! Joomla: recognised by its files; its version read from `libraries/src/Version.php`
//! (Joomla 3.8 and later) or `libraries/cms/version/version.php` (older Joomla 3).
//! Extensions, database access and updates come with full Joomla support.

use async_trait::async_trait;

use super::database::Password;
use super::file_dump::DumpPart;
use super::host_tools::HostTools;
use super::php_source::{assignment, strip_comments};
use super::{
    host_cli, mysql_client, Cms, CmsKind, Component, ConfigError, DbCredentials, DbEndpoint,
    FactSources, Facts,
};
use crate::inventory::Site;
use crate::offer::{Change, ComponentType, Offer};
use crate::remote::Connection;
use crate::site_error::SiteError;

/// Joomla's kind: `cms: joomla`.
pub const KIND: CmsKind = CmsKind::named("joomla");

/// The config file with the database credentials.
const CONFIG_FILE: &str = "configuration.php";

pub struct Joomla;

/// Joomla's console, relative to the site root.
const CLI: &str = "cli/joomla.php";

/// Bound on the extensions listing.
const EXTENSIONS_LIMIT: usize = 16 * 1024 * 1024;

const VERSION_FILES: &[&str] = &[
    "libraries/src/Version.php",
    "libraries/cms/version/version.php",
];

#[async_trait]
impl Cms for Joomla {
    fn kind(&self) -> CmsKind {
        KIND
    }

    fn display_name(&self) -> &'static str {
        "Joomla"
    }

    fn markers(&self) -> &'static [&'static str] {
        &[
            "libraries/src/Version.php",
            "libraries/cms/version/version.php",
            "configuration.php",
            "administrator/manifests/files/joomla.xml",
        ]
    }

    fn recognises(&self, present: &[&str]) -> bool {
        let has = |m: &str| present.contains(&m);
        has("libraries/src/Version.php")
            || has("libraries/cms/version/version.php")
            || (has("configuration.php") && has("administrator/manifests/files/joomla.xml"))
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[DumpPart {
            files: &[
                "libraries/src/Version.php",
                "libraries/cms/version/version.php",
                "configuration.php",
            ],
            globs: &[],
            limit: 1024 * 1024,
        }]
    }

    async fn facts(
        &self,
        _site: &Site,
        host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let file = VERSION_FILES
            .iter()
            .find_map(|name| sources.file(name))
            .ok_or_else(|| {
                SiteError::config(VERSION_FILES[0], "missing: no Joomla version file")
            })?;
        let version = parse_version_file(&file.text())
            .map_err(|e| SiteError::config(file.path.clone(), e))?;
        let config = sources
            .file(CONFIG_FILE)
            .ok_or_else(|| SiteError::config(CONFIG_FILE, "missing"))?;
        let database = self.read_credentials(&config.text())?;
        let client = sources.tools.db_client.as_deref().ok_or_else(|| {
            SiteError::Unsupported(format!(
                "{} has no mariadb or mysql client: tend reads Joomla's extensions with it",
                host.destination()
            ))
        })?;
        let extensions = read_extensions(host, client, &database).await?;
        let mut warnings = Vec::new();
        if self.end_of_life(&version).is_some() {
            warnings.push(format!(
                "Joomla {version} is end-of-life: tend backs it up and restores it, but does not update it"
            ));
        }
        Ok(Facts {
            cms: KIND,
            version,
            db_version: None,
            php_version: sources.tools.php_version.clone(),
            plugins: extensions,
            themes: Vec::new(),
            database: Some(database),
            plugin_files: Default::default(),
            packages: Vec::new(),
            warnings,
        })
    }

    fn default_backup_excludes(&self) -> &'static [&'static str] {
        &["cache", "administrator/cache", "tmp"]
    }

    /// Joomla keeps its address (`$live_site`) in `configuration.php`, which a restore
    /// onto another site keeps from that site: only the database's values need the new
    /// address (the default [`Cms::address_replacements`]).
    fn config_files(&self) -> &'static [&'static str] {
        &[CONFIG_FILE]
    }

    fn credentials_file(&self) -> &'static str {
        CONFIG_FILE
    }

    /// Joomla's own offline switch: `$offline` in `configuration.php`, which
    /// `SiteApplication` reads on every request (what `site:down` and the "Toggle Offline"
    /// task change).
    fn offline_setting(&self) -> Option<super::OfflineSetting> {
        Some(super::OfflineSetting {
            file: CONFIG_FILE,
            switch_on: with_offline,
        })
    }

    fn read_credentials(&self, config: &str) -> Result<DbCredentials, ConfigError> {
        parse_configuration(config).map_err(|reason| ConfigError {
            file: CONFIG_FILE,
            reason,
        })
    }

    /// Joomla 3 reached its end of life in August 2023.
    fn end_of_life(&self, version: &str) -> Option<&'static str> {
        version
            .starts_with("3.")
            .then_some("migrate the site to Joomla 4 or 5 first")
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        // templates/cassiopeia/error.php, templates/system/fatal.php and fatal-error.html.
        &[
            "The requested page can't be found.",
            "An error has occurred.",
            "An error has occurred while processing your request.",
            "Error displaying the error page",
            "Sorry, there was a problem we could not recover from.",
            "Whoops, looks like something went wrong.",
        ]
    }

    /// The core version Joomla's update server offers, as `core:check-updates` reports it
    /// (Joomla 4.0+'s `CheckJoomlaUpdatesCommand`). Extension updates are taken from the
    /// inventory's private repository: Joomla's console has no command that updates one
    /// extension from its update server.
    async fn host_offers(
        &self,
        site: &Site,
        host: &Connection,
        _facts: &Facts,
    ) -> Result<Vec<Offer>, SiteError> {
        let output = host_cli::run_ok(host, &site.path, &site.php, &[CLI, "core:check-updates"])
            .await
            .map_err(|e| SiteError::UpdateSource(format!("asking Joomla for core updates: {e}")))?;
        Ok(offered_core_version(&output.text)
            .into_iter()
            .map(|version| Offer {
                cms: KIND,
                kind: ComponentType::Core,
                slug: "joomla".to_owned(),
                version,
                package: String::new(),
                sha256: None,
                source: "Joomla update server".to_owned(),
                released: None,
            })
            .collect())
    }

    /// Core: `php cli/joomla.php core:update` (it installs the version the update server
    /// offers, which is the one planned); an extension from a repository:
    /// `php cli/joomla.php extension:install --path=<package>`. Either way the version is read
    /// back afterwards.
    async fn apply_change(
        &self,
        site: &Site,
        host: &Connection,
        facts: &Facts,
        tools: &HostTools,
        change: &Change,
        package: Option<&str>,
    ) -> Result<(), SiteError> {
        match (change.kind, package) {
            (ComponentType::Core, _) => {
                host_cli::run_ok(host, &site.path, &site.php, &[CLI, "core:update"]).await?;
                let version = host_cli::run_ok(host, &site.path, "cat", &["libraries/src/Version.php"]).await?;
                let now = parse_version_file(&version.text)
                    .map_err(|e| SiteError::config(VERSION_FILES[0], e))?;
                if now != change.to {
                    return Err(SiteError::failed(
                        "core:update",
                        format!("left Joomla {now}, not {}", change.to),
                    ));
                }
                Ok(())
            }
            (ComponentType::Extension, Some(package)) => {
                let path = format!("--path={package}");
                host_cli::run_ok(host, &site.path, &site.php, &[CLI, "extension:install", &path])
                    .await?;
                let database = facts
                    .database
                    .as_ref()
                    .ok_or_else(|| SiteError::config(CONFIG_FILE, "its database credentials were not read"))?;
                let client = tools.db_client.as_deref().ok_or_else(|| {
                    SiteError::Unsupported(format!(
                        "{} has no mariadb or mysql client",
                        host.destination()
                    ))
                })?;
                let listed = read_extensions(host, client, database).await?;
                match listed.iter().find(|c| c.slug == change.slug) {
                    Some(c) if c.version.as_deref() == Some(change.to.as_str()) => Ok(()),
                    Some(c) => Err(SiteError::failed(
                        "extension:install",
                        format!(
                            "{} is at version {} afterwards, not {}",
                            change.slug,
                            c.version.as_deref().unwrap_or("(none)"),
                            change.to
                        ),
                    )),
                    None => Err(SiteError::failed(
                        "extension:install",
                        format!("{} is not in the extensions table afterwards", change.slug),
                    )),
                }
            }
            (kind, None) => Err(SiteError::Unsupported(format!(
                "Joomla's console cannot update one {} from its update server; put the package in a private repository",
                kind.name()
            ))),
            (kind, Some(_)) => Err(SiteError::Unsupported(format!(
                "Joomla has no {} updates",
                kind.name()
            ))),
        }
    }

    /// `php cli/joomla.php site:down` / `site:up`, as the Joomla documentation runs it.
    async fn set_maintenance(
        &self,
        site: &Site,
        host: &Connection,
        on: bool,
    ) -> Result<(), SiteError> {
        let command = if on { "site:down" } else { "site:up" };
        host_cli::run_ok(host, &site.path, &site.php, &[CLI, command]).await?;
        Ok(())
    }
}

/// `configuration.php` with the site offline: the value of its `public $offline = …;` set
/// to `true` (as Joomla's `site:down` writes it), every other byte as it was. `None` when
/// the file has no such line.
pub fn with_offline(config: &str) -> Option<String> {
    let mut out = String::with_capacity(config.len() + 4);
    let mut switched = false;
    for line in config.split_inclusive('\n') {
        let code = line.trim_start();
        let rest = code
            .strip_prefix("public")
            .or_else(|| code.strip_prefix("var"))
            .filter(|r| r.starts_with([' ', '\t']))
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("$offline"))
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='));
        match (switched, rest) {
            (false, Some(value)) => match value.find(';') {
                Some(end) => {
                    let start = line.len() - value.len();
                    out.push_str(&line[..start]);
                    out.push_str(" true");
                    out.push_str(&value[end..]);
                    switched = true;
                }
                None => out.push_str(line),
            },
            _ => out.push_str(line),
        }
    }
    switched.then_some(out)
}

/// Reads the site's extensions from `#__extensions`.
async fn read_extensions(
    host: &Connection,
    client: &str,
    database: &DbCredentials,
) -> Result<Vec<Component>, SiteError> {
    let sql = format!(
        "SELECT type, element, folder, enabled, manifest_cache FROM {} ORDER BY type, folder, element",
        mysql_client::identifier(&format!("{}extensions", database.table_prefix))
    );
    let rows = mysql_client::query(host, client, database, &sql, EXTENSIONS_LIMIT).await?;
    Ok(extensions_from_rows(&rows))
}

/// The version Joomla's `core:check-updates` says is available (its
/// " ! [NOTE] New Joomla Version X is available." line); none when it says the site has
/// the latest.
pub fn offered_core_version(output: &str) -> Option<String> {
    let at = output.find("New Joomla Version ")?;
    let rest = &output[at + "New Joomla Version ".len()..];
    let version: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    let version = version.trim_end_matches('.').to_owned();
    (!version.is_empty()).then_some(version)
}

/// Joomla's extensions as `#__extensions` lists them (`type, element, folder, enabled,
/// manifest_cache` rows), named the way Joomla names their packages: `com_content`,
/// `mod_login`, `plg_system_cache`, `tpl_cassiopeia`, `files_joomla`, `lib_joomla`,
/// `pkg_…`, `lang_en-GB`; the version comes from the manifest cache (JSON).
pub fn extensions_from_rows(rows: &[Vec<String>]) -> Vec<Component> {
    rows.iter()
        .filter(|r| r.len() >= 5)
        .map(|r| {
            let (kind, element, folder) = (r[0].as_str(), r[1].as_str(), r[2].as_str());
            let slug = match kind {
                "plugin" => format!("plg_{folder}_{element}"),
                "template" => format!("tpl_{element}"),
                "file" if !element.starts_with("files_") => format!("files_{element}"),
                "library" if !element.starts_with("lib_") => format!("lib_{element}"),
                "language" => format!("lang_{element}"),
                _ => element.to_owned(),
            };
            let version = serde_json::from_str::<serde_json::Value>(&r[4])
                .ok()
                .and_then(|m| m.get("version").and_then(|v| v.as_str()).map(str::to_owned))
                .filter(|v| !v.is_empty());
            Component {
                slug,
                version,
                active: r[3] == "1",
            }
        })
        .collect()
}

/// The database credentials in Joomla's `configuration.php` (`class JConfig`): `$host`
/// (which may carry `:port` or `:/socket`, as Joomla's MySQLi driver reads it), `$user`,
/// `$password`, `$db`, `$dbprefix`.
/// The error says what is wrong in the file.
pub fn parse_configuration(source: &str) -> Result<DbCredentials, String> {
    let source = strip_comments(source);
    if !source.contains("JConfig") {
        return Err("has no `class JConfig`".to_owned());
    }
    let get = |name: &str| -> Result<String, String> {
        assignment(&source, &format!("${name}"))?.ok_or_else(|| format!("has no `public ${name}`"))
    };
    let dbtype = assignment(&source, "$dbtype")?.unwrap_or_else(|| "mysqli".to_owned());
    if !matches!(dbtype.as_str(), "mysqli" | "mysql" | "pdomysql") {
        return Err(format!(
            "the site's database type is `{dbtype}`; tend works with MySQL and MariaDB"
        ));
    }
    Ok(DbCredentials {
        name: get("db")?,
        user: get("user")?,
        password: Password::new(get("password")?),
        endpoint: DbEndpoint::parse(&get("host")?),
        table_prefix: get("dbprefix")?,
    })
}

/// The version as Joomla's `Version::getShortVersion()` builds it:
/// `MAJOR.MINOR.PATCH`, plus `-EXTRA` when there is one; or `RELEASE.DEV_LEVEL` in old files.
pub fn parse_version_file(source: &str) -> Result<String, String> {
    let source = strip_comments(source);
    if let Some(major) = assignment(&source, "MAJOR_VERSION")? {
        let minor =
            assignment(&source, "MINOR_VERSION")?.ok_or("Version.php has no MINOR_VERSION")?;
        let patch =
            assignment(&source, "PATCH_VERSION")?.ok_or("Version.php has no PATCH_VERSION")?;
        let extra = assignment(&source, "EXTRA_VERSION")?.unwrap_or_default();
        let mut version = format!("{major}.{minor}.{patch}");
        if !extra.is_empty() {
            version.push('-');
            version.push_str(&extra);
        }
        return Ok(version);
    }
    let release = assignment(&source, "RELEASE")?
        .or(assignment(&source, "$RELEASE")?)
        .ok_or("the Joomla version file has neither MAJOR_VERSION nor RELEASE")?;
    let level = assignment(&source, "DEV_LEVEL")?
        .or(assignment(&source, "$DEV_LEVEL")?)
        .ok_or("the Joomla version file has RELEASE but no DEV_LEVEL")?;
    Ok(format!("{release}.{level}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_joomla_4_and_5_version_files() {
        let src = "<?php\nnamespace Joomla\\CMS;\nfinal class Version\n{\n    /**\n     * Major release version.\n     */\n    public const MAJOR_VERSION = 5;\n    public const MINOR_VERSION = 1;\n    public const PATCH_VERSION = 2;\n    public const EXTRA_VERSION = '';\n    public const RELEASE_STATE = 'Stable';\n}\n";
        assert_eq!(parse_version_file(src).unwrap(), "5.1.2");
        let rc = src.replace("EXTRA_VERSION = ''", "EXTRA_VERSION = 'rc1'");
        assert_eq!(parse_version_file(&rc).unwrap(), "5.1.2-rc1");
    }

    #[test]
    fn names_extensions_as_joomla_does_with_their_manifest_versions() {
        let row = |t: &str, e: &str, f: &str, on: &str, m: &str| {
            vec![
                t.to_owned(),
                e.to_owned(),
                f.to_owned(),
                on.to_owned(),
                m.to_owned(),
            ]
        };
        let rows = vec![
            row(
                "component",
                "com_content",
                "",
                "1",
                r#"{"name":"com_content","version":"5.1.0"}"#,
            ),
            row("plugin", "cache", "system", "0", r#"{"version":"5.0.0"}"#),
            row("template", "cassiopeia", "", "1", r#"{"version":"1.0"}"#),
            row("file", "joomla", "", "1", r#"{"version":"5.1.2"}"#),
            row("module", "mod_broken", "", "1", "not json"),
        ];
        let found: Vec<(String, Option<String>, bool)> = extensions_from_rows(&rows)
            .into_iter()
            .map(|c| (c.slug, c.version, c.active))
            .collect();
        assert_eq!(
            found,
            vec![
                ("com_content".into(), Some("5.1.0".into()), true),
                ("plg_system_cache".into(), Some("5.0.0".into()), false),
                ("tpl_cassiopeia".into(), Some("1.0".into()), true),
                ("files_joomla".into(), Some("5.1.2".into()), true),
                ("mod_broken".into(), None, true),
            ]
        );
    }

    #[test]
    fn reads_the_offered_core_version() {
        let offered = "\nJoomla! Updates\n===============\n\n ! [NOTE] New Joomla Version 5.1.3 is available.\n\n";
        assert_eq!(offered_core_version(offered).as_deref(), Some("5.1.3"));
        let latest = "\n [OK] You already have the latest Joomla version 5.1.2\n";
        assert_eq!(offered_core_version(latest), None);
    }

    #[test]
    fn reads_the_database_from_configuration_php() {
        let src = "<?php\nclass JConfig {\n\tpublic $offline = false;\n\tpublic $dbtype = 'mysqli';\n\tpublic $host = 'localhost:/run/mysqld/mysqld.sock';\n\tpublic $user = 'joomla';\n\tpublic $password = 'pa\\'ss';\n\tpublic $db = 'joomla_db';\n\tpublic $dbprefix = 'jos_';\n\t// public $host = 'commented';\n}\n";
        let db = parse_configuration(src).unwrap();
        assert_eq!(db.name, "joomla_db");
        assert_eq!(db.user, "joomla");
        assert_eq!(db.password.expose(), "pa'ss");
        assert_eq!(db.table_prefix, "jos_");
        assert_eq!(
            db.endpoint,
            DbEndpoint::Socket {
                host: "localhost".into(),
                path: "/run/mysqld/mysqld.sock".into()
            }
        );
        let pg = src.replace("'mysqli'", "'pgsql'");
        assert!(parse_configuration(&pg).unwrap_err().contains("pgsql"));
        assert!(parse_configuration("<?php class X {}").is_err());
    }

    #[test]
    fn reads_old_joomla_3_version_files() {
        let src = "<?php\nfinal class JVersion\n{\n\tconst RELEASE = '3.6';\n\tconst DEV_LEVEL = '5';\n}\n";
        assert_eq!(parse_version_file(src).unwrap(), "3.6.5");
        assert!(parse_version_file("<?php class X {}").is_err());
    }

    #[test]
    fn offline_switches_only_the_offline_value_and_keeps_every_other_byte() {
        let src = "<?php\nclass JConfig {\n\tpublic $offline = false;\n\tpublic $offline_message = 'Back soon; really';\n\tpublic $sitename = 'x';\n}";
        let offline = with_offline(src).unwrap();
        assert_eq!(
            offline,
            src.replace("$offline = false;", "$offline = true;"),
            "{offline}"
        );
        // Already offline, other spellings, a comment after it.
        assert_eq!(
            with_offline("<?php\nclass JConfig {\n  var $offline='1'; // set by hand\n}\n")
                .unwrap(),
            "<?php\nclass JConfig {\n  var $offline= true; // set by hand\n}\n"
        );
        assert_eq!(
            with_offline("<?php\nclass JConfig {\n\tpublic $offline_message = 'a';\n}"),
            None
        );
        assert_eq!(with_offline("<?php\n// public $offline = false;\n"), None);
    }
}
