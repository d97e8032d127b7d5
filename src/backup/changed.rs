//! Which files of a listing must be read from the host, and which can be taken from the
//! previous snapshot.
//!
//! A regular file is taken from the parent snapshot when the parent holds a regular file at
//! the same path with the same size, mtime, ctime, inode and mode (restic's own test, with
//! ctime catching a `touch -d` that put an mtime back). Everything else that is a regular
//! file is read: new, changed, or *racy*. A file whose mtime was within [`RACY_WINDOW_NS`]
//! of the parent's listing may have been written again after that listing without its
//! mtime moving (timestamps are only as fine as the file system's clock tick), so the
//! parent's copy of it is never trusted: it is read again (git's "racily clean" rule).
//! Directories, symlinks and other entries hold no content: they are rebuilt from the
//! listing every time. A deleted file is simply not in the listing, so not in the new
//! snapshot. Hard links share their inode's metadata, so a change to one is a change to all.

use std::collections::HashMap;

use super::listing::{Entry, EntryKind, Listing};

/// How close to the listing's start an mtime makes a file racy: one second, the coarsest
/// tick of the file systems sites live on (ext4 and XFS tick at the kernel's jiffy,
/// some network file systems at whole seconds).
pub const RACY_WINDOW_NS: i64 = 1_000_000_000;

/// What the parent snapshot recorded for a path: the listing metadata a backup stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentEntry {
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub mode: u32,
    pub link: Option<Box<[u8]>>,
}

impl From<&Entry> for ParentEntry {
    fn from(entry: &Entry) -> ParentEntry {
        ParentEntry {
            kind: entry.kind,
            size: entry.size,
            mtime_ns: entry.mtime_ns,
            ctime_ns: entry.ctime_ns,
            inode: entry.inode,
            mode: entry.mode,
            link: entry.link.clone(),
        }
    }
}

/// The parent snapshot as the comparison sees it. Paths are asked in the listing's tree
/// order ([`super::listing::sort`]), so a store may answer by walking the parent's trees
/// alongside instead of loading them whole.
pub trait ParentLookup {
    fn entry(&mut self, path: &[u8]) -> Option<ParentEntry>;

    /// Whether part of the parent could not be read (its files were then answered as
    /// absent): the comparison is redone without a parent, so that no file is reused
    /// beside a store that may see more of the parent than the comparison did.
    fn failed(&self) -> bool {
        false
    }
}

/// A parent held in memory (tests, small sites).
impl ParentLookup for HashMap<Box<[u8]>, ParentEntry> {
    fn entry(&mut self, path: &[u8]) -> Option<ParentEntry> {
        self.get(path).cloned()
    }
}

/// The parent snapshot: how to look into it and when its listing was taken.
pub struct Parent<'a> {
    pub lookup: &'a mut dyn ParentLookup,
    pub listed_at_ns: i64,
}

/// What to do with one entry of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A regular file the parent does not hold.
    ReadNew,
    /// A regular file whose metadata differs from the parent's.
    ReadChanged,
    /// A regular file that looks unchanged, but whose parent copy was racy.
    ReadRacy,
    /// A regular file taken from the parent snapshot: no byte crosses the network.
    Reuse,
    /// A directory, symlink or special file: built from its listing entry.
    FromListing,
}

impl Decision {
    pub fn reads(self) -> bool {
        matches!(
            self,
            Decision::ReadNew | Decision::ReadChanged | Decision::ReadRacy
        )
    }
}

/// The comparison of a listing with its parent: one decision per entry, in the listing's
/// order, and the totals a backup reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comparison {
    pub decisions: Vec<Decision>,
    pub new_files: u64,
    pub changed_files: u64,
    pub racy_files: u64,
    pub reused_files: u64,
    pub read_bytes: u64,
    pub reused_bytes: u64,
    /// Files of this listing modified within [`RACY_WINDOW_NS`] of it: the next backup
    /// reads them again.
    pub racy_now: u64,
    /// Entries (indexes into the listing) read although the parent holds the same mtime,
    /// ctime and inode for them (a mode or size change within one clock tick, or a racy
    /// copy): stored with their listing's stamp they would look unchanged to the
    /// repository, which would keep the parent's old content. See [`restamp`].
    pub stamp_as_parent: Vec<usize>,
}

