//! Applying the retention policy to the store: what each site keeps, what goes.

use super::retention::{self, Policy, Reason};
use super::store::{Snapshot, Store};
use crate::inventory::Retention;

/// One site's outcome: snapshots kept (with why) and removed (or to be removed).
#[derive(Debug)]
pub struct SitePrune {
    pub site: String,
    pub kept: Vec<(Snapshot, Vec<Reason>)>,
    pub removed: Vec<Snapshot>,
    pub error: Option<String>,
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
    store: &Store,
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
                    outcome.error = Some(e.to_string());
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
                            outcome.error =
                                Some(format!("cannot remove {}: {e}", decision.item.manifest.id));
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
