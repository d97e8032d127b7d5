//! Applying planned updates to a site: with the CMS's own tools, or by tend's own swaps.
//!
//! A CMS whose adapter describes its layout for swaps (`Cms::swap_update`: WordPress) is
//! updated by tend itself. Each change is fetched into the runner's package cache (sha256
//! checked, and whatever else its source publishes), its zip is checked for entries that
//! would escape their folder, and it is sent to the host as a tar stream into the run's
//! staging folder (`.tend/work/<run>/new/<n>`), where it takes the modes the old files
//! had. Only then is the site touched: the journal is written with the
//! swaps about to happen, and in the same round trip the old version is renamed aside and
//! the new one into place. A core update then runs what the CMS needs after new core files
//! (WordPress's database upgrade). Other CMSs apply a change with their own tools
//! (`Cms::apply_change`), after the journal says that undoing it means restoring the
//! snapshot.

use std::path::Path;

use tokio_util::io::SyncIoBridge;

use super::journal::{self, Journal, Swap};
use crate::cms::host_tools::HostTools;
use crate::cms::swap_update::SwapUpdate;
use crate::cms::{self, Facts};
use crate::events::{Event, Level, Reporter};
use crate::inventory::Site;
use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;
use crate::updates::package::{self, Listing, Modes, PackageCache};
use crate::updates::policy::Change;
use crate::updates::sources::Sources;
use crate::updates::wordpress_org::CoreCheckError;
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
    match cms::adapter(facts.cms).swap_update() {
        Some(layout) => {
            let swap = Swapping {
                updater,
                host,
                site,
                facts,
                layout,
            };
            swap.apply(journal, change, index).await
        }
        None => apply_with_cms(updater, host, site, facts, tools, journal, change, index).await,
    }
}

/// The CMS's own tools (Joomla's console, composer for Magento) apply the change; tend
/// cannot tell which files they touch, so the journal says first that undoing means
/// restoring the snapshot's files and database. A repository's package is checked on the runner and sent to the host for
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
            level: Level::Detail,
            site: Some(&site.name),
            message,
        })
    };
    let mut package_on_host = None;
    if !change.offer.package.is_empty() {
        log(&format!("{what}: fetching {}", change.offer.package));
        let zip = fetch(updater, change, &what).await?;
        blocking({
            let zip = zip.clone();
            move || package::check_entries(&zip)
        })
        .await
        .map_err(|e| refused(&what, e))?;
        let target = format!("{}/packages/{index}.zip", journal.work_dir());
        upload(host, site, &zip, &target)
            .await
            .map_err(|e| SiteError::failed(format!("{what}: sending the package"), e))?;
        package_on_host = Some(format!("{}/{target}", site.path.trim_end_matches('/')));
    }
    journal.restore_files = true;
    journal.database_changed = true;
    journal::write_then(host, journal, "").await?;
    log(&format!("{what}: applying with the site's own tools"));
    cms::adapter(facts.cms)
        .apply_change(site, host, facts, tools, change, package_on_host.as_deref())
        .await
        .map_err(|e| in_change(&what, e))
}

/// `e`, said to have happened while applying `what`, keeping its kind (errors from the
/// host and about files name what failed already).
fn in_change(what: &str, e: SiteError) -> SiteError {
    match e {
        SiteError::Database(detail) => SiteError::Database(format!("{what}: {detail}")),
        SiteError::UpdateSource(detail) => SiteError::UpdateSource(format!("{what}: {detail}")),
        SiteError::Failed {
            what: inner,
            detail,
        } if inner.is_empty() => SiteError::failed(what, detail),
        SiteError::Failed {
            what: inner,
            detail,
        } => SiteError::failed(format!("{what}: {inner}"), detail),
        SiteError::Unsupported(reason) => SiteError::Unsupported(format!("{what}: {reason}")),
        other => other,
    }
}

/// The change's package, in the runner's cache (its sha256 checked).
async fn fetch(
    updater: &Updater<'_>,
    change: &Change,
    what: &str,
) -> Result<std::path::PathBuf, SiteError> {
    updater
        .packages
        .fetch(&change.offer, updater.sources.client())
        .await
        .map_err(|e| e.for_change(what))
}

fn refused(what: &str, reason: impl std::fmt::Display) -> SiteError {
    SiteError::PackageRefused {
        change: what.to_owned(),
        reason: reason.to_string(),
    }
}

