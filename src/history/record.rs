//! What a history record holds: plain data, stable on disk, independent of the engine's
//! own types so that old records stay readable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// One command's run, as read back from the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// `run`, `backup`, `restore`, `recover`, `prune`, `verify`.
    pub command: String,
    /// The playbook's name, for `run`.
    pub playbook: Option<String>,
    /// `user@machine` that ran it.
    pub runner: String,
    pub started: DateTime<Utc>,
    /// `None`: the command never finished (killed, power loss).
    pub finished: Option<DateTime<Utc>>,
    pub exit_status: Option<u8>,
    /// The sites the command set out to work on.
    #[serde(default)]
    pub targets: Vec<String>,
    pub sites: Vec<SiteRecord>,
}

impl RunRecord {
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }
}

/// What the command did to one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub site: String,
    /// Serialised as the words history has always held (`ok`, `rolled_back`, …).
    pub status: Outcome,
    #[serde(default)]
    pub changes: Vec<ChangeRecord>,
    /// `mode: each`: the changes rolled back alone, each with what it broke.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<RolledBackRecord>,
    #[serde(default)]
    pub held: Vec<HeldRecord>,
    /// An update run found nothing to update on the site (and so took no snapshot,
    /// unless asked). False in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nothing_to_update: bool,
    /// Installed components no update source tracked. Empty in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untracked: Vec<UntrackedRecord>,
    #[serde(default)]
    pub snapshots: Vec<SnapshotRecord>,
    /// Snapshots removed (prune).
    #[serde(default)]
    pub pruned: Vec<String>,
    #[serde(default)]
    pub checks: Vec<CheckRecord>,
    /// The verification that failed before a rollback (`checks` then holds the
    /// verification after it). Empty in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<CheckRecord>,
    /// For a restore of another site's snapshot: that site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    pub error: Option<String>,
    pub rollback: Option<String>,
    /// What failed in the clean-up after the site's work, beside its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<String>,
    pub duration_ms: u64,
}

impl SiteRecord {
    pub fn new(site: &str, status: Outcome) -> SiteRecord {
        SiteRecord {
            site: site.to_owned(),
            status,
            changes: Vec::new(),
            rolled_back: Vec::new(),
            held: Vec::new(),
            nothing_to_update: false,
            untracked: Vec::new(),
            snapshots: Vec::new(),
            pruned: Vec::new(),
            checks: Vec::new(),
            failed_checks: Vec::new(),
            restored_from: None,
            error: None,
            rollback: None,
            cleanup: Vec::new(),
            duration_ms: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub from: String,
    pub to: String,
}

/// A change rolled back alone (`mode: each`), and what it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBackRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub from: String,
    pub to: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub from: String,
    pub available: Option<String>,
    pub reason: String,
}

/// An installed component no update source tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntrackedRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub slug: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub id: String,
    pub bytes: u64,
    pub label: Option<String>,
    /// Its copy to `settings.offsite`; absent without one (and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsite: Option<OffsiteRecord>,
    /// For files stored from a listing: what was read and what reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_read: Option<FilesReadRecord>,
}

/// A snapshot's copy to the off-site repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsiteRecord {
    pub location: String,
    /// The copy succeeded (the site's `error` says why not).
    pub ok: bool,
    /// The snapshots copied: this one, and earlier ones of the site that were missing there.
    #[serde(default)]
    pub copied: Vec<String>,
}

/// Files read from the host and taken from the previous snapshot by one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesReadRecord {
    pub new: u64,
    pub changed: u64,
    pub racy: u64,
    pub reused: u64,
    pub bytes_read: u64,
    pub bytes_reused: u64,
    pub wire_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub name: String,
    pub path: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    #[serde(default)]
    pub problems: Vec<String>,
}
