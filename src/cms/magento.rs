//! Magento 2: recognised by `app/etc/env.php` and `bin/magento`; its version read from
//! `composer.lock` the way Magento's own `ProductMetadata` does. Modules, database access
//! and updates come with full Magento support.

use async_trait::async_trait;
use serde::Deserialize;

use super::database::Password;
use super::file_dump::DumpPart;
use super::{
    host_cli, mysql_client, php_array, Cms, CmsKind, Component, ConfigError, DbCredentials,
    DbEndpoint, FactSources, Facts,
};
use crate::inventory::Site;
use crate::offer::{Change, ComponentType, Offer};
use crate::remote::Connection;
use crate::site_error::SiteError;
use crate::version::Level;

/// Magento's kind: `cms: magento`.
pub const KIND: CmsKind = CmsKind::named("magento");

/// The config file with the database credentials.
const CONFIG_FILE: &str = "app/etc/env.php";
const LOCK_FILE: &str = "composer.lock";

pub struct Magento;

/// composer.lock of a real Magento install is a few hundred KiB; leave room.
const LOCK_LIMIT: usize = 32 * 1024 * 1024;

#[async_trait]
impl Cms for Magento {
    fn kind(&self) -> CmsKind {
        KIND
    }

    fn display_name(&self) -> &'static str {
        "Magento"
    }

    fn markers(&self) -> &'static [&'static str] {
        &["app/etc/env.php", "bin/magento", "composer.lock"]
    }

    fn recognises(&self, present: &[&str]) -> bool {
        present.contains(&"app/etc/env.php") && present.contains(&"bin/magento")
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[DumpPart {
            files: &["composer.lock", "app/etc/env.php", "app/etc/config.php"],
            globs: &[],
            limit: LOCK_LIMIT,
        }]
    }

    async fn facts(
        &self,
        _site: &Site,
        host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let lock = sources.file(LOCK_FILE).ok_or_else(|| {
            SiteError::config(LOCK_FILE, "missing: cannot tell the Magento version")
        })?;
        let version = version_from_composer_lock(&lock.content)
            .map_err(|e| SiteError::config(LOCK_FILE, e))?;
        let packages =
            third_party_packages(&lock.content).map_err(|e| SiteError::config(LOCK_FILE, e))?;
        let env = sources
            .file(CONFIG_FILE)
            .ok_or_else(|| SiteError::config(CONFIG_FILE, "missing"))?;
        let env = parse_env_php(&env.text()).map_err(|e| SiteError::config(CONFIG_FILE, e))?;
        let enabled = sources
            .file("app/etc/config.php")
            .map(|f| enabled_modules(&f.text()))
            .transpose()
            .map_err(|e| SiteError::config("app/etc/config.php", e))?;
        let client = sources.tools.db_client.as_deref().ok_or_else(|| {
            SiteError::Unsupported(format!(
                "{} has no mariadb or mysql client: tend reads Magento's modules with it",
                host.destination()
            ))
        })?;
        let sql = format!(
            "SELECT module, schema_version FROM {} ORDER BY module",
            mysql_client::identifier(&format!("{}setup_module", env.database.table_prefix))
        );
        let rows = mysql_client::query(host, client, &env.database, &sql, LOCK_LIMIT).await?;
        let modules = rows
            .iter()
            .filter(|r| r.len() >= 2)
            .map(|r| Component {
                slug: r[0].clone(),
                version: Some(r[1].clone()).filter(|v| !v.is_empty()),
                active: enabled
                    .as_ref()
                    .is_none_or(|on| on.iter().any(|m| *m == r[0])),
            })
            .collect();
        Ok(Facts {
            cms: KIND,
            version,
            db_version: None,
            php_version: sources.tools.php_version.clone(),
            plugins: modules,
            themes: Vec::new(),
            database: Some(env.database),
            plugin_files: Default::default(),
            packages,
            warnings: Vec::new(),
        })
    }

    fn default_backup_excludes(&self) -> &'static [&'static str] {
        &[
            "var/cache",
            "var/page_cache",
            "var/view_preprocessed",
            "var/session",
        ]
    }

    fn config_files(&self) -> &'static [&'static str] {
        &[CONFIG_FILE]
    }

    /// A copy answers at its own address: Magento keeps it in `core_config_data`
    /// (`web/unsecure/base_url`, `web/secure/base_url`, with a trailing `/`), set here even
    /// when the source's base URLs were not its inventory address.
    fn sql_for_new_address(&self, db: &DbCredentials, url: &str) -> Option<String> {
        let base = format!("{}/", url.trim_end_matches('/'));
        Some(format!(
            "UPDATE {} SET value = '{}' WHERE path IN ('web/unsecure/base_url', 'web/secure/base_url')",
            mysql_client::identifier(&format!("{}core_config_data", db.table_prefix)),
            base.replace('\\', "\\\\").replace('\'', "''")
        ))
    }

    fn credentials_file(&self) -> &'static str {
        CONFIG_FILE
    }

    fn read_credentials(&self, config: &str) -> Result<DbCredentials, ConfigError> {
        parse_env_php(config)
            .map(|env| env.database)
            .map_err(|reason| ConfigError {
                file: CONFIG_FILE,
                reason,
            })
    }

    /// Magento's minor releases (2.4 → 2.5) need planning of their own: patch by default.
    fn default_core_level(&self) -> Level {
        Level::Patch
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        // pub/errors/default/report.phtml, and Http::handleDeveloperMode()'s plain-text page.
        &[
            "There has been an error processing your request",
            "Exception printing is disabled by default for security reasons",
            "exception(s):",
        ]
    }

    fn maintenance_file(&self) -> Option<(&'static str, &'static str)> {
        // Magento's MaintenanceMode keeps its flag in var/.maintenance.flag (any content).
        Some(("var/.maintenance.flag", ""))
    }

    /// The product versions composer on the host can install (its credentials for the
    /// Magento repository live there): `composer show --all --format=json <edition>`; and
    /// the same for each third-party package (a module from a vendor), as an extension.
    async fn host_offers(
        &self,
        site: &Site,
        host: &Connection,
        facts: &Facts,
    ) -> Result<Vec<Offer>, SiteError> {
        let mut offers = self.core_offers(site, host).await?;
        for package in &facts.packages {
            let output = host_cli::run_ok(
                host,
                &site.path,
                &site.composer,
                &[
                    "show",
                    "--all",
                    "--no-interaction",
                    "--format=json",
                    &package.slug,
                ],
            )
            .await
            .map_err(|e| {
                SiteError::UpdateSource(format!(
                    "asking composer for versions of {}: {e}",
                    package.slug
                ))
            })?;
            let versions = versions_from_composer_show(&output.text).map_err(|e| {
                SiteError::UpdateSource(format!("composer show {}: {e}", package.slug))
            })?;
            offers.extend(versions.into_iter().map(|version| Offer {
                cms: KIND,
                kind: ComponentType::Extension,
                slug: package.slug.clone(),
                version,
                package: String::new(),
                sha256: None,
                source: "composer".to_owned(),
                released: None,
            }));
        }
        Ok(offers)
    }

    /// Magento's documented upgrade: `composer require <edition>:<version> --no-update`,
    /// `composer update`, `bin/magento setup:upgrade`, in production mode
    /// `setup:di:compile` and `setup:static-content:deploy -f`, then `cache:flush`. A
    /// third-party package goes the same way, with `composer require <package>:<version>`
    /// and `composer update <package>`.
    async fn apply_change(
        &self,
        site: &Site,
        host: &Connection,
        _facts: &Facts,
        _tools: &super::host_tools::HostTools,
        change: &Change,
        _package: Option<&str>,
    ) -> Result<(), SiteError> {
        let (package, update_args): (String, Vec<String>) = match change.kind {
            ComponentType::Core => (product_package(host, site).await?, Vec::new()),
            ComponentType::Extension => (change.slug.clone(), vec![change.slug.clone()]),
            other => {
                return Err(SiteError::Unsupported(format!(
                    "Magento has no {} updates",
                    other.name()
                )))
            }
        };
        let root = &site.path;
        let composer = |args: Vec<String>| async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            host_cli::run_ok(host, root, &site.composer, &args).await
        };
        composer(vec![
            "require".into(),
            format!("{package}:{}", change.to),
            "--no-update".into(),
            "--no-interaction".into(),
        ])
        .await?;
        let mut update = vec!["update".to_owned()];
        update.extend(update_args);
        update.push("--no-interaction".into());
        composer(update).await?;
        let magento = |command: &'static [&'static str]| async move {
            let mut args = vec!["bin/magento"];
            args.extend_from_slice(command);
            host_cli::run_ok(host, root, &site.php, &args).await
        };
        magento(&["setup:upgrade"]).await?;
        let mode = magento(&["deploy:mode:show"]).await?;
        if mode.text.contains("production") {
            magento(&["setup:di:compile"]).await?;
            magento(&["setup:static-content:deploy", "-f"]).await?;
        }
        magento(&["cache:flush"]).await?;
        let lock = host_cli::run_ok(host, root, "cat", &[LOCK_FILE]).await?;
        let now = match change.kind {
            ComponentType::Core => version_from_composer_lock(lock.text.as_bytes()),
            _ => third_party_packages(lock.text.as_bytes()).map(|packages| {
                packages
                    .into_iter()
                    .find(|p| p.slug == change.slug)
                    .and_then(|p| p.version)
                    .unwrap_or_default()
            }),
        }
        .map_err(|e| SiteError::config(LOCK_FILE, e))?;
        if now != change.to {
            return Err(SiteError::failed(
                "the upgrade",
                format!("composer.lock says {now} afterwards, not {}", change.to),
            ));
        }
        Ok(())
    }

    /// `php bin/magento maintenance:enable` / `maintenance:disable`, as the Magento documentation runs it.
    /// Ending it also takes back the exempt address [`Cms::set_maintenance_passing`] added
    /// (named in `var/.tend-maintenance-ip`), leaving the site's own list as it was.
    async fn set_maintenance(
        &self,
        site: &Site,
        host: &Connection,
        on: bool,
    ) -> Result<(), SiteError> {
        if on {
            host_cli::run_ok(
                host,
                &site.path,
                &site.php,
                &["bin/magento", "maintenance:enable"],
            )
            .await?;
            return Ok(());
        }
        let added = read_if_there(host, site, PASS_MARK)
            .await?
            .trim()
            .to_owned();
        if added.is_empty() {
            host_cli::run_ok(
                host,
                &site.path,
                &site.php,
                &["bin/magento", "maintenance:disable"],
            )
            .await?;
            return Ok(());
        }
        let listed = exempt_addresses(host, site).await?;
        let rest: Vec<String> = listed.into_iter().filter(|a| *a != added).collect();
        let ips: Vec<String> = if rest.is_empty() {
            vec!["--ip=none".to_owned()]
        } else {
            rest.iter().map(|a| format!("--ip={a}")).collect()
        };
        let mut args = vec!["bin/magento", "maintenance:disable"];
        args.extend(ips.iter().map(String::as_str));
        host_cli::run_ok(host, &site.path, &site.php, &args).await?;
        host_cli::run_ok(host, &site.path, "rm", &["-f", PASS_MARK]).await?;
        Ok(())
    }

    /// Magento lets listed addresses through maintenance (`maintenance:enable --ip=…`,
    /// `MaintenanceMode::isOn($remoteAddr)`): the runner's address as the host sees it
    /// (`$SSH_CLIENT`) is added to the site's exempt list — the list kept whole, since
    /// `--ip` replaces it — and named in `var/.tend-maintenance-ip` so that ending
    /// maintenance takes back exactly it. Visitors from other addresses get Magento's 503
    /// page; there is no secret to keep. A runner whose address the web server does not see
    /// as the SSH server does (a proxy in front of the site) is not let through, and its
    /// checks see the 503 page.
    async fn set_maintenance_passing(
        &self,
        site: &Site,
        host: &Connection,
        _secret: &super::maintenance_pass::PassSecret,
    ) -> Result<Option<super::maintenance_pass::Passage>, SiteError> {
        let client = host
            .run(
                &crate::remote::RemoteCommand::script("printf '%s' \"${SSH_CLIENT%% *}\""),
                None,
                1024,
            )
            .await?
            .stdout_text();
        let Some(address) = client
            .trim()
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|a| a.to_string())
        else {
            self.set_maintenance(site, host, true).await?;
            return Ok(None);
        };
        let mut listed = exempt_addresses(host, site).await?;
        if !listed.contains(&address) {
            listed.push(address.clone());
            // Named before Magento lists it: whatever happens next, ending maintenance
            // knows what to take back.
            host_cli::run_ok(
                host,
                &site.path,
                "sh",
                &[
                    "-c",
                    "printf '%s\\n' \"$1\" > \"$2\"",
                    "sh",
                    &address,
                    PASS_MARK,
                ],
            )
            .await?;
        }
        let ips: Vec<String> = listed.iter().map(|a| format!("--ip={a}")).collect();
        let mut args = vec!["bin/magento", "maintenance:enable"];
        args.extend(ips.iter().map(String::as_str));
        host_cli::run_ok(host, &site.path, &site.php, &args).await?;
        Ok(Some(super::maintenance_pass::Passage::FromAddress {
            address,
        }))
    }
}

