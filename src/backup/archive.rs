//! Moving snapshot parts between a host and the store as streams, never whole.
//!
//! Receiving: the remote command's stdout flows through a small in-memory pipe into a
//! blocking task that decompresses it (when the host compressed it for the wire) and
//! writes it into the store's part writer (which compresses, hashes and stores it as that
//! store does). Sending: the reverse, the store's part stream → pipe
//! → the remote command's stdin. Memory stays at the pipe's size plus what the store
//! buffers, whatever the size of the site.

use std::io::{self, BufReader, Read, Write};

use tokio::io::AsyncWriteExt;
use tokio_util::io::SyncIoBridge;

use super::listing::Codec;
use super::manifest::Part;
use super::store::{PartWriter, StoreError};
use crate::remote::{Connection, RemoteCommand, RemoteError};

/// The in-memory pipe between the network and the store.
const PIPE_BYTES: usize = 256 * 1024;
/// Bytes kept from the end of the stream, for completeness checks.
pub const TAIL_BYTES: usize = 512;

/// What receiving a part produced.
#[derive(Debug)]
pub struct Received {
    pub part: Part,
    /// The last bytes of the stream (a dump's "-- Dump completed" line).
    pub tail: Vec<u8>,
    /// The end of the remote command's stderr.
    pub stderr: String,
    /// Set when the command exited with one of the tolerated statuses rather than 0.
    pub tolerated_status: Option<i32>,
}

/// Why moving a part failed: the remote command (with its exit status), or the store.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Remote(RemoteError),
    #[error("{0}")]
    Store(StoreError),
}

impl From<io::Error> for TransferError {
    fn from(e: io::Error) -> TransferError {
        TransferError::Store(StoreError::Io(e))
    }
}

/// Where copying a stream into a part failed.
#[derive(Debug)]
enum CopyError {
    /// The stream could not be decompressed (cut short, or garbled).
    Stream(io::Error),
    /// The part could not be written.
    Store(StoreError),
}

/// Runs `command` (with `stdin`, e.g. a client option file) and streams its stdout,
/// decompressed as `wire` says, into `part`, which is finished only when the command
/// succeeded. Exit statuses in `tolerated` count as success (reported in
/// [`Received::tolerated_status`]). On error the caller abandons the snapshot.
pub async fn receive(
    host: &Connection,
    command: &RemoteCommand,
    stdin: Option<&[u8]>,
    wire: Codec,
    part: Box<dyn PartWriter>,
    tolerated: &[i32],
) -> Result<Received, TransferError> {
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let store = tokio::task::spawn_blocking(move || {
        let input = wire
            .decoder(BufReader::new(SyncIoBridge::new(reader)))
            .map_err(CopyError::Stream)?;
        copy_into(input, part)
    });
    let streamed = host.stream_to(command, stdin, &mut writer).await;
    let _ = writer.shutdown().await;
    drop(writer);
    let stored = store.await.map_err(io::Error::other)?;
    // When writing locally failed, the broken pipe the remote side then saw is only the
    // consequence: report the cause (a full disk, say). A stream that could not be
    // decompressed because the remote side failed is the remote side's failure.
    let stored = match (stored, &streamed) {
        (Err(CopyError::Store(e)), Err(RemoteError::Transport { .. })) => {
            return Err(TransferError::Store(e))
        }
        (stored, _) => stored,
    };
    let (stderr, tolerated_status) = match streamed {
        Ok((_, stderr)) => (stderr, None),
        Err(RemoteError::CommandFailed {
            status: Some(status),
            stderr_tail,
            ..
        }) if tolerated.contains(&status) => (stderr_tail, Some(status)),
        Err(e) => return Err(TransferError::Remote(e)),
    };
    let (part, tail) = stored.map_err(|e| match e {
        CopyError::Store(e) => TransferError::Store(e),
        CopyError::Stream(e) => TransferError::Store(StoreError::Io(io::Error::other(format!(
            "the compressed stream from the host could not be read: {e}"
        )))),
    })?;
    Ok(Received {
        part,
        tail,
        stderr,
        tolerated_status,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `input` (the plain content) into `part` to its end, keeping the last
/// [`TAIL_BYTES`], and finishes it.
fn copy_into(
    mut input: impl Read,
    mut part: Box<dyn PartWriter>,
) -> Result<(Part, Vec<u8>), CopyError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut tail: Vec<u8> = Vec::with_capacity(2 * TAIL_BYTES);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Stream(e)),
        };
        part.write_all(&buf[..n])
            .map_err(|e| CopyError::Store(e.into()))?;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
    Ok((part.finish().map_err(CopyError::Store)?, tail))
}

/// Runs `command` with `prefix` and then the content of `source` (a part opened from the
/// store) on its stdin: a restore; the prefix carries what the command must read first,
/// e.g. an option file.
pub async fn send(
    host: &Connection,
    command: &RemoteCommand,
    prefix: &[u8],
    mut source: Box<dyn Read + Send>,
    limit: usize,
) -> Result<crate::remote::Output, TransferError> {
    let (writer, mut reader) = tokio::io::duplex(PIPE_BYTES);
    let read = tokio::task::spawn_blocking(move || -> io::Result<u64> {
        let mut out = SyncIoBridge::new(writer);
        let copied = io::copy(&mut source, &mut out)?;
        out.shutdown()?;
        Ok(copied)
    });
    let mut input = tokio::io::AsyncReadExt::chain(prefix, &mut reader);
    let ran = host.run_with_input(command, &mut input, limit).await;
    drop(input);
    drop(reader);
    let read = read.await.map_err(io::Error::other)?;
    let output = ran.map_err(TransferError::Remote)?;
    read?;
    Ok(output)
}
