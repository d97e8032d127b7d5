//! [`RepositoryStore`]: snapshots of every site in one restic-format repository.
//!
//! A snapshot is a restic snapshot with the site as its host, tags `tend`, `id=<tend's
//! id>`, `label=…`, `cms=…`, `version=…`, and a tree holding `database/` (one file per
//! table), `files/` (the CMS root) and `manifest.json` — what tend lists, verifies and
//! restores, and what `restic restore` puts back by hand. The manifest is also the
//! snapshot's description, so listing reads only the snapshot files.
//!
//! Writing: parts arrive one after the other (the database first: the tree is built in
//! name order) and go as entries through a channel to rustic's archiver running on a
//! thread of its own. The snapshot file is saved only at [`PendingSnapshot::commit`], after
//! the archiver took every entry: an interrupted backup leaves packs that the next backup
//! reuses and prune removes, but no snapshot.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use rustic_core::repofile::{MasterKey, SnapshotFile, SnapshotId};
use rustic_core::{BackupOptions, ParentOptions, SnapshotOptions, StringList};
use sha2::Digest;

use super::backend::{hold_snapshot_writes, LOCAL_TMP_DIR};
use super::listed::{ListedFilesPart, ParentTree};
use super::lock::{self, HeldLock, LockKind};
use super::open::{self, OpenRepository, RepositoryError};
use super::parts::{DatabasePart, FilesPart, SharedSink, DATABASE_DIR, FILES_DIR, MANIFEST_PATH};
use super::read_back;
use super::source::{self, ChannelSource, Content};
use super::tar_format::{self, Kind, Stamp};
use crate::backup::archive::hex;
use crate::backup::changed::ParentLookup;
use crate::backup::manifest::{Manifest, Part};
use crate::backup::store::{
    DataRead, FilesOrder, ListedFiles, ListedParent, OffsiteCopy, PartKind, PartWriter,
    PendingSnapshot, Reclaimed, Snapshot, SnapshotStore, StoreCheck, StoreError, StoredDigest,
};
use crate::inventory::repository::{RepositoryLocation, RepositorySettings};

/// The tag every snapshot tend writes carries.
pub const TEND_TAG: &str = "tend";

/// Snapshots in a restic-format repository.
pub struct RepositoryStore {
    settings: RepositorySettings,
    /// The master key, once the password opened the repository (or why it did not).
    key: OnceLock<Result<MasterKey, RepositoryError>>,
    /// The repository new snapshots are copied to (`settings.offsite`).
    offsite: Option<RepositorySettings>,
    /// The off-site repository's master key, once its password opened it.
    offsite_key: OnceLock<MasterKey>,
    /// The id of the tend run taking the snapshots (the history's), tagged `run=…`.
    run: Option<String>,
}

impl RepositoryStore {
    pub fn new(settings: RepositorySettings) -> RepositoryStore {
        RepositoryStore {
            settings,
            key: OnceLock::new(),
            offsite: None,
            offsite_key: OnceLock::new(),
            run: None,
        }
    }

    /// The store, tagging the snapshots it takes with the run's id (`run=…`).
    pub fn with_run(self, run: Option<&str>) -> RepositoryStore {
        RepositoryStore {
            run: run.map(str::to_owned),
            ..self
        }
    }

    /// The store, copying new snapshots to `offsite` too.
    pub fn with_offsite(self, offsite: Option<RepositorySettings>) -> RepositoryStore {
        RepositoryStore { offsite, ..self }
    }

    /// The off-site repository, opened (its password tried until it opens once).
    fn offsite_repository(
        &self,
        offsite: &RepositorySettings,
    ) -> Result<(OpenRepository, MasterKey), RepositoryError> {
        if let Some(key) = self.offsite_key.get() {
            return Ok((open::open_with_key(&offsite.location, key)?, key.clone()));
        }
        let (repo, key) = open::open(offsite)?;
        let _ = self.offsite_key.set(key.clone());
        Ok((repo, key))
    }

