//! Where snapshots live, as a trait: the rest of tend takes, lists, reads and removes
//! snapshots through [`SnapshotStore`] and never builds a path into a store.
//!
//! A store keeps, per site, snapshots made of a manifest and up to two parts (the site's
//! files as a tar stream, its database as an SQL dump). Parts go in and come out as
//! streams of their plain content — never whole in memory — and how a store keeps them
//! (compressed files in a folder, chunks in a restic-format repository) is its own
//! business. A snapshot is committed atomically: until [`PendingSnapshot::commit`] it is
//! listed nowhere, and one that is dropped instead leaves nothing. Ids are opaque strings
//! made by the store.
//!
//! The methods block (they do file or network I/O); async code calls the long ones (part
//! streams) from blocking tasks.

use std::io::{self, Read, Write};

use chrono::{DateTime, Utc};

use super::changed::ParentLookup;
use super::listing::Entry;
use super::manifest::{Manifest, Part, DATABASE_PART, FILES_PART};

/// One of the two parts a snapshot may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// The CMS root as a tar stream, paths relative to it.
    Files,
    /// A plain SQL dump of the site's database.
    Database,
}

impl PartKind {
    /// The part's name in the contract's layout (`files.tar.zst`, `database.sql.zst`).
    pub fn name(self) -> &'static str {
        match self {
            PartKind::Files => FILES_PART,
            PartKind::Database => DATABASE_PART,
        }
    }

    /// What `manifest` records of this part, if the snapshot holds it.
    pub fn of(self, manifest: &Manifest) -> Option<&Part> {
        match self {
            PartKind::Files => manifest.files.as_ref(),
            PartKind::Database => manifest.database.as_ref(),
        }
    }
}

/// A complete snapshot found in a store: its manifest, and where the store keeps it (in a
/// form only that store reads).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub manifest: Manifest,
    locator: String,
}

impl Snapshot {
    /// Made by a store, with its own locator for the snapshot.
    pub(super) fn new(manifest: Manifest, locator: String) -> Snapshot {
        Snapshot { manifest, locator }
    }

    pub(super) fn locator(&self) -> &str {
        &self.locator
    }
}

/// Size and sha256 of a part as the store holds it, read back in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDigest {
    pub bytes: u64,
    pub sha256: String,
    /// Taken over the part's plain content as a restore streams it (a repository), so a
    /// match proves the content reads back exactly as it came in; a folder store's digest
    /// is of its compressed file.
    pub of_content: bool,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the store failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A manifest in the store is not one tend can read.
    #[error("{path}: {source}")]
    BadManifest {
        path: String,
        source: serde_json::Error,
    },
    /// The snapshot holds no such part.
    #[error("snapshot {id} holds no {part}")]
    MissingPart { id: String, part: &'static str },
    /// The snapshot repository could not be opened or used.
    #[error("{0}")]
    Repository(#[from] super::repository::RepositoryError),
    /// Unchanged files were to be taken from the previous snapshot, but the repository
    /// could not find their data (damaged, or removed by hand): the snapshot was not saved.
    #[error("the repository took {taken} of the snapshot's {sent} files (an unchanged file taken from the previous snapshot was not found there: its data may be missing from the repository; `tend backups verify --read-data` checks it)")]
    ParentDataMissing { taken: u64, sent: u64 },
}

/// What removing snapshots' data freed (a repository's prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub packs: u64,
    pub bytes: u64,
}

/// How much of a store's data a check reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRead {
    /// A random share of it (a different one each time).
    Share {
        percent: u8,
    },
    All,
}

/// A check of a store as a whole (a repository's structure, index, packs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCheck {
    pub location: String,
    pub data_read: DataRead,
    /// What is wrong; empty when sound.
    pub problems: Vec<String>,
}

/// The order a store needs a files part's tar stream in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesOrder {
    /// As `tar` walks the folder.
    AsArchived,
    /// Sorted by name in each folder, a folder before what it holds, hard links stored
    /// as the files they name (GNU tar's `--sort=name --hard-dereference`): a
    /// repository's tree is built in that order.
    ByName,
}