/// Checks a fetched package before anything is sent: packages swapped in by tend must
/// hold everything in their top folder; installer packages (Joomla) only may not escape.
pub async fn check_package(zip: &Path, change: &Change) -> Result<(), String> {
    let zip = zip.to_owned();
    let top = cms::adapter(change.offer.cms)
        .swap_update()
        .map(|layout| layout.package_top(change.kind, &change.slug));
    blocking(move || match top {
        Some(top) => package::check_zip(&zip, &top).map(|_| ()),
        None => package::check_entries(&zip),
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

/// A site updated by tend's own swaps, with its CMS's layout.
struct Swapping<'a> {
    updater: &'a Updater<'a>,
    host: &'a Connection,
    site: &'a Site,
    facts: &'a Facts,
    layout: &'static dyn SwapUpdate,
}

impl Swapping<'_> {
    fn log(&self, message: &str) {
        self.updater.reporter.event(&Event::Log {
            level: Level::Detail,
            site: Some(&self.site.name),
            message,
        })
    }

    /// Stages the new version beside the old, then swaps them with renames.
    async fn apply(
        &self,
        journal: &mut Journal,
        change: &Change,
        index: usize,
    ) -> Result<(), SiteError> {
        let (host, site, facts, layout) = (self.host, self.site, self.facts, self.layout);
        let what = describe(change);
        self.log(&format!("{what}: fetching {}", change.offer.package));
        let zip = fetch(self.updater, change, &what).await?;
        let top = layout.package_top(change.kind, &change.slug);
        let listing = blocking({
            let (zip, top) = (zip.clone(), top.clone());
            move || package::check_zip(&zip, &top)
        })
        .await
        .map_err(|e| refused(&what, e))?;
        self.updater
            .sources
            .check_package(change, &zip, &top)
            .await
            .map_err(|e| match e {
                CoreCheckError::Api(e) => SiteError::UpdateSource(format!("{what}: {e}")),
                refusal => refused(&what, refusal),
            })?;

        let live = layout
            .component_path(facts, change.kind, &change.slug)
            .map_err(|e| SiteError::Unsupported(format!("{what}: {e}")))?;
        let work = journal.work_dir();
        let staged = format!("{work}/new/{index}");
        let aside = format!("{work}/old/{index}");
        let (mode_dir, mode_file) = layout.mode_reference(facts, change.kind, &change.slug, &live);
        self.log(&format!("{what}: sending the new files"));
        let root_entries = stage(
            host,
            site,
            &zip,
            &top,
            Staging {
                kind: change.kind,
                staged: &staged,
                mode_dir: &mode_dir,
                mode_file: &mode_file,
            },
            layout,
        )
        .await
        .map_err(|e| in_change(&what, e))?;

        let swaps = match change.kind {
            ComponentType::Core => {
                core_swaps(layout, &what, &listing, &root_entries, &staged, &aside)
            }
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
        self.log(&format!("{what}: putting the new version in place"));
        journal::write_then(host, journal, &journal::swap_script(&swaps))
            .await
            .map_err(|e| in_change(&format!("{what}: swapping in the new files"), e))?;

        if change.kind == ComponentType::Core {
            self.log(&format!("{what}: upgrading the database"));
            if let Some(upgrade) = layout.after_core_update(site, host).await? {
                if upgrade.before != upgrade.after {
                    self.log(&format!(
                        "{what}: database upgraded (db_version {} → {})",
                        upgrade.before, upgrade.after
                    ));
                }
            }
        }
        Ok(())
    }
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

/// Where a package's files go on the host, and whose modes they take.
struct Staging<'a> {
    kind: ComponentType,
    staged: &'a str,
    mode_dir: &'a str,
    mode_file: &'a str,
}

/// Sends the package's files (without its top folder, and for core without what the CMS's
/// core update leaves alone, WordPress's `wp-content/` and `wp-config.php`) into `staged`
/// on the host, gives them the modes of the files they replace, and returns the names at
/// the site root.
async fn stage(
    host: &Connection,
    site: &Site,
    zip: &Path,
    top: &str,
    to: Staging<'_>,
    layout: &'static dyn SwapUpdate,
) -> Result<Vec<String>, SiteError> {
    const STAGING: &str = "staging the new files";
    let Staging {
        kind,
        staged,
        mode_dir,
        mode_file,
    } = to;
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
            let skip = move |path: &str| kind == ComponentType::Core && layout.core_skips(path);
            let mut bridge = bridge;
            let written = package::write_tar(&zip, &top, &skip, Modes::default(), &mut bridge);
            let _ = bridge.shutdown();
            written
        })
    };
    let command = RemoteCommand::script(&script);
    // The reading end lives only as long as the upload: when the remote side ends first
    // (tar killed, connection cut, deadline), it is dropped, and the writer thread's next
    // write fails on a closed pipe instead of blocking for ever.
    let upload = async move {
        let mut reader = reader;
        host.run_with_input(&command, &mut reader, OUTPUT_LIMIT)
            .await
    };
    let (uploaded, produced) = tokio::join!(upload, producer);
    let produced = produced.map_err(|e| SiteError::failed(STAGING, format!("internal: {e}")))?;
    // A cut connection or a deadline keeps its kind; the writer's error then is only the
    // consequence of the closed pipe.
    let output = uploaded.map_err(|e| SiteError::remote_step(STAGING, e))?;
    produced.map_err(|e| SiteError::failed(STAGING, e))?;
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
    layout: &dyn SwapUpdate,
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
        .filter(|name| !name.is_empty() && !layout.core_skips(name))
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
        if layout.is_core_entry(name) && !new_entries.contains(name) {
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
    use crate::cms::Cms;

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
        let layout = crate::cms::wordpress::WordPress.swap_update().unwrap();
        let swaps = core_swaps(layout, "core", &listing, &root, "S", "A");
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
