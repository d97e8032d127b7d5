//! What a snapshot's tree is made of, fed to rustic's archiver as it arrives.
//!
//! The archiver pulls entries (a path, its node — type, mode, times, owner, size, link
//! target — and a way to open its content) from a [`rustic_core::ReadSource`], in tree
//! order (sorted by path components), and chunks, hashes, compresses and packs contents in
//! parallel. tend's parts arrive as streams (a tar of the site, a dump of its database), so
//! the producers here read each entry's content off the stream before going on: a content
//! up to [`MEMORY_CONTENT`] stays in memory, a larger one goes to an unnamed temporary
//! file (created 0600 and already deleted, so nothing is left whatever kills tend). The
//! channel between producers and archiver holds a few entries: memory stays bounded
//! whatever the size of the site.
//!
//! [`EntrySink`] is where entries go in; it refuses an entry out of tree order (the
//! archiver would silently build a wrong tree). A parent-aware producer (one that knows
//! which files are unchanged since the site's previous snapshot) sends such files without
//! content and with the listing's metadata, and the archiver takes their content from the
//! parent snapshot.

use std::fs;
use std::io::{self, Cursor, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use rustic_core::repofile::Node;
use rustic_core::{ReadSource, ReadSourceEntry, RusticResult};

/// Contents up to this size are held in memory on their way to the archiver.
pub const MEMORY_CONTENT: u64 = 1024 * 1024;
/// Entries queued between a producer and the archiver.
const QUEUE: usize = 8;

/// The content of one file, read off its stream.
#[derive(Debug)]
pub enum Content {
    Memory(Cursor<Vec<u8>>),
    /// An unnamed temporary file, rewound.
    File(fs::File),
}

impl Read for Content {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Content::Memory(c) => c.read(buf),
            Content::File(f) => f.read(buf),
        }
    }
}

impl Content {
    /// Reads `size` bytes of `input` (no fewer: a short stream is an error).
    pub fn spool(input: &mut dyn Read, size: u64) -> io::Result<Content> {
        let mut limited = input.take(size);
        let (content, got) = if size <= MEMORY_CONTENT {
            let mut buf = Vec::with_capacity(size as usize);
            limited.read_to_end(&mut buf)?;
            let got = buf.len() as u64;
            (Content::Memory(Cursor::new(buf)), got)
        } else {
            let mut file = tempfile::tempfile()?;
            let got = io::copy(&mut limited, &mut file)?;
            file.flush()?;
            file.rewind()?;
            (Content::File(file), got)
        };
        if got != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ended after {got} of {size} bytes of a file"),
            ));
        }
        Ok(content)
    }

    /// Back to its first byte, to be read again.
    pub fn rewind(&mut self) -> io::Result<()> {
        match self {
            Content::Memory(c) => c.set_position(0),
            Content::File(f) => {
                f.rewind()?;
            }
        }
        Ok(())
    }
}

/// One entry of a snapshot's tree.
pub type Entry = ReadSourceEntry<Content>;

/// The archiver's end of the channel.
pub struct ChannelSource {
    entries: Mutex<Option<Receiver<Entry>>>,
}

/// The producers' end: entries in tree order.
pub struct EntrySink {
    sender: SyncSender<Entry>,
    last: Option<PathBuf>,
    /// Files (not directories) sent.
    pub files: u64,
}

/// Why an entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("`{path}` came after `{previous}`: the stream is not in name order")]
    OutOfOrder { path: String, previous: String },
    #[error("the repository stopped taking entries")]
    Closed,
}

impl From<SinkError> for io::Error {
    fn from(e: SinkError) -> io::Error {
        io::Error::other(e)
    }
}

/// A channel from producers to the archiver.
pub fn channel() -> (EntrySink, ChannelSource) {
    let (sender, receiver) = sync_channel(QUEUE);
    (
        EntrySink {
            sender,
            last: None,
            files: 0,
        },
        ChannelSource {
            entries: Mutex::new(Some(receiver)),
        },
    )
}

impl EntrySink {
    /// Sends one entry; its path must come after the previous one in tree order
    /// (component by component, byte order), a directory before what it holds.
    pub fn send(
        &mut self,
        path: PathBuf,
        node: Node,
        content: Option<Content>,
    ) -> Result<(), SinkError> {
        if let Some(last) = &self.last {
            if path.as_path() <= last.as_path() {
                return Err(SinkError::OutOfOrder {
                    path: path.display().to_string(),
                    previous: last.display().to_string(),
                });
            }
        }
        self.last = Some(path.clone());
        if !node.is_dir() {
            self.files += 1;
        }
        self.sender
            .send(Entry {
                path,
                node,
                open: content,
            })
            .map_err(|_| SinkError::Closed)
    }
}

/// Yields what the producers send, until they are all gone.
pub struct ChannelEntries(Option<Receiver<Entry>>);

impl Iterator for ChannelEntries {
    type Item = RusticResult<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.as_ref()?.recv().ok().map(Ok)
    }
}

impl ReadSource for ChannelSource {
    type Open = Content;
    type Iter = ChannelEntries;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    /// The entries, once: the channel is taken by the first call.
    fn entries(&self) -> ChannelEntries {
        ChannelEntries(
            self.entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustic_core::repofile::{Metadata, NodeType};
    use std::ffi::OsStr;

    fn node(name: &str) -> Node {
        Node::new_node(OsStr::new(name), NodeType::File, Metadata::default())
    }

    #[test]
    fn small_contents_stay_in_memory_and_large_ones_go_to_a_file() {
        let small = Content::spool(&mut &b"hello"[..], 5).unwrap();
        assert!(matches!(small, Content::Memory(_)));
        let big = vec![7u8; MEMORY_CONTENT as usize + 1];
        let mut content = Content::spool(&mut &big[..], big.len() as u64).unwrap();
        assert!(matches!(content, Content::File(_)));
        let mut back = Vec::new();
        content.read_to_end(&mut back).unwrap();
        assert!(back == big);
        assert!(
            Content::spool(&mut &b"abc"[..], 4).is_err(),
            "a short stream"
        );
    }

    #[test]
    fn entries_must_come_in_tree_order() {
        let (mut sink, source) = channel();
        let reader = std::thread::spawn(move || source.entries().count());
        sink.send("files".into(), node("files"), None).unwrap();
        sink.send("files/a".into(), node("a"), None).unwrap();
        // `a/b` sorts before `a-b`: a directory's content comes right after it.
        sink.send("files/a/b".into(), node("b"), None).unwrap();
        sink.send("files/a-b".into(), node("a-b"), None).unwrap();
        assert!(matches!(
            sink.send("files/a/c".into(), node("c"), None),
            Err(SinkError::OutOfOrder { .. })
        ));
        drop(sink);
        assert_eq!(reader.join().unwrap(), 4);
    }
}
