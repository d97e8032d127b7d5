//! A files part built from a listing of the host instead of a whole tar stream: each entry
//! of the listing becomes a node under `files/` carrying the listing's metadata (mtime and
//! ctime to the nanosecond, inode), files read from the host with their content, unchanged
//! ones without. The archiver runs with the site's previous listed snapshot as its parent
//! and takes those files' content from it: it matches a node to its parent's when type,
//! size, mtime, ctime and inode are equal, which is the comparison `changed::compare`
//! made to decide to reuse it. A file sent without content that the archiver does not
//! match (its parent's data gone from the repository) is dropped by the archiver, and
//! the count of files taken no longer equals the count sent: the snapshot is refused.
//!
//! [`ParentTree`] answers the comparison's questions about the parent by walking its
//! `files/` tree alongside the listing (both in tree order): only the folders on the
//! current path are held, whatever the size of the site.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustic_core::jiff::Timestamp;
use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{IndexedIdsStatus, Repository, TreeId};

use super::parts::{SharedSink, FILES_DIR};
use super::source::{Content, EntrySink};
use super::tar_format::{self, Kind, TarWriter};
use crate::backup::changed::{ParentEntry, ParentLookup};
use crate::backup::listing::{Entry, EntryKind};
use crate::backup::manifest::{Listed, Part};
use crate::backup::store::{ListedFiles, ListedParent, StoreError};

/// A repository whose trees can be read.
pub type TreeRepository = Repository<IndexedIdsStatus>;

/// `ns` nanoseconds since the epoch as a node's time.
pub fn timestamp(ns: i64) -> Option<Timestamp> {
    Timestamp::from_nanosecond(i128::from(ns)).ok()
}

fn nanoseconds(time: Option<Timestamp>) -> Option<i64> {
    time.and_then(|t| i64::try_from(t.as_nanosecond()).ok())
}

/// The node of a listing entry: its own metadata, `size` (what was read, for a file) and
/// `ctime_ns` as the snapshot records it.
pub fn listed_node(name: &OsStr, kind: &Kind, entry: &Entry, size: u64, ctime_ns: i64) -> Node {
    let meta = Metadata {
        mode: Some(tar_format::go_mode(kind, entry.mode)),
        mtime: timestamp(entry.mtime_ns),
        ctime: timestamp(ctime_ns),
        uid: Some(entry.uid),
        gid: Some(entry.gid),
        inode: entry.inode,
        device_id: entry.device,
        links: entry.links,
        size: if matches!(kind, Kind::File) { size } else { 0 },
        ..Metadata::default()
    };
    Node::new_node(name, tar_format::node_type(kind), meta)
}

/// Counts the bytes written (the size of the tar a restore will write).
#[derive(Default)]
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The files part of a repository snapshot, entry by entry.
pub struct ListedFilesPart {
    sink: SharedSink,
    parent: Option<ListedParent>,
    /// Headers of the tar a restore writes, counted.
    restored: TarWriter<Counter>,
    /// Its files' content, padded to whole blocks.
    content_blocks: u64,
    saw_root: bool,
}

/// A tar block.
const BLOCK: u64 = 512;

impl ListedFilesPart {
    pub fn new(sink: SharedSink, parent: Option<ListedParent>) -> ListedFilesPart {
        ListedFilesPart {
            sink,
            parent,
            restored: TarWriter::new(Counter::default()),
            content_blocks: 0,
            saw_root: false,
        }
    }
}

fn send(sink: &SharedSink, path: PathBuf, node: Node, content: Option<Content>) -> io::Result<()> {
    let mut guard = sink.lock().unwrap_or_else(|e| e.into_inner());
    let sink: &mut EntrySink = guard
        .as_mut()
        .ok_or_else(|| io::Error::other("the snapshot is already complete"))?;
    Ok(sink.send(path, node, content)?)
}

impl ListedFiles for ListedFilesPart {
    fn parent(&mut self) -> Result<Option<ListedParent>, StoreError> {
        Ok(self.parent.take())
    }

    fn drop_parent(&mut self) -> Result<(), StoreError> {
        self.parent = None;
        Ok(())
    }

