//! tend looks after fleets of WordPress, Joomla and Magento sites over SSH: it reads an
//! inventory of sites, gathers facts, backs sites up, updates them, verifies them and rolls
//! back what an update broke.
//!
//! The binary is glue; everything lives here, one concept per module:
//! load (`inventory`, `playbook`, `select`) → connect (`remote`) → facts (`cms`) → plan and
//! run (`engine`), reporting through `events` to `ui`, the only module that prints; a command
//! is run by one `cli` session.
//!
//! The modules form layers with no cycle. At the bottom, the leaf types every layer shares:
//! `outcome`, `site_error`, `cms_kind`, `offer`, `diagnostic`, `secrets`, `env_vars`,
//! `version`, `paths`. Only what the binary and the integration tests use is public; the rest
//! is `pub(crate)`.

pub mod backup;
pub mod cli;
pub mod cms;
pub(crate) mod cms_kind;
pub(crate) mod diagnostic;
pub(crate) mod engine;
pub(crate) mod env_vars;
pub(crate) mod error_chain;
pub mod events;
pub(crate) mod fault_point;
pub mod history;
pub(crate) mod human_size;
pub(crate) mod interrupt;
pub mod inventory;
pub(crate) mod notify;
pub(crate) mod offer;
pub mod outcome;
pub(crate) mod paths;
pub(crate) mod playbook;
pub mod remote;
pub(crate) mod report;
pub(crate) mod secrets;
pub(crate) mod select;
pub(crate) mod site_error;
#[cfg(test)]
mod test_fixtures;
pub(crate) mod ui;
pub(crate) mod updates;
pub mod verify;
pub(crate) mod version;
pub mod yaml_source;
