//! What an update is, as data: the kind of component it changes, a version a source
//! offers, and a change a plan makes.
//!
//! A leaf beside [`crate::cms_kind`]: the update sources and policy (`updates`) produce
//! these, the CMS adapters (`cms`) offer and apply them, and neither needs the other for
//! it. Re-exported from `updates`, where they belong by meaning.

use serde::{Deserialize, Serialize};

use crate::cms_kind::CmsKind;

/// What an update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentType {
    Core,
    Plugin,
    Theme,
    Extension,
}

impl ComponentType {
    pub fn name(self) -> &'static str {
        match self {
            ComponentType::Core => "core",
            ComponentType::Plugin => "plugin",
            ComponentType::Theme => "theme",
            ComponentType::Extension => "extension",
        }
    }
}

/// A version a source offers for one component, with where to get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub cms: CmsKind,
    pub kind: ComponentType,
    pub slug: String,
    pub version: String,
    /// Absolute URL or local path of the package.
    pub package: String,
    /// sha256 the package must have, when the source says.
    pub sha256: Option<String>,
    /// Which source offered it (`wordpress.org`, a repository's path or URL).
    pub source: String,
    /// When the version was released, where the source says (for `min_age`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<chrono::DateTime<chrono::Utc>>,
}

/// One change a plan makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub from: String,
    pub to: String,
    #[serde(skip)]
    pub offer: Offer,
}
