//! Getting an update package to a site without trusting it.
//!
//! A package is a zip from a source tend does not control, and unzipping it is where a
//! hostile or broken package does its harm: an entry named `../../wp-config.php`, an
//! absolute path, a symlink that points out of the plugin folder. So the host never unzips
//! anything. Packages are fetched once into a cache on the runner ([`PackageCache`]) and
//! checked against the sha256 their source promised before they are used; the zip is read
//! on the runner, where every entry must lie inside its folder (`akismet/`, `wordpress/`)
//! and anything that would escape it is refused ([`check_zip`]); and what reaches the host
//! is a plain tar stream of regular files and folders with paths relative to that folder
//! ([`write_tar`]), which the host's tar unpacks into a staging folder as the site user.
//!
//! [`write_tar`] and [`file_md5s`] apply the rules again themselves rather than trusting
//! an earlier [`check_zip`], and read each entry's content through a guard that holds it
//! to the size its header declares: the tar header is written before the content, so
//! content longer than declared would otherwise spill into the stream as entries of its own.
//!
//! A zip bomb (a few MB that unpack to gigabytes) is refused before anything reaches the
//! host, by [`UNPACK_LIMITS`]: at most 512 MiB unpacked in all, 20,000 entries, and no entry
//! of more than 1 MiB (nor the whole package) that unpacks to more than 100 times its
//! compressed size — far above any real plugin, theme or CMS (WordPress core: about 3,300
//! entries, 70 MB, ratio about 3). The limits are checked first against what the zip's central
//! directory declares, and then enforced on the bytes themselves: [`check_zip`] and
//! [`check_entries`] (which run before anything is sent) unpack every entry on the runner into
//! nothing, counting, and an entry whose content is longer than its header declares is refused
//! (the [`Exact`] guard), so a zip whose declared sizes lie is caught there too; [`write_tar`]
//! keeps the same guard and a running total while it streams.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::Offer;
use crate::backup::archive::hex;
use crate::site_error::SiteError;

/// The most a package download may weigh; WordPress core is about 30 MB.
const MAX_PACKAGE_BYTES: u64 = 1 << 30;

/// How much unpacking a package may cost; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Bytes of all files unpacked, in all.
    pub total_bytes: u64,
    /// Entries (files and folders) in the zip.
    pub entries: usize,
    /// Unpacked size over compressed size, for an entry (or the whole package) of more
    /// than [`UnpackLimits::ratio_from`] bytes.
    pub ratio: u64,
    pub ratio_from: u64,
}

/// The limits every package is held to.
pub const UNPACK_LIMITS: UnpackLimits = UnpackLimits {
    total_bytes: 512 << 20,
    entries: 20_000,
    ratio: 100,
    ratio_from: 1 << 20,
};

impl UnpackLimits {
    /// Checks what the zip's central directory declares: the entry count, each entry's
    /// ratio, the total and the whole package's ratio.
    fn check_declared<R: Read + io::Seek>(
        &self,
        zip: &Path,
        archive: &mut zip::ZipArchive<R>,
    ) -> Result<(), String> {
        let refuse = |reason: String| format!("{}: {reason}; package refused", zip.display());
        if archive.len() > self.entries {
            return Err(refuse(format!(
                "it holds {} entries, more than the limit of {}",
                archive.len(),
                self.entries
            )));
        }
        let (mut total, mut compressed) = (0u64, 0u64);
        for index in 0..archive.len() {
            let file = archive
                .by_index_raw(index)
                .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
            let (size, packed) = (file.size(), file.compressed_size());
            if size > self.ratio_from && size / packed.max(1) >= self.ratio {
                return Err(refuse(format!(
                    "entry {:?} unpacks to {size} bytes from {packed}, more than {} times its                      compressed size (a zip bomb?)",
                    String::from_utf8_lossy(file.name_raw()),
                    self.ratio
                )));
            }
            total = total.saturating_add(size);
            compressed = compressed.saturating_add(packed);
        }
        self.check_total(zip, total)?;
        if total > self.ratio_from && total / compressed.max(1) >= self.ratio {
            return Err(refuse(format!(
                "it unpacks to {total} bytes from {compressed}, more than {} times its                  compressed size (a zip bomb?)",
                self.ratio
            )));
        }
        Ok(())
    }

    fn check_total(&self, zip: &Path, total: u64) -> Result<(), String> {
        if total > self.total_bytes {
            return Err(format!(
                "{}: it unpacks to more than {} MiB, the limit; package refused",
                zip.display(),
                self.total_bytes >> 20
            ));
        }
        Ok(())
    }

    /// Unpacks every file entry into nothing, each held to its declared size, counting
    /// against the total: what the declared sizes promised, checked on the bytes.
    fn check_content(&self, zip: &Path, archive: &mut Archive) -> Result<(), String> {
        let mut total = 0u64;
        for index in 0..archive.len() {
            let file = archive
                .by_index(index)
                .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
            if file.is_dir() {
                continue;
            }
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            let size = file.size();
            let mut content = Exact {
                inner: file,
                remaining: size,
            };
            let n = io::copy(&mut content, &mut io::sink())
                .map_err(|e| format!("{}: entry {name:?}: {e}; package refused", zip.display()))?;
            total = total.saturating_add(n);
            self.check_total(zip, total)?;
        }
        Ok(())
    }
}

/// Where fetched packages are kept on the runner.
#[derive(Debug, Clone)]
pub struct PackageCache {
    dir: PathBuf,
}

impl PackageCache {
    pub fn new(dir: PathBuf) -> PackageCache {
        PackageCache { dir }
    }

