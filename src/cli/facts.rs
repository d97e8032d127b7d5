//! `tend facts [--updates]`: what is on each selected site, and what the update sources
//! offer it.

use super::{exit_for, CommandError, Invocation};
use crate::engine;
use crate::outcome::Outcome;
use crate::ui::{facts_view, style::Style};

pub(super) fn facts(call: &Invocation<'_>, with_updates: bool) -> Result<u8, CommandError> {
    let sites = call.selected();
    let session = call.session()?;
    let (results, updates) = session.block_on(async {
        let results =
            engine::facts::gather(&sites, session.pool(), call.forks(), session.reporter()).await;
        let updates = if with_updates {
            let sources = crate::updates::sources::Sources::new(
                &call.inventory.settings.sources,
                super::run::download_client(),
            );
            engine::facts::offered_updates(&results, &sources).await
        } else {
            Vec::new()
        };
        (results, updates)
    });
    session.print(
        || facts_view::to_json(&results, &updates),
        || facts_view::to_text(&results, &updates, Style::for_stdout()),
    );
    let outcomes = results
        .iter()
        .map(|r| match r.result {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        })
        .chain(updates.iter().map(|u| match u {
            Some(Err(_)) => Outcome::Failed,
            _ => Outcome::Ok,
        }));
    let exit = exit_for(outcomes);
    Ok(session.finish(Vec::new(), exit))
}
