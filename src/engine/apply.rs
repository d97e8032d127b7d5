//! Applying planned updates to a WordPress site: fetch, check, stage, swap.
//!
//! Each change is fetched into the runner's package cache (sha256 checked), its zip is
//! checked for entries that would escape their folder, and it is sent to the host as a tar
//! stream into the run's staging folder (`.tend/work/<run>/new/<n>`), where it takes the
//! modes the old files had. Only then is the site touched: the journal is written with the
//! swaps about to happen, and in the same round trip the old version is renamed aside and
//! the new one into place. A core update then runs WordPress's database upgrade.

use std::path::Path;

use tokio_util::io::SyncIoBridge;

use super::journal::{self, Journal, Swap};
use crate::cms::host_tools::HostTools;
use crate::cms::wordpress::update as wp;
use crate::cms::{CmsKind, Facts};
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;
use crate::updates::package::{self, Listing, Modes, PackageCache};
use crate::updates::policy::Change;
use crate::updates::sources::Sources;
use crate::updates::ComponentType;

const OUTPUT_LIMIT: usize = 4 * 1024 * 1024;
/// Bytes in flight between the tar writer and the SSH channel.
const PIPE_BUFFER: usize = 256 * 1024;

/// What an update needs besides the site: where packages come from and go.
pub struct Updater<'a> {
    pub sources: &'a Sources,
    pub packages: &'a PackageCache,
    pub reporter: &'a dyn Reporter,
}

/// Applies `change` (the `index`th of the run) to the site, recording in `journal`, before
/// anything changes, how to undo it.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    updater: &Updater<'_>,
    host: &Connection,
    site: &Site,
    facts: &Facts,
    tools: &HostTools,
    journal: &mut Journal,
    change: &Change,
    index: usize,
) -> Result<(), SiteError> {
    match facts.cms {
        CmsKind::Wordpress => {
            apply_by_swaps(updater, host, site, facts, journal, change, index).await
        }
        _ => apply_with_cms(updater, host, site, facts, tools, journal, change, index).await,
    }
}

/// Joomla and Magento: the CMS's own tools apply the change; tend cannot tell which files
/// they touch, so the journal says first that undoing means restoring the snapshot's files
/// and database. A repository's package is checked on the runner and sent to the host for
/// the CMS's installer.
#[allow(clippy::too_many_arguments)]
async fn apply_with_cms(
    updater: &Updater<'_>,
    host: &Connection,
    site: &Site,
    facts: &Facts,
    tools: &HostTools,
    journal: &mut Journal,
    change: &Change,
    index: usize,
) -> Result<(), SiteError> {
    let what = describe(change);
    let log = |message: &str| {
        updater.reporter.event(&Event::Log {
            level: Level::Info,
            site: Some(&site.name),
            message,
        })
    };
    let mut package_on_host = None;
    if !change.offer.package.is_empty() {
        log(&format!("{what}: fetching {}", change.offer.package));
        let zip = updater
            .packages
            .fetch(&change.offer, updater.sources.client())
            .await
            .map_err(|e| SiteError::site(format!("{what}: {e}")))?;
        blocking({
            let zip = zip.clone();
            move || package::check_entries(&zip)
        })
        .await
        .map_err(|e| SiteError::site(format!("{what}: package refused: {e}")))?;
        let target = format!("{}/packages/{index}.zip", journal.work_dir());
        upload(host, site, &zip, &target)
            .await
            .map_err(|e| SiteError::site(format!("{what}: sending the package failed: {e}")))?;
        package_on_host = Some(format!("{}/{target}", site.path.trim_end_matches('/')));
    }
    journal.restore_files = true;
    journal.database_changed = true;
    journal::write_then(host, journal, "").await?;
    log(&format!("{what}: applying with the site's own tools"));
    crate::cms::adapter(facts.cms)
        .apply_change(site, host, facts, tools, change, package_on_host.as_deref())
        .await
        .map_err(|e| SiteError::site(format!("{what}: {}", e.masked())))
}

/// Checks a fetched package before anything is sent: WordPress packages must hold
/// everything in their top folder; installer packages (Joomla) only may not escape.
pub async fn check_package(zip: &Path, change: &Change) -> Result<(), String> {
    let zip = zip.to_owned();
    let top = wp::package_top(change.kind, &change.slug);
    let wordpress = change.offer.cms == CmsKind::Wordpress;
    blocking(move || {
        if wordpress {
            package::check_zip(&zip, &top).map(|_| ())
        } else {
            package::check_entries(&zip)
        }
    })
    .await
}