impl Comparison {
    /// The paths to read from the host, in tree order.
    pub fn paths_to_read<'a>(
        &'a self,
        listing: &'a Listing,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        listing
            .entries
            .iter()
            .zip(&self.decisions)
            .filter(|(_, decision)| decision.reads())
            .map(|(entry, _)| &*entry.path)
    }

    pub fn files_to_read(&self) -> u64 {
        self.new_files + self.changed_files + self.racy_files
    }
}

/// Is an mtime too close to a listing's start to be trusted later?
pub fn is_racy(mtime_ns: i64, listed_at_ns: i64) -> bool {
    mtime_ns >= listed_at_ns.saturating_sub(RACY_WINDOW_NS)
}

/// Compares `listing` with `parent` (none: the first backup, every file is read).
pub fn compare(listing: &Listing, mut parent: Option<Parent<'_>>) -> Comparison {
    let mut out = Comparison {
        decisions: Vec::with_capacity(listing.entries.len()),
        ..Comparison::default()
    };
    for (index, entry) in listing.entries.iter().enumerate() {
        if entry.kind != EntryKind::File {
            out.decisions.push(Decision::FromListing);
            continue;
        }
        let racy_now = is_racy(entry.mtime_ns, listing.started_ns);
        if racy_now {
            out.racy_now += 1;
        }
        let decision = match parent.as_mut() {
            None => Decision::ReadNew,
            Some(parent) => match parent.lookup.entry(&entry.path) {
                None => Decision::ReadNew,
                Some(before) => {
                    if same_stamp(entry, &before) {
                        out.stamp_as_parent.push(index);
                    }
                    if marked_racy(entry, &before) {
                        Decision::ReadRacy
                    } else if !same_file(entry, &before) {
                        Decision::ReadChanged
                    } else if is_racy(before.mtime_ns, parent.listed_at_ns) || racy_now {
                        // A file racy now is read too: it is stored marked (see
                        // [`restamp`]), which a reused copy could not be.
                        Decision::ReadRacy
                    } else {
                        Decision::Reuse
                    }
                }
            },
        };
        if decision == Decision::Reuse {
            // Reused entries must match their parent: never in the restamp list.
            if out.stamp_as_parent.last() == Some(&index) {
                out.stamp_as_parent.pop();
            }
        }
        match decision {
            Decision::ReadNew => out.new_files += 1,
            Decision::ReadChanged => out.changed_files += 1,
            Decision::ReadRacy => out.racy_files += 1,
            Decision::Reuse => out.reused_files += 1,
            Decision::FromListing => {}
        }
        if decision.reads() {
            out.read_bytes += entry.size;
        } else {
            out.reused_bytes += entry.size;
        }
        out.decisions.push(decision);
    }
    out
}

/// The ctime a snapshot records for an entry read from the host: the listing's, or one
/// nanosecond before it for a file modified within the listing's clock tick (so that the
/// next backup, and the repository's own parent match, see it changed and read it again)
/// and for one whose stamp the parent already holds (so that the repository takes the
/// content read, not the parent's).
pub fn restamp(entry: &Entry, listed_at_ns: i64, stamp_as_parent: bool) -> i64 {
    if stamp_as_parent || is_racy(entry.mtime_ns, listed_at_ns) {
        entry.ctime_ns.saturating_sub(1)
    } else {
        entry.ctime_ns
    }
}

/// Mtime, ctime and inode as a repository compares them to take a parent's content.
fn same_stamp(now: &Entry, before: &ParentEntry) -> bool {
    before.kind == EntryKind::File
        && now.mtime_ns == before.mtime_ns
        && now.ctime_ns == before.ctime_ns
        && now.inode == before.inode
}

/// The parent holds the file as [`restamp`] marks a racy one: read again.
fn marked_racy(now: &Entry, before: &ParentEntry) -> bool {
    same_file_stored_with(now, before, now.ctime_ns.saturating_sub(1))
}

fn same_file(now: &Entry, before: &ParentEntry) -> bool {
    same_file_stored_with(now, before, now.ctime_ns)
}