    /// `$XDG_CACHE_HOME/tend/packages`, else `~/.cache/tend/packages`.
    pub fn default_dir() -> PathBuf {
        if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|c| !c.is_empty()) {
            return PathBuf::from(cache).join("tend/packages");
        }
        crate::paths::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".cache/tend/packages")
    }

    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The package of `offer` in the cache, fetching it when it is not there yet: over
    /// http(s) with `client`, or copied from a local path. The content is hashed as it is
    /// written to a temporary file in the cache, and only a package with the sha256 the
    /// source promised is kept. A cached package is hashed again before it is reused; one
    /// that no longer matches is fetched afresh. A local package whose source promised no
    /// sha256 is copied again every time, so a rebuilt zip at the same path is picked up.
    pub async fn fetch(
        &self,
        offer: &Offer,
        client: &reqwest::Client,
    ) -> Result<PathBuf, FetchError> {
        let what = format!("{} {} from {}", offer.slug, offer.version, offer.source);
        let expected = match &offer.sha256 {
            Some(sha) => {
                let sha = sha.to_ascii_lowercase();
                if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(FetchError::Refused {
                        what,
                        reason: format!("{sha:?} is not a sha256"),
                    });
                }
                Some(sha)
            }
            None => None,
        };
        let remote = offer.package.starts_with("http://") || offer.package.starts_with("https://");
        if !remote && offer.package.contains("://") {
            return Err(FetchError::Refused {
                what,
                reason: format!(
                    "cannot fetch {}: only http(s) URLs and local paths are supported",
                    offer.package
                ),
            });
        }
        self.ensure_dir()?;
        let name = match &expected {
            Some(sha) => format!("{sha}.zip"),
            None => format!("url-{}.zip", hex(&Sha256::digest(offer.package.as_bytes()))),
        };
        let path = self.dir.join(name);

        let cached = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if cached {
            match &expected {
                Some(sha) => {
                    let actual = sha256_of_file(path.clone()).await?;
                    if actual == *sha {
                        return Ok(path);
                    }
                    // Damaged since it was fetched: fetch it again.
                    std::fs::remove_file(&path).map_err(|e| {
                        FetchError::Cache(format!("cannot remove {}: {e}", path.display()))
                    })?;
                }
                None if remote => return Ok(path),
                None => {}
            }
        }

        let part = tempfile::Builder::new()
            .prefix(".fetch-")
            .suffix(".part")
            .tempfile_in(&self.dir)
            .map_err(|e| {
                FetchError::Cache(format!("cannot write to {}: {e}", self.dir.display()))
            })?;
        part.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| FetchError::Cache(format!("{}: {e}", part.path().display())))?;
        let writer = part
            .as_file()
            .try_clone()
            .map_err(|e| FetchError::Cache(format!("{}: {e}", part.path().display())))?;
        let actual = if remote {
            download(client, &offer.package, writer, &what).await?
        } else {
            let source = crate::paths::expand_tilde(&offer.package);
            let label = what.clone();
            tokio::task::spawn_blocking(move || copy_hashing(&source, writer, &label))
                .await
                .map_err(|e| {
                    FetchError::Cache(format!("{what}: copying the package failed: {e}"))
                })??
        };
        if let Some(sha) = &expected {
            if actual != *sha {
                // Dropping `part` deletes the download.
                return Err(FetchError::Refused {
                    what,
                    reason: format!("sha256 mismatch (expected {sha}, got {actual})"),
                });
            }
        }
        part.persist(&path).map_err(|e| {
            FetchError::Cache(format!("cannot write {}: {}", path.display(), e.error))
        })?;
        Ok(path)
    }

    fn ensure_dir(&self) -> Result<(), FetchError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| FetchError::Cache(format!("cannot create {}: {e}", self.dir.display())))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            FetchError::Cache(format!("cannot make {} private: {e}", self.dir.display()))
        })
    }
}

/// Streams `url` into `file`, returning the sha256 of what was written.
async fn download(
    client: &reqwest::Client,
    url: &str,
    file: File,
    what: &str,
) -> Result<String, FetchError> {
    let unavailable = |detail: String| FetchError::Unavailable {
        what: what.to_owned(),
        detail,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| unavailable(format!("cannot reach {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("{url} answered {}", response.status())));
    }
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(format!("downloading {url}: {e}")))?
    {
        total += chunk.len() as u64;
        if total > MAX_PACKAGE_BYTES {
            return Err(FetchError::Refused {
                what: what.to_owned(),
                reason: format!("{url} is larger than {} MiB", MAX_PACKAGE_BYTES >> 20),
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| FetchError::Cache(format!("{what}: writing the download: {e}")))?;
    }
    file.flush()
        .await
        .and(file.sync_all().await)
        .map_err(|e| FetchError::Cache(format!("{what}: writing the download: {e}")))?;
    Ok(hex(&hasher.finalize()))
}

/// Copies `source` into `file`, returning the sha256 of what was copied.
fn copy_hashing(source: &Path, mut file: File, what: &str) -> Result<String, FetchError> {
    let unavailable = |detail: String| FetchError::Unavailable {
        what: what.to_owned(),
        detail,
    };
    let mut input = File::open(source)
        .map_err(|e| unavailable(format!("cannot read {}: {e}", source.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unavailable(format!("reading {}: {e}", source.display()))),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| FetchError::Cache(format!("{what}: writing the copy: {e}")))?;
    }
    file.sync_all()
        .map_err(|e| FetchError::Cache(format!("{what}: writing the copy: {e}")))?;
    Ok(hex(&hasher.finalize()))
}

async fn sha256_of_file(path: PathBuf) -> Result<String, FetchError> {
    tokio::task::spawn_blocking(move || {
        let cache = |e: io::Error| FetchError::Cache(format!("{}: {e}", path.display()));
        let mut file = File::open(&path).map_err(cache)?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher).map_err(cache)?;
        Ok(hex(&hasher.finalize()))
    })
    .await
    .map_err(|e| FetchError::Cache(format!("hashing a cached package failed: {e}")))?
}

/// Why a package could not be fetched into the runner's cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The package is not what the source promised (its sha256, a size tend accepts, a
    /// place tend fetches from): it is refused, and nothing is kept.
    #[error("{what}: {reason}; package refused")]
    Refused { what: String, reason: String },
    /// The source did not give it (unreachable, an HTTP error, a local file unreadable).
    #[error("{what}: {detail}")]
    Unavailable { what: String, detail: String },
    /// The runner's package cache could not be used.
    #[error("package cache: {0}")]
    Cache(String),
}

impl FetchError {
    /// As the site's error, for the change `change` (`plugin akismet 5.0.2 → 5.5`).
    pub fn for_change(self, change: &str) -> SiteError {
        match self {
            FetchError::Refused { what, reason } => SiteError::PackageRefused {
                change: change.to_owned(),
                reason: format!("{what}: {reason}"),
            },
            FetchError::Unavailable { what, detail } => {
                SiteError::UpdateSource(format!("{change}: {what}: {detail}"))
            }
            FetchError::Cache(detail) => {
                SiteError::failed(format!("{change}: package cache"), detail)
            }
        }
    }
}

/// What a zip holds under its folder, relative to it and `/`-separated, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files.
    pub files: Vec<String>,
    /// Folders, including those the zip only implies through the paths of its files.
    pub dirs: Vec<String>,
}

