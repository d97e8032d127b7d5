//! The incremental backup's host side, against the lab's real sshd: the listing taken with
//! GNU find, its comparison with the previous one, and the tar of exactly the changed
//! paths — with hostile names, hard links, symlinks, deletions, a file vanishing between
//! listing and reading, a host without GNU find, and remote processes killed mid-stream.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use support::{processes_in, Lab};
use tend::backup::changed::{self, Parent, ParentEntry};
use tend::backup::changed_tar::{self, FetchError};
use tend::backup::listing::{self, EntryKind, Listing, ListingError, Taken};
use tend::events::Silent;
use tend::remote::{quote, Connection, Endpoint, Pool, RemoteCommand};

const EXCLUDES: [&str; 2] = [".tend", "wp-content/cache"];

fn endpoint(lab: &Lab) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        user: Some(lab.var("LAB_USER")),
        port: Some(lab.ssh_port()),
        identity_file: Some(PathBuf::from(lab.var("LAB_SSH_KEY"))),
        known_hosts_file: Some(PathBuf::from(lab.var("LAB_KNOWN_HOSTS"))),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connect(lab: &Lab, work: impl AsyncFnOnce(Arc<Connection>)) {
    runtime().block_on(async {
        let pool = Pool::new(Duration::from_secs(10), 10, Arc::new(Silent)).unwrap();
        let host = pool.connect(&endpoint(lab)).await.unwrap();
        work(host).await;
        pool.shutdown().await;
    });
}

fn excludes() -> Vec<String> {
    EXCLUDES.iter().map(|s| (*s).to_owned()).collect()
}

/// Bytes that zstd cannot shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn path_of(root: &Path, rel: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(rel))
}

