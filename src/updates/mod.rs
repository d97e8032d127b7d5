//! Where new versions come from, and which of them a playbook may take.
//!
//! Sources (`settings.sources`, tried in order) offer versions of core, plugins, themes and
//! extensions; [`policy`] turns facts plus offers plus the playbook's `update` step and the
//! site's `hold` list into a plan: the changes to make, and what was held back and why —
//! as data, before anything touches a site.

pub mod package;
pub mod policy;
pub mod repository;
pub mod sources;
pub mod wordpress_org;

use serde::{Deserialize, Serialize};

use crate::cms::CmsKind;

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
}
