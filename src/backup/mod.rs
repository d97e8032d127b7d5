//! Snapshots: taking them, storing them, listing, verifying, pruning and restoring them.
//!
//! Every rollback and every restore request stands on a snapshot, so a snapshot must be
//! complete, consistent, restorable by hand (`zstd -d | tar -x`, `zstd -d | mysql`), and
//! never half-written. The layout is the contract's: `<store>/backups/<site>/<id>/` with
//! `manifest.json`, `files.tar.zst` and `database.sql.zst`.

pub mod archive;
pub mod create;
pub mod manifest;
pub mod prune;
pub mod restore;
pub mod retention;
pub mod store;
pub mod verify;

pub use manifest::Manifest;
pub use store::{Snapshot, Store};
