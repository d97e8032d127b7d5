//! Snapshots: taking them, storing them, listing, verifying, pruning and restoring them.
//!
//! Every rollback and every restore request stands on a snapshot, so a snapshot must be
//! complete, consistent, restorable by hand (`zstd -d | tar -x`, `zstd -d | mysql`), and
//! never half-written. Snapshots live behind the [`SnapshotStore`] trait; the folder store
//! keeps the contract's layout: `<store>/backups/<site>/<id>/` with `manifest.json`,
//! `files.tar.zst` and `database.sql.zst`.

pub mod archive;
pub mod create;
pub mod folder_store;
pub mod manifest;
pub mod prune;
pub mod restore;
pub mod retention;
pub mod store;
pub mod temp_tables;
pub mod verify;

pub use folder_store::FolderStore;
pub use manifest::Manifest;
pub use store::{PartKind, Snapshot, SnapshotStore};

/// The snapshot store the inventory's settings name: today always the folder store under
/// `settings.store`.
pub fn open_store(settings: &crate::inventory::Settings) -> Box<dyn SnapshotStore> {
    Box::new(FolderStore::new(&settings.store))
}
