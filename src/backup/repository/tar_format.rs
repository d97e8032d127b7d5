//! Between tar entries and repository nodes, both ways, and the one way tend writes a
//! site's files as tar when it reads them back from a repository.
//!
//! A backup turns the host's tar stream into nodes (type, permission bits, mtime, owner,
//! size, link target); a restore writes those nodes back as a tar stream for the host's
//! `tar -x`. [`TarWriter`] is that writer, and a backup also runs it over each entry into a
//! hash: the manifest records the size and sha256 of the stream a restore will produce, so
//! `backups verify` can prove that a snapshot reads back exactly as it came in.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use rustic_core::jiff::Timestamp;
use rustic_core::repofile::{Metadata, Node, NodeType};
use sha2::{Digest, Sha256};

// Go's `fs.FileMode` bits, which restic's nodes use for the type and special bits.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_STICKY: u32 = 1 << 20;

/// A tar entry's kind, as tend keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
}

/// Unix permission bits (with setuid, setgid, sticky) to restic's mode of a node.
pub fn go_mode(kind: &Kind, unix: u32) -> u32 {
    let mut mode = unix & 0o777;
    match kind {
        Kind::Dir => mode |= GO_MODE_DIR,
        Kind::Symlink(_) => mode |= GO_MODE_SYMLINK,
        Kind::File => {}
    }
    for (bit, go) in [
        (0o4000, GO_MODE_SETUID),
        (0o2000, GO_MODE_SETGID),
        (0o1000, GO_MODE_STICKY),
    ] {
        if unix & bit != 0 {
            mode |= go;
        }
    }
    mode
}

/// restic's mode of a node back to Unix permission bits.
pub fn unix_mode(go: u32) -> u32 {
    let mut mode = go & 0o777;
    for (bit, go_bit) in [
        (0o4000, GO_MODE_SETUID),
        (0o2000, GO_MODE_SETGID),
        (0o1000, GO_MODE_STICKY),
    ] {
        if go & go_bit != 0 {
            mode |= bit;
        }
    }
    mode
}

/// The owner and time of an entry.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    pub mtime: i64,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// A node named `name`.
pub fn node(name: &OsStr, kind: &Kind, unix: u32, stamp: &Stamp, size: u64) -> Node {
    let meta = Metadata {
        mode: Some(go_mode(kind, unix)),
        mtime: Timestamp::from_second(stamp.mtime).ok(),
        uid: Some(stamp.uid),
        gid: Some(stamp.gid),
        user: stamp.user.clone(),
        group: stamp.group.clone(),
        size: if matches!(kind, Kind::File) { size } else { 0 },
        ..Metadata::default()
    };
    Node::new_node(name, node_type(kind), meta)
}

/// The repository's node type of an entry of `kind`.
pub fn node_type(kind: &Kind) -> NodeType {
    match kind {
        Kind::Dir => NodeType::Dir,
        Kind::File => NodeType::File,
        Kind::Symlink(target) => NodeType::from_link(target),
    }
}

/// Gives a node tend makes itself (a table of the dump, the manifest) the snapshot's
/// creation time to the nanosecond as its mtime and ctime: no other snapshot's node has
/// them, so the repository never takes its content from a parent snapshot (it would if
/// type, size and times matched).
pub fn stamp_uniquely(node: &mut Node, created: chrono::DateTime<chrono::Utc>) {
    let time = created
        .timestamp_nanos_opt()
        .and_then(|ns| Timestamp::from_nanosecond(i128::from(ns)).ok());
    node.meta.mtime = time;
    node.meta.ctime = time;
}