    fn add(
        &mut self,
        entry: &Entry,
        content: Option<(&mut dyn Read, u64)>,
        ctime_ns: i64,
    ) -> Result<(), StoreError> {
        let rel = PathBuf::from(OsStr::from_bytes(&entry.path));
        let kind = match (entry.kind, &entry.link) {
            (EntryKind::File, _) => Kind::File,
            (EntryKind::Dir, _) => Kind::Dir,
            (EntryKind::Symlink, Some(target)) => {
                Kind::Symlink(PathBuf::from(OsStr::from_bytes(target)))
            }
            (other, _) => {
                return Err(io::Error::other(format!(
                    "`{}` is a {other:?} entry, which a repository snapshot does not hold",
                    rel.display()
                ))
                .into())
            }
        };
        let name = if entry.path.is_empty() {
            if kind != Kind::Dir {
                return Err(io::Error::other("the site root is not a folder").into());
            }
            self.saw_root = true;
            OsStr::new(FILES_DIR).to_owned()
        } else {
            rel.file_name().unwrap_or_default().to_owned()
        };
        if !self.saw_root {
            return Err(io::Error::other("the listing does not start with the site root").into());
        }
        let size = content.as_ref().map_or(entry.size, |(_, size)| *size);
        let node = listed_node(&name, &kind, entry, size, ctime_ns);
        let content = match content {
            Some((reader, size)) => Some(Content::spool(reader, size)?),
            None => None,
        };
        if kind == Kind::File {
            // The header as a restore writes it (its length does not depend on the size),
            // and the content padded to whole blocks, counted without being written.
            let mut header_only = node.clone();
            header_only.meta.size = 0;
            self.restored
                .add(&rel, &header_only, Some(&mut io::empty()))?;
            self.content_blocks += size.div_ceil(BLOCK) * BLOCK;
        } else {
            self.restored.add(&rel, &node, None)?;
        }
        send(&self.sink, Path::new(FILES_DIR).join(&rel), node, content)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Part, StoreError> {
        if !self.saw_root {
            return Err(io::Error::other("the listing held no site root").into());
        }
        let bytes = self.restored.finish()?.0 + self.content_blocks;
        Ok(Part {
            file: format!("{FILES_DIR}/"),
            bytes,
            sha256: String::new(),
            uncompressed_bytes: bytes,
            listed: Some(Listed::default()),
        })
    }
}

/// One folder of the parent on the current path.
struct Level {
    name: Vec<u8>,
    nodes: Vec<Node>,
    /// Where the next name is looked for (names are asked in order).
    at: usize,
}

impl Level {
    /// The node named `name`, moving forward.
    fn find(&mut self, name: &[u8]) -> Option<&Node> {
        while let Some(node) = self.nodes.get(self.at) {
            match node.name().as_bytes().cmp(name) {
                std::cmp::Ordering::Less => self.at += 1,
                std::cmp::Ordering::Equal => return self.nodes.get(self.at),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

/// The parent's `files/` tree, walked alongside the listing.
pub struct ParentTree {
    repo: TreeRepository,
    /// The root (`files/` itself, unnamed), then each folder down to the current one.
    stack: Vec<Level>,
    /// A folder of the parent could not be read.
    unreadable: bool,
}

impl ParentTree {
    /// The `files/` tree of the snapshot whose root tree is `root`.
    pub fn open(repo: TreeRepository, root: TreeId) -> io::Result<ParentTree> {
        let top = repo
            .get_tree(&root)
            .map_err(|e| io::Error::other(e.display_log()))?;
        let files = top
            .nodes
            .into_iter()
            .find(|n| n.name() == OsStr::new(FILES_DIR) && n.is_dir())
            .and_then(|n| n.subtree)
            .ok_or_else(|| io::Error::other("the parent snapshot holds no files/"))?;
        let nodes = repo
            .get_tree(&files)
            .map_err(|e| io::Error::other(e.display_log()))?
            .nodes;
        Ok(ParentTree {
            repo,
            stack: vec![Level {
                name: Vec::new(),
                nodes,
                at: 0,
            }],
            unreadable: false,
        })
    }

    /// Opens the folder `name` of the current level (an empty level when the parent has
    /// none, or it cannot be read: its files are then read anew).
    fn descend(&mut self, name: &[u8]) {
        let subtree = self
            .stack
            .last_mut()
            .and_then(|level| level.find(name))
            .filter(|node| node.is_dir())
            .and_then(|node| node.subtree);
        let nodes = match subtree.map(|id| self.repo.get_tree(&id)) {
            Some(Ok(tree)) => tree.nodes,
            Some(Err(_)) => {
                self.unreadable = true;
                Vec::new()
            }
            None => Vec::new(),
        };
        self.stack.push(Level {
            name: name.to_vec(),
            nodes,
            at: 0,
        });
    }
}

fn parent_entry(node: &Node) -> ParentEntry {
    let kind = match &node.node_type {
        NodeType::File => EntryKind::File,
        NodeType::Dir => EntryKind::Dir,
        NodeType::Symlink { .. } => EntryKind::Symlink,
        NodeType::Dev { .. } => EntryKind::BlockDevice,
        NodeType::Chardev { .. } => EntryKind::CharDevice,
        NodeType::Fifo => EntryKind::Fifo,
        NodeType::Socket => EntryKind::Socket,
    };
    ParentEntry {
        kind,
        size: node.meta.size,
        mtime_ns: nanoseconds(node.meta.mtime).unwrap_or(i64::MIN),
        // No ctime (a snapshot of a whole tar stream): never the same file.
        ctime_ns: nanoseconds(node.meta.ctime).unwrap_or(i64::MIN),
        inode: node.meta.inode,
        mode: tar_format::unix_mode(node.meta.mode.unwrap_or(0)),
        link: None,
    }
}

impl ParentLookup for ParentTree {
    fn entry(&mut self, path: &[u8]) -> Option<ParentEntry> {
        let mut components: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
        let name = components.pop()?;
        let dirs = components;
        // Keep the folders shared with the current path, then go down the rest.
        let shared = self.stack[1..]
            .iter()
            .zip(&dirs)
            .take_while(|(level, dir)| level.name == **dir)
            .count();
        self.stack.truncate(1 + shared);
        for dir in &dirs[shared..] {
            self.descend(dir);
        }
        self.stack.last_mut()?.find(name).map(parent_entry)
    }

    fn failed(&self) -> bool {
        self.unreadable
    }
}
