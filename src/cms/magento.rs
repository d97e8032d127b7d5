//! Magento 2: recognised by `app/etc/env.php` and `bin/magento`; its version read from
//! `composer.lock` the way Magento's own `ProductMetadata` does. Modules, database access
//! and updates come with full Magento support.

use async_trait::async_trait;
use serde::Deserialize;

use super::file_dump::DumpPart;
use super::{Cms, CmsKind, FactSources, Facts};
use crate::inventory::Site;
use crate::remote::Connection;
use crate::site_error::SiteError;

pub struct Magento;

/// composer.lock of a real Magento install is a few hundred KiB; leave room.
const LOCK_LIMIT: usize = 32 * 1024 * 1024;

#[async_trait]
impl Cms for Magento {
    fn kind(&self) -> CmsKind {
        CmsKind::Magento
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[DumpPart {
            files: &["composer.lock"],
            globs: &[],
            limit: LOCK_LIMIT,
        }]
    }

    async fn facts(
        &self,
        _site: &Site,
        _host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let lock = sources.file("composer.lock").ok_or_else(|| {
            SiteError::site("composer.lock is missing: cannot tell the Magento version")
        })?;
        let version = version_from_composer_lock(&lock.content).map_err(SiteError::site)?;
        Ok(Facts {
            cms: CmsKind::Magento,
            version,
            db_version: None,
            php_version: sources.tools.php_version.clone(),
            plugins: Vec::new(),
            themes: Vec::new(),
            database: None,
            plugin_files: Default::default(),
            warnings: vec!["Magento modules are not listed yet: this version of tend reads only the Magento version".to_owned()],
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
        &["app/etc/env.php"]
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        &[
            "There has been an error processing your request",
            "Exception printing is disabled by default for security reasons",
        ]
    }
}

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

/// The product edition's version (`magento/product-*-edition`), else `magento/magento2-base`.
pub fn version_from_composer_lock(lock: &[u8]) -> Result<String, String> {
    let lock: ComposerLock = serde_json::from_slice(lock)
        .map_err(|e| format!("composer.lock is not valid JSON: {e}"))?;
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
            "composer.lock lists neither magento/product-*-edition nor magento/magento2-base"
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_product_edition_over_the_base_package() {
        let lock = br#"{"packages":[{"name":"magento/magento2-base","version":"2.4.7-p3"},{"name":"magento/product-community-edition","version":"2.4.7-p3"},{"name":"laminas/laminas-code","version":"4.13.0"}]}"#;
        assert_eq!(version_from_composer_lock(lock).unwrap(), "2.4.7-p3");
        let base_only = br#"{"packages":[{"name":"magento/magento2-base","version":"2.4.6"}]}"#;
        assert_eq!(version_from_composer_lock(base_only).unwrap(), "2.4.6");
        assert!(version_from_composer_lock(br#"{"packages":[]}"#).is_err());
    }
}
