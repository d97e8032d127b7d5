//! Reading exactly the files a comparison chose, in one tar stream from the host.
//!
//! The paths go to GNU tar on its stdin, NUL-separated (`--null --files-from=-`), each as
//! `./path`: a name with a newline stays one name, and a name like `--remove-files` can
//! never be taken for an option. `--no-unquote` keeps a backslash in a name a backslash;
//! `--no-recursion` keeps a path that became a directory since the listing from pulling
//! in a whole tree; `--hard-dereference` sends each hard-linked name with its content, so
//! every name read stands on its own.
//!
//! A file that vanished between listing and reading is a warning (`--ignore-failed-read`),
//! not a failed backup: it is simply absent from the stream, and its absence is what the
//! caller stores. A file that changed while it was read is stored as read and said so; its
//! listing metadata (not what tar saw) is what the snapshot records, so the next backup
//! finds it changed and reads it again. The stream is compressed on the host with the codec
//! the listing found; tar's own exit status comes back as the last line of stderr, since a
//! pipe's status is its compressor's.

use std::io::{self, Read};

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio_util::io::SyncIoBridge;

use super::listing::Codec;
use crate::remote::{quote, Connection, RemoteCommand, RemoteError, EXIT_NO_DIR};

const PIPE_BYTES: usize = 256 * 1024;
const STATUS_PREFIX: &str = "tend-tar-status ";
/// GNU tar: "some files differ" (changed or removed while read).
const TAR_FILES_DIFFER: i32 = 1;

/// The command: tar of the paths on stdin, compressed with `codec`, tar's status on stderr.
pub fn tar_command(root: &str, codec: Codec) -> RemoteCommand {
    RemoteCommand::script(&format!(
        "{{ cd {} || exit {EXIT_NO_DIR}; }} && {}\
         {{ tar --create --file=- --hard-dereference --ignore-failed-read --no-recursion \
         --null --no-unquote --files-from=-; echo \"{STATUS_PREFIX}$?\" >&2; }} | {}",
        quote(root),
        crate::fault_point::pause_script("changed-tar"),
        codec.compressor()
    ))
}

/// What tar said about the files it read, from its stderr (best effort: only the end of
/// stderr is kept, so on a huge run some lines may be missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarNotes {
    /// Files that changed while they were read (stored as read, read again next time).
    pub changed_while_read: Vec<String>,
    /// Files gone between listing and reading.
    pub vanished: Vec<String>,
    /// Files that could not be read for another reason (permissions): absent from the stream.
    pub unreadable: Vec<String>,
}

/// What reading the changed files produced.
#[derive(Debug)]
pub struct Fetched<T> {
    /// What the consumer returned.
    pub consumed: T,
    /// Bytes that crossed the network (compressed).
    pub wire_bytes: u64,
    pub notes: TarNotes,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Remote(RemoteError),
    #[error("tar failed (exit status {status}): {stderr}")]
    TarFailed { status: i32, stderr: String },
    #[error("the tar stream ended without tar's exit status: it was cut short")]
    NoStatus,
    #[error("storing the files read: {0}")]
    Consumer(io::Error),
}

/// Streams `paths` to tar on `host` and hands the (decompressed) tar stream to `consume`,
/// which runs on a blocking thread as the bytes arrive.
pub async fn fetch<'p, P, F, T>(
    host: &Connection,
    root: &str,
    codec: Codec,
    paths: P,
    consume: F,
) -> Result<Fetched<T>, FetchError>
where
    P: Iterator<Item = &'p [u8]> + Send + Unpin,
    F: FnOnce(&mut dyn Read) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let command = tar_command(root, codec);
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let consumer = tokio::task::spawn_blocking(move || -> io::Result<T> {
        let bridge = io::BufReader::new(SyncIoBridge::new(reader));
        let mut stream = codec.decoder(bridge)?;
        let consumed = consume(&mut stream)?;
        // Whatever the consumer left (tar's end padding) is read, so the host is not
        // blocked writing it.
        io::copy(&mut stream, &mut io::sink())?;
        Ok(consumed)
    });
    let mut feed = PathFeed::new(paths);
    let streamed = host.stream_through(&command, &mut feed, &mut writer).await;
    let _ = writer.shutdown().await;
    drop(writer);
    let consumed = consumer.await.map_err(io::Error::other);
    let (wire_bytes, stderr) = match streamed {
        Ok(done) => done,
        // When storing failed, the broken pipe the host then saw is only the consequence.
        Err(RemoteError::Transport { .. }) if matches!(consumed, Ok(Err(_)) | Err(_)) => {
            return Err(FetchError::Consumer(match flatten(consumed) {
                Err(e) => e,
                Ok(_) => io::Error::other("storing stopped"),
            }));
        }
        Err(e) => return Err(FetchError::Remote(e)),
    };
    let status = tar_status(&stderr).ok_or(FetchError::NoStatus)?;
    if status != 0 && status != TAR_FILES_DIFFER {
        return Err(FetchError::TarFailed {
            status,
            stderr: crate::remote::error::tail_lines(&stderr, 10),
        });
    }
    let consumed = flatten(consumed).map_err(FetchError::Consumer)?;
    Ok(Fetched {
        consumed,
        wire_bytes,
        notes: notes(&stderr),
    })
}

