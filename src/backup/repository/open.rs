//! Opening and creating a repository from the inventory's `settings.repository` (or
//! `settings.offsite`), with the errors a user can act on told apart: no repository there
//! yet (run `tend backups init`), a wrong password, a storage that cannot be reached.
//!
//! A local path opens rustic's local backend; an `s3:` location OpenDAL's S3 service
//! (`s3.rs`).
//!
//! The password is turned into the repository's master key once (scrypt, deliberately
//! slow); every later open of the same repository in the run uses that key.

use std::path::PathBuf;
use std::sync::Arc;

use rustic_core::repofile::{ConfigFile, MasterKey};
use rustic_core::{
    ConfigOptions, Credentials, Id, KeyOptions, OpenStatus, Repository, RepositoryBackends,
    RepositoryOptions, RusticError, WriteBackend,
};

use super::backend::TendBackend;
use crate::inventory::repository::{RepositoryLocation, RepositorySettings};

/// A repository opened with its key.
pub type OpenRepository = Repository<OpenStatus>;

/// Why a repository could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RepositoryError {
    #[error("there is no repository at {location} yet: create it with `tend backups init`")]
    Missing { location: String },
    #[error("the password ({origin}) does not open the repository at {location}")]
    WrongPassword { location: String, origin: String },
    #[error("a repository already exists at {location}")]
    AlreadyExists { location: String },
    #[error("the repository at {location} is in use: {holder}; try again once it is done")]
    Locked { location: String, holder: String },
    #[error("{location}: {what}")]
    Unsupported { location: String, what: String },
    /// The storage or the repository's content failed (the message of rustic_core, with
    /// the file or folder concerned).
    #[error("the repository at {location}: {message}")]
    Failed { location: String, message: String },
}

impl RepositoryError {
    pub fn failed(location: &RepositoryLocation, error: &RusticError) -> RepositoryError {
        RepositoryError::Failed {
            location: location.to_string(),
            message: crate::secrets::mask(&error.display_log()),
        }
    }
}

/// The storage `location` names, wrapped in [`TendBackend`].
pub fn backends(location: &RepositoryLocation) -> Result<RepositoryBackends, RepositoryError> {
    let (inner, local): (Arc<dyn WriteBackend>, Option<PathBuf>) = match location {
        RepositoryLocation::Local(path) => {
            let shown = path.to_string_lossy().into_owned();
            let be = rustic_backend::local::LocalBackend::new(&shown, Vec::new())
                .map_err(|e| RepositoryError::failed(location, &e))?;
            (Arc::new(be), Some(path.clone()))
        }
        RepositoryLocation::S3(s3) => {
            let be =
                super::s3::S3Backend::new(s3).map_err(|e| RepositoryError::failed(location, &e))?;
            (Arc::new(be), None)
        }
    };
    Ok(RepositoryBackends::new(
        Arc::new(TendBackend::new(inner, local)),
        None,
    ))
}

fn options() -> RepositoryOptions {
    // A cache on the runner only helps remote repositories; tend keeps nothing outside
    // the store.
    RepositoryOptions::default().no_cache(true)
}

fn unopened(location: &RepositoryLocation) -> Result<Repository<()>, RepositoryError> {
    Repository::new(&options(), &backends(location)?)
        .map_err(|e| RepositoryError::failed(location, &e))
}

/// Opens the repository `settings` names with its password; returns it and its master
/// key (for [`open_with_key`]).
pub fn open(settings: &RepositorySettings) -> Result<(OpenRepository, MasterKey), RepositoryError> {
    let location = &settings.location;
    let repo = unopened(location)?;
    match repo.config_id() {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(RepositoryError::Missing {
                location: location.to_string(),
            })
        }
        Err(e) => return Err(RepositoryError::failed(location, &e)),
    }
    let credentials = Credentials::password(settings.password.expose());
    let repo = repo.open(&credentials).map_err(|e| {
        if e.is_incorrect_password() {
            RepositoryError::WrongPassword {
                location: location.to_string(),
                origin: settings.password_origin.clone(),
            }
        } else {
            RepositoryError::failed(location, &e)
        }
    })?;
    let key = repo.key();
    Ok((repo, key))
}

/// Opens the repository at `location` with a key [`open`] returned.
pub fn open_with_key(
    location: &RepositoryLocation,
    key: &MasterKey,
) -> Result<OpenRepository, RepositoryError> {
    unopened(location)?
        .open(&Credentials::Masterkey(key.clone()))
        .map_err(|e| RepositoryError::failed(location, &e))
}

/// Creates the repository `settings` names (restic's format, version 2: compressed).
///
/// With `chunker_of` (the repository an off-site one copies), the new repository cuts
/// files into chunks exactly as that one does (restic's `init --copy-chunker-params`):
/// a file backed up into either gives the same blobs, so copies between them deduplicate.
pub fn init(
    settings: &RepositorySettings,
    chunker_of: Option<&ConfigFile>,
) -> Result<(), RepositoryError> {
    let location = &settings.location;
    let repo = unopened(location)?;
    match repo.config_id() {
        Ok(Some(_)) => {
            return Err(RepositoryError::AlreadyExists {
                location: location.to_string(),
            })
        }
        Ok(None) => {}
        // A local folder that does not exist yet lists nothing: init creates it.
        Err(_) if matches!(location, RepositoryLocation::Local(p) if !p.exists()) => {}
        Err(e) => return Err(RepositoryError::failed(location, &e)),
    }
    let credentials = Credentials::password(settings.password.expose());
    // Smaller packs than rustic's default: the packer holds a pack in memory while it
    // fills, and a backup should stay within a few tens of MB whatever the site.
    let options = ConfigOptions::default()
        .set_datapack_size(Some(bytesize::ByteSize::mib(8)))
        .set_datapack_size_limit(Some(bytesize::ByteSize::mib(16)));
    let opened = match chunker_of {
        None => repo
            .init(&credentials, &KeyOptions::default(), &options)
            .map_err(|e| RepositoryError::failed(location, &e))?,
        Some(primary) => {
            let mut config = ConfigFile::new(2, Id::random().into(), 0);
            config.chunker = primary.chunker;
            config.chunker_polynomial = primary.chunker_polynomial.clone();
            config.chunk_size = primary.chunk_size;
            config.chunk_min_size = primary.chunk_min_size;
            config.chunk_max_size = primary.chunk_max_size;
            options
                .apply(&mut config)
                .map_err(|e| RepositoryError::failed(location, &e))?;
            repo.init_with_config(&credentials, &KeyOptions::default(), config)
                .map_err(|e| RepositoryError::failed(location, &e))?
        }
    };
    // rustic's key file costs 128 MiB of scrypt at every open; restic's cost is 32 MiB.
    super::key_file::lighten(
        location,
        backends(location)?.repository().as_ref(),
        &opened.key(),
        settings.password.expose(),
        Some(super::lock::hostname()),
    )?;
    // The password opens it through the new key file alone.
    open(settings).map(|_| ())
}