/// Snapshots of sites: the folder store (the contract's layout), a restic-format
/// repository, or both (new snapshots to the repository, older ones still in folders).
pub trait SnapshotStore: Send + Sync {
    /// Where the store is, for messages.
    fn location(&self) -> String;

    /// Starts a snapshot of `site`. Nothing is listed until it is committed.
    fn begin(
        &self,
        site: &str,
        created: DateTime<Utc>,
    ) -> Result<Box<dyn PendingSnapshot>, StoreError>;

    /// Complete snapshots, of one site or all, oldest first.
    fn list(&self, site: Option<&str>) -> Result<Vec<Snapshot>, StoreError>;

    /// The snapshot `id` of `site`, or its newest for `latest`.
    fn find(&self, site: &str, id: &str) -> Result<Option<Snapshot>, StoreError> {
        let mut all = self.list(Some(site))?;
        if id == "latest" {
            return Ok(all.pop());
        }
        Ok(all.into_iter().find(|s| s.manifest.id == id))
    }

    /// The plain content of one part, as a stream.
    fn open_part(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<Box<dyn Read + Send>, StoreError>;

    /// Reads a part back as stored, to compare with what its manifest recorded when it was
    /// written ([`Part::bytes`], [`Part::sha256`]).
    fn stored_digest(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<StoredDigest, StoreError>;

    /// Removes a complete snapshot; interrupted, it leaves nothing that is listed.
    fn remove(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Removes what interrupted snapshots of `site` left (their writers gone); returns how
    /// many there were.
    fn clean_partials(&self, site: &str) -> Result<usize, StoreError>;

    /// After snapshots were removed, frees the space only they used (a repository's
    /// prune). A folder store freed it when it removed them: `None`.
    fn reclaim(&self) -> Result<Option<Reclaimed>, StoreError> {
        Ok(None)
    }

    /// Checks the store as a whole, reading back a share of its data (`All` with
    /// `backups verify --read-data`). A folder store has nothing beyond its snapshots:
    /// `None`.
    fn check(&self, _data: DataRead) -> Result<Option<StoreCheck>, StoreError> {
        Ok(None)
    }

    /// Where the store copies new snapshots off-site (`settings.offsite`), if anywhere.
    fn offsite_location(&self) -> Option<String> {
        None
    }

    /// Copies the snapshots of `site` that the off-site repository lacks (the newest one,
    /// and any an earlier failed copy missed) there; `None` when the store has no off-site
    /// copy. Only data the off-site repository lacks is sent.
    fn copy_offsite(&self, _site: &str) -> Result<Option<OffsiteCopy>, StoreError> {
        Ok(None)
    }
}

/// What copying a site's snapshots off-site did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsiteCopy {
    /// The off-site repository.
    pub location: String,
    /// tend's ids of the snapshots copied, oldest first (empty when all were there).
    pub copied: Vec<String>,
}

/// A boxed store (what [`super::open_store`] returns) is a store.
impl<S: SnapshotStore + ?Sized> SnapshotStore for Box<S> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn begin(
        &self,
        site: &str,
        created: DateTime<Utc>,
    ) -> Result<Box<dyn PendingSnapshot>, StoreError> {
        (**self).begin(site, created)
    }
    fn list(&self, site: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        (**self).list(site)
    }
    fn find(&self, site: &str, id: &str) -> Result<Option<Snapshot>, StoreError> {
        (**self).find(site, id)
    }
    fn open_part(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        (**self).open_part(snapshot, kind)
    }
    fn stored_digest(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<StoredDigest, StoreError> {
        (**self).stored_digest(snapshot, kind)
    }
    fn remove(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        (**self).remove(snapshot)
    }
    fn clean_partials(&self, site: &str) -> Result<usize, StoreError> {
        (**self).clean_partials(site)
    }
    fn reclaim(&self) -> Result<Option<Reclaimed>, StoreError> {
        (**self).reclaim()
    }
    fn check(&self, data: DataRead) -> Result<Option<StoreCheck>, StoreError> {
        (**self).check(data)
    }
    fn offsite_location(&self) -> Option<String> {
        (**self).offsite_location()
    }
    fn copy_offsite(&self, site: &str) -> Result<Option<OffsiteCopy>, StoreError> {
        (**self).copy_offsite(site)
    }
}

/// A snapshot being written. Dropped without [`PendingSnapshot::commit`], it leaves nothing.
pub trait PendingSnapshot: Send {
    /// The id the snapshot will have.
    fn id(&self) -> &str;

    /// The order the files part must come in.
    fn files_order(&self) -> FilesOrder {
        FilesOrder::AsArchived
    }

    /// A writer for one part's plain content; [`PartWriter::finish`] ends it.
    fn create_part(&mut self, kind: PartKind) -> Result<Box<dyn PartWriter>, StoreError>;

    /// The files part taken entry by entry from a listing of the host, unchanged files
    /// standing in from the site's previous snapshot (a repository); `None` when the store
    /// takes only a whole tar stream ([`PendingSnapshot::create_part`]). Asked before any
    /// part is created: the parent is fixed when the store starts writing.
    fn listed_files(&mut self) -> Result<Option<Box<dyn ListedFiles>>, StoreError> {
        Ok(None)
    }

    /// Records `manifest`, makes everything durable and makes the snapshot appear at once.
    fn commit(self: Box<Self>, manifest: &Manifest) -> Result<(), StoreError>;
}

/// A files part given entry by entry, in the listing's tree order.
pub trait ListedFiles: Send {
    /// The site's newest snapshot stored from a listing, to compare the new listing with;
    /// taken once (`None` the second time, or when there is none).
    fn parent(&mut self) -> Result<Option<ListedParent>, StoreError>;

    /// One entry. A regular file comes with its content as read from the host (`size`
    /// bytes), or without when the parent holds it unchanged; `ctime_ns` is what the
    /// snapshot records as its ctime (the listing's, or one nanosecond before it for a
    /// file that must not match its parent next time).
    fn add(
        &mut self,
        entry: &Entry,
        content: Option<(&mut dyn Read, u64)>,
        ctime_ns: i64,
    ) -> Result<(), StoreError>;

    /// Takes nothing from the previous snapshot: every file is read (its data was found
    /// missing by an earlier attempt). Called before [`ListedFiles::parent`].
    fn drop_parent(&mut self) -> Result<(), StoreError>;

    /// Ends the part: what the manifest records of it (`listed` still to be filled).
    fn finish(self: Box<Self>) -> Result<Part, StoreError>;
}

/// The snapshot that stands in for unchanged files.
pub struct ListedParent {
    /// Its tend id.
    pub id: String,
    /// When its listing began (ns since the epoch).
    pub listed_at_ns: i64,
    /// Its files, asked in tree order.
    pub lookup: Box<dyn ParentLookup + Send>,
}

/// Takes one part's plain content as a stream.
pub trait PartWriter: Write + Send {
    /// Ends the part (flushed, durable): what the manifest records of it.
    fn finish(self: Box<Self>) -> Result<Part, StoreError>;
}

/// A part of a snapshot, named but not yet opened: what a restore streams to a host.
#[derive(Clone, Copy)]
pub struct PartRef<'a> {
    pub store: &'a dyn SnapshotStore,
    pub snapshot: &'a Snapshot,
    pub kind: PartKind,
}

impl PartRef<'_> {
    pub fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        self.store.open_part(self.snapshot, self.kind)
    }
}

impl dyn SnapshotStore + '_ {
    /// One part of `snapshot` in this store.
    pub fn part<'a>(&'a self, snapshot: &'a Snapshot, kind: PartKind) -> PartRef<'a> {
        PartRef {
            store: self,
            snapshot,
            kind,
        }
    }
}
