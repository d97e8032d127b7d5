//! A playbook exactly as written in YAML; unknown keys and steps are refused with positions.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::step::StepName;
use crate::inventory::raw::RawCheck;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    pub name: String,
    #[serde(default)]
    pub hosts: Option<Hosts>,
    pub forks: Option<usize>,
    /// Stop starting new sites once this many have failed or been rolled back.
    pub max_failures: Option<usize>,
    #[serde(default)]
    pub on_failure: OnFailure,
    pub steps: Vec<RawStep>,
}

/// `hosts: all`, `hosts: acme-*`, `hosts: "a, b"` or `hosts: [a, b]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts(pub Vec<String>);

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(s) => Hosts(vec![s]),
            OneOrMany::Many(v) => Hosts(v),
        })
    }
}

/// What happens to a site when a step fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Put the site back to the playbook's snapshot and verify it again.
    #[default]
    Rollback,
    /// End the site's run, leave maintenance mode, keep the snapshot for a manual restore.
    Stop,
    /// Run the remaining steps; the site is reported failed.
    Continue,
}

/// One step: a mapping with a single key naming it, e.g. `- backup: { label: nightly }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawStep {
    Backup(Option<BackupStep>),
    Maintenance(Switch),
    Update(Option<UpdateStep>),
    Verify(Option<VerifyStep>),
    Prune(Option<PruneStep>),
}

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = RawStep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step: a mapping with one key, one of `backup`, `maintenance`, `update`, `verify`, `prune`")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
                let name: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let step = match StepName::parse(&name) {
                    Some(StepName::Backup) => RawStep::Backup(map.next_value()?),
                    Some(StepName::Maintenance) => RawStep::Maintenance(map.next_value()?),
                    Some(StepName::Update) => RawStep::Update(map.next_value()?),
                    Some(StepName::Verify) => RawStep::Verify(map.next_value()?),
                    Some(StepName::Prune) => RawStep::Prune(map.next_value()?),
                    None => return Err(de::Error::unknown_variant(&name, StepName::all_names())),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a step has exactly one key, but `{name}` is followed by `{extra}`; start a new step with `- {extra}: …`"
                    )));
                }
                Ok(step)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawStep, E> {
                match StepName::parse(v) {
                    Some(StepName::Backup) => Ok(RawStep::Backup(None)),
                    Some(StepName::Update) => Ok(RawStep::Update(None)),
                    Some(StepName::Verify) => Ok(RawStep::Verify(None)),
                    Some(StepName::Prune) => Ok(RawStep::Prune(None)),
                    // `maintenance` needs its switch.
                    Some(StepName::Maintenance) | None => {
                        Err(de::Error::unknown_variant(v, StepName::all_names()))
                    }
                }
            }
        }
        deserializer.deserialize_any(StepVisitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupStep {
    pub label: Option<String>,
    /// Take the snapshot even when the site has nothing to update (by default a playbook
    /// with `update` steps takes no snapshot of a site with nothing to update).
    #[serde(default)]
    pub always: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneStep {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyStep {
    #[serde(default)]
    pub checks: Vec<RawCheck>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateStep {
    pub core: Option<Level>,
    pub plugins: Option<Selection>,
    pub themes: Option<Selection>,
    pub extensions: Option<Selection>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// One component at a time (the default) or all at once.
    #[serde(default)]
    pub mode: UpdateMode,
    /// Soak time: only versions released at least this long ago are taken.
    pub min_age: Option<crate::updates::min_age::MinAge>,
}

/// How an update step applies a site's changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    /// One component at a time — core, then plugins, then themes (extensions) — each
    /// checked before the next starts; one whose checks fail is rolled back alone.
    #[default]
    Each,
    /// Every change applied, then one verification; a failure rolls them all back.
    Together,
}

/// How far a version may move (defined with the version type that decides it).
pub use crate::version::Level;

/// `all`, `none`, or a list of slugs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    None,
    Only(Vec<String>),
}

impl<'de> Deserialize<'de> for Selection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SelectionVisitor;
        impl<'de> Visitor<'de> for SelectionVisitor {
            type Value = Selection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`all`, `none` or a list of slugs")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Selection, E> {
                match v {
                    "all" => Ok(Selection::All),
                    "none" => Ok(Selection::None),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Selection, A::Error> {
                let mut slugs = Vec::new();
                while let Some(slug) = seq.next_element::<String>()? {
                    slugs.push(slug);
                }
                Ok(Selection::Only(slugs))
            }
        }
        deserializer.deserialize_any(SelectionVisitor)
    }
}

/// `maintenance: on|off` (also `true|false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch(pub bool);

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SwitchVisitor;
        impl<'de> Visitor<'de> for SwitchVisitor {
            type Value = Switch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`on` or `off`")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Switch, E> {
                Ok(Switch(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Switch, E> {
                match v {
                    "on" => Ok(Switch(true)),
                    "off" => Ok(Switch(false)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(SwitchVisitor)
    }
}