/// Sends a local file to `target` (relative to the site root) on the host.
async fn upload(host: &Connection, site: &Site, file: &Path, target: &str) -> Result<(), String> {
    let script = format!(
        "set -e; cd {root}; umask 077; mkdir -p \"$(dirname {target})\"; cat > {target}",
        root = quote(&site.path),
        target = quote(target)
    );
    let mut input = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    host.run_with_input(&RemoteCommand::script(&script), &mut input, OUTPUT_LIMIT)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// WordPress: stage the new version beside the old, then swap them with renames.
async fn apply_by_swaps(
    updater: &Updater<'_>,
    host: &Connection,
    site: &Site,
    facts: &Facts,
    journal: &mut Journal,
    change: &Change,
    index: usize,
) -> Result<(), SiteError> {
    let what = describe(change);
    let log = |message: &str| {
        updater.reporter.event(&Event::Log {
            level: Level::Info,
            site: Some(&site.name),
            message,
        })
    };
    log(&format!("{what}: fetching {}", change.offer.package));
    let zip = updater
        .packages
        .fetch(&change.offer, updater.sources.client())
        .await
        .map_err(|e| SiteError::site(format!("{what}: {e}")))?;
    let top = wp::package_top(change.kind, &change.slug);
    let listing = blocking({
        let (zip, top) = (zip.clone(), top.clone());
        move || package::check_zip(&zip, &top)
    })
    .await
    .map_err(|e| SiteError::site(format!("{what}: package refused: {e}")))?;
    if change.kind == ComponentType::Core {
        check_core_checksums(updater, change, &zip, &what).await?;
    }

    let live = wp::component_path(facts, change.kind, &change.slug)
        .map_err(|e| SiteError::site(format!("{what}: {e}")))?;
    let work = journal.work_dir();
    let staged = format!("{work}/new/{index}");
    let aside = format!("{work}/old/{index}");
    let (mode_dir, mode_file) = match change.kind {
        ComponentType::Core => (
            "wp-includes".to_owned(),
            "wp-includes/version.php".to_owned(),
        ),
        _ => (
            live.clone(),
            wp::mode_reference(change.kind, &live, facts, &change.slug),
        ),
    };
    log(&format!("{what}: sending the new files"));
    let root_entries = stage(
        host,
        site,
        &zip,
        &top,
        change.kind,
        &staged,
        &mode_dir,
        &mode_file,
    )
    .await
    .map_err(|e| SiteError::site(format!("{what}: staging the new files failed: {e}")))?;

    let swaps = match change.kind {
        ComponentType::Core => core_swaps(&what, &listing, &root_entries, &staged, &aside),
        _ => vec![Swap {
            what: what.clone(),
            live,
            aside,
            staged: Some(staged),
            existed: true,
        }],
    };
    journal.swaps.extend(swaps.iter().cloned());
    journal.database_changed = true;
    log(&format!("{what}: putting the new version in place"));
    journal::write_then(host, journal, &journal::swap_script(&swaps))
        .await
        .map_err(|e| SiteError::site(format!("{what}: swapping in the new files failed: {e}")))?;

    if change.kind == ComponentType::Core {
        log(&format!("{what}: upgrading the database"));
        let upgrade = wp::upgrade_database(host, site).await?;
        if upgrade.before != upgrade.after {
            log(&format!(
                "{what}: database upgraded (db_version {} → {})",
                upgrade.before, upgrade.after
            ));
        }
    }
    Ok(())
}

/// `plugin akismet 5.0.2 → 5.5`
pub fn describe(change: &Change) -> String {
    format!(
        "{} {} {} → {}",
        change.kind.name(),
        change.slug,
        change.from,
        change.to
    )
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("internal: {e}"))?
}

/// WordPress.org publishes the md5 of every core file: a core package from there must
/// match them (a private repository's packages are held to their sha256 instead).
async fn check_core_checksums(
    updater: &Updater<'_>,
    change: &Change,
    zip: &Path,
    what: &str,
) -> Result<(), SiteError> {
    let Some(api) = updater.sources.wordpress_org() else {
        return Ok(());
    };
    if change.offer.source != "wordpress.org" {
        return Ok(());
    }
    let expected = api
        .core_checksums(&change.to)
        .await
        .map_err(|e| SiteError::site(format!("{what}: core checksums: {e}")))?;
    let actual = blocking({
        let zip = zip.to_owned();
        move || package::file_md5s(&zip, "wordpress")
    })
    .await
    .map_err(|e| SiteError::site(format!("{what}: {e}")))?;
    for (path, md5) in &expected {
        match actual.get(path) {
            Some(found) if found.eq_ignore_ascii_case(md5) => {}
            Some(found) => {
                return Err(SiteError::site(format!(
                    "{what}: package refused: {path} has md5 {found}, WordPress.org says {md5}"
                )))
            }
            None => {
                return Err(SiteError::site(format!(
                    "{what}: package refused: {path} is missing from the package"
                )))
            }
        }
    }
    Ok(())
}