/// Where tend names the exempt address it added to the site's list (relative to the root).
const PASS_MARK: &str = "var/.tend-maintenance-ip";

/// The site's exempt addresses, as `var/.maintenance.ip` (MaintenanceMode's file) lists them.
async fn exempt_addresses(host: &Connection, site: &Site) -> Result<Vec<String>, SiteError> {
    let listed = read_if_there(host, site, IP_FILE).await?;
    Ok(listed
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The text of `file` (relative to the root), empty when there is none; an error only
/// when the host could not be asked.
async fn read_if_there(host: &Connection, site: &Site, file: &str) -> Result<String, SiteError> {
    let output = host_cli::run_ok(
        host,
        &site.path,
        "sh",
        &["-c", "if [ -f \"$1\" ]; then cat \"$1\"; fi", "sh", file],
    )
    .await?;
    Ok(output.text)
}

/// MaintenanceMode's list of exempt addresses.
const IP_FILE: &str = "var/.maintenance.ip";

#[derive(Deserialize)]
struct ComposerLock {
    #[serde(default)]
    packages: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
}

/// What Magento's `app/etc/env.php` says: the default connection's credentials, the
/// table prefix and the deploy mode.
#[derive(Debug)]
pub struct EnvPhp {
    pub database: DbCredentials,
    /// `production`, `developer` or `default` (`MAGE_MODE`; `default` when unset).
    pub mode: String,
}

/// Reads `app/etc/env.php` without running it. The host takes the forms Magento's MySQL
/// adapter understands: `host`, `host:port`, or a socket path (anything with a `/`).
/// The error says what is wrong in the file.
pub fn parse_env_php(source: &str) -> Result<EnvPhp, String> {
    let env = php_array::parse_return(source)?;
    let connection = env
        .at(&["db", "connection", "default"])
        .ok_or("has no db.connection.default")?;
    let get = |key: &str| -> Result<String, String> {
        connection
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("db.connection.default has no `{key}`"))
    };
    let host = get("host")?;
    let endpoint = if host.contains('/') && !host.contains(":/") {
        DbEndpoint::Socket {
            host: "localhost".to_owned(),
            path: host,
        }
    } else {
        DbEndpoint::parse(&host)
    };
    let prefix = env
        .at(&["db", "table_prefix"])
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    Ok(EnvPhp {
        database: DbCredentials {
            name: get("dbname")?,
            user: get("username")?,
            password: Password::new(
                connection
                    .get("password")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned(),
            ),
            endpoint,
            table_prefix: prefix,
        },
        mode: env
            .get("MAGE_MODE")
            .and_then(|v| v.as_str())
            .unwrap_or("default")
            .to_owned(),
    })
}

/// The product package the site's `composer.lock` has (`magento/product-community-edition`
/// or `-enterprise-edition`).
async fn product_package(host: &Connection, site: &Site) -> Result<String, SiteError> {
    let lock = host_cli::run_ok(host, &site.path, "cat", &[LOCK_FILE]).await?;
    let lock: ComposerLock = serde_json::from_str(&lock.text)
        .map_err(|e| SiteError::config(LOCK_FILE, format!("not valid JSON: {e}")))?;
    lock.packages
        .into_iter()
        .map(|p| p.name)
        .find(|n| n.starts_with("magento/product-") && n.ends_with("-edition"))
        .ok_or_else(|| {
            SiteError::config(LOCK_FILE, "no magento/product-*-edition package to update")
        })
}

/// The versions `composer show --all --format=json PACKAGE` lists, development branches
/// left out.
pub fn versions_from_composer_show(text: &str) -> Result<Vec<String>, String> {
    let start = text.find('{').ok_or("composer show printed no JSON")?;
    let value: serde_json::Value = serde_json::from_str(&text[start..])
        .map_err(|e| format!("composer show printed something that is not JSON: {e}"))?;
    let versions = value
        .get("versions")
        .and_then(|v| v.as_array())
        .ok_or("composer show lists no `versions`")?;
    Ok(versions
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|v| !v.contains("dev"))
        .map(|v| v.trim_start_matches('v').to_owned())
        .collect())
}

