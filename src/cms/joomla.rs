//! Joomla: recognised by its files; its version read from `libraries/src/Version.php`
//! (Joomla 3.8 and later) or `libraries/cms/version/version.php` (older Joomla 3).
//! Extensions, database access and updates come with full Joomla support.

use async_trait::async_trait;

use super::file_dump::DumpPart;
use super::php_source::{assignment, strip_comments};
use super::{Cms, CmsKind, FactSources, Facts};
use crate::inventory::Site;
use crate::remote::Connection;
use crate::site_error::SiteError;

pub struct Joomla;

const VERSION_FILES: &[&str] = &[
    "libraries/src/Version.php",
    "libraries/cms/version/version.php",
];

#[async_trait]
impl Cms for Joomla {
    fn kind(&self) -> CmsKind {
        CmsKind::Joomla
    }

    fn fact_files(&self) -> &'static [DumpPart<'static>] {
        &[DumpPart {
            files: VERSION_FILES,
            globs: &[],
            limit: 1024 * 1024,
        }]
    }

    async fn facts(
        &self,
        _site: &Site,
        _host: &Connection,
        sources: &FactSources<'_>,
    ) -> Result<Facts, SiteError> {
        let file = VERSION_FILES
            .iter()
            .find_map(|name| sources.file(name))
            .ok_or_else(|| {
                SiteError::site("no Joomla version file (libraries/src/Version.php) found")
            })?;
        let version = parse_version_file(&file.text()).map_err(SiteError::site)?;
        Ok(Facts {
            cms: CmsKind::Joomla,
            version,
            db_version: None,
            php_version: sources.tools.php_version.clone(),
            plugins: Vec::new(),
            themes: Vec::new(),
            database: None,
            plugin_files: Default::default(),
            warnings: vec!["Joomla extensions are not listed yet: this version of tend reads only the Joomla version".to_owned()],
        })
    }

    fn default_backup_excludes(&self) -> &'static [&'static str] {
        &["cache", "administrator/cache", "tmp"]
    }

    fn config_files(&self) -> &'static [&'static str] {
        &["configuration.php"]
    }

    fn error_page_markers(&self) -> &'static [&'static str] {
        &[
            "The requested page can't be found.",
            "An error has occurred.",
            "Error displaying the error page",
        ]
    }
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
    fn reads_old_joomla_3_version_files() {
        let src = "<?php\nfinal class JVersion\n{\n\tconst RELEASE = '3.6';\n\tconst DEV_LEVEL = '5';\n}\n";
        assert_eq!(parse_version_file(src).unwrap(), "3.6.5");
        assert!(parse_version_file("<?php class X {}").is_err());
    }
}