/// The parent holds `now` unchanged, recorded with the ctime `ctime_ns`.
fn same_file_stored_with(now: &Entry, before: &ParentEntry, ctime_ns: i64) -> bool {
    before.kind == EntryKind::File
        && now.size == before.size
        && now.mtime_ns == before.mtime_ns
        && ctime_ns == before.ctime_ns
        && now.inode == before.inode
        && now.mode == before.mode
}

#[cfg(test)]
mod tests {
    use super::super::listing::{sort, Codec};
    use super::*;

    const SECOND: i64 = 1_000_000_000;
    const LISTED: i64 = 1_700_000_000 * SECOND;

    fn file(path: &[u8], size: u64, mtime_ns: i64, inode: u64) -> Entry {
        Entry {
            path: path.into(),
            link: None,
            size,
            mtime_ns,
            ctime_ns: mtime_ns,
            inode,
            device: 2049,
            links: 1,
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            kind: EntryKind::File,
        }
    }

    fn listing(started_ns: i64, mut entries: Vec<Entry>) -> Listing {
        sort(&mut entries);
        Listing {
            started_ns,
            codec: Codec::Plain,
            entries,
            wire_bytes: 0,
        }
    }

    fn parent_of(listing: &Listing) -> HashMap<Box<[u8]>, ParentEntry> {
        listing
            .entries
            .iter()
            .map(|e| (e.path.clone(), ParentEntry::from(e)))
            .collect()
    }

    fn read(comparison: &Comparison, listing: &Listing) -> Vec<Vec<u8>> {
        comparison
            .paths_to_read(listing)
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn site(started_ns: i64) -> Listing {
        let old = LISTED - 3600 * SECOND;
        let mut dir = file(b"wp-content", 4096, old, 10);
        dir.kind = EntryKind::Dir;
        let mut link = file(b"wp-content/latest", 6, old, 11);
        link.kind = EntryKind::Symlink;
        link.link = Some(b"a\nb".to_vec().into());
        let mut hard_a = file(b"hard-a", 3, old, 20);
        hard_a.links = 2;
        let mut hard_b = file(b"hard-b", 3, old, 20);
        hard_b.links = 2;
        listing(
            started_ns,
            vec![
                file(b"index.php", 400, old, 1),
                file(b"new\nline", 5, old, 2),
                file(b"--remove-files", 7, old, 3),
                file(b"wp-content/\xff.bin", 9, old, 4),
                dir,
                link,
                hard_a,
                hard_b,
            ],
        )
    }

    #[test]
    fn the_first_backup_reads_every_file_and_only_files() {
        let now = site(LISTED);
        let comparison = compare(&now, None);
        assert_eq!(comparison.new_files, 6);
        assert_eq!(comparison.read_bytes, 400 + 5 + 7 + 9 + 3 + 3);
        assert_eq!(
            read(&comparison, &now),
            vec![
                b"--remove-files".to_vec(),
                b"hard-a".to_vec(),
                b"hard-b".to_vec(),
                b"index.php".to_vec(),
                b"new\nline".to_vec(),
                b"wp-content/\xff.bin".to_vec(),
            ]
        );
    }

    #[test]
    fn an_unchanged_site_reads_nothing() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        let now = site(LISTED + 86_400 * SECOND);
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(read(&comparison, &now), Vec::<Vec<u8>>::new());
        assert_eq!(comparison.reused_files, 6);
        assert_eq!(comparison.read_bytes, 0);
    }

