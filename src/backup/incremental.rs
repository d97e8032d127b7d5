//! A files part where only new and changed files cross the network: the host lists the
//! site root (`listing`), the listing is compared with the site's previous snapshot
//! (`changed`), exactly the files to read come in one tar stream (`changed_tar`), and the
//! store takes every entry of the listing in tree order — read files with their content,
//! unchanged ones without (it takes theirs from the previous snapshot), folders and
//! symlinks from the listing.
//!
//! The tar stream arrives in the order its paths were given, which is the listing's: the
//! two are merged in one pass. A file the listing holds but the tar stream does not (it
//! vanished or could not be read between the two) is left out of the snapshot and said
//! so — never stored empty or taken from the previous snapshot. A file read while it
//! changed is stored as read with the listing's metadata, so the next backup reads it
//! again; one modified within the listing's clock tick is marked so that it is too
//! (`changed::restamp`).
//!
//! A store that takes only a whole tar stream (a folder store), or a host without GNU
//! find, keeps the full read of `create`.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::changed::{self, Comparison, Decision, Parent};
use super::changed_tar::{self, FetchError, TarNotes};
use super::listing::{self, EntryKind, Listing, ListingError, Taken};
use super::manifest::{Listed, Part};
use super::repository::tar_format;
use super::store::{ListedFiles, PendingSnapshot, StoreError};
use crate::remote::Connection;
use crate::site_error::SiteError;

/// The warning a backup carries when the host cannot list its files.
pub const NO_GNU_FIND: &str = "the host has no GNU find: every file was read";

/// What the files part of a snapshot will be made from.
pub enum Prepared {
    /// The store takes only a whole tar stream.
    NotListed,
    /// The host has no GNU find: a whole tar stream, said in the result.
    NoGnuFind,
    /// A listing compared with the previous snapshot.
    Listed(Plan),
}

/// A listing, its comparison, and the store's part waiting for the entries.
pub struct Plan {
    files: Box<dyn ListedFiles>,
    listing: Arc<Listing>,
    comparison: Arc<Comparison>,
    parent: Option<String>,
    warnings: Vec<String>,
}

fn store_error(what: &str, e: StoreError) -> SiteError {
    SiteError::Store(format!("{what}: {e}"))
}

/// Whether unchanged files may be taken from the previous snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentUse {
    /// The site's newest listed snapshot stands in for unchanged files.
    Newest,
    /// None: every file is read (an earlier attempt found the parent's data missing).
    None,
}

/// Lists the site root and compares the listing with the site's previous listed snapshot.
/// Called before any part of `pending` is written (the store fixes its parent then).
pub async fn prepare(
    pending: &mut dyn PendingSnapshot,
    host: &Connection,
    root: &str,
    excludes: &[String],
    parent_use: ParentUse,
) -> Result<Prepared, SiteError> {
    let Some(mut files) = pending
        .listed_files()
        .map_err(|e| store_error("cannot start the files part", e))?
    else {
        return Ok(Prepared::NotListed);
    };
    if parent_use == ParentUse::None {
        files
            .drop_parent()
            .map_err(|e| store_error("cannot start the files part", e))?;
    }
    let listing = match listing::take(host, root, excludes).await {
        Ok(Taken::Listing(listing)) => listing,
        // `files` dropped unused: the store forgets the parent it had chosen.
        Ok(Taken::NoGnuFind) => return Ok(Prepared::NoGnuFind),
        Err(ListingError::Remote(e)) => {
            return Err(SiteError::remote_step("listing the site's files", e))
        }
        Err(e) => return Err(SiteError::failed("listing the site's files", e)),
    };
    let parent = files
        .parent()
        .map_err(|e| store_error("cannot read the previous snapshot", e))?;
    let compared = tokio::task::spawn_blocking(move || {
        let mut warnings = Vec::new();
        let (comparison, parent_id) = match parent {
            None => (changed::compare(&listing, None), None),
            Some(mut parent) => {
                let comparison = changed::compare(
                    &listing,
                    Some(Parent {
                        lookup: &mut *parent.lookup,
                        listed_at_ns: parent.listed_at_ns,
                    }),
                );
                if parent.lookup.failed() {
                    warnings.push(format!(
                        "part of the previous snapshot {} could not be read: every file was read",
                        parent.id
                    ));
                    (changed::compare(&listing, None), None)
                } else {
                    (comparison, Some(parent.id))
                }
            }
        };
        (listing, comparison, parent_id, warnings)
    })
    .await
    .map_err(|e| SiteError::failed("comparing the listing", e))?;
    let (listing, comparison, parent, warnings) = compared;
    Ok(Prepared::Listed(Plan {
        files,
        listing: Arc::new(listing),
        comparison: Arc::new(comparison),
        parent,
        warnings,
    }))
}

