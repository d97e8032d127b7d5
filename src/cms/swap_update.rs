//! What tend needs to know to update a CMS by swapping files itself: the CMS's package
//! layout and where each component lives on the site.
//!
//! Some CMSs (WordPress) are updated by unpacking the new version beside the old and
//! renaming the two, which tend does itself so that every step is journaled and undoable.
//! The engine runs that procedure for any CMS whose adapter returns a [`SwapUpdate`] from
//! `Cms::swap_update`; this trait answers the CMS-specific questions.

use async_trait::async_trait;

use super::Facts;
use crate::inventory::Site;
use crate::offer::ComponentType;
use crate::remote::Connection;
use crate::site_error::SiteError;

/// Why a component cannot be updated by swapping its files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwapRefused {
    /// The component's files are not known (its main file was not read).
    #[error("{kind} {slug}: its main file is not known")]
    Unknown { kind: &'static str, slug: String },
    /// The component has no folder of its own to swap.
    #[error(
        "{kind} {slug} is a single file ({file}); tend updates {kind}s that have their own folder"
    )]
    SingleFile {
        kind: &'static str,
        slug: String,
        file: String,
    },
    /// The CMS has no components of this type.
    #[error("this CMS has no {0}s")]
    NoSuchType(&'static str),
}

/// The database schema versions around a core update's database upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaUpgrade {
    pub before: String,
    pub after: String,
}

#[async_trait]
pub trait SwapUpdate: Send + Sync {
    /// The folder a package's zip holds everything in (`wordpress/`, `akismet/`).
    fn package_top(&self, kind: ComponentType, slug: &str) -> String;

    /// Where an installed component lives, relative to the root (core: the root, `""`).
    fn component_path(
        &self,
        facts: &Facts,
        kind: ComponentType,
        slug: &str,
    ) -> Result<String, SwapRefused>;

    /// A folder and a file whose modes the new files take, for the component at `live`.
    fn mode_reference(
        &self,
        facts: &Facts,
        kind: ComponentType,
        slug: &str,
        live: &str,
    ) -> (String, String);

    /// Package paths a core update leaves alone (the site's content and configuration).
    fn core_skips(&self, path: &str) -> bool;

    /// Whether a top-level entry of the site root is one the core ships, so that a core
    /// update may replace it, or move it aside when the new version no longer has it.
    fn is_core_entry(&self, name: &str) -> bool;

    /// What the CMS must do once new core files are in place (WordPress's database
    /// upgrade), with the schema versions before and after when it has any.
    async fn after_core_update(
        &self,
        site: &Site,
        host: &Connection,
    ) -> Result<Option<SchemaUpgrade>, SiteError>;
}
