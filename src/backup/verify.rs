//! Re-reading a snapshot and checking it against its manifest: sizes and sha256 of each
//! part, that the archive decompresses and walks as tar to its end, and that the dump
//! decompresses fully and ends the way a complete dump ends.

use std::io::{self, Read};

use super::archive::{check_part, TAIL_BYTES};
use super::create::dump_is_complete;
use super::manifest::Part;
use super::store::Snapshot;

/// Problems found in one snapshot (empty: it is sound).
pub fn verify(snapshot: &Snapshot) -> Vec<String> {
    let mut problems = Vec::new();
    let m = &snapshot.manifest;
    if m.files.is_none() && m.database.is_none() {
        problems.push("the manifest lists no parts".to_owned());
    }
    if let Some(part) = &m.files {
        check(snapshot, part, &mut problems, |stream| {
            let mut archive = tar::Archive::new(stream);
            for entry in archive.entries()? {
                let mut entry = entry?;
                io::copy(&mut entry, &mut io::sink())?;
            }
            Ok(())
        });
    }
    if let Some(part) = &m.database {
        check(snapshot, part, &mut problems, |stream| {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > TAIL_BYTES {
                    tail.drain(..tail.len() - TAIL_BYTES);
                }
            }
            if dump_is_complete(&tail) {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the dump does not end with \"Dump completed\"",
                ))
            }
        });
    }
    problems
}

fn check(
    snapshot: &Snapshot,
    part: &Part,
    problems: &mut Vec<String>,
    inspect: impl FnOnce(&mut dyn Read) -> io::Result<()>,
) {
    let path = snapshot.dir.join(&part.file);
    // Size and hash first, on their own: a damaged file is reported as such even when it
    // no longer decompresses.
    match hash_file(&path) {
        Err(e) => {
            problems.push(format!("{}: {e}", part.file));
            return;
        }
        Ok((bytes, sha256)) => {
            if bytes != part.bytes {
                problems.push(format!(
                    "{}: {} bytes, the manifest says {}",
                    part.file, bytes, part.bytes
                ));
            }
            if sha256 != part.sha256 {
                problems.push(format!(
                    "{}: sha256 {sha256}, the manifest says {}",
                    part.file, part.sha256
                ));
            }
        }
    }
    match check_part(&path, inspect) {
        Err(e) => problems.push(format!("{}: does not decompress: {e}", part.file)),
        Ok(uncompressed) => {
            if uncompressed != part.uncompressed_bytes {
                problems.push(format!(
                    "{}: decompresses to {uncompressed} bytes, the manifest says {}",
                    part.file, part.uncompressed_bytes
                ));
            }
        }
    }
}

fn hash_file(path: &std::path::Path) -> io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = io::copy(&mut file, &mut hasher)?;
    Ok((bytes, super::archive::hex(&hasher.finalize())))
}
