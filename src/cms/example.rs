//! A made-up fourth CMS, compiled only for tests: what adding a CMS takes, and proof that
//! the generic machinery needs nothing else.
//!
//! "Example CMS" keeps its version in `example/VERSION` and its database settings in
//! `example.ini`; its sites are recognised by both. Everything below is what a real CMS
//! folder would hold. The only other line is its registration in [`super::REGISTRY`]; the
//! tests then go through the same entry points the engine, the inventory, the planner and
//! the verifier use, none of which names a CMS.

use async_trait::async_trait;

use super::database::Password;
use super::file_dump::DumpPart;
use super::{
    BuiltinPage, Cms, CmsKind, ConfigError, DbCredentials, DbEndpoint, FactSources, Facts,
};
use crate::inventory::Site;
use crate::remote::Connection;
use crate::site_error::SiteError;
use crate::version::Level;

/// Its kind: `cms: example`.
pub const KIND: CmsKind = CmsKind::named("example");

const CONFIG_FILE: &str = "example.ini";
const VERSION_FILE: &str = "example/VERSION";

pub struct Example;

#[async_trait]
impl Cms for Example {
    fn kind(&self) -> CmsKind {
        KIND
    }

    fn display_name(&self) -> &'static str {
        "Example CMS"
    }

    fn markers(&self) -> &'static [&'static str] {
        &[VERSION_FILE, CONFIG_FILE]
    }

    fn recognises(&self, present: &[&str]) -> bool {
        present.contains(&VERSION_FILE) && present.contains(&CONFIG_FILE)
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[DumpPart {
            files: &[VERSION_FILE, CONFIG_FILE],
            globs: &[],
            limit: 64 * 1024,
        }]
    }

    /// Pure: version and credentials from the files the engine already read.
    async fn facts(
        &self,
        _site: &Site,
        _host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let version = sources
            .file(VERSION_FILE)
            .ok_or_else(|| SiteError::config(VERSION_FILE, "missing"))?
            .text()
            .trim()
            .to_owned();
        let config = sources
            .file(CONFIG_FILE)
            .ok_or_else(|| SiteError::config(CONFIG_FILE, "missing"))?;
        let database = self.read_credentials(&config.text())?;
        Ok(facts(&version, Some(database)))
    }

    fn default_backup_excludes(&self) -> &'static [&'static str] {
        &["cache"]
    }

    fn config_files(&self) -> &'static [&'static str] {
        &[CONFIG_FILE]
    }

    fn credentials_file(&self) -> &'static str {
        CONFIG_FILE
    }

    /// `key = value` lines: `db_name`, `db_user`, `db_password`, `db_host`, `db_prefix`.
    fn read_credentials(&self, config: &str) -> Result<DbCredentials, ConfigError> {
        let get = |key: &str| {
            config
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .ok_or_else(|| ConfigError {
                    file: CONFIG_FILE,
                    reason: format!("has no `{key}`"),
                })
        };
        Ok(DbCredentials {
            name: get("db_name")?,
            user: get("db_user")?,
            password: Password::new(get("db_password")?),
            endpoint: DbEndpoint::parse(&get("db_host")?),
            table_prefix: get("db_prefix").unwrap_or_default(),
        })
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        &["Example CMS could not answer"]
    }

    fn builtin_pages(&self) -> &'static [BuiltinPage] {
        &[BuiltinPage {
            name: "admin page",
            path: "/admin/",
        }]
    }

    fn default_core_level(&self) -> Level {
        Level::Patch
    }

    fn end_of_life(&self, version: &str) -> Option<&'static str> {
        version
            .starts_with("1.")
            .then_some("move the site to Example CMS 2 first")
    }

    fn maintenance_file(&self) -> Option<(&'static str, &'static str)> {
        Some(("example/.offline", ""))
    }

    async fn set_maintenance(
        &self,
        _site: &Site,
        _host: &Connection,
        _on: bool,
    ) -> Result<(), SiteError> {
        Err(SiteError::Unsupported(
            "Example CMS is switched off by its maintenance file".to_owned(),
        ))
    }
}