fn write_old(root: &Path, rel: &[u8], content: &[u8]) {
    let path = path_of(root, rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    age(&path);
}

/// An hour old: outside any listing's clock tick.
fn age(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// A site tree with every kind of name and entry the listing must carry.
fn hostile_tree(lab: &Lab, name: &str) -> PathBuf {
    let root = lab.dir.join(format!("listing-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    write_old(&root, b"index.php", b"<?php // index\n");
    write_old(&root, b"new\nline.txt", b"a name with a newline\n");
    write_old(&root, b"--remove-files", b"not an option\n");
    write_old(&root, b"-rf", b"not an option either\n");
    write_old(&root, b"back\\nslash", b"a backslash, not a newline\n");
    write_old(&root, b"\xff\xfe latin1 \xe9.bin", &noise(1000, 1));
    write_old(&root, b"wp-content/uploads/big.bin", &noise(3 << 20, 2));
    write_old(&root, b"hard-a", b"one inode, two names\n");
    std::fs::hard_link(root.join("hard-a"), root.join("hard-b")).unwrap();
    std::os::unix::fs::symlink("wp-content/uploads/big.bin", root.join("link")).unwrap();
    std::os::unix::fs::symlink("nowhere\nat all", root.join("dangling")).unwrap();
    write_old(&root, b"wp-content/cache/page.html", b"excluded\n");
    write_old(&root, b".tend/journal", b"excluded\n");
    let script = root.join("bin/run.sh");
    write_old(&root, b"bin/run.sh", b"#!/bin/sh\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o4750)).unwrap();
    root
}

/// The tree as lstat sees it, excluded folders left out: path → metadata.
fn local_walk(root: &Path) -> BTreeMap<Vec<u8>, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let meta = std::fs::symlink_metadata(root.join(&rel)).unwrap();
        if EXCLUDES.iter().any(|e| rel == Path::new(e)) {
            continue;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(root.join(&rel)).unwrap() {
                stack.push(rel.join(entry.unwrap().file_name()));
            }
        }
        out.insert(rel.as_os_str().as_bytes().to_vec(), meta);
    }
    out
}

async fn listing_of(host: &Connection, root: &Path) -> Listing {
    match listing::take(host, root.to_str().unwrap(), &excludes())
        .await
        .unwrap()
    {
        Taken::Listing(listing) => listing,
        Taken::NoGnuFind => panic!("the lab's host has GNU find"),
    }
}

fn parent_of(listing: &Listing) -> HashMap<Box<[u8]>, ParentEntry> {
    listing
        .entries
        .iter()
        .map(|e| (e.path.clone(), ParentEntry::from(e)))
        .collect()
}

fn to_read(comparison: &changed::Comparison, listing: &Listing) -> Vec<Vec<u8>> {
    comparison
        .paths_to_read(listing)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Reads the tar stream into path → content (paths without `./`).
fn unpack(stream: &mut dyn Read) -> std::io::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut archive = tar::Archive::new(stream);
    let mut out = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
        let name = entry.path_bytes().into_owned();
        let name = name.strip_prefix(b"./").unwrap_or(&name).to_vec();
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        out.insert(name, content);
    }
    Ok(out)
}

#[test]
fn the_listing_holds_every_entry_as_lstat_sees_it() {
    let lab = Lab::shared();
    let root = hostile_tree(lab, "lstat");
    connect(lab, async |host| {
        let listing = listing_of(&host, &root).await;
        let local = local_walk(&root);
        let listed: BTreeMap<Vec<u8>, &listing::Entry> = listing
            .entries
            .iter()
            .map(|e| (e.path.to_vec(), e))
            .collect();
        assert_eq!(
            listed.keys().collect::<Vec<_>>(),
            local.keys().collect::<Vec<_>>()
        );
        for (path, meta) in &local {
            let entry = listed[path];
            let shown = String::from_utf8_lossy(path);
            assert_eq!(entry.inode, meta.ino(), "{shown}");
            assert_eq!(entry.links, meta.nlink(), "{shown}");
            assert_eq!(entry.mode, meta.mode() & 0o7777, "{shown}");
            assert_eq!((entry.uid, entry.gid), (meta.uid(), meta.gid()), "{shown}");
            assert_eq!(
                entry.mtime_ns,
                meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                "{shown}"
            );
            assert_eq!(
                entry.ctime_ns,
                meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                "{shown}"
            );
            if meta.is_file() {
                assert_eq!(entry.kind, EntryKind::File, "{shown}");
                assert_eq!(entry.size, meta.len(), "{shown}");
            } else if meta.is_symlink() {
                assert_eq!(entry.kind, EntryKind::Symlink, "{shown}");
                let target = std::fs::read_link(path_of(&root, path)).unwrap();
                assert_eq!(
                    entry.link.as_deref(),
                    Some(target.as_os_str().as_bytes()),
                    "{shown}"
                );
            } else {
                assert_eq!(entry.kind, EntryKind::Dir, "{shown}");
            }
        }
        assert_eq!(listed[&b"bin/run.sh"[..]].mode, 0o4750);
        // Tree order: the root first, a directory right before what it holds.
        assert_eq!(&*listing.entries[0].path, b"");
        let host_clock = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!((host_clock - listing.started_ns).abs() < 60_000_000_000);
    });
}

#[test]
fn only_new_and_changed_files_cross_the_network_and_names_arrive_intact() {
    let lab = Lab::shared();
    let root = hostile_tree(lab, "changes");
    connect(lab, async |host| {
        let root_text = root.to_str().unwrap().to_owned();
        // First backup: every regular file, each with its own content.
        let first = listing_of(&host, &root).await;
        let comparison = changed::compare(&first, None);
        let wanted = to_read(&comparison, &first);
        assert_eq!(wanted.len(), 10, "{wanted:?}");
        let fetched = changed_tar::fetch(
            &host,
            &root_text,
            first.codec,
            comparison.paths_to_read(&first),
            unpack,
        )
        .await
        .unwrap();
        assert_eq!(fetched.consumed.keys().cloned().collect::<Vec<_>>(), {
            let mut sorted = wanted.clone();
            sorted.sort();
            sorted
        });
        for (path, content) in &fetched.consumed {
            assert_eq!(
                &std::fs::read(path_of(&root, path)).unwrap(),
                content,
                "{}",
                String::from_utf8_lossy(path)
            );
        }
        assert_eq!(fetched.notes, Default::default());
        assert!(
            fetched.wire_bytes < comparison.read_bytes + 64 * 1024,
            "{} bytes over the wire for {}",
            fetched.wire_bytes,
            comparison.read_bytes
        );
        // Names that look like options were names: nothing was removed on the host.
        assert!(root.join("--remove-files").exists());
        assert!(root.join("-rf").exists());

        // Unchanged: nothing to read.
        let second = listing_of(&host, &root).await;
        let mut parent = parent_of(&first);
        let comparison = changed::compare(
            &second,
            Some(Parent {
                lookup: &mut parent,
                listed_at_ns: first.started_ns,
            }),
        );
        assert_eq!(to_read(&comparison, &second), Vec::<Vec<u8>>::new());
        assert_eq!(comparison.reused_files, 10);

        // One changed (same size), one deleted, one new, and a hard link added.
        std::fs::write(root.join("index.php"), b"<?php // INDEX\n").unwrap();
        // Its mtime within this listing's clock tick, whatever the machine's speed.
        std::fs::File::options()
            .write(true)
            .open(root.join("index.php"))
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(10))
            .unwrap();
        std::fs::remove_file(root.join("-rf")).unwrap();
        write_old(&root, b"wp-content/uploads/new.jpg", b"new\n");
        std::fs::hard_link(root.join("hard-a"), root.join("hard-c")).unwrap();
        let third = listing_of(&host, &root).await;
        let mut parent = parent_of(&second);
        let comparison = changed::compare(
            &third,
            Some(Parent {
                lookup: &mut parent,
                listed_at_ns: second.started_ns,
            }),
        );
        assert_eq!(
            to_read(&comparison, &third),
            vec![
                b"hard-a".to_vec(),
                b"hard-b".to_vec(),
                b"hard-c".to_vec(),
                b"index.php".to_vec(),
                b"wp-content/uploads/new.jpg".to_vec(),
            ]
        );
        // index.php's mtime is within this listing's tick.
        assert_eq!(comparison.racy_now, 1);
        assert!(!third.entries.iter().any(|e| &*e.path == b"-rf"));

        // The new file vanishes between listing and reading: a note, not a failure.
        std::fs::remove_file(root.join("wp-content/uploads/new.jpg")).unwrap();
        let fetched = changed_tar::fetch(
            &host,
            &root_text,
            third.codec,
            comparison.paths_to_read(&third),
            unpack,
        )
        .await
        .unwrap();
        assert_eq!(
            fetched.consumed.keys().cloned().collect::<Vec<_>>(),
            vec![
                b"hard-a".to_vec(),
                b"hard-b".to_vec(),
                b"hard-c".to_vec(),
                b"index.php".to_vec()
            ]
        );
        assert_eq!(fetched.consumed[&b"hard-c"[..]], b"one inode, two names\n");
        assert_eq!(fetched.notes.vanished.len(), 1, "{:?}", fetched.notes);

        // index.php was racy in the third listing: read again though it did not change.
        let fourth = listing_of(&host, &root).await;
        let mut parent = parent_of(&third);
        let comparison = changed::compare(
            &fourth,
            Some(Parent {
                lookup: &mut parent,
                listed_at_ns: third.started_ns,
            }),
        );
        assert_eq!(to_read(&comparison, &fourth), vec![b"index.php".to_vec()]);
        assert_eq!(comparison.racy_files, 1);
    });
}

/// A directory holding a `find` that is not GNU find (it refuses `-printf`, as BSD and
/// busybox find do): a stand-in for such a host, put first on the remote PATH.
fn fake_find(lab: &Lab, name: &str, script: &str) -> PathBuf {
    let dir = lab.dir.join(format!("fake-find-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let find = dir.join("find");
    std::fs::write(&find, script).unwrap();
    std::fs::set_permissions(&find, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn with_path(dir: &Path, command: RemoteCommand) -> RemoteCommand {
    RemoteCommand::script(&format!(
        "PATH={}:$PATH; export PATH; {}",
        quote(dir.to_str().unwrap()),
        command.as_str()
    ))
}

#[test]
fn a_host_without_gnu_find_is_told_apart_stand_in_find() {
    let lab = Lab::shared();
    let root = hostile_tree(lab, "nognu");
    let bin = fake_find(
        lab,
        "bsd",
        "#!/bin/sh\necho 'find: -printf: unknown primary or operator' >&2\nexit 1\n",
    );
    connect(lab, async |host| {
        let command = listing::listing_command(root.to_str().unwrap(), &excludes());
        let taken = listing::run(&host, &with_path(&bin, command))
            .await
            .unwrap();
        assert_eq!(taken, Taken::NoGnuFind);
    });
}

#[test]
fn a_listing_killed_midway_is_an_error_never_a_smaller_site() {
    let lab = Lab::shared();
    let root = hostile_tree(lab, "killed");
    for i in 0..2000 {
        write_old(&root, format!("many/file-{i}").as_bytes(), b"x");
    }
    // The real find, whose whole remote command (the shell, find, the compressor) is
    // killed after a part of the listing went out.
    let bin = fake_find(
        lab,
        "killed",
        "#!/bin/sh\ncase \"$*\" in *maxdepth*) exec /usr/bin/find \"$@\";; esac\n\
         /usr/bin/find \"$@\" | head -c 20000\nkill -KILL 0\n",
    );
    // And a find that fails on its own (an unreadable folder, say).
    let failing = fake_find(
        lab,
        "failing",
        "#!/bin/sh\ncase \"$*\" in *maxdepth*) exec /usr/bin/find \"$@\";; esac\n\
         /usr/bin/find \"$@\"\necho 'find: ./private: Permission denied' >&2\nexit 1\n",
    );
    connect(lab, async |host| {
        let command = listing::listing_command(root.to_str().unwrap(), &excludes());
        let killed = listing::run(&host, &with_path(&bin, command.clone())).await;
        assert!(killed.is_err(), "{killed:?}");
        let failed = listing::run(&host, &with_path(&failing, command)).await;
        match failed {
            Err(ListingError::FindFailed { status: 1, stderr }) => {
                assert!(stderr.contains("Permission denied"), "{stderr}")
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_tar_killed_midway_fails_the_read_and_leaves_the_host_as_it_was() {
    let lab = Lab::shared();
    let root = hostile_tree(lab, "tarkill");
    write_old(&root, b"wp-content/uploads/huge.bin", &noise(24 << 20, 3));
    let before = support::tree(&root, &[]);
    connect(lab, async |host| {
        let listing = listing_of(&host, &root).await;
        let comparison = changed::compare(&listing, None);
        let watched = root.clone();
        let fetched = changed_tar::fetch(
            &host,
            root.to_str().unwrap(),
            listing.codec,
            comparison.paths_to_read(&listing),
            move |stream| {
                // Once the stream flows, the remote tar (ours: it runs in this tree) dies.
                let mut first = [0u8; 512];
                stream.read_exact(&mut first)?;
                let tars = processes_in(&watched, "tar");
                assert_eq!(tars.len(), 1, "{tars:?}");
                std::process::Command::new("kill")
                    .arg("-KILL")
                    .arg(tars[0].to_string())
                    .status()?;
                std::io::copy(stream, &mut std::io::sink())
            },
        )
        .await;
        match fetched {
            Err(FetchError::TarFailed { status, .. }) => assert_eq!(status, 137),
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(
        support::tree(&root, &[]),
        before,
        "reading changed the tree"
    );
}
