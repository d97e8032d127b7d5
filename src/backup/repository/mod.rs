//! Snapshots in a restic-format repository (content-defined chunks, packs, index,
//! encryption, zstd), through the `rustic_core` crate: unchanged files and tables are
//! stored once across nights and across sites, and every snapshot lists, checks and
//! restores with Debian's `restic` as well as with tend.
//!
//! - `open`: opening and creating a repository from `settings.repository`, with the
//!   errors a user acts on (none there yet, wrong password) told apart;
//! - `s3`: repositories on an S3-compatible object store;
//! - `backend`: the storage under it (atomic private local writes, snapshot files held
//!   back until tend commits);
//! - `source`, `parts`: the parts' streams turned into the entries of a snapshot's tree;
//! - `listed`: the files part built from a listing of the host, unchanged files taken
//!   from the site's previous snapshot;
//! - `tar_format`, `read_back`: nodes to tar and back, and the parts read back as streams;
//! - `copy`: a site's snapshots copied to the off-site repository (`settings.offsite`);
//! - `key_file`: the key file written at init with restic's scrypt cost, not rustic's;
//! - `lock`: restic's lock files, shared for backups, exclusive while data is removed;
//! - `store`: [`RepositoryStore`], the snapshot store.

pub mod backend;
pub mod copy;
pub mod key_file;
pub mod listed;
pub mod lock;
pub mod open;
pub mod parts;
pub mod read_back;
pub mod s3;
pub mod source;
pub mod store;
pub mod tar_format;

pub use open::RepositoryError;
pub use store::RepositoryStore;
