//! Snapshots: taking them, storing them, listing, verifying, pruning and restoring them.
//!
//! Every rollback and every restore request stands on a snapshot, so a snapshot must be
//! complete, consistent, restorable by hand (`zstd -d | tar -x`, `zstd -d | mysql`), and
//! never half-written. Snapshots live behind the [`SnapshotStore`] trait; the folder store
//! keeps the contract's layout: `<store>/backups/<site>/<id>/` with `manifest.json`,
//! `files.tar.zst` and `database.sql.zst`; the repository store (`repository/`) keeps them
//! in a restic-format repository.

pub mod archive;
pub mod changed;
pub mod changed_tar;
pub mod choose;
pub mod composite;
pub mod create;
pub mod folder_store;
pub mod incremental;
pub mod listing;
pub mod manifest;
pub mod offsite;
pub mod prune;
pub mod repository;
pub mod restore;
pub mod retention;
pub mod search_replace;
pub mod store;
pub mod temp_tables;
pub mod verify;

pub use folder_store::FolderStore;
pub use manifest::Manifest;
pub use store::{PartKind, Snapshot, SnapshotStore};

/// The snapshot store the inventory's settings name: the folder store under
/// `settings.store`, or with `settings.repository` that repository for new snapshots beside
/// the folder snapshots taken before (and `settings.offsite` as its off-site copy). The
/// repository is opened at its first use. `run` is the id of the tend run that takes
/// snapshots through it (a repository snapshot carries it as its `run=` tag).
pub fn open_store(
    settings: &crate::inventory::Settings,
    run: Option<&str>,
) -> Box<dyn SnapshotStore> {
    match &settings.repository {
        None => Box::new(FolderStore::new(&settings.store)),
        Some(repository) => Box::new(composite::CompositeStore {
            repository: repository::RepositoryStore::new(repository.clone())
                .with_offsite(settings.offsite.clone())
                .with_run(run),
            folders: FolderStore::new(&settings.store),
        }),
    }
}

/// The longest snapshot label, in characters.
pub const MAX_LABEL: usize = 64;

/// A snapshot label is shown in lists, reports, notifications and terminals, and chosen
/// with `--snapshot LABEL`: 1 to [`MAX_LABEL`] characters, letters, digits and `-_.:+@`
/// (and spaces inside). Never a control character (an escape sequence or a newline would
/// be printed raw) or an invisible one. The error says what is wrong, the label shown
/// escaped.
pub fn check_label(label: &str) -> Result<(), String> {
    let shown = format!("{:?}", label);
    if label.is_empty() {
        return Err("a snapshot label cannot be empty".to_owned());
    }
    if label.chars().count() > MAX_LABEL {
        return Err(format!(
            "the snapshot label {shown} is longer than {MAX_LABEL} characters"
        ));
    }
    if label.starts_with(' ') || label.ends_with(' ') {
        return Err(format!(
            "the snapshot label {shown} starts or ends with a space"
        ));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_alphanumeric() || " -_.:+@".contains(*c)))
    {
        return Err(format!(
            "the snapshot label {shown} holds {}, which a label cannot hold",
            match bad {
                c if c.is_control() => format!("the control character {:?}", c),
                c => format!("{:?}", c),
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod label_tests {
    use super::check_label;

    #[test]
    fn labels_are_printable_words() {
        for ok in [
            "nightly",
            "pre-update",
            "before redesign",
            "v1.2_3:x+y@z",
            "Übergabe",
        ] {
            assert_eq!(check_label(ok), Ok(()), "{ok}");
        }
        let error = check_label("a\u{1b}[31mred").unwrap_err();
        assert!(
            error.contains("\\u{1b}") && !error.contains('\u{1b}'),
            "{error}"
        );
        let error = check_label("two\nlines").unwrap_err();
        assert!(error.contains("\\n") && !error.contains('\n'), "{error}");
        assert!(check_label("").is_err());
        assert!(check_label(" x").is_err());
        assert!(check_label(&"x".repeat(65)).is_err());
        assert!(check_label("a/b").is_err());
        assert!(check_label("rtl\u{202e}txt").is_err());
    }
}