fn facts(version: &str, database: Option<DbCredentials>) -> Facts {
    Facts {
        cms: KIND,
        version: version.to_owned(),
        db_version: None,
        php_version: None,
        plugins: vec![super::Component {
            slug: "gallery".to_owned(),
            version: Some("1.0.0".to_owned()),
            active: true,
        }],
        themes: Vec::new(),
        database,
        plugin_files: Default::default(),
        packages: Vec::new(),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::{adapter, REGISTRY};
    use crate::offer::{ComponentType, Offer};
    use crate::updates::policy::{plan, Policy};

    const CONFIG: &str =
        "db_name = shop\ndb_user = shopper\ndb_password = s3cret\ndb_host = 127.0.0.1:3307\n";

    #[test]
    fn it_is_known_by_name_and_found_by_its_markers() {
        let kind: CmsKind = serde_json::from_str("\"example\"").unwrap();
        assert_eq!(kind, KIND);
        assert_eq!(adapter(kind).display_name(), "Example CMS");
        // Its markers and fact files are read with everyone else's, in the same round trip.
        assert!(REGISTRY.markers().contains(&VERSION_FILE));
        assert!(REGISTRY
            .fact_files()
            .iter()
            .any(|part| part.files.contains(&CONFIG_FILE)));
        assert_eq!(REGISTRY.detect(&[VERSION_FILE, CONFIG_FILE]), Some(KIND));
        assert_eq!(REGISTRY.detect(&[CONFIG_FILE]), None);
        // The others are still told apart.
        assert_eq!(
            REGISTRY.detect(&["wp-includes/version.php"]),
            Some(crate::cms::wordpress::KIND)
        );
    }

    #[test]
    fn its_credentials_come_from_its_config() {
        let cms = adapter(KIND);
        assert_eq!(cms.credentials_file(), "example.ini");
        let db = cms.read_credentials(CONFIG).unwrap();
        assert_eq!((db.name.as_str(), db.user.as_str()), ("shop", "shopper"));
        assert_eq!(db.password.expose(), "s3cret");
        assert_eq!(
            db.endpoint,
            DbEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: Some(3307)
            }
        );
        let err = SiteError::from(cms.read_credentials("db_name = shop\n").unwrap_err());
        assert!(
            matches!(&err, SiteError::ConfigUnreadable { file, .. } if file == "example.ini"),
            "{err:?}"
        );
        assert!(err.is_site_unreadable());
        assert_eq!(cms.sql_for_new_address(&db, "https://copy.example"), None);
    }

    #[test]
    fn verification_applies_its_built_in_checks() {
        let checks = crate::verify::builtin_checks(KIND);
        let paths: Vec<&str> = checks.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/", "/admin/"]);
        assert!(checks.iter().all(|c| c.status == 200
            && c.not_contains
                .iter()
                .any(|t| t == "Example CMS could not answer")
            && c.not_contains.iter().any(|t| t == "PHP Fatal error:")));
    }

    #[test]
    fn updates_follow_its_default_level_and_its_add_on_type() {
        let policy = Policy::of(None, &[], KIND);
        assert_eq!(policy.core, Level::Patch);
        let offer = |kind, slug: &str, version: &str| Offer {
            cms: KIND,
            kind,
            slug: slug.to_owned(),
            version: version.to_owned(),
            package: String::new(),
            sha256: None,
            source: "test".to_owned(),
            released: None,
        };
        let offers = [
            offer(ComponentType::Core, "example", "2.0.1"),
            offer(ComponentType::Core, "example", "2.1.0"),
            offer(ComponentType::Extension, "gallery", "1.1.0"),
        ];
        let planned = plan(&facts("2.0.0", None), &offers, &policy);
        let changes: Vec<(ComponentType, &str, &str)> = planned
            .changes
            .iter()
            .map(|c| (c.kind, c.slug.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                (ComponentType::Core, "example", "2.0.1"),
                (ComponentType::Extension, "gallery", "1.1.0"),
            ]
        );
    }

    #[test]
    fn end_of_life_versions_are_not_updated() {
        let cms = adapter(KIND);
        assert!(cms.check_updatable(&facts("2.0.0", None)).is_ok());
        match cms.check_updatable(&facts("1.9.3", None)) {
            Err(SiteError::Unsupported(message)) => assert_eq!(
                message,
                "Example CMS 1.9.3 is end-of-life: tend backs it up and restores it but does not update it; move the site to Example CMS 2 first"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(cms.maintenance_file(), Some(("example/.offline", "")));
    }
}