/// What the merge of listing and tar stream left out.
#[derive(Debug, Default)]
struct Merged {
    /// Files to read that the tar stream did not hold.
    missing: Vec<String>,
    /// Files to read that were no longer regular files when read.
    changed_type: Vec<String>,
    /// Entries a repository does not hold (sockets, fifos, devices).
    special: Vec<String>,
}

/// Reads the files the plan chose and gives the store every entry; returns the files
/// part as the manifest records it, and the warnings for the snapshot.
pub async fn store(
    plan: Plan,
    host: &Connection,
    root: &str,
) -> Result<(Part, Vec<String>), SiteError> {
    let Plan {
        files,
        listing,
        comparison,
        parent,
        mut warnings,
    } = plan;
    let (files, merged, notes, tar_wire) = if comparison.files_to_read() == 0 {
        // Nothing to read: no tar on the host at all.
        let listing = listing.clone();
        let comparison = comparison.clone();
        let (files, merged) = tokio::task::spawn_blocking(move || {
            merge(&mut io::empty(), files, &listing, &comparison)
        })
        .await
        .map_err(|e| SiteError::failed("storing the site's files", e))?
        .map_err(|e| SiteError::Store(format!("storing the site's files: {e}")))?;
        (files, merged, TarNotes::default(), 0)
    } else {
        let for_merge = (listing.clone(), comparison.clone());
        let fetched = changed_tar::fetch(
            host,
            root,
            listing.codec,
            comparison.paths_to_read(&listing),
            move |stream| merge(stream, files, &for_merge.0, &for_merge.1),
        )
        .await
        .map_err(|e| match e {
            FetchError::Remote(e) => SiteError::remote_step("reading the changed files", e),
            FetchError::Consumer(e) => SiteError::Store(format!("storing the site's files: {e}")),
            other => SiteError::failed("reading the changed files", other),
        })?;
        let (files, merged) = fetched.consumed;
        (files, merged, fetched.notes, fetched.wire_bytes)
    };
    let mut part = files
        .finish()
        .map_err(|e| store_error("cannot complete the files part", e))?;
    part.listed = Some(Listed {
        listed_at_ns: listing.started_ns,
        parent,
        files_new: comparison.new_files,
        files_changed: comparison.changed_files,
        files_racy: comparison.racy_files,
        files_reused: comparison.reused_files,
        bytes_read: comparison.read_bytes,
        bytes_reused: comparison.reused_bytes,
        wire_bytes: listing.wire_bytes + tar_wire,
    });
    say(
        &mut warnings,
        &notes.changed_while_read,
        "changed while they were read (stored as read; the next backup reads them again)",
    );
    say(
        &mut warnings,
        &merged.missing,
        "vanished or could not be read after the listing: not in this snapshot",
    );
    say(
        &mut warnings,
        &merged.changed_type,
        "were no longer regular files when read: not in this snapshot",
    );
    say(
        &mut warnings,
        &merged.special,
        "are sockets, fifos or devices, which a repository snapshot does not hold: left out",
    );
    Ok((part, warnings))
}

