//! `tend backups list|verify|prune`: the snapshots in the store, read and checked on the
//! runner; only `prune` connects to the hosts, to ask which snapshots unfinished runs need.

use super::record;
use super::{check_site_flag, exit_for, print_data, CommandError, Invocation};
use crate::backup::prune::Needed;
use crate::backup::{Snapshot, SnapshotStore};
use crate::history::SiteRecord;
use crate::outcome::Outcome;
use crate::ui::{backup_view, style::Style};

/// The snapshots in `store` of one site (`--site`, which must exist) or all, of the sites
/// `-l` selects when it is given (snapshots of sites no longer in the inventory are listed
/// only without `-l`).
fn snapshots(
    call: &Invocation<'_>,
    store: &dyn SnapshotStore,
    site: Option<&str>,
) -> Result<Vec<Snapshot>, CommandError> {
    check_site_flag(call.inventory, site)?;
    let mut snapshots = store.list(site).map_err(|e| {
        CommandError::runtime(format!("cannot read the store {}: {e}", store.location()))
    })?;
    if call.limit.is_some() {
        let selected = call.selected();
        snapshots.retain(|s| selected.iter().any(|site| site.name == s.manifest.site));
    }
    Ok(snapshots)
}

pub(super) fn list(call: &Invocation<'_>, site: Option<&str>) -> Result<u8, CommandError> {
    let store = crate::backup::open_store(&call.inventory.settings);
    let snapshots = snapshots(call, store.as_ref(), site)?;
    print_data(
        call.mode,
        || backup_view::list_json(&snapshots),
        || backup_view::list_text(&snapshots),
    );
    Ok(super::EXIT_OK)
}

/// `tend backups init`: creates `settings.repository`, then `settings.offsite`. One that
/// exists already and opens with its password is left as it is (the command can be run
/// again); one that does not open is an error.
pub(super) fn init(call: &Invocation<'_>) -> Result<u8, CommandError> {
    use crate::backup::repository::{open, RepositoryError};
    use crate::ui::backup_view::InitOutcome;
    let settings = &call.inventory.settings;
    let Some(repository) = &settings.repository else {
        return Err(CommandError::runtime(
            "there is no repository to create: `settings.repository` is not set",
        )
        .with_hint(
            "add `settings.repository` with a `location` and a `password_file` to the inventory",
        ));
    };
    let mut done = Vec::new();
    for (name, target) in [
        ("repository", Some(repository)),
        ("offsite", settings.offsite.as_ref()),
    ] {
        let Some(target) = target else { continue };
        let outcome = match open::init(target) {
            Ok(()) => InitOutcome::Created,
            Err(RepositoryError::AlreadyExists { .. }) => {
                open::open(target).map_err(|e| CommandError::runtime(e.to_string()))?;
                InitOutcome::AlreadyThere
            }
            Err(e) => {
                return Err(CommandError::runtime(format!(
                    "cannot create `settings.{name}`: {e}"
                )))
            }
        };
        done.push((name, target.location.to_string(), outcome));
    }
    print_data(
        call.mode,
        || backup_view::init_json(&done),
        || backup_view::init_text(&done),
    );
    Ok(super::EXIT_OK)
}

/// The share of a repository's data `backups verify` reads back without `--read-data`.
const VERIFY_SHARE_PERCENT: u8 = 5;

