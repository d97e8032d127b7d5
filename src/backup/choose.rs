//! Naming a snapshot (`--snapshot`): a full id, a unique prefix of at least
//! [`MIN_PREFIX`] characters, `latest`, or a label.
//!
//! `latest` and a label mean the newest snapshot (of all, or with that label) that holds
//! every part the command needs and reads back as its manifest says
//! ([`super::verify::verify`]): a newer database-only `pre-restore` snapshot is never what
//! a full restore picks. An id or a prefix names one snapshot exactly; it must still hold
//! the parts the command needs.

use super::create::Contents;
use super::store::{Snapshot, SnapshotStore, StoreError};

/// The shortest id prefix that names a snapshot.
pub const MIN_PREFIX: usize = 4;

/// Why no snapshot was chosen.
#[derive(Debug)]
pub enum ChooseError {
    Store(StoreError),
    /// Nothing has that id, prefix or label; `existing` is what the site has (newest first).
    Unknown {
        existing: Vec<Snapshot>,
    },
    /// The prefix starts more than one id.
    Ambiguous {
        candidates: Vec<Snapshot>,
    },
    /// Named exactly, but it lacks a part the command needs.
    MissingParts {
        snapshot: Box<Snapshot>,
    },
    /// `latest` or a label: snapshots exist, but none holds the parts needed and is sound.
    /// `skipped` says why each candidate was passed over (newest first).
    NoneUsable {
        skipped: Vec<(Snapshot, String)>,
    },
}

impl From<StoreError> for ChooseError {
    fn from(e: StoreError) -> Self {
        ChooseError::Store(e)
    }
}

/// Whether `snapshot` holds every part `needs` asks for.
pub fn holds(snapshot: &Snapshot, needs: Contents) -> bool {
    (!needs.files || snapshot.manifest.files.is_some())
        && (!needs.database || snapshot.manifest.database.is_some())
}

/// The parts a snapshot holds, in words.
pub fn parts(snapshot: &Snapshot) -> &'static str {
    match (
        snapshot.manifest.files.is_some(),
        snapshot.manifest.database.is_some(),
    ) {
        (true, true) => "files + database",
        (true, false) => "files only",
        (false, true) => "database only",
        (false, false) => "no parts",
    }
}

/// The snapshot of `site` that `name` names, for a command that needs `needs`.
pub fn choose(
    store: &dyn SnapshotStore,
    site: &str,
    name: &str,
    needs: Contents,
) -> Result<Snapshot, ChooseError> {
    let all = store.list(Some(site))?;
    match resolve(&all, name) {
        Named::Exactly(snapshot) => {
            if holds(&snapshot, needs) {
                Ok(*snapshot)
            } else {
                Err(ChooseError::MissingParts { snapshot })
            }
        }
        Named::Newest(candidates) => {
            let mut skipped = Vec::new();
            for snapshot in candidates {
                if !holds(&snapshot, needs) {
                    let why = format!("holds {}", parts(&snapshot));
                    skipped.push((snapshot, why));
                    continue;
                }
                let problems = super::verify::verify(store, &snapshot);
                if problems.is_empty() {
                    return Ok(snapshot);
                }
                let why = format!(
                    "damaged: {}",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                skipped.push((snapshot, why));
            }
            Err(ChooseError::NoneUsable { skipped })
        }
        Named::Ambiguous(candidates) => Err(ChooseError::Ambiguous { candidates }),
        Named::Nothing => {
            let mut existing = all;
            existing.reverse();
            Err(ChooseError::Unknown { existing })
        }
    }
}

/// What a name names among `all` (oldest first), before the parts and soundness are
/// looked at.
#[derive(Debug)]
pub enum Named {
    Exactly(Box<Snapshot>),
    /// `latest` or a label: these, newest first, the first usable one wins.
    Newest(Vec<Snapshot>),
    Ambiguous(Vec<Snapshot>),
    Nothing,
}

/// Exact id first, then `latest`, then a label, then an id prefix of at least
/// [`MIN_PREFIX`] characters.
pub fn resolve(all: &[Snapshot], name: &str) -> Named {
    if let Some(s) = all.iter().find(|s| s.manifest.id == name) {
        return Named::Exactly(Box::new(s.clone()));
    }
    if name == "latest" {
        return Named::Newest(all.iter().rev().cloned().collect());
    }
    let labelled: Vec<Snapshot> = all
        .iter()
        .rev()
        .filter(|s| s.manifest.label.as_deref() == Some(name))
        .cloned()
        .collect();
    if !labelled.is_empty() {
        return Named::Newest(labelled);
    }
    if name.chars().count() >= MIN_PREFIX {
        let mut matching: Vec<Snapshot> = all
            .iter()
            .filter(|s| s.manifest.id.starts_with(name))
            .cloned()
            .collect();
        match matching.len() {
            0 => {}
            1 => return Named::Exactly(Box::new(matching.remove(0))),
            _ => return Named::Ambiguous(matching),
        }
    }
    Named::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::Part;

    fn snap(id: &str, label: Option<&str>, files: bool, database: bool) -> Snapshot {
        let part = |file: &str| Part {
            file: file.into(),
            bytes: 1,
            sha256: String::new(),
            uncompressed_bytes: 1,
            listed: None,
        };
        let mut manifest = crate::test_fixtures::manifest(
            "blog",
            id,
            files.then(|| part("files.tar.zst")),
            database.then(|| part("database.sql.zst")),
        );
        manifest.label = label.map(Into::into);
        Snapshot::new(manifest, id.into())
    }

    fn ids(list: &[Snapshot]) -> Vec<&str> {
        list.iter().map(|s| s.manifest.id.as_str()).collect()
    }

    #[test]
    fn names_resolve_by_id_latest_label_then_prefix() {
        let all = vec![
            snap("20261120T030000Z-aaaa", Some("nightly"), true, true),
            snap("20261121T030000Z-bbbb", Some("nightly"), true, true),
            snap("20261121T040000Z-cccc", Some("pre-restore"), false, true),
        ];
        assert!(
            matches!(resolve(&all, "20261121T030000Z-bbbb"), Named::Exactly(s) if s.manifest.id.ends_with("bbbb"))
        );
        assert!(
            matches!(resolve(&all, "20261120"), Named::Exactly(s) if s.manifest.id.ends_with("aaaa"))
        );
        match resolve(&all, "20261121") {
            Named::Ambiguous(c) => assert_eq!(ids(&c).len(), 2),
            other => panic!("{other:?}"),
        }
        match resolve(&all, "nightly") {
            Named::Newest(c) => {
                assert_eq!(ids(&c), ["20261121T030000Z-bbbb", "20261120T030000Z-aaaa"])
            }
            other => panic!("{other:?}"),
        }
        match resolve(&all, "latest") {
            Named::Newest(c) => assert!(ids(&c)[0].ends_with("cccc")),
            other => panic!("{other:?}"),
        }
        // Too short to be a prefix, and unknown names.
        assert!(matches!(resolve(&all, "202"), Named::Nothing));
        assert!(matches!(resolve(&all, "weekly"), Named::Nothing));
        assert!(holds(
            &all[2],
            Contents {
                files: false,
                database: true
            }
        ));
        assert!(!holds(&all[2], Contents::ALL));
    }
}
