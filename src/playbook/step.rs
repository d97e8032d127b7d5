//! A playbook step as the engine runs it: validated, with its name and whether it changes
//! the site said once, here.
//!
//! The raw serde form (`raw::RawStep`) is what the YAML says; this is what it means. A new
//! kind of step is a variant here (its name in [`StepName`]), its raw form and validation
//! (`raw.rs`, `validated` in `playbook/mod.rs`), its `PlanItem` in `engine::plan` and its
//! execution in `engine::run`; nothing else names steps.

use crate::inventory::Check;

pub use super::raw::UpdateStep;

/// The name of each kind of step, as written in playbooks, results and plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepName {
    Backup,
    Maintenance,
    Update,
    Verify,
    Prune,
}

impl StepName {
    pub const ALL: [StepName; 5] = [
        StepName::Backup,
        StepName::Maintenance,
        StepName::Update,
        StepName::Verify,
        StepName::Prune,
    ];

    /// Every name as written, in the order of [`StepName::ALL`].
    const NAMES: [&'static str; 5] = ["backup", "maintenance", "update", "verify", "prune"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Option<StepName> {
        StepName::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Every name as written, for "expected one of" messages.
    pub fn all_names() -> &'static [&'static str] {
        &Self::NAMES
    }
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take a snapshot (files + database) with this label; in a playbook that updates,
    /// only of a site with something to update unless `always`.
    Backup { label: Option<String>, always: bool },
    /// Turn maintenance mode on or off.
    Maintenance { on: bool },
    /// Apply the updates the policy allows.
    Update(UpdateStep),
    /// Run the built-in checks, the site's and these.
    Verify { checks: Vec<Check> },
    /// Apply the retention rules to the site's snapshots.
    Prune,
}

impl Step {
    pub fn name(&self) -> StepName {
        match self {
            Step::Backup { .. } => StepName::Backup,
            Step::Maintenance { .. } => StepName::Maintenance,
            Step::Update(_) => StepName::Update,
            Step::Verify { .. } => StepName::Verify,
            Step::Prune => StepName::Prune,
        }
    }

    /// Whether the step changes the site itself (its files, its database or whether it
    /// serves visitors): such a playbook needs a confirmation, a snapshot before it to roll
    /// back to, and a baseline of the checks taken before it.
    pub fn changes_site(&self) -> bool {
        matches!(self, Step::Maintenance { .. } | Step::Update(_))
    }

    /// Whether the step is left out for a site with nothing to update, in a playbook that
    /// updates: maintenance and the snapshot exist for the update (unless the backup step
    /// says `always`), and the prune only for the snapshot this run takes.
    /// `snapshot_taken`: this run has taken a snapshot of the site by now.
    pub fn idle_without_updates(&self, snapshot_taken: bool) -> bool {
        match self {
            Step::Backup { always, .. } => !always,
            Step::Maintenance { .. } => true,
            Step::Prune => !snapshot_taken,
            Step::Update(_) | Step::Verify { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_listed_once() {
        for name in StepName::ALL {
            assert_eq!(StepName::parse(name.as_str()), Some(name));
        }
        let listed: Vec<&str> = StepName::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(listed, StepName::all_names());
        assert_eq!(StepName::Prune.as_str(), "prune");
        assert_eq!(StepName::parse("deploy"), None);
    }

    #[test]
    fn only_maintenance_and_update_change_the_site() {
        let changing: Vec<StepName> = [
            Step::Backup {
                label: None,
                always: false,
            },
            Step::Maintenance { on: true },
            Step::Update(UpdateStep::default()),
            Step::Verify { checks: Vec::new() },
            Step::Prune,
        ]
        .iter()
        .filter(|s| s.changes_site())
        .map(Step::name)
        .collect();
        assert_eq!(changing, [StepName::Maintenance, StepName::Update]);
    }
}
