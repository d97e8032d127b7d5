//! `tend check [PLAYBOOK...]`: validates the inventory and playbooks without connecting
//! anywhere; the errors are the loaders' own, with file, line and column.

use std::path::PathBuf;

use super::{print_data, CommandError, Invocation, EXIT_OK};
use crate::playbook::Playbook;
use crate::select::select_for_playbook;
use crate::ui::check_view::{self, CheckedPlaybook};

pub(super) fn check(call: &Invocation<'_>, playbooks: &[PathBuf]) -> Result<u8, CommandError> {
    let inventory = call.inventory;
    let mut checked = Vec::new();
    for path in playbooks {
        let playbook = Playbook::load(path, inventory)?;
        let sites: Vec<String> =
            select_for_playbook(inventory, &playbook.hosts, call.limit.as_ref())?
                .iter()
                .map(|s| s.name.clone())
                .collect();
        checked.push(CheckedPlaybook {
            path: path.clone(),
            playbook,
            sites,
        });
    }
    print_data(
        call.mode,
        || check_view::check_json(inventory, &checked),
        || check_view::check_text(inventory, &checked),
    );
    Ok(EXIT_OK)
}
