//! `tend check [PLAYBOOK...]`: validates the inventory and playbooks without connecting
//! anywhere; the errors are the loaders' own, with file, line and column.

use std::path::PathBuf;

use super::{print_data, CommandError, Invocation, EXIT_OK};
use crate::diagnostic::InputError;
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::select::select_for_playbook;
use crate::ui::check_view::{self, CheckedPlaybook};
use crate::yaml_source::{locate, Segment, Target, YamlSource};

pub(super) fn check(call: &Invocation<'_>, playbooks: &[PathBuf]) -> Result<u8, CommandError> {
    let inventory = call.inventory;
    // Every error found, in the inventory and in each playbook, rendered together.
    let mut errors = missing_ssh_files(inventory);
    let mut checked = Vec::new();
    for path in playbooks {
        let playbook = match Playbook::load(path, inventory) {
            Ok(playbook) => playbook,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let sites: Vec<String> =
            match select_for_playbook(inventory, &playbook.hosts, call.limit.as_ref()) {
                Ok(sites) => sites.iter().map(|s| s.name.clone()).collect(),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
        checked.push(CheckedPlaybook {
            path: path.clone(),
            playbook,
            sites,
        });
    }
    InputError::check(errors)?;
    print_data(
        call.mode,
        || check_view::check_json(inventory, &checked),
        || check_view::check_text(inventory, &checked),
    );
    Ok(EXIT_OK)
}

/// The `identity_file` and `known_hosts_file` that name no file, each once, pointing at the
/// site's own key or at `defaults:` where the value came from.
fn missing_ssh_files(inventory: &Inventory) -> Vec<InputError> {
    let Ok(source) = YamlSource::read(&inventory.file, "inventory") else {
        return Vec::new();
    };
    let key = Segment::key;
    let mut errors: Vec<InputError> = Vec::new();
    let mut reported: Vec<Vec<Segment>> = Vec::new();
    for site in inventory.sites.values() {
        for (field, file) in [
            ("identity_file", &site.ssh.identity_file),
            ("known_hosts_file", &site.ssh.known_hosts_file),
        ] {
            let Some(file) = file else { continue };
            if file.is_file() {
                continue;
            }
            let own = vec![key("sites"), key(&site.name), key("ssh"), key(field)];
            let at = if locate(&source.text, &own, Target::Value).is_some() {
                own
            } else {
                vec![key("defaults"), key("ssh"), key(field)]
            };
            if reported.contains(&at) {
                continue;
            }
            let what = if file.exists() {
                "is not a file"
            } else {
                "does not exist"
            };
            errors.push(
                source
                    .error_at(
                        format!(
                            "site `{}`: the {field} `{}` {what}",
                            site.name,
                            file.display()
                        ),
                        &at,
                        Target::Value,
                    )
                    .with_hint(if field == "identity_file" {
                        "the private key ssh logs in with (`~` is your home)"
                    } else {
                        "the known_hosts file holding the hosts' keys (`~` is your home)"
                    }),
            );
            reported.push(at);
        }
    }
    errors
}
