//! `tend recover [SITE]`: finds the sites an interrupted run left half-changed, shows what
//! would be put back, asks, and puts them back as they were before the run.

use super::{at_flag, check_site_flag, confirm_or_refuse, exit_for, record};
use super::{CommandError, Invocation};
use crate::engine;
use crate::history::{CheckRecord, SiteRecord};
use crate::outcome::Outcome;
use crate::ui::{recover_view, style::Style};
use crate::verify;

pub(super) fn recover(
    call: &Invocation<'_>,
    site: Option<&str>,
    yes: bool,
) -> Result<u8, CommandError> {
    let inventory = call.inventory;
    check_site_flag(inventory, site).map_err(|e| at_flag(e, "recover"))?;
    let sites = match site {
        Some(name) => vec![&inventory.sites[name]],
        None => call.selected(),
    };
    let forks = call.forks();
    let session = call.session()?;
    let http = verify::client(super::run::CHECK_TIMEOUT);
    let pending = session.block_on(engine::recover::pending(
        &sites,
        session.pool(),
        forks,
        session.reporter(),
    ));
    let to_recover: Vec<_> = pending
        .iter()
        .zip(&sites)
        .filter_map(|(p, site)| match &p.result {
            Ok(Some(journal)) => Some((*site, journal)),
            _ => None,
        })
        .collect();
    if !to_recover.is_empty() && !yes {
        eprint!("{}", recover_view::pending_text(&to_recover));
        confirm_or_refuse(
            false,
            "Put these sites back as they were before the interrupted run?",
            "recover",
        )?;
    }
    let to_recover: Vec<_> = to_recover.into_iter().map(|(site, _)| site).collect();
    if !to_recover.is_empty() {
        session.record("recover", &to_recover);
    }
    let results = session.block_on(engine::recover::recover(
        &to_recover,
        session.pool(),
        session.store.as_ref(),
        &http,
        inventory.settings.verify_delay,
        forks,
        session.reporter(),
    ));
    let unreadable: Vec<(&str, &crate::site_error::SiteError)> = pending
        .iter()
        .filter_map(|p| p.result.as_ref().err().map(|e| (p.site.as_str(), e)))
        .collect();
    session.print(
        || recover_view::recover_json(&results, &unreadable),
        || recover_view::recover_text(&results, &unreadable, Style::for_stdout()),
    );
    let records: Vec<SiteRecord> = results
        .iter()
        .map(|r| match &r.result {
            Ok(done) => {
                let mut site = SiteRecord::new(&r.site, Outcome::Recovered);
                site.checks = done.checks.iter().map(CheckRecord::from).collect();
                site.rollback = Some(format!(
                    "interrupted run {} undone: {}",
                    done.run.as_deref().unwrap_or("-"),
                    done.undone.join("; ")
                ));
                site.duration_ms = r.elapsed.as_millis() as u64;
                site
            }
            Err(e) => record::failed(r, e.masked()),
        })
        .collect();
    let exit = exit_for(
        records
            .iter()
            .map(|r| r.status)
            .chain(unreadable.iter().map(|_| Outcome::Failed)),
    );
    Ok(session.finish(records, exit))
}
