//! The one list of CMSs tend knows, and what generic code asks of it: the adapter of a
//! kind, the kind called by a name, which CMS a site's files are, which files to read.
//!
//! Adding a CMS is one folder under `src/cms/` (its adapter, defining its [`CmsKind`]
//! constant), its `mod` line in `cms/mod.rs` and one line in [`REGISTRY`]; nothing outside
//! `src/cms/` changes (the WordPress.org update source is WordPress's by nature).

use serde::de::{Deserialize, Deserializer, Error, Visitor};

use super::file_dump::DumpPart;
use super::{joomla, magento, wordpress, Cms, CmsKind, DescribedPackage};

/// The CMSs tend knows, in the order detection asks them.
pub static REGISTRY: Registry = Registry::new(&[
    &wordpress::WordPress,
    &joomla::Joomla,
    &magento::Magento,
    // A made-up CMS that shows what adding one takes (tests only).
    #[cfg(test)]
    &super::example::Example,
]);

/// A list of CMS adapters; generic code goes through it rather than naming a CMS.
pub struct Registry {
    cmss: &'static [&'static dyn Cms],
}

impl Registry {
    pub const fn new(cmss: &'static [&'static dyn Cms]) -> Registry {
        Registry { cmss }
    }

    /// Every registered CMS, in detection order.
    pub fn all(&self) -> &'static [&'static dyn Cms] {
        self.cmss
    }

    /// The adapter for `kind`, if it is registered here.
    pub fn get(&self, kind: CmsKind) -> Option<&'static dyn Cms> {
        self.cmss.iter().copied().find(|c| c.kind() == kind)
    }

    /// The kind called `name` (as the inventory's `cms:` writes it).
    pub fn named(&self, name: &str) -> Option<CmsKind> {
        self.cmss
            .iter()
            .map(|c| c.kind())
            .find(|k| k.name() == name)
    }

    /// The registered names, for messages (`wordpress`, `joomla`, …).
    pub fn names(&self) -> Vec<&'static str> {
        self.cmss.iter().map(|c| c.kind().name()).collect()
    }

    /// Every CMS's markers, each once, in registry order.
    pub fn markers(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for marker in self.cmss.iter().flat_map(|c| c.markers()) {
            if !out.contains(marker) {
                out.push(marker);
            }
        }
        out
    }

    /// Every CMS's fact files, in registry order: read in one round trip with the markers,
    /// before the CMS is known (asking for files that don't exist costs nothing).
    pub fn fact_files(&self) -> Vec<DumpPart<'static>> {
        self.cmss
            .iter()
            .flat_map(|c| c.fact_files().iter().copied())
            .collect()
    }

    /// Which CMS's package a zip is, and what it holds: the first CMS that recognises it.
    pub fn describe_package(&self, zip: &[u8]) -> Result<(CmsKind, DescribedPackage), String> {
        for cms in self.cmss {
            if let Some(described) = cms.describe_package(zip)? {
                return Ok((cms.kind(), described));
            }
        }
        Err(format!(
            "not a package of any CMS tend knows ({})",
            self.names().join(", ")
        ))
    }

    /// The CMS the present markers point to: the first that recognises them.
    pub fn detect(&self, present: &[&str]) -> Option<CmsKind> {
        self.cmss
            .iter()
            .find(|c| c.recognises(present))
            .map(|c| c.kind())
    }
}

/// The adapter for `kind`. Every kind is one of [`REGISTRY`]'s: kinds read from files are
/// looked up in it, and the others are the CMS modules' own constants.
pub fn adapter(kind: CmsKind) -> &'static dyn Cms {
    REGISTRY
        .get(kind)
        .unwrap_or_else(|| panic!("the CMS kind `{kind}` is not registered in cms::REGISTRY"))
}

/// A kind is read by name, and only a registered name is one (`cms: drupal` in an
/// inventory is refused, at the value, with the names that are).
impl<'de> Deserialize<'de> for CmsKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CmsKind, D::Error> {
        deserializer.deserialize_str(KindName)
    }
}

/// Reads a kind's name; refusing it here, while the value is being read, lets the
/// inventory's error point at the value.
struct KindName;

impl Visitor<'_> for KindName {
    type Value = CmsKind;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "one of {}", quoted_names())
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<CmsKind, E> {
        REGISTRY.named(name).ok_or_else(|| {
            E::custom(format!(
                "unknown variant `{name}`, expected one of {}",
                quoted_names()
            ))
        })
    }
}

/// `` `wordpress`, `joomla`, `magento` ``
fn quoted_names() -> String {
    let names: Vec<String> = REGISTRY.names().iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_cms_by_its_files() {
        let detect = |present: &[&str]| REGISTRY.detect(present);
        assert_eq!(
            detect(&["wp-includes/version.php", "wp-config.php"]),
            Some(wordpress::KIND)
        );
        assert_eq!(
            detect(&["libraries/src/Version.php", "configuration.php"]),
            Some(joomla::KIND)
        );
        assert_eq!(
            detect(&["libraries/cms/version/version.php"]),
            Some(joomla::KIND)
        );
        assert_eq!(
            detect(&[
                "configuration.php",
                "administrator/manifests/files/joomla.xml"
            ]),
            Some(joomla::KIND)
        );
        assert_eq!(
            detect(&["app/etc/env.php", "bin/magento", "composer.lock"]),
            Some(magento::KIND)
        );
        assert_eq!(detect(&["composer.lock"]), None);
        assert_eq!(detect(&["configuration.php"]), None);
        assert_eq!(detect(&[]), None);
    }

    #[test]
    fn markers_are_every_cms_s_once_in_registry_order() {
        assert_eq!(
            REGISTRY.markers()[..10],
            [
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
            ]
        );
    }

    #[test]
    fn kinds_are_read_by_registered_name_only() {
        let kind: CmsKind = serde_json::from_str("\"joomla\"").unwrap();
        assert_eq!(kind, joomla::KIND);
        assert_eq!(adapter(kind).kind(), joomla::KIND);
        let err = serde_json::from_str::<CmsKind>("\"drupal\"").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "unknown variant `drupal`, expected one of `wordpress`, `joomla`, `magento`"
            ),
            "{err}"
        );
    }
}
