//! A snapshot's two parts arriving as streams, turned into entries of its tree.
//!
//! - **Files**: the host's tar stream (name-sorted, hard links stored as files) is read on
//!   a thread of its own through a pipe: each entry becomes a node under `files/`, its
//!   content spooled ([`super::source::Content`]) and sent to the archiver.
//! - **Database**: one consistent dump (`--single-transaction`) is split, as it streams,
//!   at each `-- Table structure for table` line into `database/NNNN-<table>.sql`
//!   (`0000-header.sql` holds what comes before the first table). Unchanged tables then
//!   deduplicate whole, and the files concatenated in name order are the dump byte for
//!   byte.
//!
//! Each part records in the manifest the size and sha256 of the stream a restore will
//! produce from the repository (the tar that [`super::tar_format::TarWriter`] writes, the
//! dump as received), so `backups verify` compares what comes back with what came in.

use std::ffi::OsStr;
use std::io::{self, Write};

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustic_core::repofile::Node;

use super::source::{Content, EntrySink, MEMORY_CONTENT};
use super::tar_format::{self, Digesting, Kind, Stamp, TarWriter};
use crate::backup::archive::hex;
use crate::backup::manifest::Part;
use crate::backup::store::{PartWriter, StoreError};

/// The folder of the site's files in a snapshot's tree.
pub const FILES_DIR: &str = "files";
/// The folder of the database's tables in a snapshot's tree.
pub const DATABASE_DIR: &str = "database";
/// The manifest at the top of a snapshot's tree.
pub const MANIFEST_PATH: &str = "manifest.json";

/// The producers' shared end of the channel (the parts come one after the other).
pub type SharedSink = Arc<Mutex<Option<EntrySink>>>;

fn send(sink: &SharedSink, path: PathBuf, node: Node, content: Option<Content>) -> io::Result<()> {
    let mut guard = sink.lock().unwrap_or_else(|e| e.into_inner());
    let sink = guard
        .as_mut()
        .ok_or_else(|| io::Error::other("the snapshot is already complete"))?;
    Ok(sink.send(path, node, content)?)
}

/// Why the thread reading the files stream ended without an error of its own to pass on:
/// it panicked (its message kept), it ended before the stream did, or it was gone.
fn stopped(joined: Option<std::thread::Result<io::Result<Digesting>>>) -> io::Error {
    match joined {
        Some(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            io::Error::other(format!(
                "reading the files stream stopped: its reader panicked: {message}"
            ))
        }
        Some(Ok(_)) => io::Error::other(
            "reading the files stream stopped: its reader ended before the stream did",
        ),
        None => io::Error::other("reading the files stream stopped"),
    }
}

/// The files part: a tar stream in, entries out.
pub struct FilesPart {
    pipe: Option<io::PipeWriter>,
    reader: Option<JoinHandle<io::Result<Digesting>>>,
}

impl FilesPart {
    pub fn new(sink: SharedSink) -> io::Result<FilesPart> {
        let (reader, writer) = io::pipe()?;
        let handle = std::thread::Builder::new()
            .name("tend-files-in".into())
            .spawn(move || read_tar(reader, &sink))?;
        Ok(FilesPart {
            pipe: Some(writer),
            reader: Some(handle),
        })
    }

    fn reader_error(&mut self) -> io::Error {
        match self.reader.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            other => stopped(other),
        }
    }
}

impl Write for FilesPart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pipe = self
            .pipe
            .as_mut()
            .ok_or_else(|| io::Error::other("finished"))?;
        match pipe.write(buf) {
            Ok(n) => Ok(n),
            // The reader gave up: its error says why.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.pipe = None;
                Err(self.reader_error())
            }
            Err(e) => Err(e),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartWriter for FilesPart {
    fn finish(mut self: Box<Self>) -> Result<Part, StoreError> {
        drop(self.pipe.take());
        let digest = match self.reader.take().map(JoinHandle::join) {
            Some(Ok(result)) => result?,
            other => return Err(stopped(other).into()),
        };
        Ok(part(FILES_DIR, digest))
    }
}

