//! restic's repository locks, so that tend and `restic` (run by hand, or from another
//! runner) never prune data the other is writing or reading.
//!
//! A lock is a small encrypted JSON file in `locks/` (`time`, `exclusive`, `hostname`,
//! `username`, `pid`, `uid`, `gid`), named by the sha256 of its content, exactly as restic
//! writes it. A backup holds a shared lock; forgetting snapshots and pruning data hold an
//! exclusive one, and only for as long as they change the repository. A lock is taken by
//! writing it and then looking at the others: one that conflicts (an exclusive lock
//! against any other, a shared one against an exclusive) makes the newcomer remove its
//! own and fail with who holds the repository. A lock is stale, and ignored, when it was
//! not refreshed for 30 minutes or when its process, on this host, is gone; tend refreshes
//! the locks it holds every 5 minutes, as restic does.
//!
//! rustic_core has no notion of locks (its own design does without), so this module reads
//! and writes lock files itself, with the repository's master key (AES-256-CTR and
//! Poly1305-AES, restic's format): in a local repository's `locks/` folder, or through the
//! object store's backend (`locks/` under the prefix) for an S3 repository.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use aes256ctr_poly1305aes::aead::{Aead, AeadInPlace};
use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use chrono::{DateTime, Utc};
use rustic_core::repofile::MasterKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::open::RepositoryError;
use super::s3::S3Files;
use crate::backup::archive::hex;
use crate::inventory::repository::RepositoryLocation;

/// A lock older than this (not refreshed) is stale.
const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// How often a held lock is refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

/// What a lock allows others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Others may read and add (backups, restores).
    Shared,
    /// Nobody else may use the repository (forgetting snapshots, pruning data).
    Exclusive,
}

/// A lock file's content, as restic writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LockFile {
    time: DateTime<Utc>,
    exclusive: bool,
    hostname: String,
    username: String,
    pid: i64,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    gid: u32,
}

impl LockFile {
    fn holder(&self) -> String {
        format!(
            "{} lock of {}@{} (pid {}, since {})",
            if self.exclusive {
                "an exclusive"
            } else {
                "a shared"
            },
            self.username,
            self.hostname,
            self.pid,
            self.time.format("%Y-%m-%d %H:%M:%SZ")
        )
    }

    fn is_stale(&self, now: DateTime<Utc>, host: &str) -> bool {
        let age = (now - self.time).to_std().unwrap_or_default();
        if age > STALE_AFTER {
            return true;
        }
        self.hostname == host
            && u32::try_from(self.pid)
                .map(|pid| !crate::backup::folder_store::process_alive(pid))
                .unwrap_or(true)
    }
}

/// A lock tend holds; released (its file removed) when dropped.
pub struct HeldLock {
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.join();
        }
    }
}

/// Where a repository's lock files are: its `locks/` folder on the runner, or the
/// `locks/` prefix of an object store, through its backend.
#[derive(Clone)]
enum LockStorage {
    Local(PathBuf),
    Remote(S3Files),
}

/// The lock files of a repository and the key they are encrypted with.
#[derive(Clone)]
struct Locks {
    storage: LockStorage,
    key: aes256ctr_poly1305aes::Key,
    location: String,
}

impl Locks {
    fn new(location: &RepositoryLocation, key: &MasterKey) -> Result<Locks, RepositoryError> {
        let storage = match location {
            RepositoryLocation::Local(root) => LockStorage::Local(root.join("locks")),
            RepositoryLocation::S3(s3) => {
                LockStorage::Remote(S3Files::new(s3).map_err(|e| RepositoryError::Failed {
                    location: location.to_string(),
                    message: format!("its locks: {e}"),
                })?)
            }
        };
        let mut aead_key = aes256ctr_poly1305aes::Key::default();
        aead_key[0..32].copy_from_slice(&key.encrypt);
        aead_key[32..48].copy_from_slice(&key.mac.k);
        aead_key[48..64].copy_from_slice(&key.mac.r);
        Ok(Locks {
            storage,
            key: aead_key,
            location: location.to_string(),
        })
    }

    fn failed(&self, e: impl std::fmt::Display) -> RepositoryError {
        RepositoryError::Failed {
            location: self.location.clone(),
            message: format!("its locks: {e}"),
        }
    }

    fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, RepositoryError> {
        let mut nonce = [0u8; 16];
        fs::File::open("/dev/urandom")
            .and_then(|mut r| r.read_exact(&mut nonce))
            .map_err(|e| self.failed(e))?;
        let mut out = Vec::with_capacity(plain.len() + 32);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = Aes256CtrPoly1305Aes::new(&self.key)
            .encrypt_in_place_detached((&nonce).into(), &[], &mut out[16..])
            .map_err(|e| self.failed(e))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// A lock file's JSON, decrypted (and decompressed: restic's repository version 2
    /// may store it as a version byte 2 and zstd).
    fn decrypt(&self, data: &[u8]) -> Option<LockFile> {
        if data.len() < 32 {
            return None;
        }
        let plain = Aes256CtrPoly1305Aes::new(&self.key)
            .decrypt((&data[0..16]).into(), &data[16..])
            .ok()?;
        let json = match plain.first() {
            Some(2) => zstd::decode_all(&plain[1..]).ok()?,
            _ => plain,
        };
        serde_json::from_slice(&json).ok()
    }

    /// Writes a lock file; returns its name.
    fn write(&self, lock: &LockFile) -> Result<String, RepositoryError> {
        let json = serde_json::to_vec(lock).map_err(|e| self.failed(e))?;
        let data = self.encrypt(&json)?;
        let name = hex(&Sha256::digest(&data));
        let dir = match &self.storage {
            LockStorage::Local(dir) => dir,
            LockStorage::Remote(files) => {
                files
                    .write(&format!("locks/{name}"), data)
                    .map_err(|e| self.failed(e))?;
                return Ok(name);
            }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| self.failed(e))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.failed(e))?;
        file.write_all(&data)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, dir.join(&name)))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                self.failed(e)
            })?;
        Ok(name)
    }

    fn remove(&self, name: &str) {
        match &self.storage {
            LockStorage::Local(dir) => {
                let _ = fs::remove_file(dir.join(name));
            }
            LockStorage::Remote(files) => {
                let _ = files.delete(&format!("locks/{name}"));
            }
        }
    }

    /// Every readable lock but `ours`, with its file name.
    fn others(&self, ours: &str) -> Result<Vec<(String, LockFile)>, RepositoryError> {
        let dir = match &self.storage {
            LockStorage::Local(dir) => dir,
            LockStorage::Remote(files) => {
                let names = files.names("locks/").map_err(|e| self.failed(e))?;
                return Ok(names
                    .into_iter()
                    .filter(|name| name != ours && is_lock_name(name))
                    .filter_map(|name| {
                        let data = files.read(&format!("locks/{name}")).ok()?;
                        Some((name, self.decrypt(&data)?))
                    })
                    .collect());
            }
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.failed(e)),
        };
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name != ours && is_lock_name(&name)
            })
            .filter_map(|e| {
                let lock = self.decrypt(&fs::read(e.path()).ok()?)?;
                Some((e.file_name().to_string_lossy().into_owned(), lock))
            })
            .collect())
    }
}

/// A lock file is named by the sha256 of its content, in hex.
fn is_lock_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname writes at most that much.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    }
}

/// Takes a lock of `kind` on the repository at `location`, or says who holds it.
pub fn acquire(
    location: &RepositoryLocation,
    key: &MasterKey,
    kind: LockKind,
) -> Result<HeldLock, RepositoryError> {
    let locks = Locks::new(location, key)?;
    let host = hostname();
    let lock_host = host.clone();
    let lock = move |time| LockFile {
        time,
        exclusive: kind == LockKind::Exclusive,
        hostname: lock_host.clone(),
        username: std::env::var("USER").unwrap_or_default(),
        pid: i64::from(std::process::id()),
        // SAFETY: getuid and getgid cannot fail.
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
    };
    let name = locks.write(&lock(Utc::now()))?;
    let now = Utc::now();
    let mut conflict = None;
    for (file, other) in locks.others(&name)? {
        if other.is_stale(now, &host) {
            // A lock of a process of this host that is gone (a killed tend or restic)
            // is removed, as `restic unlock` would.
            if other.hostname == host {
                locks.remove(&file);
            }
        } else if kind == LockKind::Exclusive || other.exclusive {
            conflict = Some(other);
        }
    }
    if let Some(other) = conflict {
        locks.remove(&name);
        return Err(RepositoryError::Locked {
            location: location.to_string(),
            holder: other.holder(),
        });
    }
    let (stop, stopped) = channel::<()>();
    let refresher = std::thread::Builder::new()
        .name("tend-repo-lock".into())
        .spawn(move || {
            let mut current = name;
            loop {
                match stopped.recv_timeout(REFRESH_EVERY) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Ok(fresh) = locks.write(&lock(Utc::now())) {
                            locks.remove(&current);
                            current = fresh;
                        }
                    }
                    _ => {
                        locks.remove(&current);
                        return;
                    }
                }
            }
        })
        .map_err(|e| RepositoryError::Failed {
            location: location.to_string(),
            message: e.to_string(),
        })?;
    Ok(HeldLock {
        stop: Some(stop),
        refresher: Some(refresher),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::new()
    }

    #[test]
    fn shared_locks_coexist_and_an_exclusive_one_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let location = RepositoryLocation::Local(dir.path().to_path_buf());
        let key = key();
        let one = acquire(&location, &key, LockKind::Shared).unwrap();
        let two = acquire(&location, &key, LockKind::Shared).unwrap();
        match acquire(&location, &key, LockKind::Exclusive) {
            Err(RepositoryError::Locked { holder, .. }) => {
                assert!(holder.starts_with("a shared lock of"), "{holder}")
            }
            other => panic!("{:?}", other.err()),
        }
        drop((one, two));
        let exclusive = acquire(&location, &key, LockKind::Exclusive).unwrap();
        assert!(matches!(
            acquire(&location, &key, LockKind::Shared),
            Err(RepositoryError::Locked { .. })
        ));
        drop(exclusive);
        assert_eq!(fs::read_dir(dir.path().join("locks")).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_of_a_dead_process_or_not_refreshed_is_stale() {
        let now = Utc::now();
        let mut lock = LockFile {
            time: now,
            exclusive: true,
            hostname: "here".into(),
            username: "u".into(),
            pid: i64::from(std::process::id()),
            uid: 0,
            gid: 0,
        };
        assert!(!lock.is_stale(now, "here"));
        assert!(!lock.is_stale(now, "elsewhere"));
        lock.pid = 999_999_999;
        assert!(lock.is_stale(now, "here"));
        assert!(
            !lock.is_stale(now, "elsewhere"),
            "another host's process is not known"
        );
        lock.time = now - chrono::Duration::minutes(31);
        assert!(lock.is_stale(now, "elsewhere"));
    }
}
