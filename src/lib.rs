//! tend looks after fleets of WordPress, Joomla and Magento sites over SSH: it reads an
//! inventory of sites, gathers facts, and (in later versions) backs sites up, updates them,
//! verifies them and rolls back what an update broke.
//!
//! The binary is glue; everything lives here, one concept per module:
//! load (`inventory`, `playbook`, `select`) → connect (`remote`) → facts (`cms`) → run
//! (`engine`), reporting through `events` to `ui`, the only module that prints.

pub mod backup;
pub mod cli;
pub mod cms;
pub mod cms_kind;
pub mod diagnostic;
pub mod engine;
pub mod env_vars;
pub mod error_chain;
pub mod events;
pub mod history;
pub mod human_size;
pub mod inventory;
pub mod notify;
pub mod offer;
pub mod outcome;
pub mod paths;
pub mod playbook;
pub mod remote;
pub mod report;
pub mod secrets;
pub mod select;
pub mod site_error;
pub mod ui;
pub mod updates;
pub mod verify;
pub mod version;
pub mod yaml_source;
