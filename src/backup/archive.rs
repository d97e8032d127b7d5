//! Moving snapshot parts between a host and the store as streams, never whole.
//!
//! Receiving: the remote command's stdout flows through a small in-memory pipe into a
//! blocking task that compresses it with zstd, hashes the compressed bytes with sha256 and
//! writes them to the part's file. Sending: the reverse, file → zstd decoder → pipe → the
//! remote command's stdin. Memory stays at the pipe's size plus zstd's window, whatever
//! the size of the site.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::io::SyncIoBridge;

use super::manifest::Part;
use super::store::private_file;
use crate::remote::{Connection, RemoteCommand, RemoteError};

/// The in-memory pipe between the network and the compressor.
const PIPE_BYTES: usize = 256 * 1024;
/// zstd level: fast enough not to slow a backup below network speed on one core.
const ZSTD_LEVEL: i32 = 3;
/// Bytes kept from the end of the uncompressed stream, for completeness checks.
pub const TAIL_BYTES: usize = 512;

/// What receiving a part produced.
#[derive(Debug)]
pub struct Received {
    pub part: Part,
    /// The last bytes of the uncompressed stream (a dump's "-- Dump completed" line).
    pub tail: Vec<u8>,
    /// The end of the remote command's stderr.
    pub stderr: String,
    /// Set when the command exited with one of the tolerated statuses rather than 0.
    pub tolerated_status: Option<i32>,
}

/// Why receiving failed: the command (with its exit status), or writing locally.
#[derive(Debug)]
pub enum ReceiveError {
    Remote(RemoteError),
    Local(io::Error),
}

/// Runs `command` (with `stdin`, e.g. a client option file) and stores its stdout,
/// zstd-compressed, at `dest` (created 0600). Exit statuses in `tolerated` count as
/// success (reported in [`Received::tolerated_status`]). On error the caller discards the file.
pub async fn receive(
    host: &Connection,
    command: &RemoteCommand,
    stdin: Option<&[u8]>,
    dest: &Path,
    tolerated: &[i32],
) -> Result<Received, ReceiveError> {
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let dest_path: PathBuf = dest.to_path_buf();
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let compress = tokio::task::spawn_blocking(move || {
        compress_to_file(SyncIoBridge::new(reader), &dest_path)
    });
    let streamed = host.stream_to(command, stdin, &mut writer).await;
    let _ = writer.shutdown().await;
    drop(writer);
    let compressed = compress
        .await
        .map_err(|e| ReceiveError::Local(io::Error::other(e)))?;
    // When writing locally failed, the broken pipe the remote side then saw is only the
    // consequence: report the cause (a full disk, say).
    let compressed = match (compressed, &streamed) {
        (Err(e), Err(RemoteError::Transport { .. })) => return Err(ReceiveError::Local(e)),
        (compressed, _) => compressed,
    };
    let (stderr, tolerated_status) = match streamed {
        Ok((_, stderr)) => (stderr, None),
        Err(RemoteError::CommandFailed {
            status: Some(status),
            stderr_tail,
            ..
        }) if tolerated.contains(&status) => (stderr_tail, Some(status)),
        Err(e) => return Err(ReceiveError::Remote(e)),
    };
    let (bytes, sha256, uncompressed_bytes, tail) = compressed.map_err(ReceiveError::Local)?;
    Ok(Received {
        part: Part {
            file: file_name,
            bytes,
            sha256,
            uncompressed_bytes,
        },
        tail,
        stderr,
        tolerated_status,
    })
}

/// Counts and hashes what passes through to the file.
struct HashingFile {
    file: std::fs::File,
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

fn compress_to_file(mut input: impl Read, dest: &Path) -> io::Result<(u64, String, u64, Vec<u8>)> {
    let file = private_file(dest)?;
    let sink = HashingFile {
        file,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut encoder = zstd::Encoder::new(sink, ZSTD_LEVEL)?;
    let mut buf = vec![0u8; 128 * 1024];
    let mut total: u64 = 0;
    let mut tail: Vec<u8> = Vec::with_capacity(2 * TAIL_BYTES);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        encoder.write_all(&buf[..n])?;
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
    let mut sink = encoder.finish()?;
    sink.file.flush()?;
    sink.file.sync_all()?;
    Ok((sink.bytes, hex(&sink.hasher.finalize()), total, tail))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` with `prefix` and then the decompressed content of `source` on its stdin
/// (a restore; the prefix carries what the command must read first, e.g. an option file).
pub async fn send(
    host: &Connection,
    command: &RemoteCommand,
    prefix: &[u8],
    source: &Path,
    limit: usize,
) -> Result<crate::remote::Output, ReceiveError> {
    let (writer, mut reader) = tokio::io::duplex(PIPE_BYTES);
    let source_path = source.to_path_buf();
    let decompress = tokio::task::spawn_blocking(move || -> io::Result<u64> {
        let file = std::fs::File::open(&source_path)?;
        let mut decoder = zstd::Decoder::new(file)?;
        let mut out = SyncIoBridge::new(writer);
        let copied = io::copy(&mut decoder, &mut out)?;
        out.shutdown()?;
        Ok(copied)
    });
    let mut input = tokio::io::AsyncReadExt::chain(prefix, &mut reader);
    let ran = host.run_with_input(command, &mut input, limit).await;
    drop(input);
    drop(reader);
    let decompressed = decompress
        .await
        .map_err(|e| ReceiveError::Local(io::Error::other(e)))?;
    let output = ran.map_err(ReceiveError::Remote)?;
    decompressed.map_err(ReceiveError::Local)?;
    Ok(output)
}

/// Decompresses a part fully; `inspect` sees the decompressed stream (to walk a tar
/// archive, or check a dump's end). Returns the decompressed size.
pub fn check_part(
    path: &Path,
    inspect: impl FnOnce(&mut dyn Read) -> io::Result<()>,
) -> io::Result<u64> {
    struct Counting<R> {
        inner: R,
        bytes: u64,
    }
    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.bytes += n as u64;
            Ok(n)
        }
    }
    let decoder = zstd::Decoder::new(std::fs::File::open(path)?)?;
    let mut counting = Counting {
        inner: decoder,
        bytes: 0,
    };
    inspect(&mut counting)?;
    // Whatever the inspector did not read must still decompress.
    io::copy(&mut counting, &mut io::sink())?;
    Ok(counting.bytes)
}