impl Magento {
    /// The versions of the site's Magento product composer on the host can install.
    async fn core_offers(&self, site: &Site, host: &Connection) -> Result<Vec<Offer>, SiteError> {
        let edition = product_package(host, site).await?;
        let output = host_cli::run_ok(
            host,
            &site.path,
            &site.composer,
            &[
                "show",
                "--all",
                "--no-interaction",
                "--format=json",
                &edition,
            ],
        )
        .await
        .map_err(|e| {
            SiteError::UpdateSource(format!("asking composer for Magento versions: {e}"))
        })?;
        let versions = versions_from_composer_show(&output.text)
            .map_err(|e| SiteError::UpdateSource(format!("composer show: {e}")))?;
        Ok(versions
            .into_iter()
            .map(|version| Offer {
                cms: KIND,
                kind: ComponentType::Core,
                slug: "magento".to_owned(),
                version,
                package: String::new(),
                sha256: None,
                source: "composer".to_owned(),
                released: None,
            })
            .collect())
    }
}

/// The composer packages that are not Magento's own (`magento/*`), with their versions.
pub fn third_party_packages(lock: &[u8]) -> Result<Vec<Component>, String> {
    let lock: ComposerLock =
        serde_json::from_slice(lock).map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(lock
        .packages
        .into_iter()
        .filter(|p| !p.name.starts_with("magento/"))
        .map(|p| Component {
            slug: p.name,
            version: Some(p.version.trim_start_matches('v').to_owned()),
            active: true,
        })
        .collect())
}

