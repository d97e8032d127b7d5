//! A repository snapshot's parts read back as the streams a restore feeds to the host: the
//! files as a tar stream built from the tree (modes, symlinks, mtimes, owners), the
//! database as its tables' SQL concatenated in name order — the dump as it was taken.
//!
//! The stream is written on a thread of its own into a bounded channel of chunks; a
//! failure reading the repository reaches the reader as an error (never as a clean end
//! that a host's `tar -x` or `mariadb` could take for a complete stream).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use rustic_core::repofile::{Node, NodeType};
use rustic_core::{IndexedFullStatus, Repository, TreeId};

use super::parts::{DATABASE_DIR, FILES_DIR};
use super::tar_format::TarWriter;
use crate::backup::store::PartKind;

/// A repository with its full index loaded (data blobs can be read).
pub type IndexedRepository = Repository<IndexedFullStatus>;

/// Bytes read from the repository at once.
const READ_BYTES: usize = 1024 * 1024;
const CHUNK_BYTES: usize = 256 * 1024;

type Chunk = io::Result<Vec<u8>>;

/// The reading end of a part's stream.
pub struct PartStream {
    chunks: Receiver<Chunk>,
    current: io::Cursor<Vec<u8>>,
    done: bool,
}

impl Read for PartStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() || self.done {
                return Ok(n);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => self.current = io::Cursor::new(chunk),
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
    }
}

/// The writing end: buffers into chunks.
struct ChunkWriter {
    sender: SyncSender<Chunk>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
            self.sender
                .send(Ok(chunk))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader is gone"))?;
        }
        Ok(())
    }
}

/// Starts writing `kind` of the snapshot whose tree is `root`; returns its stream.
pub fn open(repo: IndexedRepository, root: TreeId, kind: PartKind) -> io::Result<PartStream> {
    let (sender, chunks) = sync_channel(4);
    let errors = sender.clone();
    std::thread::Builder::new()
        .name("tend-part-out".into())
        .spawn(move || {
            let mut out = ChunkWriter {
                sender,
                buf: Vec::with_capacity(CHUNK_BYTES),
            };
            let result = match kind {
                PartKind::Files => write_files(&repo, root, &mut out),
                PartKind::Database => write_database(&repo, root, &mut out),
            }
            .and_then(|()| out.flush());
            if let Err(e) = result {
                let _ = errors.send(Err(e));
            }
        })?;
    Ok(PartStream {
        chunks,
        current: io::Cursor::new(Vec::new()),
        done: false,
    })
}

fn repo_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("reading the repository: {e}"))
}

/// The node `name` at the top of the snapshot's tree.
pub fn top_node(repo: &IndexedRepository, root: TreeId, name: &str) -> io::Result<Node> {
    repo.get_tree(&root)
        .map_err(|e| repo_error(e.display_log()))?
        .nodes
        .into_iter()
        .find(|n| n.name() == std::ffi::OsStr::new(name))
        .ok_or_else(|| io::Error::other(format!("the snapshot's tree holds no `{name}`")))
}

fn subtree(node: &Node) -> io::Result<TreeId> {
    node.subtree
        .ok_or_else(|| io::Error::other(format!("`{}` has no tree", node.name().to_string_lossy())))
}

/// Reads a file node's content from the repository.
pub struct NodeReader<'a> {
    repo: &'a IndexedRepository,
    file: rustic_core::vfs::OpenFile,
    offset: usize,
    left: usize,
    current: io::Cursor<bytes::Bytes>,
}

impl<'a> NodeReader<'a> {
    pub fn new(repo: &'a IndexedRepository, node: &Node) -> io::Result<NodeReader<'a>> {
        let file = repo
            .open_file(node)
            .map_err(|e| repo_error(e.display_log()))?;
        Ok(NodeReader {
            repo,
            file,
            offset: 0,
            left: node.meta.size as usize,
            current: io::Cursor::new(bytes::Bytes::new()),
        })
    }
}

impl Read for NodeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.current.read(buf)?;
        if n > 0 || self.left == 0 || buf.is_empty() {
            return Ok(n);
        }
        let want = self.left.min(READ_BYTES);
        let bytes = self
            .repo
            .read_file_at(&self.file, self.offset, want)
            .map_err(|e| repo_error(e.display_log()))?;
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a file in the repository is shorter than its size",
            ));
        }
        self.offset += bytes.len();
        self.left = self.left.saturating_sub(bytes.len());
        self.current = io::Cursor::new(bytes);
        self.current.read(buf)
    }
}

fn write_files(repo: &IndexedRepository, root: TreeId, out: &mut ChunkWriter) -> io::Result<()> {
    let files = top_node(repo, root, FILES_DIR)?;
    let mut tar = TarWriter::new(out);
    tar.add(Path::new(""), &files, None)?;
    walk(repo, subtree(&files)?, PathBuf::new(), &mut tar)?;
    tar.finish()?;
    Ok(())
}

fn walk<W: Write>(
    repo: &IndexedRepository,
    tree: TreeId,
    at: PathBuf,
    tar: &mut TarWriter<W>,
) -> io::Result<()> {
    let tree = repo
        .get_tree(&tree)
        .map_err(|e| repo_error(e.display_log()))?;
    for node in &tree.nodes {
        let rel = at.join(node.name());
        match &node.node_type {
            NodeType::Dir => {
                tar.add(&rel, node, None)?;
                walk(repo, subtree(node)?, rel, tar)?;
            }
            NodeType::File => {
                let mut reader = NodeReader::new(repo, node)?;
                tar.add(&rel, node, Some(&mut reader))?;
            }
            _ => tar.add(&rel, node, None)?,
        }
    }
    Ok(())
}

fn write_database(repo: &IndexedRepository, root: TreeId, out: &mut ChunkWriter) -> io::Result<()> {
    let database = top_node(repo, root, DATABASE_DIR)?;
    let tree = repo
        .get_tree(&subtree(&database)?)
        .map_err(|e| repo_error(e.display_log()))?;
    for node in tree.nodes.iter().filter(|n| n.is_file()) {
        io::copy(&mut NodeReader::new(repo, node)?, out)?;
    }
    Ok(())
}
