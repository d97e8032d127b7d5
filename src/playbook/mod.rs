//! Playbooks: the declarative list of steps a run applies to each selected site.
//!
//! A playbook is validated against the inventory it will run on (its `hosts:` must name
//! sites or groups that exist) and against the safety rule of the contract: a playbook that
//! changes sites must take a snapshot first, unless it explicitly opts out of rollback.

pub mod raw;
pub mod step;

use std::path::Path;

use crate::diagnostic::InputError;
use crate::inventory::Inventory;
use crate::select::SitePattern;
use crate::yaml_source::{Segment, Target, YamlSource};
use raw::RawStep;
pub use raw::{OnFailure, Selection, UpdateMode};
pub use step::{Step, UpdateStep};

#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub hosts: SitePattern,
    pub forks: Option<usize>,
    /// After this many sites failed or were rolled back, no new site is started (sites
    /// already in flight finish).
    pub max_failures: Option<usize>,
    pub on_failure: OnFailure,
    pub steps: Vec<Step>,
}

impl Playbook {
    pub fn load(path: &Path, inventory: &Inventory) -> Result<Playbook, InputError> {
        let source = YamlSource::read(path, "playbook")?;
        Playbook::from_source(&source, inventory)
    }

    pub fn from_source(source: &YamlSource, inventory: &Inventory) -> Result<Playbook, InputError> {
        if source.text.trim().is_empty() {
            return Err(InputError::in_file(
                "the playbook is empty",
                &source.path,
                &source.text,
                None,
            )
            .with_hint("a playbook needs at least `name:` and `steps:`"));
        }
        let raw: raw::RawPlaybook = source.parse()?;
        let key = Segment::key;
        // Every mistake found after parsing, reported together.
        let mut errors = Vec::new();
        if raw.forks == Some(0) {
            errors.push(source.error_at(
                "`forks` must be at least 1",
                &[key("forks")],
                Target::Value,
            ));
        }
        if raw.max_failures == Some(0) {
            errors.push(source.error_at(
                "`max_failures` must be at least 1",
                &[key("max_failures")],
                Target::Value,
            ));
        }
        if raw.steps.is_empty() {
            errors.push(source.error_at(
                "the playbook has no steps",
                &[key("steps")],
                Target::Value,
            ));
        }
        let hosts_text = raw
            .hosts
            .map(|h| h.0.join(","))
            .unwrap_or_else(|| "all".to_owned());
        let hosts = SitePattern::parse(&hosts_text, inventory).map_err(|e| {
            source
                .error_at(
                    format!("hosts: {}", e.message),
                    &[key("hosts")],
                    Target::Value,
                )
                .with_optional_hint(e.hint)
        });
        let hosts = match hosts {
            Ok(hosts) => Some(hosts),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        for (i, step) in raw.steps.iter().enumerate() {
            if let RawStep::Backup(Some(b)) = step {
                if let Some(label) = &b.label {
                    if let Err(e) = crate::backup::check_label(label) {
                        errors.push(source.error_at(
                            e,
                            &[key("steps"), Segment::Index(i), key("backup"), key("label")],
                            Target::Value,
                        ));
                    }
                }
            }
            if let RawStep::Verify(Some(v)) = step {
                for (j, check) in v.checks.iter().enumerate() {
                    if !check.path.starts_with('/') {
                        errors.push(source.error_at(
                            format!("a check's `path` must start with `/`, got `{}`", check.path),
                            &[
                                key("steps"),
                                Segment::Index(i),
                                key("verify"),
                                key("checks"),
                                Segment::Index(j),
                                key("path"),
                            ],
                            Target::Value,
                        ));
                    }
                }
            }
        }
        if raw.on_failure == OnFailure::Rollback {
            let first_backup = raw
                .steps
                .iter()
                .position(|s| matches!(s, RawStep::Backup(_)));
            let first_change = raw
                .steps
                .iter()
                .position(|s| matches!(s, RawStep::Update(_)));
            if let Some(change) = first_change {
                if first_backup.is_none_or(|b| b > change) {
                    errors.push(source
                        .error_at(
                            "this step changes sites but no `backup` step comes before it, so a failed site could not be rolled back",
                            &[key("steps"), Segment::Index(change)],
                            Target::Value,
                        )
                        .with_hint("add `- backup: { label: pre-update }` before it, or set `on_failure: stop` (or `continue`) to run without rollback"));
                }
            }
        }
        InputError::check(errors)?;
        let Some(hosts) = hosts else {
            unreachable!("a bad `hosts` is an error above");
        };
        Ok(Playbook {
            name: raw.name,
            hosts,
            forks: raw.forks,
            max_failures: raw.max_failures,
            on_failure: raw.on_failure,
            steps: raw.steps.into_iter().map(validated).collect(),
        })
    }
}

/// What a raw step means, once the playbook around it is known to be valid.
fn validated(raw: RawStep) -> Step {
    match raw {
        RawStep::Backup(b) => {
            let b = b.unwrap_or_default();
            Step::Backup {
                label: b.label,
                always: b.always,
            }
        }
        RawStep::Maintenance(on) => Step::Maintenance { on: on.0 },
        RawStep::Update(u) => Step::Update(u.unwrap_or_default()),
        RawStep::Verify(v) => Step::Verify {
            checks: v
                .map(|v| {
                    v.checks
                        .into_iter()
                        .map(crate::inventory::Check::from)
                        .collect()
                })
                .unwrap_or_default(),
        },
        RawStep::Prune(_) => Step::Prune,
    }
}