impl Drop for FilesPart {
    fn drop(&mut self) {
        drop(self.pipe.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn part(dir: &str, digest: Digesting) -> Part {
    Part {
        file: format!("{dir}/"),
        bytes: digest.bytes,
        sha256: hex(&digest.hasher.finalize()),
        uncompressed_bytes: digest.bytes,
        listed: None,
    }
}

/// Reads the tar stream to its end, sending each entry; returns the digest of the tar a
/// restore will write.
fn read_tar(input: io::PipeReader, sink: &SharedSink) -> io::Result<Digesting> {
    let mut archive = tar::Archive::new(input);
    let mut canonical = TarWriter::new(Digesting::default());
    let mut saw_root = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = tar_format::relative(&entry.path()?)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Symlink => Kind::Symlink(
                entry
                    .link_name()?
                    .ok_or_else(|| {
                        io::Error::other(format!("{}: a link without target", rel.display()))
                    })?
                    .into_owned(),
            ),
            other => {
                return Err(io::Error::other(format!(
                    "`{}` is a {other:?} entry, which a repository snapshot does not hold",
                    rel.display()
                )))
            }
        };
        let stamp = Stamp {
            mtime: header.mtime()? as i64,
            uid: header.uid()? as u32,
            gid: header.gid()? as u32,
            user: header.username().ok().flatten().map(str::to_owned),
            group: header.groupname().ok().flatten().map(str::to_owned),
        };
        let unix = header.mode()?;
        let size = header.size()?;
        let name = if rel.as_os_str().is_empty() {
            if kind != Kind::Dir {
                return Err(io::Error::other("the archive's root is not a folder"));
            }
            saw_root = true;
            OsStr::new(FILES_DIR).to_owned()
        } else {
            rel.file_name().unwrap_or_default().to_owned()
        };
        if !saw_root {
            return Err(io::Error::other(
                "the archive does not start with its root `./`",
            ));
        }
        let node = tar_format::node(&name, &kind, unix, &stamp, size);
        let mut content = match kind {
            Kind::File => Some(Content::spool(&mut entry, size)?),
            _ => None,
        };
        match content.as_mut() {
            Some(content) => {
                canonical.add(&rel, &node, Some(content))?;
                content.rewind()?;
            }
            None => canonical.add(&rel, &node, None)?,
        }
        send(sink, Path::new(FILES_DIR).join(&rel), node, content)?;
    }
    if !saw_root {
        return Err(io::Error::other("the archive is empty"));
    }
    // GNU tar pads the archive after its end blocks: read it all, so the writer never
    // finds the pipe closed.
    io::copy(&mut archive.into_inner(), &mut io::sink())?;
    canonical.finish()
}

/// The line that starts each table in mysqldump's and mariadb-dump's output.
const TABLE_MARKER: &[u8] = b"-- Table structure for table `";
/// A marker line longer than this is not one (a table name is at most 64 characters).
const MAX_MARKER_LINE: usize = 1024;

/// The database part: a dump in, one file per table out.
pub struct DatabasePart {
    sink: SharedSink,
    stamp: Stamp,
    created: chrono::DateTime<chrono::Utc>,
    digest: Digesting,
    /// The file being filled and its name.
    current: Section,
    /// Sections sent so far.
    count: usize,
    /// Bytes held back at the start of a line while they may be a table marker.
    held: Vec<u8>,
    at_line_start: bool,
}

/// One file of the database folder being filled: in memory, then in a temporary file.
struct Section {
    name: String,
    memory: Vec<u8>,
    file: Option<std::fs::File>,
    size: u64,
}

impl Section {
    fn new(name: String) -> Section {
        Section {
            name,
            memory: Vec::new(),
            file: None,
            size: 0,
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        self.size += buf.len() as u64;
        if let Some(file) = &mut self.file {
            return file.write_all(buf);
        }
        self.memory.extend_from_slice(buf);
        if self.memory.len() as u64 > MEMORY_CONTENT {
            let mut file = tempfile::tempfile()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        Ok(())
    }

    fn into_content(self) -> io::Result<(String, u64, Content)> {
        let content = match self.file {
            Some(file) => {
                let mut content = Content::File(file);
                content.rewind()?;
                content
            }
            None => Content::Memory(io::Cursor::new(self.memory)),
        };
        Ok((self.name, self.size, content))
    }
}

impl DatabasePart {
    /// Starts the `database` folder (mode 0700, the snapshot's time `created`).
    pub fn new(
        sink: SharedSink,
        created: chrono::DateTime<chrono::Utc>,
    ) -> io::Result<DatabasePart> {
        let stamp = Stamp {
            mtime: created.timestamp(),
            uid: current_uid(),
            gid: current_gid(),
            user: None,
            group: None,
        };
        let mut node = tar_format::node(OsStr::new(DATABASE_DIR), &Kind::Dir, 0o700, &stamp, 0);
        tar_format::stamp_uniquely(&mut node, created);
        send(&sink, PathBuf::from(DATABASE_DIR), node, None)?;
        Ok(DatabasePart {
            sink,
            stamp,
            created,
            digest: Digesting::default(),
            current: Section::new(section_name(0, "header")),
            count: 0,
            held: Vec::new(),
            at_line_start: true,
        })
    }

    fn emit(&mut self, next: Option<String>) -> io::Result<()> {
        let name = next.unwrap_or_default();
        let section = std::mem::replace(&mut self.current, Section::new(name));
        let (name, size, content) = section.into_content()?;
        let mut node = tar_format::node(OsStr::new(&name), &Kind::File, 0o600, &self.stamp, size);
        tar_format::stamp_uniquely(&mut node, self.created);
        send(
            &self.sink,
            Path::new(DATABASE_DIR).join(&name),
            node,
            Some(content),
        )?;
        self.count += 1;
        Ok(())
    }

    /// The held bytes turned out to be ordinary text: into the current section.
    fn release_held(&mut self) -> io::Result<()> {
        let held = std::mem::take(&mut self.held);
        self.current.write(&held)
    }

    fn take(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.at_line_start || !self.held.is_empty() {
                let byte = buf[0];
                buf = &buf[1..];
                self.at_line_start = false;
                self.held.push(byte);
                let n = self.held.len();
                if n <= TABLE_MARKER.len() {
                    if TABLE_MARKER[..n] != self.held[..] {
                        let newline = byte == b'\n';
                        self.release_held()?;
                        self.at_line_start = newline;
                    }
                } else if byte == b'\n' {
                    let line = &self.held[TABLE_MARKER.len()..];
                    let table = line
                        .iter()
                        .position(|&b| b == b'`')
                        .map(|end| String::from_utf8_lossy(&line[..end]).into_owned());
                    if let Some(table) = table {
                        let name = section_name(self.count + 1, &table);
                        self.emit(Some(name))?;
                    }
                    self.release_held()?;
                    self.at_line_start = true;
                } else if n > MAX_MARKER_LINE {
                    self.release_held()?;
                }
                continue;
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.current.write(&buf[..=end])?;
                    buf = &buf[end + 1..];
                    self.at_line_start = true;
                }
                None => {
                    self.current.write(buf)?;
                    buf = &[];
                }
            }
        }
        Ok(())
    }
}

/// `0003-wp_options.sql`: the number keeps the dump's order, the name says which table
/// (characters other than letters, digits, `_-.` become `_`).
fn section_name(number: usize, table: &str) -> String {
    let safe: String = table
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{number:04}-{safe}.sql")
}

impl Write for DatabasePart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.digest.write_all(buf)?;
        self.take(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartWriter for DatabasePart {
    fn finish(mut self: Box<Self>) -> Result<Part, StoreError> {
        self.release_held()?;
        self.emit(None)?;
        let digest = std::mem::take(&mut self.digest);
        Ok(part(DATABASE_DIR, digest))
    }
}

fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

fn current_gid() -> u32 {
    // SAFETY: getgid cannot fail and has no preconditions.
    unsafe { libc::getgid() }
}

/// Reads a whole stream, for tests.
#[cfg(test)]
fn read_all(mut r: impl io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::repository::source::channel;
    use rustic_core::ReadSource;

    #[test]
    fn a_dump_splits_per_table_and_concatenates_back() {
        let dump = b"-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n--\n-- Table structure for table `wp_options`\n--\nCREATE TABLE `wp_options` (x int);\nINSERT INTO `wp_options` VALUES (1),(2);\n--\n-- Table structure for table `wp posts`\n--\nCREATE TABLE `wp posts` (y int);\n-- Table structure for table `not a marker: mid-line\n-- Dump completed on 2026-11-21\n";
        let (sink, source) = channel();
        let shared: SharedSink = Arc::new(Mutex::new(Some(sink)));
        let collect = std::thread::spawn(move || {
            source
                .entries()
                .map(|e| {
                    let e = e.unwrap();
                    let content = e.open.map(read_all).unwrap_or_default();
                    (e.path.display().to_string(), content)
                })
                .collect::<Vec<_>>()
        });
        let mut part = Box::new(DatabasePart::new(shared.clone(), chrono::Utc::now()).unwrap());
        for chunk in dump.chunks(7) {
            part.write_all(chunk).unwrap();
        }
        let recorded = part.finish().unwrap();
        shared.lock().unwrap().take();
        let entries = collect.join().unwrap();
        let names: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "database",
                "database/0000-header.sql",
                "database/0001-wp_options.sql",
                "database/0002-wp_posts.sql"
            ]
        );
        let joined: Vec<u8> = entries.iter().flat_map(|(_, c)| c.clone()).collect();
        assert_eq!(
            String::from_utf8_lossy(&joined),
            String::from_utf8_lossy(dump)
        );
        assert!(String::from_utf8_lossy(&entries[1].1).ends_with("--\n"));
        assert_eq!(recorded.bytes, dump.len() as u64);
        assert_eq!(recorded.sha256, hex(&sha2::Sha256::digest(dump)));
    }
}
