//! The off-site copy after a snapshot, as the commands that take snapshots see it: copied
//! (and which snapshots), or failed — beside a snapshot that was saved all the same.
//!
//! The snapshot is complete in the repository before its copy starts, so a failed copy
//! loses nothing: the snapshot stays listed and restorable, and the next successful copy
//! of the site sends whatever is missing off-site. What a failure means is the caller's
//! decision: `tend backup` and a playbook's backup step fail the site (a night without an
//! off-site copy must not pass as a good one); a restore's safety snapshot only warns.

use super::manifest::Manifest;
use super::store::{OffsiteCopy, SnapshotStore};

/// What became of the off-site copy of a new snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsiteOutcome {
    Copied(OffsiteCopy),
    Failed(OffsiteFailure),
}

/// A snapshot was saved in the repository, and copying it off-site failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot {snapshot} saved in the repository ({repository}), but its off-site copy to {offsite} failed: {cause}")]
pub struct OffsiteFailure {
    pub snapshot: String,
    pub repository: String,
    pub offsite: String,
    /// Why, masked.
    pub cause: String,
}

/// Copies the snapshots of `manifest`'s site that the off-site repository lacks, the new
/// one among them; `None` when `store` has no off-site copy.
///
/// The copy blocks (it reads and writes both repositories): called on tend's runtime, it
/// runs with the worker handed over, so the other sites' work goes on meanwhile.
pub fn copy_after(store: &dyn SnapshotStore, manifest: &Manifest) -> Option<OffsiteOutcome> {
    let offsite = store.offsite_location()?;
    let copy = || store.copy_offsite(&manifest.site);
    let on_runtime = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let result = if on_runtime {
        tokio::task::block_in_place(copy)
    } else {
        copy()
    };
    match result {
        Ok(Some(copy)) => Some(OffsiteOutcome::Copied(copy)),
        Ok(None) => None,
        Err(e) => Some(OffsiteOutcome::Failed(OffsiteFailure {
            snapshot: manifest.id.clone(),
            repository: store.location(),
            offsite,
            cause: crate::secrets::mask(&e.to_string()),
        })),
    }
}
