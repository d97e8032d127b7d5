//! Why one site failed: reported for that site, while the others carry on.
//!
//! A site error is a kind carrying its data, not a sentence: code that must decide
//! something (fall back to a snapshot's credentials, tell "already broken" from "broken by
//! us", pick an exit status) matches on the variant, never on the text. The text is made
//! once, by `Display`, and leaves tend only through [`SiteError::masked`]. [`ErrorKind`]
//! names the kind in a stable form for `--json` and scripts.

use serde::Serialize;

use crate::remote::{ConnectFailure, RemoteError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SiteError {
    /// Talking to the host failed: connecting, a command, or the connection itself.
    #[error("{0}")]
    Remote(#[from] RemoteError),
    /// A step of tend's work on the host lost its connection or passed its deadline: what
    /// it was doing, and the connection's error (its kind is the error's).
    #[error("{what}: {error}")]
    RemoteStep { what: String, error: RemoteError },
    /// Another tend run holds the site's lock.
    #[error("the site is locked by another tend run ({holder}); try again when it has finished")]
    Locked { holder: String },
    /// The lock could not be taken for another reason (a stale lock taken by another run
    /// first, an answer tend does not understand).
    #[error("the site could not be locked: {reason}")]
    LockFailed { reason: String },
    /// An interrupted run left work on the site that `tend recover` must undo first.
    #[error("unfinished work from run {run} (started {started}, {owner}): run `tend recover {site}` first")]
    Unfinished {
        site: String,
        run: String,
        started: String,
        owner: String,
    },
    /// The site's root is not on the host (or the SSH user cannot enter it).
    #[error(
        "the site root {path} does not exist on {destination} (or is not readable by the SSH user)"
    )]
    RootMissing { path: String, destination: String },
    /// No installation of the expected CMS at the site root.
    #[error("{}", cms_not_found(expected.as_deref(), found.as_deref(), known, path))]
    CmsNotFound {
        path: String,
        /// The CMSs tend knows, by their display names.
        known: Vec<String>,
        /// The inventory's `cms:`, when it names one.
        expected: Option<String>,
        /// What the files are, when they are another CMS's.
        found: Option<String>,
    },
    /// The CMS's configuration file is missing or says something tend cannot read.
    #[error("{file}: {reason}")]
    ConfigUnreadable { file: String, reason: String },
    /// The site's database refused or failed (connect, dump, import, query).
    #[error("database: {0}")]
    Database(String),
    /// An update source could not be asked.
    #[error("asking the update sources: {0}")]
    UpdateSource(String),
    /// A package was refused (download failed, checksum, unsafe contents).
    #[error("{change}: package refused: {reason}")]
    PackageRefused { change: String, reason: String },
    /// The CMS (or this version of it) is not something tend can do this with.
    #[error("{0}")]
    Unsupported(String),
    /// The updates due now are not the ones the user confirmed (the site or the sources
    /// changed in between): nothing was changed.
    #[error("the plan changed since it was confirmed (confirmed: {confirmed}; now: {now}); nothing was changed: run again to see the new plan")]
    PlanChanged { confirmed: String, now: String },
    /// A playbook run was confirmed, but no plan could be shown for this site then.
    #[error("no plan could be made for this site when the run was confirmed ({reason}); it was not run, nothing was changed")]
    NotConfirmed { reason: String },
    /// The run did not start this site (`max_failures` was reached).
    #[error("not started: {0}")]
    NotStarted(String),
    /// tend was asked to stop (SIGINT, SIGTERM) before the site's next step.
    #[error("{0}: the steps after this point were not run")]
    Interrupted(String),
    /// A playbook step failed: which one, and why (its kind is the cause's).
    #[error("{step} failed: {cause}")]
    Step {
        step: &'static str,
        cause: Box<SiteError>,
    },
    /// Something tend did on the way to a change failed: what it was doing, and why (its
    /// kind is the cause's, so a lost connection still reads as one).
    #[error("{what}: {cause}")]
    During { what: String, cause: Box<SiteError> },
    /// The site's HTTP checks failed after a change.
    #[error("verify failed: {0}")]
    VerificationFailed(String),
    /// `mode: each`: these components broke the site and were rolled back alone (each
    /// with what it broke); the other changes were kept.
    #[error("rolled back alone: {0}")]
    ComponentsRolledBack(String),
    /// A restore refused to go on because no pre-restore snapshot of what it would
    /// replace could be taken: nothing was changed.
    #[error("no pre-restore snapshot could be taken ({cause}); nothing was changed. Restore anyway with --no-pre-restore-snapshot (what is on the site now is then lost), or --files-only / --db-only for the part that can be saved")]
    NoSafetySnapshot { cause: Box<SiteError> },
    /// The snapshot does not match its manifest (damaged in the store): refused before
    /// anything was touched.
    #[error("snapshot {id} does not match its manifest ({problems}); nothing was changed")]
    SnapshotDamaged { id: String, problems: String },
    /// A restore failed part-way: where it left the site, and why it failed (its kind is
    /// the cause's).
    #[error("{cause}; {state}")]
    RestoreFailed {
        state: RestoreState,
        cause: Box<SiteError>,
    },
    /// The snapshot store on the runner, or a snapshot in it, could not be used.
    #[error("snapshot store: {0}")]
    Store(String),
    /// A step of tend's own work on the host went wrong in a way that has no kind of its
    /// own: what tend was doing, and what happened.
    #[error("{}", failed(what, detail))]
    Failed { what: String, detail: String },
}