    fn location(&self) -> &RepositoryLocation {
        &self.settings.location
    }

    /// The repository, opened (the password is tried once per run).
    pub fn repository(&self) -> Result<OpenRepository, RepositoryError> {
        let key = self
            .key
            .get_or_init(|| open::open(&self.settings).map(|(_, key)| key))
            .clone()?;
        open::open_with_key(self.location(), &key)
    }

    fn failed(&self, e: &rustic_core::RusticError) -> StoreError {
        RepositoryError::failed(self.location(), e).into()
    }

    fn snapshot_file(
        &self,
        repo: &OpenRepository,
        snapshot: &Snapshot,
    ) -> Result<SnapshotFile, StoreError> {
        let mut found = repo
            .get_snapshots(&[snapshot.locator()])
            .map_err(|e| self.failed(&e))?;
        found.pop().ok_or_else(|| {
            StoreError::Io(io::Error::other(format!(
                "snapshot {} is no longer in the repository",
                snapshot.manifest.id
            )))
        })
    }
}

/// The tend snapshots among a repository's snapshots, with their manifests.
pub fn tend_snapshots(all: Vec<SnapshotFile>, site: Option<&str>) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = all
        .into_iter()
        .filter(|s| s.tags.contains(TEND_TAG))
        .filter(|s| site.is_none_or(|site| s.hostname == site))
        .filter_map(|s| {
            let manifest: Manifest = serde_json::from_str(s.description.as_deref()?).ok()?;
            Some(Snapshot::new(manifest, s.id.to_hex().to_string()))
        })
        .collect();
    out.sort_by(|a, b| {
        (a.manifest.created, &a.manifest.site, &a.manifest.id).cmp(&(
            b.manifest.created,
            &b.manifest.site,
            &b.manifest.id,
        ))
    });
    out
}

impl SnapshotStore for RepositoryStore {
    fn location(&self) -> String {
        self.settings.location.to_string()
    }

    fn begin(
        &self,
        site: &str,
        created: DateTime<Utc>,
    ) -> Result<Box<dyn PendingSnapshot>, StoreError> {
        let repo = self.repository()?;
        let key = self.repository_key()?;
        let lock = lock::acquire(self.location(), &key, LockKind::Shared)?;
        let (sink, source) = source::channel();
        let sink: SharedSink = Arc::new(Mutex::new(Some(sink)));
        let archiver = Arc::new(Archiver {
            state: Mutex::new(ArchiverState::Waiting(Box::new(Waiting {
                repo,
                source,
                site: site.to_owned(),
                created,
                location: self.location().clone(),
                parent: None,
            }))),
        });
        Ok(Box::new(PendingRepositorySnapshot {
            id: crate::backup::folder_store::snapshot_id(created),
            site: site.to_owned(),
            created,
            sink,
            archiver,
            store_location: self.location().clone(),
            store_key: key,
            lock: Some(lock),
            run: self.run.clone(),
        }))
    }

    fn list(&self, site: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        let repo = self.repository()?;
        let all = repo.get_all_snapshots().map_err(|e| self.failed(&e))?;
        Ok(tend_snapshots(all, site))
    }

    fn open_part(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        if kind.of(&snapshot.manifest).is_none() {
            return Err(StoreError::MissingPart {
                id: snapshot.manifest.id.clone(),
                part: kind.name(),
            });
        }
        let repo = self.repository()?;
        let file = self.snapshot_file(&repo, snapshot)?;
        let repo = repo.to_indexed().map_err(|e| self.failed(&e))?;
        Ok(Box::new(read_back::open(repo, file.tree, kind)?))
    }

