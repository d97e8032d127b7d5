//! Running work over many sites: bounded concurrency, one result per site, failures kept
//! to their site.
//!
//! Each command (facts now; backups, playbooks later) is a function from one site to a
//! result. [`for_each_site`] runs it for every selected site with at most `forks` in flight
//! and returns results in inventory order, whatever order they finished in.

pub mod backup;
pub mod facts;
pub mod restore;
pub mod site_lock;

use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::inventory::Site;

/// Runs `work` for every site, at most `forks` at once; results in the order of `sites`.
pub async fn for_each_site<'a, T, F, Fut>(sites: &'a [&'a Site], forks: usize, work: F) -> Vec<T>
where
    F: Fn(&'a Site) -> Fut,
    Fut: Future<Output = T> + 'a,
{
    stream::iter(sites.iter().map(|site| work(site)))
        .buffered(forks.max(1))
        .collect()
        .await
}
