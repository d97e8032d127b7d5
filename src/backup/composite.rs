//! The store of a site fleet that moved to a repository: new snapshots go to the
//! repository, and the folder snapshots taken before stay listed, verified, restored and
//! pruned until they age out.

use std::io::Read;

use chrono::{DateTime, Utc};

use super::folder_store::FolderStore;
use super::repository::RepositoryStore;
use super::store::{
    DataRead, OffsiteCopy, PartKind, PendingSnapshot, Reclaimed, Snapshot, SnapshotStore,
    StoreCheck, StoreError, StoredDigest,
};

const IN_REPOSITORY: &str = "repository:";
const IN_FOLDER: &str = "folder:";

pub struct CompositeStore {
    pub repository: RepositoryStore,
    pub folders: FolderStore,
}

/// Which store holds a snapshot listed by the composite, and its own locator there.
enum Home {
    Repository(Snapshot),
    Folder(Snapshot),
}

fn home(snapshot: &Snapshot) -> Home {
    let locator = snapshot.locator();
    match locator.strip_prefix(IN_REPOSITORY) {
        Some(inner) => Home::Repository(Snapshot::new(snapshot.manifest.clone(), inner.to_owned())),
        None => Home::Folder(Snapshot::new(
            snapshot.manifest.clone(),
            locator
                .strip_prefix(IN_FOLDER)
                .unwrap_or(locator)
                .to_owned(),
        )),
    }
}

fn tagged(snapshots: Vec<Snapshot>, prefix: &str) -> impl Iterator<Item = Snapshot> + '_ {
    snapshots
        .into_iter()
        .map(move |s| Snapshot::new(s.manifest.clone(), format!("{prefix}{}", s.locator())))
}

impl SnapshotStore for CompositeStore {
    fn location(&self) -> String {
        self.repository.location()
    }

    fn begin(
        &self,
        site: &str,
        created: DateTime<Utc>,
    ) -> Result<Box<dyn PendingSnapshot>, StoreError> {
        self.repository.begin(site, created)
    }

    fn list(&self, site: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        let mut all: Vec<Snapshot> = tagged(self.folders.list(site)?, IN_FOLDER).collect();
        all.extend(tagged(self.repository.list(site)?, IN_REPOSITORY));
        all.sort_by(|a, b| {
            (a.manifest.created, &a.manifest.site, &a.manifest.id).cmp(&(
                b.manifest.created,
                &b.manifest.site,
                &b.manifest.id,
            ))
        });
        Ok(all)
    }

    fn open_part(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        match home(snapshot) {
            Home::Repository(s) => self.repository.open_part(&s, kind),
            Home::Folder(s) => self.folders.open_part(&s, kind),
        }
    }

    fn stored_digest(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<StoredDigest, StoreError> {
        match home(snapshot) {
            Home::Repository(s) => self.repository.stored_digest(&s, kind),
            Home::Folder(s) => self.folders.stored_digest(&s, kind),
        }
    }

    fn remove(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        match home(snapshot) {
            Home::Repository(s) => self.repository.remove(&s),
            Home::Folder(s) => self.folders.remove(&s),
        }
    }

    fn clean_partials(&self, site: &str) -> Result<usize, StoreError> {
        Ok(self.folders.clean_partials(site)? + self.repository.clean_partials(site)?)
    }

    fn reclaim(&self) -> Result<Option<Reclaimed>, StoreError> {
        self.repository.reclaim()
    }

    fn check(&self, data: DataRead) -> Result<Option<StoreCheck>, StoreError> {
        self.repository.check(data)
    }

    fn offsite_location(&self) -> Option<String> {
        self.repository.offsite_location()
    }

    /// Only repository snapshots are copied: folder snapshots age out where they are.
    fn copy_offsite(&self, site: &str) -> Result<Option<OffsiteCopy>, StoreError> {
        self.repository.copy_offsite(site)
    }
}