/// File and directory modes for the tar (the permissions the site used before). None: keep
/// the zip's mode, or 0644/0755 when it has none.
#[derive(Clone, Copy, Debug, Default)]
pub struct Modes {
    pub file: Option<u32>,
    pub dir: Option<u32>,
}

/// Checks every entry of a zip that a CMS's own installer will unpack (Joomla extension
/// packages hold their manifest at the zip's root): the rules of [`check_zip`] except the
/// single top folder.
pub fn check_entries(zip: &Path) -> Result<(), String> {
    let file = File::open(zip).map_err(|e| format!("cannot read {}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("{} is not a zip: {e}", zip.display()))?;
    UNPACK_LIMITS.check_declared(zip, &mut archive)?;
    let mut files = 0;
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
        if let Some(entry) = classify(zip, &file, None)? {
            files += usize::from(!entry.dir);
        }
    }
    if files == 0 {
        return Err(format!(
            "{}: the zip holds no files; package refused",
            zip.display()
        ));
    }
    UNPACK_LIMITS.check_content(zip, &mut archive)
}

/// Lists a zip and checks that every entry lies inside `top/` (`akismet`, `wordpress`).
/// Refused, naming the entry: `..` or `.` components, empty components, absolute paths,
/// backslashes, NUL bytes, names that are not UTF-8, symlinks and other special files,
/// encrypted entries, compression tend cannot read, entries outside `top/`, a path that is
/// both a file and a folder or a file that appears twice. A zip with no files under `top/`
/// is refused too, and so is one over [`UNPACK_LIMITS`] (declared, then unpacked and counted).
pub fn check_zip(zip: &Path, top: &str) -> Result<Listing, String> {
    let (mut archive, scan) = scan(zip, top)?;
    UNPACK_LIMITS.check_content(zip, &mut archive)?;
    Ok(Listing {
        files: scan.files.into_iter().collect(),
        dirs: scan.dirs.into_keys().collect(),
    })
}

/// Writes the entries under `top/` as a tar stream to `out`, with paths relative to `top/`,
/// skipping those for which `skip(relative_path)` is true (skipping a folder skips what is
/// under it). The tar holds only regular files and folders, with GNU headers (long paths
/// allowed), uid and gid 0, the zip's modification times, and every folder before what it
/// holds. The zip is checked by [`check_zip`]'s rules before anything is written, and each
/// entry again as it is written. Returns the bytes of file content written.
///
/// Blocking. On an error the stream written so far is incomplete and must be thrown away.
pub fn write_tar<W: Write>(
    zip: &Path,
    top: &str,
    skip: &dyn Fn(&str) -> bool,
    modes: Modes,
    out: W,
) -> Result<u64, String> {
    let (mut archive, scan) = scan(zip, top)?;
    let mut builder = tar::Builder::new(out);
    let mut emitted: HashSet<String> = HashSet::new();
    let mut written = 0u64;
    let tar_error = |name: &str, e: io::Error| format!("{}: entry {name:?}: {e}", zip.display());
    for index in 0..archive.len() {
        let file = archive
            .by_index(index)
            .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
        let Some(entry) = classify(zip, &file, Some(top))? else {
            continue;
        };
        if is_skipped(&entry.path, skip) {
            continue;
        }
        // Folders first, with the mode and time of their own entry when the zip has one.
        for dir in ancestors(&entry.path).chain(entry.dir.then_some(entry.path.as_str())) {
            if emitted.contains(dir) {
                continue;
            }
            let (mode, mtime) = scan
                .dirs
                .get(dir)
                .copied()
                .flatten()
                .unwrap_or((None, entry.mtime));
            let mut header = tar_header(
                tar::EntryType::Directory,
                modes.dir.or(mode).unwrap_or(0o755),
                mtime,
                0,
            );
            builder
                .append_data(&mut header, format!("{dir}/"), io::empty())
                .map_err(|e| tar_error(&entry.name, e))?;
            emitted.insert(dir.to_owned());
        }
        if entry.dir {
            continue;
        }
        let mut header = tar_header(
            tar::EntryType::Regular,
            modes.file.or(entry.mode).unwrap_or(0o644),
            entry.mtime,
            entry.size,
        );
        let content = Exact {
            inner: file,
            remaining: entry.size,
        };
        written += entry.size;
        UNPACK_LIMITS.check_total(zip, written)?;
        builder
            .append_data(&mut header, &entry.path, content)
            .map_err(|e| tar_error(&entry.name, e))?;
    }
    builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|e| format!("writing the tar stream: {e}"))?;
    Ok(written)
}