/// One warning for a list of paths (the first few named).
fn say(warnings: &mut Vec<String>, paths: &[String], what: &str) {
    const NAMED: usize = 10;
    if paths.is_empty() {
        return;
    }
    let mut named = paths[..paths.len().min(NAMED)].join(", ");
    if paths.len() > NAMED {
        named.push_str(&format!(" and {} more", paths.len() - NAMED));
    }
    warnings.push(format!("{} file(s) {what}: {named}", paths.len()));
}

fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).escape_debug().to_string()
}

/// Walks the listing and the tar stream of the files to read together, giving the store
/// every entry.
fn merge(
    stream: &mut dyn Read,
    mut files: Box<dyn ListedFiles>,
    listing: &Listing,
    comparison: &Comparison,
) -> io::Result<(Box<dyn ListedFiles>, Merged)> {
    let store = |e: StoreError| io::Error::other(e.to_string());
    let mut merged = Merged::default();
    let mut archive = tar::Archive::new(stream);
    let mut read = archive.entries()?;
    // The next entry of the tar stream, not yet matched to the listing.
    let mut waiting: Option<(Vec<u8>, tar::Entry<'_, &mut dyn Read>)> = None;
    let mut stamp_as_parent = comparison.stamp_as_parent.iter().copied().peekable();
    for (index, (entry, decision)) in listing
        .entries
        .iter()
        .zip(&comparison.decisions)
        .enumerate()
    {
        let same_stamp = stamp_as_parent.next_if_eq(&index).is_some();
        match decision {
            Decision::FromListing => match entry.kind {
                EntryKind::Dir | EntryKind::Symlink | EntryKind::File => {
                    files.add(entry, None, entry.ctime_ns).map_err(store)?
                }
                _ => merged.special.push(shown(&entry.path)),
            },
            Decision::Reuse => files.add(entry, None, entry.ctime_ns).map_err(store)?,
            Decision::ReadNew | Decision::ReadChanged | Decision::ReadRacy => {
                if waiting.is_none() {
                    waiting = match read.next().transpose()? {
                        None => None,
                        Some(tar_entry) => {
                            let path = tar_format::relative(&tar_entry.path()?)?;
                            Some((path.as_os_str().as_bytes().to_vec(), tar_entry))
                        }
                    };
                }
                let order = waiting
                    .as_ref()
                    .map(|(path, _)| listing::tree_order(path, &entry.path));
                match order {
                    // Not in the stream: tar skipped it (`--ignore-failed-read`).
                    None | Some(std::cmp::Ordering::Greater) => {
                        merged.missing.push(shown(&entry.path))
                    }
                    Some(std::cmp::Ordering::Less) => {
                        let path = waiting.take().map(|(path, _)| path).unwrap_or_default();
                        return Err(io::Error::other(format!(
                            "the tar stream holds `{}`, which was not asked for, before `{}`",
                            shown(&path),
                            shown(&entry.path)
                        )));
                    }
                    Some(std::cmp::Ordering::Equal) => {
                        let Some((_, mut tar_entry)) = waiting.take() else {
                            continue;
                        };
                        let header = tar_entry.header();
                        if !matches!(
                            header.entry_type(),
                            tar::EntryType::Regular | tar::EntryType::Continuous
                        ) {
                            merged.changed_type.push(shown(&entry.path));
                            continue;
                        }
                        let size = header.size()?;
                        let ctime = changed::restamp(entry, listing.started_ns, same_stamp);
                        files
                            .add(entry, Some((&mut tar_entry, size)), ctime)
                            .map_err(store)?;
                    }
                }
            }
        }
    }
    if let Some((path, _)) = waiting.take() {
        return Err(io::Error::other(format!(
            "the tar stream holds `{}`, which was not asked for",
            shown(&path)
        )));
    }
    if let Some(extra) = read.next().transpose()? {
        return Err(io::Error::other(format!(
            "the tar stream holds `{}`, which was not asked for",
            extra.path()?.display()
        )));
    }
    Ok((files, merged))
}