/// Where a failed restore left the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreState {
    /// It failed before anything on the site was changed.
    Untouched,
    /// Everything was put back: the site is as it was before the restore.
    Unchanged,
    /// The restore is complete, but the maintenance file could not be removed.
    RestoredInMaintenance { file: String },
    /// The restore is complete, but the CMS's configuration could not be switched back
    /// from maintenance mode (Joomla's `$offline`).
    RestoredOffline { file: String },
    /// The connection to the host was lost part-way: where the restore stopped is not
    /// known. The site stays in maintenance mode.
    Unknown { old_files: String },
    /// The restored files could not be swapped back out: they are the snapshot's, the
    /// database is as it was, the replaced files are kept at `old_files`.
    FilesRestoredOnly { old_files: String },
}

impl std::fmt::Display for RestoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreState::Untouched => write!(f, "nothing was changed"),
            RestoreState::Unchanged => write!(
                f,
                "everything was put back: the site is as it was before the restore"
            ),
            RestoreState::RestoredInMaintenance { file } => write!(
                f,
                "the snapshot was restored, but the site is still in maintenance mode: remove {file} by hand"
            ),
            RestoreState::RestoredOffline { file } => write!(
                f,
                "the snapshot was restored, but the site is still offline: {file} has maintenance mode switched on (Joomla: `$offline = true`); switch it off by hand"
            ),
            RestoreState::Unknown { old_files } => write!(
                f,
                "the connection was lost during the restore, so where it stopped is not known: the database holds either all its old tables or all the snapshot's (the swap is one statement; tables named tndnew_* are an unfinished import), the site is in maintenance mode, and {old_files}, if it exists, holds the files the restore replaced; look, then run the restore again"
            ),
            RestoreState::FilesRestoredOnly { old_files } => write!(
                f,
                "the site's files are the snapshot's but its database is as it was; the replaced files are in {old_files}, and the site is in maintenance mode"
            ),
        }
    }
}

