//! Re-reading a snapshot and checking it against its manifest: size and sha256 of each
//! part as stored, that the archive reads back and walks as tar to its end, and that the
//! dump reads back fully and ends the way a complete dump ends. A repository's digest is
//! taken over the content itself (as a restore streams it), so there one read suffices; a
//! files part stored from a listing records no sha256 (see `Part::listed`), and its size
//! and the repository's own authentication of every blob read back stand for it.

use std::io::{self, Read};

use super::archive::TAIL_BYTES;
use super::create::dump_is_complete;
use super::store::{PartKind, Snapshot, SnapshotStore, StoreError};

/// One thing wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("the manifest lists no parts")]
    NoParts,
    /// The part could not be read back as stored.
    #[error("{file}: {error}")]
    Unreadable { file: String, error: StoreError },
    #[error("{file}: {found} bytes, the manifest says {recorded}")]
    Size {
        file: String,
        found: u64,
        recorded: u64,
    },
    #[error("{file}: sha256 {found}, the manifest says {recorded}")]
    Sha256 {
        file: String,
        found: String,
        recorded: String,
    },
    /// Its content does not read back (corrupt compression, a broken tar, a cut dump).
    #[error("{file}: does not decompress: {error}")]
    Content { file: String, error: ContentError },
    #[error("{file}: decompresses to {found} bytes, the manifest says {recorded}")]
    ContentSize {
        file: String,
        found: u64,
        recorded: u64,
    },
}

/// Why a part's content did not read back.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the dump does not end with \"Dump completed\"")]
    DumpIncomplete,
}

/// Problems found in one snapshot (empty: it is sound).
pub fn verify(store: &dyn SnapshotStore, snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = Vec::new();
    let m = &snapshot.manifest;
    if m.files.is_none() && m.database.is_none() {
        problems.push(Problem::NoParts);
    }
    if m.files.is_some() {
        check(store, snapshot, PartKind::Files, &mut problems, |stream| {
            let mut archive = tar::Archive::new(stream);
            for entry in archive.entries()? {
                let mut entry = entry?;
                io::copy(&mut entry, &mut io::sink())?;
            }
            Ok(())
        });
    }
    if m.database.is_some() {
        check(
            store,
            snapshot,
            PartKind::Database,
            &mut problems,
            |stream| {
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
                    Err(ContentError::DumpIncomplete)
                }
            },
        );
    }
    problems
}

fn check(
    store: &dyn SnapshotStore,
    snapshot: &Snapshot,
    kind: PartKind,
    problems: &mut Vec<Problem>,
    inspect: impl FnOnce(&mut dyn Read) -> Result<(), ContentError>,
) {
    let Some(part) = kind.of(&snapshot.manifest) else {
        return;
    };
    let file = || part.file.clone();
    // Size and hash first, on their own: a damaged part is reported as such even when it
    // no longer reads back.
    match store.stored_digest(snapshot, kind) {
        Err(error) => {
            problems.push(Problem::Unreadable {
                file: file(),
                error,
            });
            return;
        }
        Ok(digest) => {
            // A files part stored from a listing has no sha256 of its own (the reused
            // files never reached the runner): its size, and every blob read back through
            // the repository's MACs, stand for it.
            let sha256_matches = !part.has_sha256() || digest.sha256 == part.sha256;
            let matched = digest.bytes == part.bytes && sha256_matches;
            if matched && digest.of_content {
                // The content read back is exactly what came in, which walked as tar (or
                // ended as a complete dump) when it was taken: reading it again proves nothing.
                return;
            }
            if digest.bytes != part.bytes {
                problems.push(Problem::Size {
                    file: file(),
                    found: digest.bytes,
                    recorded: part.bytes,
                });
            }
            if !sha256_matches {
                problems.push(Problem::Sha256 {
                    file: file(),
                    found: digest.sha256,
                    recorded: part.sha256.clone(),
                });
            }
        }
    }
    match read_through(store, snapshot, kind, inspect) {
        Err(error) => problems.push(Problem::Content {
            file: file(),
            error,
        }),
        Ok(found) if found != part.uncompressed_bytes => problems.push(Problem::ContentSize {
            file: file(),
            found,
            recorded: part.uncompressed_bytes,
        }),
        Ok(_) => {}
    }
}

/// Reads a part's content to its end; `inspect` sees the stream (to walk a tar archive,
/// or check a dump's end). Returns the content's size.
fn read_through(
    store: &dyn SnapshotStore,
    snapshot: &Snapshot,
    kind: PartKind,
    inspect: impl FnOnce(&mut dyn Read) -> Result<(), ContentError>,
) -> Result<u64, ContentError> {
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
    let mut counting = Counting {
        inner: store.open_part(snapshot, kind)?,
        bytes: 0,
    };
    inspect(&mut counting)?;
    // Whatever the inspector did not read must still read back.
    io::copy(&mut counting, &mut io::sink())?;
    Ok(counting.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::folder_store::FolderStore;
    use std::io::Write;

    fn take(store: &dyn SnapshotStore, dump: &[u8]) -> Snapshot {
        let mut pending = store.begin("blog", chrono::Utc::now()).unwrap();
        let mut part = pending.create_part(PartKind::Database).unwrap();
        part.write_all(dump).unwrap();
        let part = part.finish().unwrap();
        let id = pending.id().to_owned();
        let manifest = crate::test_fixtures::manifest("blog", &id, None, Some(part));
        pending.commit(&manifest).unwrap();
        store.find("blog", &id).unwrap().unwrap()
    }

    #[test]
    fn a_sound_dump_verifies_and_a_cut_one_is_named() {
        let root = tempfile::tempdir().unwrap();
        let store = FolderStore::new(root.path());
        let sound = take(&store, b"INSERT 1;\n-- Dump completed on 2026-11-21\n");
        assert!(verify(&store, &sound).is_empty());
        let cut = take(&store, b"INSERT INTO `wp_posts` VALUES (1,");
        let problems: Vec<String> = verify(&store, &cut).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems,
            ["database.sql.zst: does not decompress: the dump does not end with \"Dump completed\""]
        );
    }
}
