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
}

impl Manifest {
    /// Bytes on disk: the sum of the parts.
    pub fn bytes(&self) -> u64 {
        self.files.as_ref().map_or(0, |p| p.bytes) + self.database.as_ref().map_or(0, |p| p.bytes)
    }
}
