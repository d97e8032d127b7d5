//! Applying the retention policy to the store: what each site keeps, what goes.

use super::retention::{self, Policy, Reason};
use super::store::{Snapshot, SnapshotStore, StoreError};
use crate::inventory::Retention;

/// One site's outcome: snapshots kept (with why) and removed (or to be removed).
#[derive(Debug)]
pub struct SitePrune {
    pub site: String,
    pub kept: Vec<(Snapshot, Vec<Reason>)>,
    pub removed: Vec<Snapshot>,
    pub error: Option<PruneError>,
}

/// Why pruning a site stopped short.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The site's snapshots could not be listed: nothing was decided.
    #[error("{0}")]
    List(StoreError),
    /// A snapshot that should go could not be removed (the others still were).
    #[error("cannot remove {id}: {error}")]
    Remove { id: String, error: StoreError },
}

pub fn policy(retention: &Retention) -> Policy {
    Policy {
        keep_last: retention.keep_last,
        keep_daily: retention.keep_daily,
        keep_weekly: retention.keep_weekly,
        keep_monthly: retention.keep_monthly,
    }
}

/// Decides (and unless `dry_run`, removes) for each of `sites`.
pub fn prune(
    store: &dyn SnapshotStore,
    sites: &[&str],
    retention: &Retention,
    dry_run: bool,
) -> Vec<SitePrune> {
    let policy = policy(retention);
    sites
        .iter()
        .map(|site| {
            let mut outcome = SitePrune {
                site: (*site).to_owned(),
                kept: Vec::new(),
                removed: Vec::new(),
                error: None,
            };
            let snapshots = match store.list(Some(site)) {
                Ok(s) => s,
                Err(e) => {
                    outcome.error = Some(PruneError::List(e));
                    return outcome;
                }
            };
            let input: Vec<(Snapshot, chrono::DateTime<chrono::Utc>)> = snapshots
                .into_iter()
                .map(|s| {
                    let created = s.manifest.created;
                    (s, created)
                })
                .collect();
            for decision in retention::decide(&input, &policy) {
                if decision.keep.is_empty() {
                    if !dry_run {
                        if let Err(e) = store.remove(&decision.item) {
                            outcome.error = Some(PruneError::Remove {
                                id: decision.item.manifest.id.clone(),
                                error: e,
                            });
                            continue;
                        }
                    }
                    outcome.removed.push(decision.item);
                } else {
                    outcome.kept.push((decision.item, decision.keep));
                }
            }
            outcome
        })
        .collect()
}
