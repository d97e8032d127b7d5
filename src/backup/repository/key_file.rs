//! The repository's key file, written with restic's scrypt cost instead of rustic's.
//!
//! The password opens a repository through its key file: scrypt turns the password into
//! the key that decrypts the master key. rustic_core writes key files with the scrypt
//! crate's recommended cost (N = 2^17, r = 8: 128 MiB and about a third of a second per
//! derivation); restic calibrates its own at most 60 MiB (N = 2^15, r = 8: 32 MiB). Every
//! tend run derives the key once, so rustic's cost alone was most of a backup's peak memory
//! (151 MiB of a one-site backup) and a good part of an unchanged night's time.
//!
//! `tend backups init` therefore replaces the key file rustic wrote by one holding the same
//! master key under restic's cost: the same format (scrypt, then AES-256-CTR with a
//! Poly1305-AES MAC over the master key's JSON), which restic and rustic both open. The old
//! key file goes only after rustic itself opened the new one with the password; a failure
//! before that leaves the repository with its first key, still opened by the same password.

use rustic_core::repofile::{KeyFile, MasterKey};
use rustic_core::{FileType, Id, WriteBackend};
use sha2::{Digest, Sha256};

use super::open::RepositoryError;
use crate::inventory::repository::RepositoryLocation;

/// log2 of scrypt's N: restic's default (32 MiB with r = 8).
pub const LOG_N: u8 = 15;
/// scrypt's block size r (restic's and rustic's).
pub const R: u32 = 8;
/// scrypt's parallelism p (restic's and rustic's).
pub const P: u32 = 1;

fn failed(location: &RepositoryLocation, what: &str, e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Failed {
        location: location.to_string(),
        message: format!("{what}: {e}"),
    }
}

fn random<const N: usize>(location: &RepositoryLocation) -> Result<[u8; N], RepositoryError> {
    use std::io::Read;
    let mut out = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut r| r.read_exact(&mut out))
        .map_err(|e| failed(location, "reading random bytes", e))?;
    Ok(out)
}

/// A key file holding `master` under `password`, with restic's scrypt cost.
pub fn generate(
    location: &RepositoryLocation,
    master: &MasterKey,
    password: &str,
    hostname: Option<String>,
) -> Result<KeyFile, RepositoryError> {
    use aes256ctr_poly1305aes::aead::AeadInPlace;
    use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;

    let salt: [u8; 64] = random(location)?;
    let params = scrypt::Params::new(LOG_N, R, P, 64)
        .map_err(|e| failed(location, "scrypt's parameters", e))?;
    let mut derived = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived)
        .map_err(|e| failed(location, "deriving the key", e))?;
    let plain =
        serde_json::to_vec(master).map_err(|e| failed(location, "the master key's JSON", e))?;
    let nonce: [u8; 16] = random(location)?;
    let mut data = Vec::with_capacity(plain.len() + 32);
    data.extend_from_slice(&nonce);
    data.extend_from_slice(&plain);
    let tag = Aes256CtrPoly1305Aes::new((&derived).into())
        .encrypt_in_place_detached((&nonce).into(), &[], &mut data[16..])
        .map_err(|e| failed(location, "encrypting the master key", e))?;
    data.extend_from_slice(&tag);
    Ok(KeyFile {
        hostname,
        username: None,
        created: Some(rustic_core::jiff::Zoned::now()),
        kdf: "scrypt".to_owned(),
        n: 1 << LOG_N,
        r: R,
        p: P,
        data,
        salt: salt.to_vec(),
    })
}

/// Replaces the repository's key files by one holding `master` under `password` with
/// restic's scrypt cost (see the module's doc). `backend` is the repository's storage.
pub fn lighten(
    location: &RepositoryLocation,
    backend: &dyn WriteBackend,
    master: &MasterKey,
    password: &str,
    hostname: Option<String>,
) -> Result<(), RepositoryError> {
    let rustic =
        |what: &str, e: Box<rustic_core::RusticError>| failed(location, what, e.display_log());
    let before = backend
        .list(FileType::Key)
        .map_err(|e| rustic("listing its keys", e))?;
    let key = generate(location, master, password, hostname)?;
    let json = serde_json::to_vec(&key).map_err(|e| failed(location, "the key file's JSON", e))?;
    let id: Id = crate::backup::archive::hex(&Sha256::digest(&json))
        .parse()
        .map_err(|e| failed(location, "the key file's id", e))?;
    backend
        .write_bytes(FileType::Key, &id, false, json.into())
        .map_err(|e| rustic("writing its key file", e))?;
    // rustic itself opens what was written, with the password: only then may the other
    // key files go.
    let written = backend
        .read_full(FileType::Key, &id)
        .map_err(|e| rustic("reading its new key file back", e))?;
    let read: KeyFile = serde_json::from_slice(&written)
        .map_err(|e| failed(location, "reading its new key file back", e))?;
    read.key_from_password(&password)
        .map_err(|e| rustic("opening its new key file", e))?;
    for old in before.into_iter().filter(|old| *old != id) {
        backend
            .remove(FileType::Key, &old, false)
            .map_err(|e| rustic("removing its first key file", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::open;
    use crate::inventory::repository::{RepositoryLocation, RepositorySettings};

    fn settings(dir: &std::path::Path, password: &str) -> RepositorySettings {
        RepositorySettings {
            location: RepositoryLocation::Local(dir.join("repo")),
            password: crate::cms::database::Password::new(password.into()),
            password_origin: "test".into(),
        }
    }

    #[test]
    fn init_leaves_one_key_file_with_restics_cost_that_the_password_opens() {
        let dir = tempfile::tempdir().unwrap();
        open::init(&settings(dir.path(), "a password"), None).unwrap();
        let keys: Vec<_> = std::fs::read_dir(dir.path().join("repo/keys"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let key: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&keys[0]).unwrap()).unwrap();
        assert_eq!(key["N"], 1 << super::LOG_N);
        assert_eq!(key["r"], super::R);
        assert_eq!(key["p"], super::P);
        // Owner only, like every file tend writes into a local repository.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        open::open(&settings(dir.path(), "a password")).unwrap();
        assert!(matches!(
            open::open(&settings(dir.path(), "another password")),
            Err(open::RepositoryError::WrongPassword { .. })
        ));
    }
}
