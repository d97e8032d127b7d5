//! Telling which CMS a site runs from the files in its root.

use super::CmsKind;
use crate::remote::{quote, RemoteCommand};

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

/// Prints which of [`MARKERS`] exist in `root`, one per line; fails if `root` doesn't exist.
pub fn probe_command(root: &str) -> RemoteCommand {
    let words: Vec<String> = MARKERS.iter().map(|m| quote(m)).collect();
    RemoteCommand::script(&format!(
        "for f in {}; do if [ -e \"$f\" ]; then printf '%s\\n' \"$f\"; fi; done",
        words.join(" ")
    ))
    .in_dir(root)
}

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
