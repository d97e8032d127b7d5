//! The storage under a repository, as tend needs it from rustic_core's backend trait.
//!
//! Two things are added to the backend a location opens:
//!
//! - **Snapshot files are held back while a snapshot is archived.** rustic's archiver saves
//!   the snapshot file as soon as its source ends, and it ends a source that failed half-way
//!   just as one that is complete (it logs and skips errors). tend decides itself when a
//!   snapshot exists: the archiver runs with [`hold_snapshot_writes`] set on its thread, its
//!   snapshot file is dropped, and the store saves the snapshot (with its tags and manifest)
//!   only once every part arrived whole. An interrupted backup therefore never shows up.
//! - **Local files are written atomically and privately**: into `.tend-tmp/` of the
//!   repository, fsynced, then renamed into place, mode 0600. A killed tend leaves at most
//!   a temporary file there, never a torn index or snapshot file that `restic check` would
//!   refuse.

use std::cell::Cell;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rustic_core::{
    BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend,
};

/// The folder of a local repository where files are written before they are renamed in.
pub const LOCAL_TMP_DIR: &str = ".tend-tmp";

thread_local! {
    static HOLD_SNAPSHOTS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with snapshot files written on this thread dropped instead of stored.
pub fn hold_snapshot_writes<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            HOLD_SNAPSHOTS.with(|h| h.set(false));
        }
    }
    HOLD_SNAPSHOTS.with(|h| h.set(true));
    let _reset = Reset;
    f()
}

/// A backend with tend's two additions; `local` is the repository's folder when it is a
/// local one (writes then bypass `inner`).
#[derive(Debug, Clone)]
pub struct TendBackend {
    inner: Arc<dyn WriteBackend>,
    local: Option<PathBuf>,
}

impl TendBackend {
    pub fn new(inner: Arc<dyn WriteBackend>, local: Option<PathBuf>) -> TendBackend {
        TendBackend { inner, local }
    }
}

/// Where rustic's (and restic's) local layout keeps a file.
fn local_path(root: &Path, tpe: FileType, id: &Id) -> PathBuf {
    let hex = id.to_hex();
    match tpe {
        FileType::Config => root.join("config"),
        FileType::Pack => root.join("data").join(&hex[0..2]).join(&*hex),
        _ => root.join(tpe.dirname()).join(&*hex),
    }
}

fn io_error(what: &'static str, path: &Path, err: std::io::Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::InputOutput, what, err)
        .attach_context("path", path.display().to_string())
}

fn write_local(root: &Path, tpe: FileType, id: &Id, content: BytesList) -> RusticResult<()> {
    let tmp_dir = root.join(LOCAL_TMP_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&tmp_dir)
        .map_err(|e| io_error("cannot create `{path}`", &tmp_dir, e))?;
    let target = local_path(root, tpe, id);
    let tmp = tmp_dir.join(format!("{}.{}", &*id.to_hex(), std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_error("cannot create `{path}`", &tmp, e))?;
        for bytes in content.slice() {
            file.write_all(bytes)
                .map_err(|e| io_error("cannot write `{path}`", &tmp, e))?;
        }
        file.sync_all()
            .map_err(|e| io_error("cannot write `{path}`", &tmp, e))?;
        fs::rename(&tmp, &target).map_err(|e| io_error("cannot write `{path}`", &target, e))?;
        if let Some(dir) = target.parent() {
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

impl ReadBackend for TendBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.inner.list_with_size(tpe)
    }
    fn list(&self, tpe: FileType) -> RusticResult<Vec<Id>> {
        self.inner.list(tpe)
    }
    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        self.inner.read_full(tpe, id)
    }
    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        self.inner.read_partial(tpe, id, cacheable, offset, length)
    }
    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.inner.warmup_path(tpe, id)
    }
    fn needs_warm_up(&self) -> bool {
        self.inner.needs_warm_up()
    }
    fn warm_up(&self, tpe: FileType, id: &Id) -> RusticResult<()> {
        self.inner.warm_up(tpe, id)
    }
}

impl WriteBackend for TendBackend {
    fn create(&self) -> RusticResult<()> {
        if let Some(root) = &self.local {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(|e| io_error("cannot create `{path}`", root, e))?;
        }
        self.inner.create()
    }

    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        if tpe == FileType::Snapshot && HOLD_SNAPSHOTS.with(Cell::get) {
            return Ok(());
        }
        match &self.local {
            Some(root) => write_local(root, tpe, id, content),
            None => self.inner.write_bytes(tpe, id, cacheable, content),
        }
    }

    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        self.inner.remove(tpe, id, cacheable)
    }
}
