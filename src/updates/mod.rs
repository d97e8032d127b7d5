//! Where new versions come from, and which of them a playbook may take.
//!
//! Sources (`settings.sources`, tried in order) offer versions of core, plugins, themes and
//! extensions; [`policy`] turns facts plus offers plus the playbook's `update` step and the
//! site's `hold` list into a plan: the changes to make, and what was held back and why —
//! as data, before anything touches a site.

pub mod held_versions;
pub mod min_age;
pub mod package;
pub mod policy;
pub mod repository;
pub mod sources;
pub mod wordpress_org;

pub use crate::offer::{ComponentType, Offer};