/// The md5 (hex) of every file under `top/`, by path relative to it: for checking WordPress
/// core against the checksums WordPress.org publishes. Checks the zip like [`check_zip`].
pub fn file_md5s(zip: &Path, top: &str) -> Result<BTreeMap<String, String>, String> {
    let (mut archive, _) = scan(zip, top)?;
    let mut sums = BTreeMap::new();
    for index in 0..archive.len() {
        let file = archive
            .by_index(index)
            .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
        let Some(entry) = classify(zip, &file, Some(top))? else {
            continue;
        };
        if entry.dir {
            continue;
        }
        let mut content = Exact {
            inner: file,
            remaining: entry.size,
        };
        let mut hasher = Md5::new();
        io::copy(&mut content, &mut hasher)
            .map_err(|e| format!("{}: entry {:?}: {e}", zip.display(), entry.name))?;
        sums.insert(entry.path, hex(&hasher.finalize()));
    }
    Ok(sums)
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// A zip entry that passed the rules.
struct Entry {
    /// The name in the zip, for messages.
    name: String,
    /// Relative to `top/`, without a trailing slash.
    path: String,
    dir: bool,
    /// Permission bits, when the zip records a Unix mode.
    mode: Option<u32>,
    mtime: u64,
    size: u64,
}

/// Everything under `top/`, after every entry has passed the rules.
struct Scan {
    files: BTreeSet<String>,
    /// Every folder; the mode and time of its own entry when the zip has one.
    dirs: BTreeMap<String, Option<(Option<u32>, u64)>>,
}

type Archive = zip::ZipArchive<BufReader<File>>;

/// Opens `zip` and checks every entry, and the entries against each other.
fn scan(zip: &Path, top: &str) -> Result<(Archive, Scan), String> {
    if top.is_empty() || top == "." || top == ".." || top.contains(['/', '\\', '\0']) {
        return Err(format!("{top:?} is not a folder name"));
    }
    let file = File::open(zip).map_err(|e| format!("cannot read {}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("{} is not a zip: {e}", zip.display()))?;
    UNPACK_LIMITS.check_declared(zip, &mut archive)?;
    let mut scan = Scan {
        files: BTreeSet::new(),
        dirs: BTreeMap::new(),
    };
    // Which entry made each path a file or a folder, for messages about clashes.
    let mut file_names: HashMap<String, String> = HashMap::new();
    let mut dir_names: HashMap<String, String> = HashMap::new();
    let clash = |name: &str, reason: String| {
        format!(
            "{}: entry {name:?} {reason}; package refused",
            zip.display()
        )
    };
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| format!("{}: entry {index}: {e}", zip.display()))?;
        let Some(entry) = classify(zip, &file, Some(top))? else {
            continue;
        };
        for dir in ancestors(&entry.path) {
            if let Some(other) = file_names.get(dir) {
                return Err(clash(
                    &entry.name,
                    format!("is inside {other:?}, which is a file"),
                ));
            }
            dir_names
                .entry(dir.to_owned())
                .or_insert_with(|| entry.name.clone());
            scan.dirs.entry(dir.to_owned()).or_insert(None);
        }
        if entry.dir {
            if let Some(other) = file_names.get(&entry.path) {
                return Err(clash(&entry.name, format!("is also the file {other:?}")));
            }
            dir_names
                .entry(entry.path.clone())
                .or_insert_with(|| entry.name.clone());
            let own = scan.dirs.entry(entry.path).or_insert(None);
            if own.is_none() {
                *own = Some((entry.mode, entry.mtime));
            }
        } else {
            if let Some(other) = dir_names.get(&entry.path) {
                return Err(clash(&entry.name, format!("is also the folder {other:?}")));
            }
            if file_names
                .insert(entry.path.clone(), entry.name.clone())
                .is_some()
            {
                return Err(clash(&entry.name, "appears twice".to_owned()));
            }
            scan.files.insert(entry.path);
        }
    }
    if scan.files.is_empty() {
        return Err(format!(
            "{}: no files under {top}/; package refused",
            zip.display()
        ));
    }
    Ok((archive, scan))
}

/// Checks one entry against the rules (with `top`: it must be inside `top/`). None: the
/// entry is the `top/` folder itself.
fn classify<R: Read>(
    zip: &Path,
    file: &zip::read::ZipFile<'_, R>,
    top: Option<&str>,
) -> Result<Option<Entry>, String> {
    let refuse = |name: &str, reason: &str| {
        format!(
            "{}: entry {name:?} {reason}; package refused",
            zip.display()
        )
    };
    let name = match file.name() {
        Ok(name) => name.into_owned(),
        Err(_) => {
            return Err(refuse(
                &String::from_utf8_lossy(file.name_raw()),
                "has a name that is not valid UTF-8",
            ))
        }
    };
    if name.contains('\0') {
        return Err(refuse(&name, "has a NUL byte in its name"));
    }
    if name.contains('\\') {
        return Err(refuse(&name, "has a backslash in its name"));
    }
    if name.starts_with('/') {
        return Err(refuse(&name, "is an absolute path"));
    }
    let raw_mode = file.external_attributes() >> 16;
    let kind = raw_mode & S_IFMT;
    if file.is_symlink() || kind == S_IFLNK {
        return Err(refuse(&name, "is a symlink"));
    }
    let unix = file.system() == zip::System::Unix && raw_mode != 0;
    if unix && kind != 0 && kind != S_IFREG && kind != S_IFDIR {
        return Err(refuse(&name, "is not a regular file or folder"));
    }
    if file.encrypted() {
        return Err(refuse(&name, "is encrypted"));
    }
    let method = file.compression();
    if method != zip::CompressionMethod::Stored && method != zip::CompressionMethod::Deflated {
        return Err(refuse(
            &name,
            &format!("is compressed with {method:?}, which tend cannot read"),
        ));
    }
    let dir = name.ends_with('/') || (unix && kind == S_IFDIR);
    let trimmed = name.strip_suffix('/').unwrap_or(&name);
    let mut components = trimmed.split('/');
    for component in trimmed.split('/') {
        match component {
            ".." => return Err(refuse(&name, "has a `..` component")),
            "." => return Err(refuse(&name, "has a `.` component")),
            "" => return Err(refuse(&name, "has an empty path component")),
            _ => {}
        }
    }
    let path = match top {
        Some(top) => {
            if components.next() != Some(top) {
                return Err(refuse(&name, &format!("is outside {top}/")));
            }
            let path = components.collect::<Vec<_>>().join("/");
            if path.is_empty() {
                if dir {
                    return Ok(None);
                }
                return Err(refuse(&name, &format!("is outside {top}/")));
            }
            path
        }
        None => trimmed.to_owned(),
    };
    Ok(Some(Entry {
        path,
        dir,
        mode: unix.then_some(raw_mode & 0o777),
        mtime: mtime(file),
        size: if dir { 0 } else { file.size() },
        name,
    }))
}

/// The entry's modification time: the extended timestamp when there is one (UTC), else the
/// DOS date and time read as UTC, else 0.
fn mtime<R: Read>(file: &zip::read::ZipFile<'_, R>) -> u64 {
    let extended = file.extra_data_fields().find_map(|field| match field {
        zip::ExtraField::ExtendedTimestamp(ts) => ts.mod_time(),
        _ => None,
    });
    if let Some(seconds) = extended {
        return u64::from(seconds);
    }
    file.last_modified()
        .and_then(|t| {
            chrono::NaiveDate::from_ymd_opt(i32::from(t.year()), t.month().into(), t.day().into())?
                .and_hms_opt(t.hour().into(), t.minute().into(), t.second().into())
        })
        .map(|t| t.and_utc().timestamp().max(0) as u64)
        .unwrap_or(0)
}

/// `a`, `a/b` for `a/b/c`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

fn is_skipped(path: &str, skip: &dyn Fn(&str) -> bool) -> bool {
    ancestors(path).chain(std::iter::once(path)).any(skip)
}

fn tar_header(kind: tar::EntryType, mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode & 0o7777);
    header.set_mtime(mtime);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// An entry's content, held to the size its header declares: shorter or longer is an
/// error. Reading to the end also lets the zip reader check the CRC.
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the content is longer than the entry's header says",
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the content is shorter than the entry's header says",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::cms::wordpress;
    use crate::updates::ComponentType;

    #[derive(Clone)]
    enum Item<'a> {
        /// Name, content, Unix permissions (None: the zip records no mode).
        File(&'a str, &'a [u8], Option<u32>),
        Dir(&'a str, u32),
        Link(&'a str, &'a str),
    }
    use Item::{Dir, File as F, Link};

    fn zip_time() -> zip::DateTime {
        zip::DateTime::from_date_and_time(2024, 5, 6, 7, 8, 10).unwrap()
    }

    fn zip_mtime() -> u64 {
        chrono::NaiveDate::from_ymd_opt(2024, 5, 6)
            .unwrap()
            .and_hms_opt(7, 8, 10)
            .unwrap()
            .and_utc()
            .timestamp() as u64
    }

    fn make_zip(dir: &Path, items: &[Item]) -> PathBuf {
        let path = dir.join("package.zip");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let base = zip::write::SimpleFileOptions::default().last_modified_time(zip_time());
        for item in items {
            match item {
                F(name, content, mode) => {
                    let options = match mode {
                        Some(mode) => base.unix_permissions(*mode),
                        None => base.external_attributes(0),
                    };
                    zip.start_file(*name, options).unwrap();
                    zip.write_all(content).unwrap();
                }
                Dir(name, mode) => zip
                    .add_directory(*name, base.unix_permissions(*mode))
                    .unwrap(),
                Link(name, target) => zip.add_symlink(*name, *target, base).unwrap(),
            }
        }
        zip.finish().unwrap();
        path
    }

    /// (path, entry type, mode, mtime, uid, gid, content) of every entry, in order.
    type TarEntry = (String, tar::EntryType, u32, u64, u64, u64, Vec<u8>);

    fn read_tar(bytes: &[u8]) -> Vec<TarEntry> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let header = entry.header().clone();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                (
                    path.trim_end_matches('/').to_owned(),
                    header.entry_type(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    content,
                )
            })
            .collect()
    }

    const LONG: &str = "akismet/vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace/\
                        Of/Classes/ThatGoOnAndOn/PastTheHundredCharacterLimit.php";

    fn plugin_zip(dir: &Path) -> PathBuf {
        make_zip(
            dir,
            &[
                Dir("akismet/", 0o755),
                F(
                    "akismet/akismet.php",
                    b"<?php // Plugin Name: Akismet",
                    Some(0o644),
                ),
                // No entry for views/: the tar must still create it first.
                F(
                    "akismet/views/notice.php",
                    b"<?php echo 'notice';",
                    Some(0o600),
                ),
                F("akismet/readme.txt", b"=== Akismet ===", None),
                F(LONG, b"<?php class X {}", Some(0o644)),
                // A folder entry after its content: its mode still applies.
                Dir("akismet/_inc/", 0o700),
                F("akismet/_inc/akismet.js", b"var a = 1;", Some(0o644)),
            ],
        )
    }

    #[test]
    fn a_plugin_zip_round_trips_through_the_tar() {
        let dir = tempfile::tempdir().unwrap();
        let zip = plugin_zip(dir.path());
        let listing = check_zip(&zip, "akismet").unwrap();
        let long = LONG.strip_prefix("akismet/").unwrap();
        let mut files = vec![
            "_inc/akismet.js",
            "akismet.php",
            long,
            "readme.txt",
            "views/notice.php",
        ];
        files.sort();
        assert_eq!(listing.files, files);
        assert_eq!(
            listing.dirs,
            [
                "_inc",
                "vendor",
                "vendor/some-library-with-a-long-name",
                "vendor/some-library-with-a-long-name/src",
                "vendor/some-library-with-a-long-name/src/Deeply",
                "vendor/some-library-with-a-long-name/src/Deeply/Nested",
                "vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace",
                "vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace/Of",
                "vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace/Of/Classes",
                "vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace/Of/Classes/ThatGoOnAndOn",
                "views",
            ]
        );

        let mut out = Vec::new();
        let written = write_tar(&zip, "akismet", &|_| false, Modes::default(), &mut out).unwrap();
        let entries = read_tar(&out);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let mut expected = vec!["akismet.php", "views", "views/notice.php", "readme.txt"];
        let long_dirs = &listing.dirs[1..listing.dirs.len() - 1];
        expected.extend(long_dirs.iter().map(String::as_str));
        expected.extend([long, "_inc", "_inc/akismet.js"]);
        assert_eq!(names, expected);

        let get = |name: &str| entries.iter().find(|e| e.0 == name).unwrap();
        let php = get("akismet.php");
        assert_eq!(php.1, tar::EntryType::Regular);
        assert_eq!(php.2, 0o644);
        assert_eq!(php.3, zip_mtime());
        assert_eq!((php.4, php.5), (0, 0));
        assert_eq!(php.6, b"<?php // Plugin Name: Akismet");
        assert_eq!(get("views/notice.php").2, 0o600);
        assert_eq!(get("readme.txt").2, 0o644, "no mode in the zip: 0644");
        assert_eq!(get("readme.txt").6, b"=== Akismet ===");
        let views = get("views");
        assert_eq!((views.1, views.2), (tar::EntryType::Directory, 0o755));
        assert_eq!(
            get("_inc").2,
            0o700,
            "the folder's own entry gives its mode"
        );
        assert_eq!(get(long).6, b"<?php class X {}");
        assert!(entries
            .iter()
            .all(|e| matches!(e.1, tar::EntryType::Regular | tar::EntryType::Directory)));
        let content: usize = entries.iter().map(|e| e.6.len()).sum();
        assert_eq!(written, content as u64);
    }

    #[test]
    fn modes_and_skip_shape_the_tar() {
        let dir = tempfile::tempdir().unwrap();
        let zip = plugin_zip(dir.path());
        let modes = Modes {
            file: Some(0o640),
            dir: Some(0o750),
        };
        let skip = |path: &str| path == "vendor" || path == "readme.txt";
        let mut out = Vec::new();
        let written = write_tar(&zip, "akismet", &skip, modes, &mut out).unwrap();
        let entries = read_tar(&out);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "akismet.php",
                "views",
                "views/notice.php",
                "_inc",
                "_inc/akismet.js"
            ]
        );
        for entry in &entries {
            let mode = match entry.1 {
                tar::EntryType::Directory => 0o750,
                _ => 0o640,
            };
            assert_eq!(entry.2, mode, "{}", entry.0);
        }
        let content: usize = entries.iter().map(|e| e.6.len()).sum();
        assert_eq!(written, content as u64);
    }

    fn assert_refused(items: &[Item], entry: &str) {
        let dir = tempfile::tempdir().unwrap();
        let zip = make_zip(dir.path(), items);
        let quoted = format!("{entry:?}");
        let error = check_zip(&zip, "akismet").unwrap_err();
        assert!(error.contains(&quoted), "{error}");
        let mut out = Vec::new();
        let error = write_tar(&zip, "akismet", &|_| false, Modes::default(), &mut out).unwrap_err();
        assert!(error.contains(&quoted), "{error}");
        assert!(
            out.is_empty(),
            "nothing is written before the zip is checked"
        );
        let error = file_md5s(&zip, "akismet").unwrap_err();
        assert!(error.contains(&quoted), "{error}");
    }

    #[test]
    fn installer_packages_may_sit_at_the_root_but_may_not_escape_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = make_zip(
            dir.path(),
            &[
                F("com_tendtest.xml", b"<extension/>", Some(0o644)),
                F("site/tendtest.php", b"<?php", None),
            ],
        );
        check_entries(&good).unwrap();
        for evil in ["../evil.php", "site/../../evil.php", "/etc/passwd"] {
            let dir = tempfile::tempdir().unwrap();
            let zip = make_zip(dir.path(), &[F(evil, b"<?php", None)]);
            assert!(check_entries(&zip).is_err(), "{evil}");
        }
    }

    #[test]
    fn refuses_entries_that_would_escape_their_folder() {
        let good = F("akismet/akismet.php", b"<?php", Some(0o644));
        for evil in [
            "../evil.php",
            "akismet/../../evil.php",
            "akismet/../evil.php",
            "/etc/passwd",
            "akismet\\..\\..\\evil.php",
            "akismet/./evil.php",
            "akismet//evil.php",
            "other/evil.php",
            "evil.php",
        ] {
            assert_refused(&[F(evil, b"<?php", Some(0o644)), good.clone()], evil);
            assert_refused(&[good.clone(), F(evil, b"<?php", Some(0o644))], evil);
        }
        let error = check_zip(
            &make_zip(
                tempfile::tempdir().unwrap().path(),
                &[F("akismet/../../evil.php", b"", None)],
            ),
            "akismet",
        );
        assert!(error.unwrap_err().contains("`..`"));
    }

    #[test]
    fn refuses_symlinks_and_clashing_entries() {
        let good = F("akismet/akismet.php", b"<?php", Some(0o644));
        assert_refused(
            &[good.clone(), Link("akismet/passwd", "/etc/passwd")],
            "akismet/passwd",
        );
        assert_refused(
            &[Link("akismet/inc", "../../"), good.clone()],
            "akismet/inc",
        );
        // A name twice (the zip writer will not do it; rename the second entry afterwards).
        // The zip reader keeps one of them; what matters is that the tar carries the very
        // file that file_md5s hashed, so a core checksum check cannot be fooled.
        let dir = tempfile::tempdir().unwrap();
        let zip = make_zip(
            dir.path(),
            &[
                good.clone(),
                F("akismet/akismet.phq", b"<?php evil();", None),
            ],
        );
        let bytes = std::fs::read(&zip).unwrap();
        let mut patched = Vec::new();
        let mut rest = &bytes[..];
        while let Some(at) = rest.windows(3).position(|w| w == b"phq") {
            patched.extend_from_slice(&rest[..at]);
            patched.extend_from_slice(b"php");
            rest = &rest[at + 3..];
        }
        patched.extend_from_slice(rest);
        std::fs::write(&zip, patched).unwrap();
        if let Ok(listing) = check_zip(&zip, "akismet") {
            assert_eq!(listing.files, ["akismet.php"]);
            let sums = file_md5s(&zip, "akismet").unwrap();
            let mut out = Vec::new();
            write_tar(&zip, "akismet", &|_| false, Modes::default(), &mut out).unwrap();
            let entries = read_tar(&out);
            assert_eq!(entries.len(), 1);
            assert_eq!(
                sums["akismet.php"],
                hex(&Md5::digest(&entries[0].6)),
                "the tar carries the file that was hashed"
            );
        }
        assert_refused(
            &[
                F("akismet/inc", b"", None),
                F("akismet/inc/x.php", b"", None),
            ],
            "akismet/inc/x.php",
        );
        assert_refused(
            &[
                F("akismet/inc/x.php", b"", None),
                F("akismet/inc", b"", None),
            ],
            "akismet/inc",
        );
    }

    #[test]
    fn refuses_a_zip_with_nothing_under_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let empty = make_zip(dir.path(), &[]);
        let error = check_zip(&empty, "akismet").unwrap_err();
        assert!(error.contains("no files under akismet/"), "{error}");
        let only_folders = make_zip(
            dir.path(),
            &[Dir("akismet/", 0o755), Dir("akismet/inc/", 0o755)],
        );
        assert!(check_zip(&only_folders, "akismet").is_err());
        assert!(write_tar(
            &only_folders,
            "akismet",
            &|_| false,
            Modes::default(),
            Vec::new()
        )
        .is_err());
        let elsewhere = make_zip(dir.path(), &[F("wordpress/index.php", b"<?php", None)]);
        let error = check_zip(&elsewhere, "akismet").unwrap_err();
        assert!(
            error.contains("\"wordpress/index.php\" is outside akismet/"),
            "{error}"
        );
        std::fs::write(dir.path().join("junk.zip"), b"not a zip").unwrap();
        assert!(check_zip(&dir.path().join("junk.zip"), "akismet").is_err());
        assert!(check_zip(&elsewhere, "../wordpress").is_err());
    }

    #[test]
    fn refuses_content_that_does_not_match_its_declared_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.zip");
        {
            let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            zip.start_file("akismet/akismet.php", options).unwrap();
            zip.write_all(b"hello world").unwrap();
            zip.finish().unwrap();
        }
        // Claim 5 bytes where the entry holds 11, in both the local and the central header.
        let mut bytes = std::fs::read(&path).unwrap();
        for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = bytes.windows(4).position(|w| w == signature).unwrap() + offset;
            bytes[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut out = Vec::new();
        let error =
            write_tar(&path, "akismet", &|_| false, Modes::default(), &mut out).unwrap_err();
        assert!(error.contains("\"akismet/akismet.php\""), "{error}");
        assert!(file_md5s(&path, "akismet").is_err());
    }

    #[test]
    fn file_md5s_hashes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let zip = make_zip(
            dir.path(),
            &[
                Dir("wordpress/", 0o755),
                F("wordpress/index.php", b"hello", Some(0o644)),
                F("wordpress/wp-includes/empty.php", b"", None),
            ],
        );
        let sums = file_md5s(&zip, "wordpress").unwrap();
        assert_eq!(
            sums.into_iter().collect::<Vec<_>>(),
            [
                (
                    "index.php".to_owned(),
                    "5d41402abc4b2a76b9719d911017c592".to_owned()
                ),
                (
                    "wp-includes/empty.php".to_owned(),
                    "d41d8cd98f00b204e9800998ecf8427e".to_owned()
                ),
            ]
        );
    }

    fn offer(package: String, sha256: Option<String>) -> Offer {
        Offer {
            cms: wordpress::KIND,
            kind: ComponentType::Plugin,
            slug: "akismet".into(),
            version: "5.3".into(),
            package,
            sha256,
            source: "test-repo".into(),
            released: None,
        }
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    fn cache_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn fetches_a_local_package_and_reuses_the_cache() {
        let source = tempfile::tempdir().unwrap();
        let zip = plugin_zip(source.path());
        let bytes = std::fs::read(&zip).unwrap();
        let sha = sha256_hex(&bytes);
        let root = tempfile::tempdir().unwrap();
        let cache = PackageCache::new(root.path().join("cache/packages"));
        let client = reqwest::Client::new();
        let the_offer = offer(zip.display().to_string(), Some(sha.to_ascii_uppercase()));

        let fetched = cache.fetch(&the_offer, &client).await.unwrap();
        assert_eq!(fetched, cache.dir().join(format!("{sha}.zip")));
        assert_eq!(std::fs::read(&fetched).unwrap(), bytes);
        assert_eq!(mode_of(&fetched), 0o600);
        assert_eq!(mode_of(cache.dir()), 0o700);
        assert_eq!(cache_files(cache.dir()), [format!("{sha}.zip")]);

        // Reused: the source is no longer needed.
        std::fs::remove_file(&zip).unwrap();
        assert_eq!(cache.fetch(&the_offer, &client).await.unwrap(), fetched);

        // A damaged cache entry is noticed and fetched again.
        std::fs::write(&fetched, b"damaged").unwrap();
        let error = cache.fetch(&the_offer, &client).await.unwrap_err();
        assert!(matches!(error, FetchError::Unavailable { .. }), "{error:?}");
        assert!(error.to_string().contains("cannot read"), "{error}");
        assert!(cache_files(cache.dir()).is_empty());
        std::fs::write(&zip, &bytes).unwrap();
        std::fs::write(&fetched, b"damaged").unwrap();
        assert_eq!(cache.fetch(&the_offer, &client).await.unwrap(), fetched);
        assert_eq!(std::fs::read(&fetched).unwrap(), bytes);

        // Without a sha256, a local package is copied again each time.
        let unpinned = offer(zip.display().to_string(), None);
        let first = cache.fetch(&unpinned, &client).await.unwrap();
        assert!(first
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("url-"));
        std::fs::write(&zip, b"rebuilt").unwrap();
        let second = cache.fetch(&unpinned, &client).await.unwrap();
        assert_eq!(second, first);
        assert_eq!(std::fs::read(&second).unwrap(), b"rebuilt");
    }

    #[tokio::test]
    async fn refuses_a_package_with_the_wrong_sha256() {
        let source = tempfile::tempdir().unwrap();
        let zip = plugin_zip(source.path());
        let wrong = sha256_hex(b"something else");
        let actual = sha256_hex(&std::fs::read(&zip).unwrap());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = PackageCache::new(cache_dir.path().to_path_buf());
        let client = reqwest::Client::new();
        let error = cache
            .fetch(
                &offer(zip.display().to_string(), Some(wrong.clone())),
                &client,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Refused { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "akismet 5.3 from test-repo: sha256 mismatch (expected {wrong}, got {actual}); \
                 package refused"
            )
        );
        assert!(cache_files(cache_dir.path()).is_empty());

        let error = cache
            .fetch(
                &offer(zip.display().to_string(), Some("../../x".into())),
                &client,
            )
            .await
            .unwrap_err();
        assert!(error.to_string().contains("is not a sha256"), "{error}");
        let error = cache
            .fetch(&offer("ftp://example.com/a.zip".into(), None), &client)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("only http(s) URLs and local paths"),
            "{error}"
        );
    }

    /// Serves `body` at `/akismet.5.3.zip` and 404 elsewhere; counts requests.
    async fn serve(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let reply = if text.starts_with("GET /akismet.5.3.zip ") {
                        let mut reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        reply.extend_from_slice(&body);
                        reply
                    } else {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    };
                    let _ = socket.write_all(&reply).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (base, hits)
    }

    #[tokio::test]
    async fn fetches_over_http_and_names_the_url_when_it_fails() {
        let source = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(plugin_zip(source.path())).unwrap();
        let sha = sha256_hex(&bytes);
        let (base, hits) = serve(bytes.clone()).await;
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = PackageCache::new(cache_dir.path().to_path_buf());
        let client = reqwest::Client::builder().no_proxy().build().unwrap();

        let url = format!("{base}/akismet.5.3.zip");
        let pinned = offer(url.clone(), Some(sha.clone()));
        let fetched = cache.fetch(&pinned, &client).await.unwrap();
        assert_eq!(std::fs::read(&fetched).unwrap(), bytes);
        assert_eq!(mode_of(&fetched), 0o600);
        assert_eq!(cache.fetch(&pinned, &client).await.unwrap(), fetched);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "the second fetch used the cache"
        );
        assert!(check_zip(&fetched, "akismet").is_ok());

        // Without a sha256 the cache is keyed by the URL.
        let unpinned = cache
            .fetch(&offer(url.clone(), None), &client)
            .await
            .unwrap();
        assert_eq!(
            unpinned,
            cache_dir
                .path()
                .join(format!("url-{}.zip", sha256_hex(url.as_bytes())))
        );
        assert_eq!(std::fs::read(&unpinned).unwrap(), bytes);

        let wrong = sha256_hex(b"other");
        let error = cache
            .fetch(&offer(url.clone(), Some(wrong)), &client)
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Refused { .. }), "{error:?}");
        assert!(error.to_string().contains("sha256 mismatch"), "{error}");

        let missing = format!("{base}/missing.zip");
        let error = cache
            .fetch(&offer(missing.clone(), None), &client)
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Unavailable { .. }), "{error:?}");
        let error = error.to_string();
        assert!(error.contains(&missing) && error.contains("404"), "{error}");
        assert_eq!(
            cache_files(cache_dir.path()).len(),
            2,
            "only the two good downloads"
        );
    }

    #[test]
    fn skipping_a_folder_skips_what_is_under_it() {
        let skip = |p: &str| p == "a/b";
        assert!(is_skipped("a/b", &skip));
        assert!(is_skipped("a/b/c/d.php", &skip));
        assert!(!is_skipped("a/bc/d.php", &skip));
        assert!(!is_skipped("a", &skip));
    }

    /// Overwrites the little-endian u32 at `offset` after every `signature` in `bytes`.
    fn patch_u32(bytes: &mut [u8], signature: u32, offset: usize, value: u32) {
        let sig = signature.to_le_bytes();
        let starts: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i)
            .collect();
        assert!(!starts.is_empty());
        for start in starts {
            bytes[start + offset..start + offset + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    const CENTRAL: u32 = 0x0201_4b50;
    const LOCAL: u32 = 0x0403_4b50;

    #[test]
    fn a_zip_bomb_is_refused_from_its_central_directory() {
        // A few KB declaring almost 4 GiB, like the 4 MB plugin that unpacked to a 4 GiB file.
        let dir = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 100_000];
        let path = make_zip(
            dir.path(),
            &[
                F("bomb/bomb.php", b"<?php\n", None),
                F("bomb/big.bin", &zeros, None),
            ],
        );
        let mut bytes = std::fs::read(&path).unwrap();
        patch_u32(&mut bytes, CENTRAL, 24, 0xF000_0000);
        patch_u32(&mut bytes, LOCAL, 22, 0xF000_0000);
        std::fs::write(&path, bytes).unwrap();
        for error in [
            check_zip(&path, "bomb").unwrap_err(),
            check_entries(&path).unwrap_err(),
            write_tar(&path, "bomb", &|_| false, Modes::default(), io::sink()).unwrap_err(),
        ] {
            assert!(error.contains("package refused"), "{error}");
            assert!(
                error.contains("zip bomb") || error.contains("512 MiB"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_zip_whose_declared_sizes_lie_is_refused_when_unpacked() {
        // Declares 10 bytes, holds 1 MB: the central directory looks harmless.
        let dir = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 1_000_000];
        let path = make_zip(dir.path(), &[F("liar/liar.php", &zeros, None)]);
        let mut bytes = std::fs::read(&path).unwrap();
        patch_u32(&mut bytes, CENTRAL, 24, 10);
        patch_u32(&mut bytes, LOCAL, 22, 10);
        std::fs::write(&path, bytes).unwrap();
        for error in [
            check_zip(&path, "liar").unwrap_err(),
            check_entries(&path).unwrap_err(),
        ] {
            // Caught by the zip reader itself or by the guard holding it to its size.
            let caught = error.contains("longer than the entry's header says")
                || error.contains("larger than its declared");
            assert!(caught && error.contains("refused"), "{error}");
        }
        let mut out = Vec::new();
        let error = write_tar(&path, "liar", &|_| false, Modes::default(), &mut out).unwrap_err();
        assert!(
            error.contains("longer than") || error.contains("larger than"),
            "{error}"
        );
    }

    #[test]
    fn unpack_limits_hold_entries_ratio_and_total() {
        let small = UnpackLimits {
            total_bytes: 300_000,
            entries: 5,
            ratio: 100,
            ratio_from: 64 * 1024,
        };
        let open =
            |path: &Path| zip::ZipArchive::new(BufReader::new(File::open(path).unwrap())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Too many entries.
        let names: Vec<String> = (0..6).map(|i| format!("p/f{i}.php")).collect();
        let items: Vec<Item> = names.iter().map(|n| F(n, b"x", None)).collect();
        let path = make_zip(dir.path(), &items);
        let error = small.check_declared(&path, &mut open(&path)).unwrap_err();
        assert!(
            error.contains("6 entries, more than the limit of 5"),
            "{error}"
        );
        // One entry compressed more than 100 times.
        let zeros = vec![0u8; 200_000];
        let path = make_zip(dir.path(), &[F("p/zeros.bin", &zeros, None)]);
        let error = small.check_declared(&path, &mut open(&path)).unwrap_err();
        assert!(error.contains("more than 100 times"), "{error}");
        // Honest, incompressible, but too big in all.
        let noise: Vec<u8> = (0..400_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let path = make_zip(dir.path(), &[F("p/noise.bin", &noise, None)]);
        let error = small.check_declared(&path, &mut open(&path)).unwrap_err();
        assert!(error.contains("more than 0 MiB, the limit"), "{error}");
        let error = small.check_content(&path, &mut open(&path)).unwrap_err();
        assert!(error.contains("the limit"), "{error}");
        // A real-sized plugin passes the real limits.
        let path = plugin_zip(dir.path());
        UNPACK_LIMITS
            .check_declared(&path, &mut open(&path))
            .unwrap();
        UNPACK_LIMITS
            .check_content(&path, &mut open(&path))
            .unwrap();
    }
}