/// Sends the package's files (without its top folder, and for core without `wp-content/`
/// and `wp-config.php`) into `staged` on the host, gives them the modes of the files they
/// replace, and returns the names at the site root.
#[allow(clippy::too_many_arguments)]
async fn stage(
    host: &Connection,
    site: &Site,
    zip: &Path,
    top: &str,
    kind: ComponentType,
    staged: &str,
    mode_dir: &str,
    mode_file: &str,
) -> Result<Vec<String>, String> {
    let script = format!(
        "set -e; cd {root}; rm -rf {staged}; mkdir -p {staged}; \
         tar -x -f - -C {staged} --no-same-owner; \
         if [ -d {mode_dir} ]; then dm=$(stat -c %a {mode_dir}); find {staged} -type d -exec chmod \"$dm\" {{}} +; fi; \
         if [ -f {mode_file} ]; then fm=$(stat -c %a {mode_file}); find {staged} -type f -exec chmod \"$fm\" {{}} +; fi; \
         ls -A1",
        root = quote(&site.path),
        staged = quote(staged),
        mode_dir = quote(mode_dir),
        mode_file = quote(mode_file),
    );
    let (reader, writer) = tokio::io::duplex(PIPE_BUFFER);
    let producer = {
        let zip = zip.to_owned();
        let top = top.to_owned();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let bridge = SyncIoBridge::new_with_handle(writer, runtime);
            let skip = move |path: &str| kind == ComponentType::Core && wp::core_skips(path);
            let mut bridge = bridge;
            let written = package::write_tar(&zip, &top, &skip, Modes::default(), &mut bridge);
            let _ = bridge.shutdown();
            written
        })
    };
    let mut reader = reader;
    let command = RemoteCommand::script(&script);
    let upload = host.run_with_input(&command, &mut reader, OUTPUT_LIMIT);
    let (uploaded, produced) = tokio::join!(upload, producer);
    let produced = produced.map_err(|e| format!("internal: {e}"))?;
    let output = uploaded.map_err(|e| e.to_string())?;
    produced?;
    Ok(output
        .stdout_text()
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect())
}

/// The swaps of a core update: each top-level entry of the new core replaces the old one;
/// core entries the new version no longer ships are moved aside.
fn core_swaps(
    what: &str,
    listing: &Listing,
    root_entries: &[String],
    staged: &str,
    aside: &str,
) -> Vec<Swap> {
    let mut new_entries: Vec<String> = listing
        .files
        .iter()
        .chain(listing.dirs.iter())
        .map(|p| p.split('/').next().unwrap_or(p).to_owned())
        .filter(|name| !name.is_empty() && !wp::core_skips(name))
        .collect();
    new_entries.sort();
    new_entries.dedup();
    let mut swaps: Vec<Swap> = new_entries
        .iter()
        .map(|name| Swap {
            what: what.to_owned(),
            live: name.clone(),
            aside: format!("{aside}/{name}"),
            staged: Some(format!("{staged}/{name}")),
            existed: root_entries.contains(name),
        })
        .collect();
    for name in root_entries {
        if wp::is_core_entry(name) && !new_entries.contains(name) {
            swaps.push(Swap {
                what: format!("{what} (no longer shipped)"),
                live: name.clone(),
                aside: format!("{aside}/{name}"),
                staged: None,
                existed: true,
            });
        }
    }
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_swaps_replace_shipped_entries_and_retire_old_ones() {
        let listing = Listing {
            files: vec![
                "index.php".into(),
                "wp-login.php".into(),
                "wp-new.php".into(),
                "wp-includes/version.php".into(),
                "wp-content/index.php".into(),
            ],
            dirs: vec!["wp-includes".into(), "wp-admin".into(), "wp-content".into()],
        };
        let root: Vec<String> = [
            "index.php",
            "wp-login.php",
            "wp-old.php",
            "wp-includes",
            "wp-admin",
            "wp-content",
            "wp-config.php",
            ".htaccess",
            ".tend",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let swaps = core_swaps("core", &listing, &root, "S", "A");
        let lives: Vec<(&str, bool, bool)> = swaps
            .iter()
            .map(|s| (s.live.as_str(), s.existed, s.staged.is_some()))
            .collect();
        assert!(lives.contains(&("wp-new.php", false, true)));
        assert!(lives.contains(&("wp-includes", true, true)));
        assert!(lives.contains(&("wp-old.php", true, false)));
        for untouched in ["wp-content", "wp-config.php", ".htaccess", ".tend"] {
            assert!(
                !lives.iter().any(|(l, _, _)| *l == untouched),
                "{untouched}"
            );
        }
    }
}