/// The modules `app/etc/config.php` enables (`'modules' => ['Magento_Store' => 1, …]`).
pub fn enabled_modules(source: &str) -> Result<Vec<String>, String> {
    let config = php_array::parse_return(source)?;
    match config.get("modules") {
        Some(php_array::PhpValue::Array(entries)) => Ok(entries
            .iter()
            .filter(|(_, on)| on.as_str() == Some("1"))
            .map(|(name, _)| name.clone())
            .collect()),
        _ => Err("has no `modules` list".to_owned()),
    }
}

/// The product edition's version (`magento/product-*-edition`), else `magento/magento2-base`.
pub fn version_from_composer_lock(lock: &[u8]) -> Result<String, String> {
    let lock: ComposerLock =
        serde_json::from_slice(lock).map_err(|e| format!("not valid JSON: {e}"))?;
    let edition = lock
        .packages
        .iter()
        .find(|p| p.name.starts_with("magento/product-") && p.name.ends_with("-edition"));
    let base = lock
        .packages
        .iter()
        .find(|p| p.name == "magento/magento2-base");
    edition
        .or(base)
        .map(|p| p.version.trim_start_matches('v').to_owned())
        .ok_or_else(|| {
            "lists neither magento/product-*-edition nor magento/magento2-base".to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_versions_composer_offers() {
        let text = "{\n    \"name\": \"magento/product-community-edition\",\n    \"versions\": [\"2.4.8\", \"2.4.7-p3\", \"v2.4.7-p1\", \"2.4.7\", \"2.4-dev\", \"dev-main\"]\n}\n";
        assert_eq!(
            versions_from_composer_show(text).unwrap(),
            vec!["2.4.8", "2.4.7-p3", "2.4.7-p1", "2.4.7"]
        );
        assert!(versions_from_composer_show("Could not find package").is_err());
    }

    #[test]
    fn lists_enabled_modules_and_third_party_packages() {
        let config = "<?php\nreturn [\n    'modules' => [\n        'Magento_Store' => 1,\n        'Magento_Catalog' => 1,\n        'Acme_Tendtest' => 0,\n    ],\n];\n";
        assert_eq!(
            enabled_modules(config).unwrap(),
            vec!["Magento_Store".to_owned(), "Magento_Catalog".to_owned()]
        );
        let lock = br#"{"packages": [
            {"name": "magento/product-community-edition", "version": "2.4.7"},
            {"name": "acme/module-tendtest", "version": "v1.0.0"},
            {"name": "monolog/monolog", "version": "2.9.1"}
        ]}"#;
        let found: Vec<(String, Option<String>)> = third_party_packages(lock)
            .unwrap()
            .into_iter()
            .map(|c| (c.slug, c.version))
            .collect();
        assert_eq!(
            found,
            vec![
                ("acme/module-tendtest".into(), Some("1.0.0".into())),
                ("monolog/monolog".into(), Some("2.9.1".into())),
            ]
        );
    }

    #[test]
    fn a_copy_takes_its_own_base_urls() {
        let env = parse_env_php("<?php return ['db' => ['table_prefix' => 'mg_', 'connection' => ['default' => ['host' => 'localhost', 'dbname' => 'd', 'username' => 'u', 'password' => 'p']]]];").unwrap();
        let sql = Magento
            .sql_for_new_address(&env.database, "https://stage.example")
            .unwrap();
        assert!(sql.contains("`mg_core_config_data`"), "{sql}");
        assert!(
            sql.contains("SET value = 'https://stage.example/'"),
            "{sql}"
        );
        assert!(
            sql.contains("'web/unsecure/base_url', 'web/secure/base_url'"),
            "{sql}"
        );
        let pairs = Magento.address_replacements("http://shop.example/", "https://stage.example");
        assert_eq!(
            pairs[0],
            (
                b"http://shop.example".to_vec(),
                b"https://stage.example".to_vec()
            )
        );
    }

    #[test]
    fn reads_env_php_credentials_and_mode() {
        let env = parse_env_php("<?php\nreturn [\n 'db' => [\n  'table_prefix' => 'mg_',\n  'connection' => ['default' => ['host' => '/var/run/mysqld/mysqld.sock', 'dbname' => 'shop', 'username' => 'shop', 'password' => 's3cret', 'active' => '1']]\n ],\n 'MAGE_MODE' => 'production',\n];\n").unwrap();
        assert_eq!(env.mode, "production");
        assert_eq!(env.database.name, "shop");
        assert_eq!(env.database.table_prefix, "mg_");
        assert_eq!(env.database.password.expose(), "s3cret");
        assert_eq!(
            env.database.endpoint,
            DbEndpoint::Socket {
                host: "localhost".into(),
                path: "/var/run/mysqld/mysqld.sock".into()
            }
        );
        let tcp = parse_env_php("<?php return ['db' => ['connection' => ['default' => ['host' => '127.0.0.1:3307', 'dbname' => 'd', 'username' => 'u', 'password' => 'p']]]];").unwrap();
        assert_eq!(
            tcp.database.endpoint,
            DbEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: Some(3307)
            }
        );
        assert_eq!(tcp.mode, "default");
        assert!(parse_env_php("<?php return ['db' => []];").is_err());
    }

    #[test]
    fn prefers_the_product_edition_over_the_base_package() {
        let lock = br#"{"packages":[{"name":"magento/magento2-base","version":"2.4.7-p3"},{"name":"magento/product-community-edition","version":"2.4.7-p3"},{"name":"laminas/laminas-code","version":"4.13.0"}]}"#;
        assert_eq!(version_from_composer_lock(lock).unwrap(), "2.4.7-p3");
        let base_only = br#"{"packages":[{"name":"magento/magento2-base","version":"2.4.6"}]}"#;
        assert_eq!(version_from_composer_lock(base_only).unwrap(), "2.4.6");
        assert!(version_from_composer_lock(br#"{"packages":[]}"#).is_err());
    }
}
