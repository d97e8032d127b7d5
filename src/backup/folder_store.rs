//! The folder store: snapshots as plain folders on the runner, in the contract's layout
//! `<store>/backups/<site>/<snapshot-id>/{manifest.json,files.tar.zst,database.sql.zst}`,
//! restorable by hand (`zstd -d | tar -x`, `zstd -d | mysql`).
//!
//! A snapshot is written into a hidden `.partial-…` directory and renamed into place only
//! once every part and the manifest are written and fsynced, so a snapshot directory that
//! `backups list` shows is always complete. A partial directory left by a killed or failed
//! backup carries the writer's pid in its name and is removed by the next backup of that
//! site once that process is gone. Everything is created readable by its owner only
//! (directories 0700, files 0600): snapshots hold database dumps with customer data.
//! Parts are zstd-compressed on the way in and hashed as stored.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::archive::hex;
use super::manifest::{Manifest, Part, MANIFEST_FILE};
use super::store::{
    PartKind, PartWriter, PendingSnapshot, Snapshot, SnapshotStore, StoreError, StoredDigest,
};

const PARTIAL_PREFIX: &str = ".partial-";
/// zstd level: fast enough not to slow a backup below network speed on one core.
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    /// The store under `root` (the inventory's `settings.store`); snapshots go in
    /// `root/backups`.
    pub fn new(root: &Path) -> FolderStore {
        FolderStore {
            root: root.to_path_buf(),
        }
    }

    fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    fn site_dir(&self, site: &str) -> PathBuf {
        self.backups_dir().join(site)
    }

    /// A snapshot's directory: its locator is its path below `backups/`.
    fn dir_of(&self, snapshot: &Snapshot) -> PathBuf {
        self.backups_dir().join(snapshot.locator())
    }

    fn part_path(&self, snapshot: &Snapshot, kind: PartKind) -> Result<PathBuf, StoreError> {
        match kind.of(&snapshot.manifest) {
            Some(_) => Ok(self.dir_of(snapshot).join(kind.name())),
            None => Err(StoreError::MissingPart {
                id: snapshot.manifest.id.clone(),
                part: kind.name(),
            }),
        }
    }
}

impl SnapshotStore for FolderStore {
    fn location(&self) -> String {
        self.backups_dir().display().to_string()
    }