pub(super) fn verify(
    call: &Invocation<'_>,
    site: Option<&str>,
    read_data: bool,
) -> Result<u8, CommandError> {
    use crate::backup::store::{DataRead, StoreCheck};
    let session = call.session()?;
    let snapshots = snapshots(call, session.store.as_ref(), site)?;
    let checked: Vec<&crate::inventory::Site> = call
        .inventory
        .sites
        .values()
        .filter(|s| snapshots.iter().any(|snap| snap.manifest.site == s.name))
        .collect();
    session.record("verify", &checked);
    let results: Vec<_> = snapshots
        .into_iter()
        .map(|s| {
            let problems = crate::backup::verify::verify(session.store.as_ref(), &s);
            (s, problems.iter().map(ToString::to_string).collect())
        })
        .collect();
    let data = if read_data {
        DataRead::All
    } else {
        DataRead::Share {
            percent: VERIFY_SHARE_PERCENT,
        }
    };
    let store_check = match session.store.check(data) {
        Ok(check) => check,
        Err(e) => Some(StoreCheck {
            location: session.store.location(),
            data_read: data,
            problems: vec![e.to_string()],
        }),
    };
    session.print(
        || backup_view::verify_json(&results, store_check.as_ref()),
        || backup_view::verify_text(&results, store_check.as_ref(), Style::for_stdout()),
    );
    let records = record::verified_sites(&results);
    let mut exit = exit_for(records.iter().map(|r| r.status));
    if store_check.as_ref().is_some_and(|c| !c.problems.is_empty()) {
        exit = super::EXIT_FAILED;
    }
    Ok(session.finish(records, exit))
}

pub(super) fn prune(call: &Invocation<'_>, dry_run: bool) -> Result<u8, CommandError> {
    let selected = call.selected();
    let names: Vec<&str> = selected.iter().map(|s| s.name.as_str()).collect();
    let session = call.session()?;
    if !dry_run {
        session.record("prune", &selected);
    }
    let needed = unfinished_needs(&session, &selected);
    let results = crate::backup::prune::prune(
        session.store.as_ref(),
        &names,
        &call.inventory.settings.retention,
        &needed,
        dry_run,
    );
    // The repository's data no snapshot uses goes now, under its exclusive lock (held only
    // for this): what only forgotten snapshots used, what interrupted backups left, and the
    // duplicates of chunks that sites backed up at the same moment each stored. So even a
    // prune that forgot nothing reclaims.
    let reclaimed = if !dry_run {
        session
            .store
            .reclaim()
            .map_err(|e| e.to_string())
            .transpose()
    } else {
        None
    };
    session.print(
        || backup_view::prune_json(&results, dry_run, reclaimed.as_ref()),
        || backup_view::prune_text(&results, dry_run, reclaimed.as_ref()),
    );
    let records: Vec<SiteRecord> = results
        .iter()
        .map(|r| {
            let outcome = if r.error.is_some() {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            let mut site = SiteRecord::new(&r.site, outcome);
            site.pruned = r.removed.iter().map(|s| s.manifest.id.clone()).collect();
            site.error = r.error.as_ref().map(ToString::to_string);
            site
        })
        .collect();
    let mut exit = exit_for(records.iter().map(|r| r.status));
    if matches!(reclaimed, Some(Err(_))) {
        exit = super::EXIT_FAILED;
    }
    Ok(session.finish(records, exit))
}

/// For each site, the snapshots its host's journal (an unfinished run) needs, asked through
/// the session's pool; a host that cannot be asked keeps everything of the site.
fn unfinished_needs(
    session: &super::session::Session,
    sites: &[&crate::inventory::Site],
) -> std::collections::BTreeMap<String, Needed> {
    session.block_on(async {
        let mut needed = std::collections::BTreeMap::new();
        for site in sites {
            // Only a site with snapshots has anything to lose.
            if session
                .store
                .list(Some(&site.name))
                .is_ok_and(|s| s.is_empty())
            {
                continue;
            }
            let asked = async {
                let host = session
                    .pool()
                    .connect(&crate::remote::Endpoint::of(site))
                    .await?;
                crate::engine::journal::read(&host, &site.path).await
            };
            let answer = match asked.await {
                Ok(journal) => {
                    Needed::Snapshots(journal.and_then(|j| j.snapshot).into_iter().collect())
                }
                Err(e) => Needed::Unknown(format!(
                    "could not ask {} about unfinished runs ({}): nothing of the site is removed",
                    site.host,
                    e.masked()
                )),
            };
            needed.insert(site.name.clone(), answer);
        }
        needed
    })
}