fn flatten<T>(joined: io::Result<io::Result<T>>) -> io::Result<T> {
    joined.and_then(|inner| inner)
}

/// tar's exit status: the last `tend-tar-status N` line of stderr.
pub fn tar_status(stderr: &str) -> Option<i32> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(STATUS_PREFIX))
        .and_then(|status| status.trim().parse().ok())
}

/// Sorts tar's warnings into what they mean for the snapshot.
pub fn notes(stderr: &str) -> TarNotes {
    let mut notes = TarNotes::default();
    for line in stderr.lines() {
        if line.starts_with(STATUS_PREFIX) || !line.starts_with("tar: ") {
            continue;
        }
        let line = line.to_owned();
        if line.ends_with("file changed as we read it") {
            notes.changed_while_read.push(line);
        } else if line.ends_with("Cannot stat: No such file or directory")
            || line.ends_with("File removed before we read it")
        {
            notes.vanished.push(line);
        } else if line.contains("Cannot open")
            || line.contains("Cannot stat")
            || line.contains("Read error")
        {
            notes.unreadable.push(line);
        }
    }
    notes
}

/// `./path\0` for each path, as an async reader that never waits: the paths are already
/// in memory, and are turned into bytes only as tar reads them.
pub struct PathFeed<'p, P: Iterator<Item = &'p [u8]>> {
    paths: P,
    pending: Vec<u8>,
    at: usize,
}

impl<'p, P: Iterator<Item = &'p [u8]>> PathFeed<'p, P> {
    pub fn new(paths: P) -> Self {
        PathFeed {
            paths,
            pending: Vec::new(),
            at: 0,
        }
    }
}

impl<'p, P: Iterator<Item = &'p [u8]>> Read for PathFeed<'p, P> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            if self.at == self.pending.len() {
                let Some(path) = self.paths.next() else { break };
                self.pending.clear();
                self.pending.extend_from_slice(b"./");
                self.pending.extend_from_slice(path);
                self.pending.push(0);
                self.at = 0;
            }
            let n = (self.pending.len() - self.at).min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&self.pending[self.at..self.at + n]);
            self.at += n;
            written += n;
        }
        Ok(written)
    }
}

impl<'p, P: Iterator<Item = &'p [u8]> + Unpin> AsyncRead for PathFeed<'p, P> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = Read::read(this, buf.initialize_unfilled())?;
        buf.advance(n);
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_fed_nul_separated_and_dot_slash_prefixed() {
        let paths: Vec<&[u8]> = vec![b"--remove-files", b"new\nline", b"a\\b"];
        let mut feed = PathFeed::new(paths.into_iter());
        let mut out = Vec::new();
        // A tiny buffer: paths split across reads.
        let mut buf = [0u8; 3];
        loop {
            let n = feed.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"./--remove-files\0./new\nline\0./a\\b\0");
    }

    #[test]
    fn reads_tars_status_and_warnings() {
        let stderr = "tar: ./gone.txt: Warning: Cannot stat: No such file or directory\n\
                      tar: ./busy.log: file changed as we read it\n\
                      tar: ./secret: Warning: Cannot open: Permission denied\n\
                      tend-tar-status 1\n";
        assert_eq!(tar_status(stderr), Some(1));
        let notes = notes(stderr);
        assert_eq!(notes.vanished.len(), 1);
        assert_eq!(
            notes.changed_while_read,
            vec!["tar: ./busy.log: file changed as we read it"]
        );
        assert_eq!(notes.unreadable.len(), 1);
        assert_eq!(tar_status("tar: something\n"), None);
    }

    #[test]
    fn the_command_reads_names_verbatim() {
        let line = tar_command("/srv/a b", Codec::Zstd).as_str().to_owned();
        assert!(line.starts_with("{ cd '/srv/a b' || exit 201; }"), "{line}");
        for option in [
            "--null",
            "--no-unquote",
            "--files-from=-",
            "--no-recursion",
            "--hard-dereference",
        ] {
            assert!(line.contains(option), "{option}: {line}");
        }
        // tar's options are positional: those after --files-from would not apply to it.
        let files_from = line.find("--files-from=-").unwrap();
        for option in [
            "--null",
            "--no-unquote",
            "--no-recursion",
            "--hard-dereference",
        ] {
            assert!(line.find(option).unwrap() < files_from, "{option}: {line}");
        }
        assert!(line.ends_with("| zstd -q -c -3"), "{line}");
    }
}