fn failed(what: &str, detail: &str) -> String {
    if what.is_empty() {
        detail.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

fn cms_not_found(
    expected: Option<&str>,
    found: Option<&str>,
    known: &[String],
    path: &str,
) -> String {
    match (expected, found) {
        (Some(expected), Some(found)) => {
            format!("the inventory says {expected}, but the files in {path} are {found}'s")
        }
        (Some(expected), None) => {
            format!(
                "the inventory says {expected}, but no {expected} installation was found in {path}"
            )
        }
        (None, _) => {
            let known = match known {
                [] => "CMS".to_owned(),
                [one] => one.clone(),
                [first @ .., last] => format!("{} or {last}", first.join(", ")),
            };
            format!("no {known} installation found in {path}")
        }
    }
}

/// The kind of a failure to talk to the host.
fn remote_kind(remote: &RemoteError) -> ErrorKind {
    match remote {
        RemoteError::Connect { failure, .. } => match failure {
            ConnectFailure::HostKeyChanged => ErrorKind::HostKeyMismatch,
            ConnectFailure::HostKeyUnknown => ErrorKind::HostKeyUnknown,
            ConnectFailure::Unreachable => ErrorKind::Unreachable,
            ConnectFailure::AuthenticationFailed => ErrorKind::AuthenticationRefused,
            ConnectFailure::Other => ErrorKind::ConnectFailed,
        },
        RemoteError::CommandFailed { .. } | RemoteError::OutputTooLarge { .. } => {
            ErrorKind::RemoteCommandFailed
        }
        RemoteError::Transport { .. } => ErrorKind::ConnectionLost,
        RemoteError::TimedOut { .. } => ErrorKind::TimedOut,
    }
}

/// The kind of a [`SiteError`], as scripts see it (`error_kind` in `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Unreachable,
    AuthenticationRefused,
    HostKeyMismatch,
    HostKeyUnknown,
    ConnectFailed,
    RemoteCommandFailed,
    ConnectionLost,
    /// A remote command or transfer went past its deadline.
    TimedOut,
    Locked,
    UnfinishedWork,
    RootMissing,
    CmsNotFound,
    ConfigUnreadable,
    Database,
    UpdateSource,
    PackageRefused,
    Unsupported,
    VerificationFailed,
    ComponentsRolledBack,
    PlanChanged,
    NotConfirmed,
    NotStarted,
    Interrupted,
    Store,
    NoSafetySnapshot,
    SnapshotDamaged,
    Failed,
}

impl SiteError {
    pub fn failed(what: impl Into<String>, detail: impl std::fmt::Display) -> SiteError {
        SiteError::Failed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    /// A remote step of tend's own work failed: the connection's kind when the connection
    /// failed (the command's fate is unknown then), else [`SiteError::Failed`] with `what`.
    pub fn remote_step(what: impl Into<String>, error: RemoteError) -> SiteError {
        match error {
            e @ (RemoteError::Connect { .. }
            | RemoteError::Transport { .. }
            | RemoteError::TimedOut { .. }) => SiteError::RemoteStep {
                what: what.into(),
                error: e,
            },
            e => SiteError::failed(what, e),
        }
    }

    pub fn database(detail: impl std::fmt::Display) -> SiteError {
        SiteError::Database(detail.to_string())
    }

    pub fn config(file: impl Into<String>, reason: impl std::fmt::Display) -> SiteError {
        SiteError::ConfigUnreadable {
            file: file.into(),
            reason: reason.to_string(),
        }
    }

    /// The message with every known secret masked: the only form that leaves tend.
    pub fn masked(&self) -> String {
        crate::secrets::mask(&self.to_string())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            SiteError::Remote(remote) | SiteError::RemoteStep { error: remote, .. } => {
                remote_kind(remote)
            }
            SiteError::Locked { .. } | SiteError::LockFailed { .. } => ErrorKind::Locked,
            SiteError::Unfinished { .. } => ErrorKind::UnfinishedWork,
            SiteError::RootMissing { .. } => ErrorKind::RootMissing,
            SiteError::CmsNotFound { .. } => ErrorKind::CmsNotFound,
            SiteError::ConfigUnreadable { .. } => ErrorKind::ConfigUnreadable,
            SiteError::Database(_) => ErrorKind::Database,
            SiteError::UpdateSource(_) => ErrorKind::UpdateSource,
            SiteError::PackageRefused { .. } => ErrorKind::PackageRefused,
            SiteError::Unsupported(_) => ErrorKind::Unsupported,
            SiteError::VerificationFailed(_) => ErrorKind::VerificationFailed,
            SiteError::ComponentsRolledBack(_) => ErrorKind::ComponentsRolledBack,
            SiteError::PlanChanged { .. } => ErrorKind::PlanChanged,
            SiteError::NotConfirmed { .. } => ErrorKind::NotConfirmed,
            SiteError::NotStarted(_) => ErrorKind::NotStarted,
            SiteError::Interrupted(_) => ErrorKind::Interrupted,
            SiteError::Step { cause, .. } | SiteError::During { cause, .. } => cause.kind(),
            SiteError::Store(_) => ErrorKind::Store,
            SiteError::NoSafetySnapshot { .. } => ErrorKind::NoSafetySnapshot,
            SiteError::SnapshotDamaged { .. } => ErrorKind::SnapshotDamaged,
            SiteError::RestoreFailed { cause, .. } => cause.kind(),
            SiteError::Failed { .. } => ErrorKind::Failed,
        }
    }

    /// The site could not be read as a CMS installation (its files or its configuration),
    /// as opposed to the host or the connection failing: a restore of a destroyed site
    /// can still go ahead from what the snapshot says.
    pub fn is_site_unreadable(&self) -> bool {
        matches!(
            self,
            SiteError::RootMissing { .. }
                | SiteError::CmsNotFound { .. }
                | SiteError::ConfigUnreadable { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_remote_errors_follow_the_connect_failure() {
        let connect = |failure| {
            SiteError::from(RemoteError::Connect {
                destination: "deploy@web1".into(),
                failure,
                known_hosts: None,
                detail: String::new(),
            })
            .kind()
        };
        assert_eq!(connect(ConnectFailure::Unreachable), ErrorKind::Unreachable);
        assert_eq!(
            connect(ConnectFailure::HostKeyChanged),
            ErrorKind::HostKeyMismatch
        );
        assert_eq!(
            connect(ConnectFailure::AuthenticationFailed),
            ErrorKind::AuthenticationRefused
        );
        assert_eq!(
            serde_json::to_value(ErrorKind::CmsNotFound).unwrap(),
            "cms_not_found"
        );
    }

    #[test]
    fn a_step_past_its_deadline_keeps_its_kind_and_says_which_step() {
        let timed_out = RemoteError::TimedOut {
            destination: "deploy@web1".into(),
            command: "php".into(),
            deadline: crate::remote::Deadline::Total(std::time::Duration::from_secs(10)),
        };
        let e = SiteError::remote_step("database upgrade (wp_upgrade)", timed_out);
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(
            e.to_string().starts_with("database upgrade (wp_upgrade): "),
            "{e}"
        );
    }

    #[test]
    fn cms_not_found_says_what_was_expected_and_found() {
        let e = SiteError::CmsNotFound {
            path: "/srv/www".into(),
            expected: Some("joomla".into()),
            found: Some("wordpress".into()),
            known: vec!["WordPress".into(), "Joomla".into()],
        };
        assert_eq!(
            e.to_string(),
            "the inventory says joomla, but the files in /srv/www are wordpress's"
        );
        assert!(e.is_site_unreadable());
        let none = SiteError::CmsNotFound {
            path: "/srv/www".into(),
            expected: None,
            found: None,
            known: vec!["WordPress".into(), "Joomla".into(), "Magento".into()],
        };
        assert_eq!(
            none.to_string(),
            "no WordPress, Joomla or Magento installation found in /srv/www"
        );
        assert!(!SiteError::database("refused").is_site_unreadable());
    }
}
