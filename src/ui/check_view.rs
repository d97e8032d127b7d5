//! What `tend check` shows: the inventory and each playbook found valid, with the sites a
//! playbook would run on.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::inventory::Inventory;
use crate::playbook::Playbook;

/// A playbook that loaded, and the sites it selects (with `--limit`).
pub struct CheckedPlaybook {
    pub path: PathBuf,
    pub playbook: Playbook,
    pub sites: Vec<String>,
}

pub fn check_json(inventory: &Inventory, checked: &[CheckedPlaybook]) -> Value {
    json!({
        "ok": true,
        "inventory": {
            "file": inventory.file.display().to_string(),
            "sites": inventory.sites.len(),
            "groups": inventory.groups.len(),
        },
        "playbooks": checked.iter().map(|c| json!({
            "file": c.path.display().to_string(),
            "name": c.playbook.name,
            "steps": c.playbook.steps.iter().map(|s| s.name().as_str()).collect::<Vec<_>>(),
            "sites": c.sites,
        })).collect::<Vec<_>>(),
    })
}

pub fn check_text(inventory: &Inventory, checked: &[CheckedPlaybook]) -> String {
    let mut out = format!(
        "{}: ok, {} site(s) in {} group(s)\n",
        inventory.file.display(),
        inventory.sites.len(),
        inventory.groups.len()
    );
    for c in checked {
        let steps: Vec<&str> = c.playbook.steps.iter().map(|s| s.name().as_str()).collect();
        out.push_str(&format!(
            "{}: ok, \"{}\": {} on {} site(s)\n",
            c.path.display(),
            c.playbook.name,
            steps.join(", "),
            c.sites.len()
        ));
    }
    out
}
