//! Telling which CMS a site runs from the files in its root.

use super::file_dump::DumpPart;
use super::CmsKind;

/// Files whose presence identifies a CMS, relative to the CMS root.
pub const MARKERS: &[&str] = &[
    "wp-includes/version.php",
    "wp-config.php",
    "../wp-config.php",
    "libraries/src/Version.php",
    "libraries/cms/version/version.php",
    "configuration.php",
    "administrator/manifests/files/joomla.xml",
    "app/etc/env.php",
    "bin/magento",
    "composer.lock",
];

/// The markers as a dump part: only whether each exists is read.
pub const MARKER_PART: DumpPart<'static> = DumpPart {
    files: MARKERS,
    globs: &[],
    limit: 0,
};

/// The CMS the present markers point to.
pub fn detect(present: &[&str]) -> Option<CmsKind> {
    let has = |m: &str| present.contains(&m);
    if has("wp-includes/version.php") {
        Some(CmsKind::Wordpress)
    } else if has("app/etc/env.php") && has("bin/magento") {
        Some(CmsKind::Magento)
    } else if has("libraries/src/Version.php")
        || has("libraries/cms/version/version.php")
        || (has("configuration.php") && has("administrator/manifests/files/joomla.xml"))
    {
        Some(CmsKind::Joomla)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_cms_by_its_files() {
        assert_eq!(
            detect(&["wp-includes/version.php", "wp-config.php"]),
            Some(CmsKind::Wordpress)
        );
        assert_eq!(
            detect(&["libraries/src/Version.php", "configuration.php"]),
            Some(CmsKind::Joomla)
        );
        assert_eq!(
            detect(&["libraries/cms/version/version.php"]),
            Some(CmsKind::Joomla)
        );
        assert_eq!(
            detect(&["app/etc/env.php", "bin/magento", "composer.lock"]),
            Some(CmsKind::Magento)
        );
        assert_eq!(detect(&["composer.lock"]), None);
        assert_eq!(detect(&[]), None);
    }
}
