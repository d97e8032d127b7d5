//! `manifest.json`: what a snapshot holds, so that it can be listed, verified and restored —
//! by tend or by hand — without opening the archives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cms::{CmsKind, Component};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const FILES_PART: &str = "files.tar.zst";
pub const DATABASE_PART: &str = "database.sql.zst";
/// Bumped when the layout changes in a way older tend could not read.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub site: String,
    pub created: DateTime<Utc>,
    pub label: Option<String>,
    pub host: String,
    /// The CMS root the files came from.
    pub path: String,
    pub cms: CmsKind,
    pub version: String,
    pub db_version: Option<String>,
    pub plugins: Vec<Component>,
    pub themes: Vec<Component>,
    /// `files.tar.zst`: the CMS root, paths relative to it.
    pub files: Option<Part>,
    /// `database.sql.zst`: a plain SQL dump.
    pub database: Option<Part>,
    /// The CMS's table prefix (restoring onto another site needs the same one).
    #[serde(default)]
    pub table_prefix: Option<String>,
    /// Globs (relative to the root) left out of the files.
    pub excludes: Vec<String>,
    pub tend_version: String,
    pub duration_ms: u64,
    /// What went not quite right but did not make the snapshot useless (e.g. a file that
    /// changed while it was read).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One compressed part of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub file: String,
    /// Size of the compressed file.
    pub bytes: u64,
    /// sha256 of the compressed file, lowercase hex.
    pub sha256: String,
    /// Size of the data once decompressed.
    pub uncompressed_bytes: u64,
    /// Set when the files were stored from a listing of the host (a repository snapshot
    /// whose unchanged files were taken from the site's previous snapshot): what was read
    /// and what was reused. Its `sha256` is then not taken (empty): the reused files'
    /// content never reached the runner. `bytes` is still the size of the tar a restore
    /// writes, and reading it back checks every blob against the repository's own hashes
    /// and MACs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<Listed>,
}

/// How a files part was stored from a listing: what crossed the network and what was
/// taken from the previous snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Listed {
    /// The host's clock when the listing began, in nanoseconds since the epoch: a file
    /// modified within a second of it is read again by the next backup.
    pub listed_at_ns: i64,
    /// The tend snapshot whose files stood in for the unchanged ones (none: every file
    /// was read).
    pub parent: Option<String>,
    pub files_new: u64,
    pub files_changed: u64,
    /// Files that looked unchanged but whose previous copy was taken within its
    /// listing's clock tick.
    pub files_racy: u64,
    pub files_reused: u64,
    /// Content bytes of the files read, and of those reused.
    pub bytes_read: u64,
    pub bytes_reused: u64,
    /// Bytes that crossed the network for the files: the listing and the tar of the files
    /// read, both compressed.
    pub wire_bytes: u64,
}

impl Part {
    /// Whether `sha256` holds the digest of the part (false for a files part stored from a
    /// listing, see [`Part::listed`]).
    pub fn has_sha256(&self) -> bool {
        self.listed.is_none()
    }
}

impl Manifest {
    /// Bytes on disk: the sum of the parts.
    pub fn bytes(&self) -> u64 {
        self.files.as_ref().map_or(0, |p| p.bytes) + self.database.as_ref().map_or(0, |p| p.bytes)
    }
}
