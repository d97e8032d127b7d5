//! The off-site copy (`settings.offsite`): a site's snapshots copied from the repository
//! into a second one, as `restic copy` does.
//!
//! After each backup, every snapshot of the site that the off-site repository lacks is
//! copied — the new one, and any that an earlier copy failed to send — so one failed night
//! heals at the next successful backup. A snapshot is there when the off-site repository
//! holds a tend snapshot of the same site (host) with the same tend id (`id=` tag); the
//! copy keeps host, tags, time and description (tend's manifest), so tend and restic list
//! it as they list the original.
//!
//! rustic's copy sends only the blobs the off-site index lacks, then writes the index, and
//! the snapshot files last: a copy cut short (a dead connection, tend killed) may leave
//! packs not yet in the index (the next copy sends their blobs again; prune removes them),
//! never a snapshot whose data is missing. Both repositories are held with a shared lock meanwhile,
//! so no prune removes data under the copy.

use std::collections::BTreeSet;

use rustic_core::repofile::{MasterKey, SnapshotFile};

use super::lock::{self, LockKind};
use super::open::{OpenRepository, RepositoryError};
use super::store::TEND_TAG;
use crate::inventory::repository::RepositoryLocation;

/// The tag a tend snapshot's id is in.
const ID_TAG: &str = "id=";

/// tend's id of a snapshot, from its tags.
fn tend_id(snapshot: &SnapshotFile) -> Option<&str> {
    if !snapshot.tags.contains(TEND_TAG) {
        return None;
    }
    snapshot
        .tags
        .iter()
        .find_map(|tag| tag.strip_prefix(ID_TAG))
}

/// The snapshots of `site` in `source` that `present` (snapshots of the destination) does
/// not hold, oldest first.
pub fn missing(
    source: Vec<SnapshotFile>,
    present: &[SnapshotFile],
    site: &str,
) -> Vec<SnapshotFile> {
    let there: BTreeSet<&str> = present
        .iter()
        .filter(|s| s.hostname == site)
        .filter_map(tend_id)
        .collect();
    let mut out: Vec<SnapshotFile> = source
        .into_iter()
        .filter(|s| s.hostname == site)
        .filter(|s| tend_id(s).is_some_and(|id| !there.contains(id)))
        .collect();
    out.sort_by(|a, b| a.time.cmp(&b.time));
    out
}

/// Copies the snapshots of `site` that `destination` lacks from `source` (opened with
/// `source_key`); returns their tend ids.
pub fn copy_site(
    source: OpenRepository,
    source_location: &RepositoryLocation,
    source_key: &MasterKey,
    destination: OpenRepository,
    destination_location: &RepositoryLocation,
    destination_key: &MasterKey,
    site: &str,
) -> Result<Vec<String>, RepositoryError> {
    let _source_lock = lock::acquire(source_location, source_key, LockKind::Shared)?;
    let _destination_lock = lock::acquire(destination_location, destination_key, LockKind::Shared)?;
    let present = destination
        .get_all_snapshots()
        .map_err(|e| RepositoryError::failed(destination_location, &e))?;
    let all = source
        .get_all_snapshots()
        .map_err(|e| RepositoryError::failed(source_location, &e))?;
    let wanted = missing(all, &present, site);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let source = source
        .to_indexed()
        .map_err(|e| RepositoryError::failed(source_location, &e))?;
    let destination = destination
        .to_indexed_ids()
        .map_err(|e| RepositoryError::failed(destination_location, &e))?;
    source
        .copy(&destination, wanted.iter())
        .map_err(|e| RepositoryError::failed(destination_location, &e))?;
    Ok(wanted
        .iter()
        .filter_map(|s| tend_id(s).map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(host: &str, id: Option<&str>, second: i64) -> SnapshotFile {
        let mut s = SnapshotFile {
            hostname: host.into(),
            time: rustic_core::jiff::Timestamp::from_second(second)
                .unwrap()
                .to_zoned(rustic_core::jiff::tz::TimeZone::UTC),
            ..SnapshotFile::default()
        };
        if let Some(id) = id {
            s.tags.add(TEND_TAG.into());
            s.tags.add(format!("id={id}"));
        }
        s
    }

    #[test]
    fn only_the_sites_tend_snapshots_missing_off_site_are_copied() {
        let source = vec![
            snap("blog", Some("b3"), 3),
            snap("blog", Some("b1"), 1),
            snap("blog", Some("b2"), 2),
            snap("shop", Some("s1"), 1),
            snap("blog", None, 4),
        ];
        let present = vec![snap("blog", Some("b1"), 1), snap("shop", Some("b2"), 2)];
        let ids: Vec<String> = missing(source, &present, "blog")
            .iter()
            .filter_map(|s| tend_id(s).map(str::to_owned))
            .collect();
        assert_eq!(ids, ["b2", "b3"]);
    }
}