    #[test]
    fn a_changed_new_and_deleted_file() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        let mut now = site(LISTED + SECOND * 100);
        now.entries.retain(|e| &*e.path != b"index.php");
        now.entries.push(file(b"-rf", 1, LISTED, 30));
        for entry in &mut now.entries {
            if &*entry.path == b"new\nline" {
                entry.mtime_ns += 1; // a nanosecond is a change
            }
            if &*entry.path == b"--remove-files" {
                entry.ctime_ns += SECOND; // chmod back and forth, or `touch -d`
            }
        }
        sort(&mut now.entries);
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(
            read(&comparison, &now),
            vec![
                b"--remove-files".to_vec(),
                b"-rf".to_vec(),
                b"new\nline".to_vec()
            ]
        );
        assert_eq!((comparison.new_files, comparison.changed_files), (1, 2));
    }

    #[test]
    fn a_hard_link_added_changes_both_names() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        let mut now = site(LISTED + SECOND * 100);
        for entry in &mut now.entries {
            if entry.inode == 20 {
                entry.links = 3;
                entry.ctime_ns = LISTED + SECOND * 50;
            }
        }
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(
            read(&comparison, &now),
            vec![b"hard-a".to_vec(), b"hard-b".to_vec()]
        );
    }

    #[test]
    fn a_file_written_within_the_listings_tick_is_read_again_next_time() {
        let mut before = site(LISTED);
        before
            .entries
            .push(file(b"racy.log", 10, LISTED - SECOND / 2, 40));
        sort(&mut before.entries);
        assert_eq!(compare(&before, None).racy_now, 1);
        let mut lookup = parent_of(&before);
        // Same metadata next time, yet it may have been written again after the listing.
        let mut now = before.clone();
        now.started_ns = LISTED + 86_400 * SECOND;
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(read(&comparison, &now), vec![b"racy.log".to_vec()]);
        assert_eq!((comparison.racy_files, comparison.racy_now), (1, 0));
        assert!(!is_racy(LISTED - SECOND - 1, LISTED));
        assert!(is_racy(LISTED - SECOND, LISTED));
    }

    #[test]
    fn a_file_read_with_its_parents_stamp_is_stored_so_that_no_store_reuses_it() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        let mut now = site(LISTED + SECOND * 100);
        // A chmod within one clock tick: mtime, ctime and inode as the parent holds them.
        for entry in &mut now.entries {
            if &*entry.path == b"index.php" {
                entry.mode = 0o600;
            }
        }
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(read(&comparison, &now), vec![b"index.php".to_vec()]);
        let index = now
            .entries
            .iter()
            .position(|e| &*e.path == b"index.php")
            .unwrap();
        assert_eq!(comparison.stamp_as_parent, vec![index]);
        let entry = &now.entries[index];
        assert_eq!(restamp(entry, now.started_ns, true), entry.ctime_ns - 1);
        assert_eq!(restamp(entry, now.started_ns, false), entry.ctime_ns);

        // Marked racy in the parent (ctime one nanosecond before): read again, as racy.
        let mut marked = parent_of(&now);
        marked.get_mut(&b"index.php"[..]).unwrap().ctime_ns -= 1;
        let later = Listing {
            started_ns: now.started_ns + SECOND * 100,
            ..now.clone()
        };
        let again = compare(
            &later,
            Some(Parent {
                lookup: &mut marked,
                listed_at_ns: now.started_ns,
            }),
        );
        assert_eq!(read(&again, &later), vec![b"index.php".to_vec()]);
        assert_eq!((again.racy_files, again.changed_files), (1, 0));
        assert!(again.stamp_as_parent.is_empty());
    }

    #[test]
    fn a_file_racy_now_is_read_even_when_its_parent_copy_matches() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        // The next listing comes within a second of the files' mtime (a clock set back,
        // or a parent taken moments before): the file is read, to be stored marked.
        let mut now = site(LISTED);
        now.started_ns = LISTED - 3600 * SECOND + SECOND / 2;
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: LISTED - 7200 * SECOND,
            }),
        );
        assert_eq!(comparison.reused_files, 0);
        assert_eq!(comparison.racy_files, 6);
        assert_eq!(comparison.stamp_as_parent.len(), 6);
    }

    #[test]
    fn a_path_that_changed_type_is_read() {
        let before = site(LISTED);
        let mut lookup = parent_of(&before);
        let mut now = site(LISTED + SECOND * 100);
        now.entries.retain(|e| &*e.path != b"wp-content/latest");
        // The symlink became a regular file with the same times and size.
        now.entries
            .push(file(b"wp-content/latest", 6, LISTED - 3600 * SECOND, 11));
        sort(&mut now.entries);
        let comparison = compare(
            &now,
            Some(Parent {
                lookup: &mut lookup,
                listed_at_ns: before.started_ns,
            }),
        );
        assert_eq!(read(&comparison, &now), vec![b"wp-content/latest".to_vec()]);
    }
}