/// The path in the site root of a tar entry (`./a/b` → `a/b`, `./` → empty), refusing one
/// that leaves the root.
pub fn relative(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the archive holds `{}`, outside the site root",
                        path.display()
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Writes entries as a tar stream: GNU headers (long names and link targets as GNU
/// extensions), the root as `./`.
pub struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter {
            builder: tar::Builder::new(out),
        }
    }

    /// Adds the entry at `rel` (relative to the site root, empty for the root itself)
    /// described by `node`, with its content for a file.
    pub fn add(
        &mut self,
        rel: &Path,
        node: &Node,
        content: Option<&mut dyn Read>,
    ) -> io::Result<()> {
        let path: &Path = if rel.as_os_str().is_empty() {
            Path::new("./")
        } else {
            rel
        };
        let mut header = tar::Header::new_gnu();
        header.set_mode(unix_mode(node.meta.mode.unwrap_or(0o644)));
        header.set_mtime(
            node.meta
                .mtime
                .map(|t| t.as_second().max(0) as u64)
                .unwrap_or(0),
        );
        header.set_uid(node.meta.uid.unwrap_or(0).into());
        header.set_gid(node.meta.gid.unwrap_or(0).into());
        if let Some(user) = &node.meta.user {
            let _ = header.set_username(user);
        }
        if let Some(group) = &node.meta.group {
            let _ = header.set_groupname(group);
        }
        match &node.node_type {
            NodeType::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                self.builder.append_data(&mut header, path, io::empty())
            }
            NodeType::Symlink { .. } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                self.builder
                    .append_link(&mut header, path, node.node_type.to_link())
            }
            NodeType::File => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(node.meta.size);
                let content = content
                    .ok_or_else(|| io::Error::other(format!("{} has no content", rel.display())))?;
                let mut exact = ExactSize {
                    inner: content,
                    left: node.meta.size,
                };
                self.builder.append_data(&mut header, path, &mut exact)?;
                if exact.left != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("{} read back shorter than its size", rel.display()),
                    ));
                }
                Ok(())
            }
            other => Err(io::Error::other(format!(
                "{}: tend does not store {other:?} entries",
                rel.display()
            ))),
        }
    }

    /// Ends the archive (two zero blocks) and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

/// At most `left` bytes of `inner` (tar's writer pads a short one with zeros; the caller
/// checks `left`).
struct ExactSize<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for ExactSize<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        if max == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts and hashes what is written through it.
#[derive(Default)]
pub struct Digesting {
    pub bytes: u64,
    pub hasher: Sha256,
}

impl Write for Digesting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_go_to_restic_and_back() {
        for (kind, unix) in [
            (Kind::Dir, 0o755),
            (Kind::File, 0o640),
            (Kind::File, 0o4755),
            (Kind::Dir, 0o1777),
            (Kind::Symlink("x".into()), 0o777),
        ] {
            assert_eq!(unix_mode(go_mode(&kind, unix)), unix, "{kind:?} {unix:o}");
        }
        assert_eq!(go_mode(&Kind::Dir, 0o755), 0x8000_01ed);
    }

    #[test]
    fn written_entries_read_back_as_tar() {
        let stamp = Stamp {
            mtime: 1_700_000_000,
            uid: 1000,
            gid: 1000,
            user: Some("web".into()),
            group: None,
        };
        let mut out = TarWriter::new(Vec::new());
        out.add(
            Path::new(""),
            &node(OsStr::new("files"), &Kind::Dir, 0o750, &stamp, 0),
            None,
        )
        .unwrap();
        let long = "d/".repeat(80) + "file";
        out.add(
            Path::new(&long),
            &node(OsStr::new("file"), &Kind::File, 0o600, &stamp, 3),
            Some(&mut &b"abc"[..]),
        )
        .unwrap();
        out.add(
            Path::new("link"),
            &node(
                OsStr::new("link"),
                &Kind::Symlink("wp-config.php".into()),
                0o777,
                &stamp,
                0,
            ),
            None,
        )
        .unwrap();
        let bytes = out.finish().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let seen: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                    e.header().mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(seen[0], ("./".to_owned(), 0o750, 1_700_000_000));
        assert_eq!(seen[1].0, long);
        assert_eq!(seen[2].0, "link");
        // A file whose content is shorter than its node says is an error, not padding.
        let mut out = TarWriter::new(Vec::new());
        assert!(out
            .add(
                Path::new("f"),
                &node(OsStr::new("f"), &Kind::File, 0o600, &stamp, 5),
                Some(&mut &b"ab"[..]),
            )
            .is_err());
    }
}