    /// The part read back whole from the repository, as a restore would stream it.
    fn stored_digest(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<StoredDigest, StoreError> {
        let mut stream = self.open_part(snapshot, kind)?;
        let mut digest = tar_format::Digesting::default();
        io::copy(&mut stream, &mut digest)?;
        Ok(StoredDigest {
            bytes: digest.bytes,
            sha256: hex(&digest.hasher.finalize()),
            of_content: true,
        })
    }

    /// Forgets the snapshot; the data only it used goes at the next `backups prune`.
    fn remove(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let repo = self.repository()?;
        let _lock = lock::acquire(
            self.location(),
            &self.repository_key()?,
            LockKind::Exclusive,
        )?;
        let file = self.snapshot_file(&repo, snapshot)?;
        repo.delete_snapshots(&[file.id])
            .map_err(|e| self.failed(&e))
    }

    /// Removes the packs no snapshot uses any more (rustic's prune, deleting at once: the
    /// exclusive lock keeps restic and other tend runs out meanwhile).
    fn reclaim(&self) -> Result<Option<Reclaimed>, StoreError> {
        let repo = self.repository()?;
        let _lock = lock::acquire(
            self.location(),
            &self.repository_key()?,
            LockKind::Exclusive,
        )?;
        // Partly used packs are repacked whatever their share of the repository (restic's
        // default): otherwise a large pack of a forgotten snapshot would stay for ever.
        let options = rustic_core::PruneOptions::default()
            .instant_delete(true)
            .max_repack(rustic_core::LimitOption::Unlimited);
        let plan = repo.prune_plan(&options).map_err(|e| self.failed(&e))?;
        // Packs deleted whole, and packs repacked (their used blobs written anew, the rest
        // dropped with them).
        let reclaimed = Reclaimed {
            packs: plan.stats.packs_to_delete.remove + plan.stats.packs.repack,
            bytes: plan.stats.size_to_delete.remove + plan.stats.size_sum().repackrm,
        };
        repo.prune(&options, plan).map_err(|e| self.failed(&e))?;
        Ok(Some(reclaimed))
    }

    /// rustic's check: index, packs, every snapshot's trees and the blobs they name, and
    /// a share of the packs (or all) read back and their blobs' hashes compared.
    fn check(&self, data: DataRead) -> Result<Option<StoreCheck>, StoreError> {
        let repo = self.repository()?;
        let _lock = lock::acquire(self.location(), &self.repository_key()?, LockKind::Shared)?;
        let subset = match data {
            DataRead::All => rustic_core::ReadSubsetOption::All,
            DataRead::Share { percent } => {
                rustic_core::ReadSubsetOption::Percentage(f64::from(percent))
            }
        };
        let options = rustic_core::CheckOptions::default()
            .read_data(true)
            .read_data_subset(subset);
        let results = repo.check(options).map_err(|e| self.failed(&e))?;
        let problems = results
            .0
            .iter()
            .filter(|(level, _)| format!("{level:?}") == "Error")
            .map(|(_, error)| crate::secrets::mask(&error.to_string()))
            .collect();
        Ok(Some(StoreCheck {
            location: self.settings.location.to_string(),
            data_read: data,
            problems,
        }))
    }

    fn offsite_location(&self) -> Option<String> {
        self.offsite.as_ref().map(|o| o.location.to_string())
    }

    fn copy_offsite(&self, site: &str) -> Result<Option<OffsiteCopy>, StoreError> {
        let Some(offsite) = &self.offsite else {
            return Ok(None);
        };
        let source = self.repository()?;
        let source_key = self.repository_key()?;
        let (destination, destination_key) = self.offsite_repository(offsite)?;
        let copied = super::copy::copy_site(
            source,
            self.location(),
            &source_key,
            destination,
            &offsite.location,
            &destination_key,
            site,
        )?;
        Ok(Some(OffsiteCopy {
            location: offsite.location.to_string(),
            copied,
        }))
    }

    /// Temporary files of writers that are gone (a local repository's `.tend-tmp/`).
    fn clean_partials(&self, _site: &str) -> Result<usize, StoreError> {
        let RepositoryLocation::Local(root) = self.location() else {
            return Ok(0);
        };
        let entries = match std::fs::read_dir(root.join(LOCAL_TMP_DIR)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
            if !pid.is_some_and(crate::backup::folder_store::process_alive) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl RepositoryStore {
    fn repository_key(&self) -> Result<MasterKey, StoreError> {
        self.repository()?;
        match self.key.get() {
            Some(Ok(key)) => Ok(key.clone()),
            Some(Err(e)) => Err(e.clone().into()),
            None => Err(io::Error::other("the repository was not opened").into()),
        }
    }
}

/// Runs rustic's archiver over `source` until the producers are done; the snapshot file
/// it makes is held back ([`hold_snapshot_writes`]) and returned.
///
/// `parent` is the snapshot whose nodes stand in for files sent without content: a
/// producer that knows which files are unchanged since the site's newest snapshot (a
/// listing compared with it) sends those with the listing's metadata and no content, and
/// the archiver takes their content from the parent when type, size, mtime, ctime and
/// inode match. Full streams (every file's content present) use none: chunk hashes
/// deduplicate them, and a parent would only let size and mtime stand in for content.
pub fn archive(
    repo: OpenRepository,
    source: ChannelSource,
    site: &str,
    created: DateTime<Utc>,
    location: &RepositoryLocation,
    parent: Option<SnapshotId>,
) -> Result<SnapshotFile, RepositoryError> {
    let repo = repo
        .to_indexed_ids()
        .map_err(|e| RepositoryError::failed(location, &e))?;
    let time = rustic_core::jiff::Timestamp::from_second(created.timestamp())
        .map(|t| t.to_zoned(rustic_core::jiff::tz::TimeZone::UTC))
        .map_err(|e| RepositoryError::Failed {
            location: location.to_string(),
            message: e.to_string(),
        })?;
    let options = SnapshotOptions::default().host(site.to_owned()).time(time);
    let snap =
        SnapshotFile::from_options(&options).map_err(|e| RepositoryError::failed(location, &e))?;
    let parent_options = match parent {
        None => ParentOptions::default().force(true),
        Some(id) => ParentOptions::default().parents(vec![id.to_hex().to_string()]),
    };
    let backup = BackupOptions::default()
        .no_scan(true)
        .parent_opts(parent_options);
    let paths = [
        PathBuf::from(DATABASE_DIR),
        PathBuf::from(FILES_DIR),
        PathBuf::from(MANIFEST_PATH),
    ];
    hold_snapshot_writes(|| repo.archive(&backup, &source, snap, &paths))
        .map_err(|e| RepositoryError::failed(location, &e))
}

/// The parent the archiver is to use, unless reading it for the comparison failed (then
/// none: the comparison read every file it could not look up, and the archiver must not
/// match any of them to the parent's content).
struct PlannedParent {
    id: SnapshotId,
    unreadable: Arc<AtomicBool>,
}

/// rustic's archiver for one snapshot, started at the first entry sent: by then the
/// parent (for a files part built from a listing) is known.
struct Archiver {
    state: Mutex<ArchiverState>,
}

enum ArchiverState {
    Waiting(Box<Waiting>),
    Running(JoinHandle<Result<SnapshotFile, RepositoryError>>),
    Stopped,
}

/// What the archiver will start with.
struct Waiting {
    repo: OpenRepository,
    source: ChannelSource,
    site: String,
    created: DateTime<Utc>,
    location: RepositoryLocation,
    parent: Option<PlannedParent>,
}

impl Archiver {
    fn state(&self) -> std::sync::MutexGuard<'_, ArchiverState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts it if it is still waiting.
    fn start(&self) -> io::Result<()> {
        let mut state = self.state();
        if !matches!(*state, ArchiverState::Waiting(_)) {
            return Ok(());
        }
        let ArchiverState::Waiting(waiting) =
            std::mem::replace(&mut *state, ArchiverState::Stopped)
        else {
            return Ok(());
        };
        let Waiting {
            repo,
            source,
            site,
            created,
            location,
            parent,
        } = *waiting;
        let parent = parent
            .filter(|p| !p.unreadable.load(Ordering::SeqCst))
            .map(|p| p.id);
        let handle = std::thread::Builder::new()
            .name("tend-archiver".into())
            .spawn(move || archive(repo, source, &site, created, &location, parent))?;
        *state = ArchiverState::Running(handle);
        Ok(())
    }

    /// Waits for it to end (the entries must have ended).
    fn join(&self) -> Result<SnapshotFile, StoreError> {
        let state = std::mem::replace(&mut *self.state(), ArchiverState::Stopped);
        match state {
            ArchiverState::Running(handle) => match handle.join() {
                Ok(result) => Ok(result?),
                Err(_) => Err(io::Error::other("the repository's archiver stopped").into()),
            },
            _ => Err(io::Error::other("the repository's archiver never started").into()),
        }
    }
}

struct PendingRepositorySnapshot {
    id: String,
    site: String,
    created: DateTime<Utc>,
    sink: SharedSink,
    archiver: Arc<Archiver>,
    store_location: RepositoryLocation,
    store_key: MasterKey,
    /// The shared lock held while the snapshot is written.
    lock: Option<HeldLock>,
    /// The run's id, for the `run=` tag.
    run: Option<String>,
}

impl PendingRepositorySnapshot {
    /// Ends the entries and waits for the archiver.
    fn close(&mut self) -> Result<SnapshotFile, StoreError> {
        self.sink.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.archiver.join()
    }

    /// The site's newest snapshot whose files were stored from a listing, opened for the
    /// comparison; `None` when there is none or it cannot be read (every file is read).
    fn listed_parent(&self) -> Result<Option<(ListedParent, SnapshotId)>, StoreError> {
        let repo = open::open_with_key(&self.store_location, &self.store_key)?;
        let all = repo
            .get_all_snapshots()
            .map_err(|e| RepositoryError::failed(&self.store_location, &e))?;
        let Some(newest) = tend_snapshots(all, Some(&self.site))
            .into_iter()
            .rev()
            .find(|s| {
                s.manifest
                    .files
                    .as_ref()
                    .is_some_and(|f| f.listed.is_some())
            })
        else {
            return Ok(None);
        };
        let listed_at_ns = newest
            .manifest
            .files
            .as_ref()
            .and_then(|f| f.listed.as_ref())
            .map_or(0, |l| l.listed_at_ns);
        let Some(file) = repo
            .get_snapshots(&[newest.locator()])
            .ok()
            .and_then(|mut found| found.pop())
        else {
            return Ok(None);
        };
        let Ok(repo) = repo.to_indexed_ids() else {
            return Ok(None);
        };
        let Ok(tree) = ParentTree::open(repo, file.tree) else {
            return Ok(None);
        };
        Ok(Some((
            ListedParent {
                id: newest.manifest.id.clone(),
                listed_at_ns,
                lookup: Box::new(tree),
            },
            file.id,
        )))
    }

    /// Files sent so far.
    fn files_sent(&self) -> u64 {
        self.sink
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |s| s.files)
    }
}

impl PendingSnapshot for PendingRepositorySnapshot {
    fn id(&self) -> &str {
        &self.id
    }

    fn files_order(&self) -> FilesOrder {
        FilesOrder::ByName
    }

    fn create_part(&mut self, kind: PartKind) -> Result<Box<dyn PartWriter>, StoreError> {
        self.archiver.start()?;
        Ok(match kind {
            PartKind::Database => Box::new(DatabasePart::new(self.sink.clone(), self.created)?),
            PartKind::Files => Box::new(FilesPart::new(self.sink.clone())?),
        })
    }

    fn listed_files(&mut self) -> Result<Option<Box<dyn ListedFiles>>, StoreError> {
        if !matches!(*self.archiver.state(), ArchiverState::Waiting(_)) {
            return Err(io::Error::other(
                "the listed files were asked for after the snapshot's writing began",
            )
            .into());
        }
        let parent = match self.listed_parent()? {
            Some((mut parent, id)) => {
                let unreadable = Arc::new(AtomicBool::new(false));
                parent.lookup = Box::new(WatchedLookup {
                    inner: parent.lookup,
                    unreadable: unreadable.clone(),
                });
                if let ArchiverState::Waiting(waiting) = &mut *self.archiver.state() {
                    waiting.parent = Some(PlannedParent { id, unreadable });
                }
                Some(parent)
            }
            None => None,
        };
        Ok(Some(Box::new(StartingFiles {
            archiver: self.archiver.clone(),
            part: Some(ListedFilesPart::new(self.sink.clone(), parent)),
        })))
    }

    fn commit(mut self: Box<Self>, manifest: &Manifest) -> Result<(), StoreError> {
        self.archiver.start()?;
        let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
        let stamp = Stamp {
            mtime: self.created.timestamp(),
            uid: 0,
            gid: 0,
            user: None,
            group: None,
        };
        let mut node = tar_format::node(
            std::ffi::OsStr::new(MANIFEST_PATH),
            &Kind::File,
            0o600,
            &stamp,
            json.len() as u64,
        );
        tar_format::stamp_uniquely(&mut node, self.created);
        {
            let mut guard = self.sink.lock().unwrap_or_else(|e| e.into_inner());
            let sink = guard
                .as_mut()
                .ok_or_else(|| io::Error::other("the snapshot was already closed"))?;
            sink.send(
                PathBuf::from(MANIFEST_PATH),
                node,
                Some(Content::Memory(io::Cursor::new(json.clone()))),
            )
            .map_err(io::Error::from)?;
        }
        let sent = self.files_sent();
        let mut snap = self.close()?;
        let processed = snap.summary.as_ref().map_or(0, |s| s.total_files_processed);
        if processed != sent {
            // The archiver drops an entry it cannot store (and only logs why): a file sent
            // without content whose parent copy it could not match or whose data is gone
            // from the repository is one. Never a snapshot with files missing.
            return Err(StoreError::ParentDataMissing {
                taken: processed,
                sent,
            });
        }
        let mut tags = StringList::default();
        tags.add(TEND_TAG.to_owned());
        tags.add(format!("id={}", manifest.id));
        tags.add(format!("cms={}", manifest.cms));
        tags.add(format!("version={}", manifest.version));
        if let Some(run) = &self.run {
            tags.add(format!("run={run}"));
        }
        if let Some(label) = &manifest.label {
            tags.add(format!("label={label}"));
        }
        snap.tags = tags;
        snap.description = Some(String::from_utf8_lossy(&json).into_owned());
        let repo = open::open_with_key(&self.store_location, &self.store_key)?;
        repo.save_snapshots(vec![snap])
            .map_err(|e| StoreError::from(RepositoryError::failed(&self.store_location, &e)))
    }
}

impl Drop for PendingRepositorySnapshot {
    fn drop(&mut self) {
        // Uncommitted: end the archiver (its packs and index stay for the next backup to
        // reuse); its snapshot file was held back, so nothing is listed.
        if matches!(*self.archiver.state(), ArchiverState::Running(_)) {
            let _ = self.close();
        }
        drop(self.lock.take());
    }
}

/// The listed files part, starting the archiver at its first entry (if no part did).
struct StartingFiles {
    archiver: Arc<Archiver>,
    /// Taken by `finish`.
    part: Option<ListedFilesPart>,
}

impl StartingFiles {
    fn part(&mut self) -> Result<&mut ListedFilesPart, StoreError> {
        self.part
            .as_mut()
            .ok_or_else(|| io::Error::other("the files part is already complete").into())
    }
}

impl ListedFiles for StartingFiles {
    fn parent(&mut self) -> Result<Option<ListedParent>, StoreError> {
        self.part()?.parent()
    }

    fn drop_parent(&mut self) -> Result<(), StoreError> {
        if let ArchiverState::Waiting(waiting) = &mut *self.archiver.state() {
            waiting.parent = None;
        }
        // Taken and dropped: the part holds no parent either.
        drop(self.part()?.parent()?);
        Ok(())
    }

    fn add(
        &mut self,
        entry: &crate::backup::listing::Entry,
        content: Option<(&mut dyn Read, u64)>,
        ctime_ns: i64,
    ) -> Result<(), StoreError> {
        self.archiver.start()?;
        self.part()?.add(entry, content, ctime_ns)
    }

    fn finish(mut self: Box<Self>) -> Result<Part, StoreError> {
        let part = self.part.take().ok_or_else(|| {
            StoreError::from(io::Error::other("the files part is already complete"))
        })?;
        Box::new(part).finish()
    }
}

impl Drop for StartingFiles {
    fn drop(&mut self) {
        // Never used (the host could not list its files: a whole tar stream follows): no
        // parent, so that nothing in that stream is matched to an older copy by size and
        // mtime alone.
        if let ArchiverState::Waiting(waiting) = &mut *self.archiver.state() {
            waiting.parent = None;
        }
    }
}

/// A parent lookup that notes when a folder of the parent could not be read.
struct WatchedLookup {
    inner: Box<dyn ParentLookup + Send>,
    unreadable: Arc<AtomicBool>,
}

impl ParentLookup for WatchedLookup {
    fn entry(&mut self, path: &[u8]) -> Option<crate::backup::changed::ParentEntry> {
        let found = self.inner.entry(path);
        if self.inner.failed() {
            self.unreadable.store(true, Ordering::SeqCst);
        }
        found
    }

    fn failed(&self) -> bool {
        self.inner.failed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::listing::{Entry, EntryKind};
    use crate::backup::manifest::Listed;

    fn store(dir: &std::path::Path) -> RepositoryStore {
        let settings = RepositorySettings {
            location: RepositoryLocation::Local(dir.join("repo")),
            password: crate::cms::database::Password::new("test password".into()),
            password_origin: "test".into(),
        };
        open::init(&settings, None).unwrap();
        RepositoryStore::new(settings)
    }

    const SECOND: i64 = 1_000_000_000;
    const LISTED: i64 = 1_700_000_000 * SECOND;

    fn entry(path: &[u8], kind: EntryKind, size: u64) -> Entry {
        Entry {
            path: path.into(),
            link: None,
            size,
            mtime_ns: LISTED - 3600 * SECOND + 123,
            ctime_ns: LISTED - 3600 * SECOND + 456,
            inode: 42,
            device: 2049,
            links: 1,
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            kind,
        }
    }

    /// A snapshot of `files` (path, content or none) stored from a listing taken at
    /// `LISTED`; each file's ctime as `ctime` says.
    fn listed_snapshot(
        store: &RepositoryStore,
        files: &[(&[u8], Option<&[u8]>)],
        ctime: impl Fn(&Entry) -> i64,
    ) -> Result<Option<String>, StoreError> {
        let created = Utc::now();
        let mut pending = store.begin("blog", created)?;
        let mut part = pending.listed_files()?.unwrap();
        let parent = part.parent()?.map(|p| p.id);
        part.add(&entry(b"", EntryKind::Dir, 4096), None, 1)?;
        for (path, content) in files {
            let size = content.map_or(3, |c| c.len() as u64);
            let file = entry(path, EntryKind::File, size);
            let ctime_ns = ctime(&file);
            match content {
                Some(bytes) => part.add(&file, Some((&mut &bytes[..], size)), ctime_ns)?,
                None => part.add(&file, None, ctime_ns)?,
            }
        }
        let mut files_part = part.finish()?;
        files_part.listed = Some(Listed {
            listed_at_ns: LISTED,
            ..Listed::default()
        });
        let id = pending.id().to_owned();
        let manifest = crate::test_fixtures::manifest("blog", &id, Some(files_part), None);
        pending.commit(&manifest)?;
        Ok(parent)
    }

    fn read_files(store: &RepositoryStore) -> Vec<(String, Vec<u8>)> {
        let latest = store.find("blog", "latest").unwrap().unwrap();
        let stream = store.open_part(&latest, PartKind::Files).unwrap();
        let mut archive = tar::Archive::new(stream);
        let mut out = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut content = Vec::new();
            io::Read::read_to_end(&mut e, &mut content).unwrap();
            out.push((path, content));
        }
        out
    }

    #[test]
    fn a_file_read_with_its_parents_stamp_is_stored_with_its_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let first = listed_snapshot(&store, &[(b"a.txt", Some(b"old"))], |e| e.ctime_ns);
        assert_eq!(first.unwrap(), None, "no parent the first time");
        // Same size, mtime, ctime and inode (a change within one clock tick): read, and
        // stored with ctime - 1 ns, the archiver takes the new content, not the parent's.
        let second = listed_snapshot(&store, &[(b"a.txt", Some(b"new"))], |e| {
            crate::backup::changed::restamp(e, LISTED, true)
        });
        assert!(
            second.unwrap().is_some(),
            "the first snapshot is the parent"
        );
        let files = read_files(&store);
        assert_eq!(files[1], ("a.txt".to_owned(), b"new".to_vec()));
        // Unchanged since: sent without content, taken from the parent.
        listed_snapshot(&store, &[(b"a.txt", None)], |e| e.ctime_ns - 1).unwrap();
        assert_eq!(read_files(&store)[1].1, b"new");
    }

    #[test]
    fn a_file_sent_without_content_that_the_parent_does_not_hold_fails_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let refused = listed_snapshot(&store, &[(b"a.txt", None)], |e| e.ctime_ns);
        assert!(
            matches!(refused, Err(StoreError::ParentDataMissing { .. })),
            "{refused:?}"
        );
        let message = refused.unwrap_err().to_string();
        assert!(
            message.contains("the repository took 0 of the snapshot's 2 files")
                || message.contains("took 1 of the snapshot's 2 files"),
            "{message}"
        );
        assert!(store.list(Some("blog")).unwrap().is_empty());
        // With a parent that holds it with another stamp: refused too, never empty.
        listed_snapshot(&store, &[(b"a.txt", Some(b"abc"))], |e| e.ctime_ns).unwrap();
        let refused = listed_snapshot(&store, &[(b"a.txt", None)], |e| e.ctime_ns + 1);
        assert!(
            matches!(refused, Err(StoreError::ParentDataMissing { .. })),
            "{refused:?}"
        );
        assert_eq!(store.list(Some("blog")).unwrap().len(), 1);
    }

    #[test]
    fn only_tend_snapshots_of_the_site_are_listed() {
        let manifest = crate::test_fixtures::manifest("blog", "20261121T030000Z-0001", None, None);
        let mut ours = SnapshotFile {
            hostname: "blog".into(),
            description: Some(serde_json::to_string(&manifest).unwrap()),
            ..SnapshotFile::default()
        };
        ours.tags.add(TEND_TAG.into());
        let other_site = SnapshotFile {
            hostname: "shop".into(),
            ..ours.clone()
        };
        let not_tend = SnapshotFile {
            hostname: "blog".into(),
            ..SnapshotFile::default()
        };
        let listed = tend_snapshots(vec![ours, other_site, not_tend], Some("blog"));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].manifest, manifest);
    }
}
