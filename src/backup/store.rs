//! The snapshot store on the runner: `<store>/backups/<site>/<snapshot-id>/`.
//!
//! A snapshot is written into a hidden `.partial-…` directory and renamed into place only
//! once every part and the manifest are written and fsynced, so a snapshot directory that
//! `backups list` shows is always complete. A partial directory left by a killed or failed
//! backup carries the writer's pid in its name and is removed by the next backup of that
//! site once that process is gone. Everything is created readable by its owner only
//! (directories 0700, files 0600): snapshots hold database dumps with customer data.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::manifest::{Manifest, MANIFEST_FILE};

const PARTIAL_PREFIX: &str = ".partial-";

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A complete snapshot found in the store.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    pub fn site_dir(&self, site: &str) -> PathBuf {
        self.backups_dir().join(site)
    }

    /// Starts a snapshot of `site`: a private partial directory to write the parts into.
    pub fn begin(&self, site: &str, created: DateTime<Utc>) -> io::Result<PendingSnapshot> {
        let site_dir = self.site_dir(site);
        create_private_dir_all(&site_dir)?;
        let id = snapshot_id(created);
        let dir = site_dir.join(format!("{PARTIAL_PREFIX}{id}.{}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(PendingSnapshot {
            final_dir: site_dir.join(&id),
            dir,
            id,
            done: false,
        })
    }

    /// Complete snapshots, of one site or all, oldest first.
    pub fn list(&self, site: Option<&str>) -> io::Result<Vec<Snapshot>> {
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
                Err(e) => return Err(e),
            },
        };
        let mut out = Vec::new();
        for site in sites {
            let dir = self.site_dir(&site);
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
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
                    Err(e) => return Err(e),
                };
                let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", manifest_path.display()),
                    )
                })?;
                out.push(Snapshot {
                    dir: entry.path(),
                    manifest,
                });
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

    /// The snapshot `id` of `site`, or its newest for `latest`.
    pub fn find(&self, site: &str, id: &str) -> io::Result<Option<Snapshot>> {
        let mut all = self.list(Some(site))?;
        if id == "latest" {
            return Ok(all.pop());
        }
        Ok(all.into_iter().find(|s| s.manifest.id == id))
    }

    /// Removes a complete snapshot: renamed aside first, so that a crash halfway through
    /// leaves a hidden directory rather than a listed snapshot with missing parts.
    pub fn remove(&self, snapshot: &Snapshot) -> io::Result<()> {
        let parent = snapshot.dir.parent().unwrap_or(Path::new("."));
        let aside = parent.join(format!(
            "{PARTIAL_PREFIX}removing-{}.{}",
            snapshot.manifest.id,
            std::process::id()
        ));
        fs::rename(&snapshot.dir, &aside)?;
        fs::remove_dir_all(&aside)
    }

    /// Removes partial directories of `site` whose writer is no longer running; returns them.
    pub fn clean_partials(&self, site: &str) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let entries = match fs::read_dir(self.site_dir(site)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(PARTIAL_PREFIX) else {
                continue;
            };
            let pid = rest.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(process_alive);
            if !alive {
                fs::remove_dir_all(entry.path())?;
                removed.push(entry.path());
            }
        }
        Ok(removed)
    }
}

/// Whether a process with this pid runs on this machine (`/proc`, else `kill -0`).
fn process_alive(pid: u32) -> bool {
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
fn snapshot_id(created: DateTime<Utc>) -> String {
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

/// A snapshot being written. Dropped without [`PendingSnapshot::commit`], it removes what
/// it wrote.
pub struct PendingSnapshot {
    dir: PathBuf,
    final_dir: PathBuf,
    pub id: String,
    done: bool,
}

impl PendingSnapshot {
    /// Where to write the part called `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the manifest, makes everything durable, and moves the snapshot into place.
    pub fn commit(mut self, manifest: &Manifest) -> io::Result<PathBuf> {
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
        if let Some(parent) = self.final_dir.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        self.done = true;
        Ok(self.final_dir.clone())
    }
}

impl Drop for PendingSnapshot {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A new file readable and writable by its owner only.
pub fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
    fn an_abandoned_snapshot_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path());
        let pending = store.begin("blog", Utc::now()).unwrap();
        std::fs::write(pending.path("files.tar.zst"), b"half").unwrap();
        drop(pending);
        let left: Vec<_> = std::fs::read_dir(store.site_dir("blog")).unwrap().collect();
        assert!(left.is_empty());
        let mode = std::fs::metadata(store.site_dir("blog"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn partials_of_dead_writers_are_cleaned_and_never_listed() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path());
        let site = store.site_dir("blog");
        std::fs::create_dir_all(site.join(".partial-20260101T000000Z-0001.999999999")).unwrap();
        std::fs::create_dir_all(site.join(format!(
            ".partial-20260101T000000Z-0002.{}",
            std::process::id()
        )))
        .unwrap();
        assert!(store.list(Some("blog")).unwrap().is_empty());
        let removed = store.clean_partials("blog").unwrap();
        assert_eq!(removed.len(), 1, "only the dead writer's partial goes");
        assert!(removed[0].to_string_lossy().ends_with(".999999999"));
    }
}