    fn begin(
        &self,
        site: &str,
        created: DateTime<Utc>,
    ) -> Result<Box<dyn PendingSnapshot>, StoreError> {
        let site_dir = self.site_dir(site);
        create_private_dir_all(&site_dir)?;
        let id = snapshot_id(created);
        let dir = site_dir.join(format!("{PARTIAL_PREFIX}{id}.{}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Box::new(PendingFolder {
            final_dir: site_dir.join(&id),
            dir,
            id,
            done: false,
        }))
    }

    fn list(&self, site: Option<&str>) -> Result<Vec<Snapshot>, StoreError> {
        let sites: Vec<String> = match site {
            Some(s) => vec![s.to_owned()],
            None => match fs::read_dir(self.backups_dir()) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            },
        };
        let mut out = Vec::new();
        for site in sites {
            let entries = match fs::read_dir(self.site_dir(&site)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.path().is_dir() {
                    continue;
                }
                let manifest_path = entry.path().join(MANIFEST_FILE);
                let text = match fs::read_to_string(&manifest_path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let manifest: Manifest =
                    serde_json::from_str(&text).map_err(|source| StoreError::BadManifest {
                        path: manifest_path.display().to_string(),
                        source,
                    })?;
                out.push(Snapshot::new(manifest, format!("{site}/{name}")));
            }
        }
        out.sort_by(|a, b| {
            (a.manifest.created, &a.manifest.site, &a.manifest.id).cmp(&(
                b.manifest.created,
                &b.manifest.site,
                &b.manifest.id,
            ))
        });
        Ok(out)
    }

    fn open_part(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        let file = fs::File::open(self.part_path(snapshot, kind)?)?;
        Ok(Box::new(zstd::Decoder::new(file)?))
    }

    fn stored_digest(
        &self,
        snapshot: &Snapshot,
        kind: PartKind,
    ) -> Result<StoredDigest, StoreError> {
        let mut file = fs::File::open(self.part_path(snapshot, kind)?)?;
        let mut hasher = Sha256::new();
        let bytes = io::copy(&mut file, &mut hasher)?;
        Ok(StoredDigest {
            bytes,
            sha256: hex(&hasher.finalize()),
            of_content: false,
        })
    }

    /// Renamed aside first, so that a crash halfway through leaves a hidden directory
    /// rather than a listed snapshot with missing parts; the next backup or prune of the
    /// site removes it ([`SnapshotStore::clean_partials`]) once this process is gone.
    fn remove(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let dir = self.dir_of(snapshot);
        let parent = dir.parent().unwrap_or(Path::new("."));
        let aside = parent.join(format!(
            "{PARTIAL_PREFIX}removing-{}.{}",
            snapshot.manifest.id,
            std::process::id()
        ));
        fs::rename(&dir, &aside)?;
        crate::fault_point::pause("snapshot-renamed-aside");
        Ok(fs::remove_dir_all(&aside)?)
    }

    fn clean_partials(&self, site: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        let entries = match fs::read_dir(self.site_dir(site)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e.into()),
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(PARTIAL_PREFIX) else {
                continue;
            };
            let pid = rest.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
            if !pid.is_some_and(process_alive) {
                fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Whether a process with this pid runs on this machine (`/proc`, else `kill -0`).
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    std::process::Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Snapshot ids sort by time: `20261121T030000Z-1a2b`; the suffix tells apart two
/// snapshots of one site taken in the same second.
pub(crate) fn snapshot_id(created: DateTime<Utc>) -> String {
    use std::hash::{BuildHasher, RandomState};
    let suffix =
        RandomState::new().hash_one((std::process::id(), created.timestamp_nanos_opt())) & 0xffff;
    format!("{}-{suffix:04x}", created.format("%Y%m%dT%H%M%SZ"))
}

fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A new file readable and writable by its owner only.
fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A snapshot being written into its partial directory; removed when dropped uncommitted.
struct PendingFolder {
    dir: PathBuf,
    final_dir: PathBuf,
    id: String,
    done: bool,
}

impl PendingSnapshot for PendingFolder {
    fn id(&self) -> &str {
        &self.id
    }

    fn create_part(&mut self, kind: PartKind) -> Result<Box<dyn PartWriter>, StoreError> {
        let file = private_file(&self.dir.join(kind.name()))?;
        let sink = HashingFile {
            file,
            hasher: Sha256::new(),
            bytes: 0,
        };
        Ok(Box::new(FolderPart {
            name: kind.name(),
            encoder: zstd::Encoder::new(sink, ZSTD_LEVEL)?,
            uncompressed: 0,
        }))
    }

    fn commit(mut self: Box<Self>, manifest: &Manifest) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
        let mut file = private_file(&self.dir.join(MANIFEST_FILE))?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        for entry in fs::read_dir(&self.dir)? {
            fs::File::open(entry?.path())?.sync_all()?;
        }
        fs::File::open(&self.dir)?.sync_all()?;
        fs::rename(&self.dir, &self.final_dir)?;
        self.done = true;
        if let Some(parent) = self.final_dir.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for PendingFolder {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// One part's file: compressed, counted and hashed on the way in.
struct FolderPart {
    name: &'static str,
    encoder: zstd::Encoder<'static, HashingFile>,
    uncompressed: u64,
}

impl Write for FolderPart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        self.uncompressed += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}

impl PartWriter for FolderPart {
    fn finish(self: Box<Self>) -> Result<Part, StoreError> {
        let FolderPart {
            name,
            encoder,
            uncompressed,
        } = *self;
        let mut sink = encoder.finish()?;
        sink.file.flush()?;
        sink.file.sync_all()?;
        Ok(Part {
            file: name.to_owned(),
            bytes: sink.bytes,
            sha256: hex(&sink.hasher.finalize()),
            uncompressed_bytes: uncompressed,
            listed: None,
        })
    }
}

/// Counts and hashes what passes through to the file.
struct HashingFile {
    file: fs::File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::manifest;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Writes `content` as the files part of a new snapshot of `site` and commits it.
    fn take(store: &dyn SnapshotStore, site: &str, content: &[u8]) -> Snapshot {
        let mut pending = store.begin(site, Utc::now()).unwrap();
        let mut part = pending.create_part(PartKind::Files).unwrap();
        for chunk in content.chunks(1000) {
            part.write_all(chunk).unwrap();
        }
        let part = part.finish().unwrap();
        let id = pending.id().to_owned();
        pending
            .commit(&manifest(site, &id, Some(part), None))
            .unwrap();
        store.find(site, &id).unwrap().unwrap()
    }

    #[test]
    fn ids_sort_by_time_and_differ_within_a_second() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = snapshot_id(t);
        assert!(a.starts_with("20261121T030000Z-"), "{a}");
        assert_eq!(a.len(), "20261121T030000Z-0000".len());
    }

    #[test]
    fn a_part_streams_back_as_written_and_its_digest_matches_the_manifest() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let content: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let snapshot = take(&store, "blog", &content);

        let recorded = snapshot.manifest.files.clone().unwrap();
        assert_eq!(recorded.file, "files.tar.zst");
        assert_eq!(recorded.uncompressed_bytes, content.len() as u64);
        let digest = store.stored_digest(&snapshot, PartKind::Files).unwrap();
        assert_eq!(
            (digest.bytes, digest.sha256),
            (recorded.bytes, recorded.sha256)
        );

        let mut back = Vec::new();
        let mut stream = store.open_part(&snapshot, PartKind::Files).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert!(back == content, "the part reads back byte for byte");
        // The contract's layout, readable by hand with zstd.
        let on_disk = root
            .path()
            .join("backups/blog")
            .join(&snapshot.manifest.id)
            .join("files.tar.zst");
        assert_eq!(
            zstd::decode_all(fs::File::open(on_disk).unwrap()).unwrap(),
            content
        );
        assert!(matches!(
            store.open_part(&snapshot, PartKind::Database),
            Err(StoreError::MissingPart { .. })
        ));
    }

    #[test]
    fn snapshots_are_private_to_their_owner() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let snapshot = take(&store, "blog", b"secret rows");
        let dir = root.path().join("backups/blog").join(&snapshot.manifest.id);
        assert_eq!(mode(&root.path().join("backups")), 0o700);
        assert_eq!(mode(&root.path().join("backups/blog")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("files.tar.zst")), 0o600);
        assert_eq!(mode(&dir.join("manifest.json")), 0o600);
    }

    #[test]
    fn a_snapshot_is_listed_only_once_committed() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let mut pending = store.begin("blog", Utc::now()).unwrap();
        let id = pending.id().to_owned();
        let mut part = pending.create_part(PartKind::Database).unwrap();
        part.write_all(b"-- Dump completed\n").unwrap();
        let part = part.finish().unwrap();
        assert!(
            store.list(None).unwrap().is_empty(),
            "a partial is never listed"
        );
        assert!(store.find("blog", "latest").unwrap().is_none());
        pending
            .commit(&manifest("blog", &id, None, Some(part)))
            .unwrap();
        let listed = store.list(None).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].manifest.id, id);
        // Only the snapshot's own directory is left: the partial one was renamed.
        let names: Vec<String> = fs::read_dir(root.path().join("backups/blog"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, std::slice::from_ref(&id));

        store.remove(&listed[0]).unwrap();
        assert!(store.list(Some("blog")).unwrap().is_empty());
        assert_eq!(
            fs::read_dir(root.path().join("backups/blog"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn snapshots_list_oldest_first_and_latest_is_the_newest() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let first = take(&store, "blog", b"one");
        let second = take(&store, "blog", b"two");
        take(&store, "shop", b"three");
        let ids = |list: Vec<Snapshot>| -> Vec<String> {
            list.into_iter().map(|s| s.manifest.id).collect()
        };
        assert_eq!(
            ids(store.list(Some("blog")).unwrap()),
            [first.manifest.id.clone(), second.manifest.id.clone()]
        );
        assert_eq!(store.list(None).unwrap().len(), 3);
        let latest = store.find("blog", "latest").unwrap().unwrap();
        assert_eq!(latest.manifest.id, second.manifest.id);
        let found = store.find("blog", &first.manifest.id).unwrap().unwrap();
        assert_eq!(found.manifest, first.manifest);
        assert!(store.find("blog", "nope").unwrap().is_none());
        assert!(store.find("nobody", "latest").unwrap().is_none());
    }

    #[test]
    fn an_abandoned_snapshot_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let mut pending = store.begin("blog", Utc::now()).unwrap();
        let mut part = pending.create_part(PartKind::Files).unwrap();
        part.write_all(b"half").unwrap();
        drop(part);
        drop(pending);
        let site = root.path().join("backups/blog");
        assert_eq!(fs::read_dir(&site).unwrap().count(), 0);
        assert_eq!(mode(&site), 0o700);
    }

    #[test]
    fn partials_of_dead_writers_are_cleaned_and_never_listed() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let site = root.path().join("backups/blog");
        let ours = format!(".partial-20260101T000000Z-0002.{}", std::process::id());
        fs::create_dir_all(site.join(".partial-20260101T000000Z-0001.999999999")).unwrap();
        fs::create_dir_all(site.join(&ours)).unwrap();
        assert!(store.list(Some("blog")).unwrap().is_empty());
        assert_eq!(store.clean_partials("blog").unwrap(), 1);
        let left: Vec<String> = fs::read_dir(&site)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, [ours], "only the dead writer's partial goes");
    }

    #[test]
    fn a_damaged_manifest_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let dir = root.path().join("backups/blog/20260101T000000Z-0001");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("manifest.json"), "{").unwrap();
        match store.list(None) {
            Err(StoreError::BadManifest { path, .. }) => assert!(path.ends_with("manifest.json")),
            other => panic!("{other:?}"),
        }
    }
}
