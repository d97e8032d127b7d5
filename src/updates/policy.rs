//! From facts and offers to a plan: which updates a site gets under a playbook's policy.
//!
//! Pure: no network, no host. Every component is either planned (a change from → to), or
//! held back with the reason (held, excluded, not selected, beyond the allowed level, a
//! version that does not parse). A version that fails to parse is never guessed at: the
//! component is skipped and the reason says which version.

use serde::Serialize;

pub use crate::offer::Change;

use chrono::{DateTime, Utc};

use super::min_age::MinAge;
use super::{ComponentType, Offer};
use crate::cms::{CmsKind, Facts};
use crate::playbook::{Selection, UpdateStep};
use crate::version::{allowed, Level, Version};

/// A component that has a newer version but is not updated, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub from: String,
    /// The newest version offered, where one was.
    pub available: Option<String>,
    pub reason: String,
}

/// A newer version that is not taken yet because it is younger than the step's `min_age`
/// (or its release date is unknown), and when it will be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub from: String,
    pub version: String,
    /// When it was released; `None`: the source does not say, so it is never old enough.
    pub released: Option<DateTime<Utc>>,
    /// When it is old enough to be taken.
    pub taken_from: Option<DateTime<Utc>>,
    /// The step's `min_age`, as written back (`3d`).
    pub min_age: String,
}

impl Waiting {
    /// `plugin akismet 5.5 released 2026-11-29, taken from 2026-12-02`.
    pub fn describe(&self) -> String {
        let what = format!("{} {} {}", self.kind.name(), self.slug, self.version);
        match (self.released, self.taken_from) {
            (Some(released), Some(from)) => format!(
                "{what} released {}, taken from {}",
                day(released),
                day(from)
            ),
            _ => format!(
                "{what}: its release date is unknown, so it is not taken while `min_age: {}` is set",
                self.min_age
            ),
        }
    }
}

/// A day as plans say it; with the hour when it is not midnight UTC, since `12h` soak
/// times end within a day.
fn day(time: DateTime<Utc>) -> String {
    if time.time() == chrono::NaiveTime::MIN {
        time.format("%Y-%m-%d").to_string()
    } else {
        time.format("%Y-%m-%d %H:%MZ").to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub held: Vec<Held>,
    /// Newer versions waiting for the step's `min_age`.
    pub waits: Vec<Waiting>,
}

/// The policy of one `update` step for one site.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    pub core: Level,
    /// How far plugins, themes and extensions may move (the contract has one level for core
    /// only; components take any newer version unless excluded).
    pub plugins: &'a Selection,
    pub themes: &'a Selection,
    pub extensions: &'a Selection,
    pub exclude: &'a [String],
    pub hold: &'a [String],
    /// Soak time: only versions released at least this long before `now` are taken.
    pub min_age: Option<MinAge>,
    pub now: DateTime<Utc>,
}

const ALL: Selection = Selection::All;

impl<'a> Policy<'a> {
    /// The step's settings with the contract's defaults (`core:` the CMS's default level,
    /// `minor` unless the CMS says otherwise; everything else all), and the site's `hold`
    /// list.
    pub fn of(step: Option<&'a UpdateStep>, hold: &'a [String], cms: CmsKind) -> Policy<'a> {
        let default_core = crate::cms::adapter(cms).default_core_level();
        let exclude: &'a [String] = step.map(|s| s.exclude.as_slice()).unwrap_or(&[]);
        Policy {
            core: step.and_then(|s| s.core).unwrap_or(default_core),
            plugins: step.and_then(|s| s.plugins.as_ref()).unwrap_or(&ALL),
            themes: step.and_then(|s| s.themes.as_ref()).unwrap_or(&ALL),
            extensions: step.and_then(|s| s.extensions.as_ref()).unwrap_or(&ALL),
            exclude,
            hold,
            min_age: step.and_then(|s| s.min_age),
            now: Utc::now(),
        }
    }
}

/// Plans the updates of one site: for each installed component, the newest offered version
/// the policy allows.
pub fn plan(facts: &Facts, offers: &[Offer], policy: &Policy<'_>) -> Plan {
    let mut out = Plan::default();
    let plugin_type = crate::cms::adapter(facts.cms).plugin_type();
    consider(
        &mut out,
        ComponentType::Core,
        core_slug(facts),
        &facts.version,
        offers,
        policy,
    );
    // Third-party packages (Magento's composer packages) are extensions as well.
    for plugin in facts.plugins.iter().chain(&facts.packages) {
        if let Some(version) = &plugin.version {
            consider(&mut out, plugin_type, &plugin.slug, version, offers, policy);
        }
    }
    for theme in &facts.themes {
        if let Some(version) = &theme.version {
            consider(
                &mut out,
                ComponentType::Theme,
                &theme.slug,
                version,
                offers,
                policy,
            );
        }
    }
    out
}

/// Plans the updates of a playbook with several `update` steps, one plan per step in order:
/// each step's own policy decides from the site as the steps before it leave it (their
/// changes taken as made), so a later step plans only what is still to do, and the same
/// component is never planned twice.
pub fn plan_steps(facts: &Facts, offers: &[Offer], policies: &[Policy<'_>]) -> Vec<Plan> {
    let mut projected = facts.clone();
    let mut plans = Vec::with_capacity(policies.len());
    for policy in policies {
        let step_plan = plan(&projected, offers, policy);
        for change in &step_plan.changes {
            project(&mut projected, change);
        }
        plans.push(step_plan);
    }
    plans
}

/// What is held back over all the steps' plans: each component once, and not one that
/// some step updates (a step that leaves themes alone holds the theme a later step takes).
pub fn held_over(plans: &[Plan]) -> Vec<Held> {
    let changed = |h: &Held| {
        plans
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| c.kind == h.kind && c.slug == h.slug)
    };
    let mut out: Vec<Held> = Vec::new();
    for held in plans.iter().flat_map(|p| &p.held) {
        if !changed(held)
            && !out
                .iter()
                .any(|h| h.kind == held.kind && h.slug == held.slug)
        {
            out.push(held.clone());
        }
    }
    out
}

/// What waits for a soak time over all the steps' plans: each version once, and not one
/// that some step takes.
pub fn waits_over(plans: &[Plan]) -> Vec<Waiting> {
    let taken = |w: &Waiting| {
        plans
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| c.kind == w.kind && c.slug == w.slug && c.to == w.version)
    };
    let mut out: Vec<Waiting> = Vec::new();
    for waiting in plans.iter().flat_map(|p| &p.waits) {
        if !taken(waiting)
            && !out.iter().any(|w| {
                w.kind == waiting.kind && w.slug == waiting.slug && w.version == waiting.version
            })
        {
            out.push(waiting.clone());
        }
    }
    out
}

/// An installed component no update source tracks: it is never updated by tend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Untracked {
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub version: Option<String>,
}

impl Untracked {
    /// `plugin acme-premium 2.1: not tracked by any update source`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}{}: {UNTRACKED}",
            self.kind.name(),
            self.slug,
            self.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        )
    }
}

/// What is said of an installed component no source tracks.
pub const UNTRACKED: &str = "not tracked by any update source";

/// The site's components updated apart from core (as its CMS says) that no source tracks.
pub fn untracked(facts: &Facts, tracked: &[(ComponentType, String)]) -> Vec<Untracked> {
    crate::cms::adapter(facts.cms)
        .separately_updated(facts)
        .into_iter()
        .filter(|(kind, c)| !tracked.iter().any(|(k, s)| k == kind && *s == c.slug))
        .map(|(kind, c)| Untracked {
            kind,
            slug: c.slug.clone(),
            version: c.version.clone(),
        })
        .collect()
}

/// The site's facts as they are once `change` is made.
fn project(facts: &mut Facts, change: &Change) {
    let components = match change.kind {
        ComponentType::Core => {
            facts.version = change.to.clone();
            return;
        }
        ComponentType::Theme => &mut facts.themes,
        ComponentType::Plugin | ComponentType::Extension => &mut facts.plugins,
    };
    if let Some(component) = components.iter_mut().find(|c| c.slug == change.slug) {
        component.version = Some(change.to.clone());
    }
}

/// The entries of `names` (a site's `hold`, a step's `exclude`) that name nothing installed
/// on the site — neither its core nor a plugin, theme, extension or package — and so
/// hold back nothing: most likely a misspelt or removed component.
pub fn unmatched<'a>(names: &'a [String], facts: &Facts) -> Vec<&'a str> {
    names
        .iter()
        .filter(|name| {
            name.as_str() != core_slug(facts)
                && !facts
                    .plugins
                    .iter()
                    .chain(&facts.themes)
                    .chain(&facts.packages)
                    .any(|c| &c.slug == *name)
        })
        .map(String::as_str)
        .collect()
}

fn core_slug(facts: &Facts) -> &'static str {
    facts.cms.name()
}

fn consider(
    out: &mut Plan,
    kind: ComponentType,
    slug: &str,
    installed: &str,
    offers: &[Offer],
    policy: &Policy<'_>,
) {
    let candidates: Vec<&Offer> = offers
        .iter()
        .filter(|o| o.kind == kind && o.slug == slug)
        .collect();
    let hold = |reason: String, available: Option<String>| Held {
        kind,
        slug: slug.to_owned(),
        from: installed.to_owned(),
        available,
        reason,
    };
    let current = match Version::parse(installed) {
        Ok(v) => v,
        Err(e) => {
            if !candidates.is_empty() {
                out.held.push(hold(format!("installed version: {e}"), None));
            }
            return;
        }
    };
    // The newest offer that parses and is newer than what is installed.
    let mut unparsable = Vec::new();
    let mut newer: Vec<(Version, &Offer)> = Vec::new();
    for offer in candidates {
        match Version::parse(&offer.version) {
            Ok(v) if v > current => newer.push((v, offer)),
            Ok(_) => {}
            Err(e) => unparsable.push(e.to_string()),
        }
    }
    newer.sort_by(|a, b| b.0.cmp(&a.0));
    let newest = newer.first().map(|(v, _)| v.as_str().to_owned());
    if newer.is_empty() {
        if let Some(e) = unparsable.first() {
            out.held
                .push(hold(format!("offered version skipped: {e}"), None));
        }
        return;
    }
    if policy.hold.iter().any(|h| h == slug) {
        out.held
            .push(hold("held in the inventory (`hold`)".to_owned(), newest));
        return;
    }
    if policy.exclude.iter().any(|x| x == slug) {
        out.held.push(hold(
            "excluded by the playbook (`exclude`)".to_owned(),
            newest,
        ));
        return;
    }
    let (selection, level) = match kind {
        ComponentType::Core => (&ALL, policy.core),
        ComponentType::Plugin => (policy.plugins, Level::Major),
        ComponentType::Theme => (policy.themes, Level::Major),
        ComponentType::Extension => (policy.extensions, Level::Major),
    };
    let selected = match selection {
        Selection::All => true,
        Selection::None => false,
        Selection::Only(slugs) => slugs.iter().any(|s| s == slug),
    };
    if !selected || level == Level::None {
        out.held.push(hold(
            format!("not selected by the playbook ({} updates)", kind.name()),
            newest,
        ));
        return;
    }
    // Sources are tried in order: the first one offering a newer allowed version wins,
    // with the newest allowed version it offers.
    let mut sources: Vec<&str> = Vec::new();
    for (_, offer) in &newer {
        if !sources.contains(&offer.source.as_str()) {
            sources.push(&offer.source);
        }
    }
    sources.sort_by_key(|s| offers.iter().position(|o| o.source == *s));
    let Some(source) = sources.iter().find(|source| {
        newer
            .iter()
            .any(|(v, o)| o.source == **source && allowed(&current, v, level))
    }) else {
        out.held.push(hold(
            format!("beyond the allowed level (`{}`)", level_name(level)),
            newest,
        ));
        return;
    };
    // That source's allowed versions, newest first; with a soak time, the newest of them
    // old enough is taken and a newer one waits.
    let allowed_here: Vec<&(Version, &Offer)> = newer
        .iter()
        .filter(|(v, o)| o.source == *source && allowed(&current, v, level))
        .collect();
    let chosen = match policy.min_age {
        None => allowed_here.first().copied(),
        Some(min_age) => {
            let old_enough = |offer: &Offer| {
                offer
                    .released
                    .is_some_and(|released| min_age.taken_from(released) <= policy.now)
            };
            let ripe = allowed_here.iter().copied().find(|(_, o)| old_enough(o));
            if let Some((version, offer)) = allowed_here.first().copied() {
                if !old_enough(offer) {
                    out.waits.push(Waiting {
                        kind,
                        slug: slug.to_owned(),
                        from: installed.to_owned(),
                        version: version.as_str().to_owned(),
                        released: offer.released,
                        taken_from: offer.released.map(|r| min_age.taken_from(r)),
                        min_age: min_age.to_string(),
                    });
                }
            }
            ripe
        }
    };
    if let Some((version, offer)) = chosen {
        out.changes.push(Change {
            kind,
            slug: slug.to_owned(),
            from: installed.to_owned(),
            to: version.as_str().to_owned(),
            offer: (*offer).clone(),
        });
    }
}

/// How far a change moves: the level of tend's policy it needs and, for core, the CMS's own
/// word for it where that differs (WordPress: `major release` for 6.1.9 → 6.8.12, `minor`
/// here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveWords {
    /// `patch`, `minor` or `major`; `None` when a version does not parse.
    pub level: Option<&'static str>,
    /// The CMS's word, e.g. `major release`.
    pub cms_word: Option<&'static str>,
    /// Whose word it is (`WordPress`).
    #[serde(skip)]
    pub cms_name: &'static str,
}

impl MoveWords {
    pub fn of(change: &Change) -> MoveWords {
        let adapter = crate::cms::adapter(change.offer.cms);
        let versions = Version::parse(&change.from)
            .ok()
            .zip(Version::parse(&change.to).ok());
        let level = versions
            .as_ref()
            .and_then(|(from, to)| crate::version::level_of(from, to))
            .map(level_name);
        let cms_word = match (&versions, change.kind) {
            (Some((from, to)), ComponentType::Core) => adapter.core_release_word(from, to),
            _ => None,
        };
        MoveWords {
            level,
            cms_word,
            cms_name: adapter.display_name(),
        }
    }

    /// ` (minor; a major release in WordPress's terms)`, or `` when there is nothing to add.
    pub fn suffix(&self) -> String {
        match (self.level, self.cms_word) {
            (Some(level), Some(word)) => {
                format!(" ({level}; a {word} in {}'s terms)", self.cms_name)
            }
            _ => String::new(),
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::None => "none",
        Level::Patch => "patch",
        Level::Minor => "minor",
        Level::Major => "major",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::Component;

    fn facts() -> Facts {
        Facts {
            cms: crate::cms::wordpress::KIND,
            version: "6.1.9".into(),
            db_version: Some("53496".into()),
            php_version: None,
            plugins: vec![
                Component {
                    slug: "akismet".into(),
                    version: Some("5.0.2".into()),
                    active: true,
                },
                Component {
                    slug: "woocommerce".into(),
                    version: Some("8.0.0".into()),
                    active: true,
                },
                Component {
                    slug: "odd".into(),
                    version: Some("latest".into()),
                    active: false,
                },
            ],
            themes: vec![Component {
                slug: "twentytwentythree".into(),
                version: Some("1.0".into()),
                active: true,
            }],
            database: None,
            plugin_files: Default::default(),
            packages: Vec::new(),
            warnings: vec![],
        }
    }

    fn offer(kind: ComponentType, slug: &str, version: &str) -> Offer {
        Offer {
            cms: crate::cms::wordpress::KIND,
            kind,
            slug: slug.into(),
            version: version.into(),
            package: format!("{slug}.{version}.zip"),
            sha256: None,
            source: "test".into(),
            released: None,
        }
    }

    fn offers() -> Vec<Offer> {
        vec![
            offer(ComponentType::Core, "wordpress", "6.1.10"),
            offer(ComponentType::Core, "wordpress", "6.8.7"),
            offer(ComponentType::Core, "wordpress", "7.0"),
            offer(ComponentType::Plugin, "akismet", "5.5"),
            offer(ComponentType::Plugin, "woocommerce", "9.1.0"),
            offer(ComponentType::Plugin, "odd", "2.0"),
            offer(ComponentType::Theme, "twentytwentythree", "1.6"),
        ]
    }

    #[test]
    fn hold_entries_that_name_nothing_installed_are_found() {
        let names: Vec<String> = [
            "woocommerce",
            "client-widget",
            "wordpress",
            "twentytwentythree",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(unmatched(&names, &facts()), ["client-widget"]);
    }

    #[test]
    fn minor_takes_the_newest_within_the_major_version() {
        let hold = vec!["woocommerce".to_owned()];
        let plan = plan(
            &facts(),
            &offers(),
            &Policy::of(None, &hold, crate::cms::wordpress::KIND),
        );
        let changes: Vec<(&str, &str, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.slug.as_str(), c.from.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                ("wordpress", "6.1.9", "6.8.7"),
                ("akismet", "5.0.2", "5.5"),
                ("twentytwentythree", "1.0", "1.6")
            ]
        );
        let held: Vec<(&str, &str)> = plan
            .held
            .iter()
            .map(|h| (h.slug.as_str(), h.reason.as_str()))
            .collect();
        assert_eq!(held[0], ("woocommerce", "held in the inventory (`hold`)"));
        assert!(
            held[1].0 == "odd" && held[1].1.contains("`latest` is not a version"),
            "{held:?}"
        );
    }

    #[test]
    fn patch_and_none_levels_and_selections() {
        let step = UpdateStep {
            core: Some(Level::Patch),
            plugins: Some(Selection::Only(vec!["woocommerce".into()])),
            themes: Some(Selection::None),
            extensions: None,
            exclude: vec![],
            mode: Default::default(),
            min_age: None,
        };
        let plan = plan(
            &facts(),
            &offers(),
            &Policy::of(Some(&step), &[], crate::cms::wordpress::KIND),
        );
        let changes: Vec<(&str, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.slug.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(changes, [("wordpress", "6.1.10"), ("woocommerce", "9.1.0")]);
        assert!(plan
            .held
            .iter()
            .any(|h| h.slug == "akismet" && h.reason.starts_with("not selected")));
        assert!(plan
            .held
            .iter()
            .any(|h| h.slug == "twentytwentythree" && h.reason.starts_with("not selected")));

        let none = UpdateStep {
            core: Some(Level::None),
            ..UpdateStep::default()
        };
        let plan = super::plan(
            &facts(),
            &offers(),
            &Policy::of(Some(&none), &[], crate::cms::wordpress::KIND),
        );
        assert!(plan.changes.iter().all(|c| c.kind != ComponentType::Core));
        assert!(plan
            .held
            .iter()
            .any(|h| h.kind == ComponentType::Core && h.available.as_deref() == Some("7.0")));
    }

    #[test]
    fn excluded_components_are_held_with_the_reason() {
        let step = UpdateStep {
            exclude: vec!["akismet".into()],
            ..UpdateStep::default()
        };
        let plan = plan(
            &facts(),
            &offers(),
            &Policy::of(Some(&step), &[], crate::cms::wordpress::KIND),
        );
        let akismet = plan.held.iter().find(|h| h.slug == "akismet").unwrap();
        assert_eq!(akismet.reason, "excluded by the playbook (`exclude`)");
        assert_eq!(akismet.available.as_deref(), Some("5.5"));
    }

    #[test]
    fn nothing_newer_means_nothing_planned_or_held() {
        let offers = vec![
            offer(ComponentType::Plugin, "akismet", "5.0.2"),
            offer(ComponentType::Plugin, "akismet", "4.0"),
        ];
        let plan = plan(
            &facts(),
            &offers,
            &Policy::of(None, &[], crate::cms::wordpress::KIND),
        );
        assert!(plan.changes.is_empty());
        assert!(plan.held.is_empty());
    }

    #[test]
    fn the_first_source_with_a_newer_allowed_version_wins() {
        let from = |source: &str, version: &str| Offer {
            source: source.into(),
            ..offer(ComponentType::Plugin, "akismet", version)
        };
        // The private repository comes first and offers 5.3: it wins over wordpress.org's 5.5.
        let offers = vec![from("repo", "5.3"), from("wordpress.org", "5.5")];
        let planned = plan(
            &facts(),
            &offers,
            &Policy::of(None, &[], crate::cms::wordpress::KIND),
        );
        assert_eq!(planned.changes.len(), 1);
        assert_eq!(planned.changes[0].to, "5.3");
        assert_eq!(planned.changes[0].offer.source, "repo");
        // A first source with nothing newer gives way to the next.
        let offers = vec![from("repo", "5.0.2"), from("wordpress.org", "5.5")];
        let planned = plan(
            &facts(),
            &offers,
            &Policy::of(None, &[], crate::cms::wordpress::KIND),
        );
        assert_eq!(planned.changes[0].offer.source, "wordpress.org");
    }

    #[test]
    fn each_update_step_plans_its_own_selection_from_what_the_steps_before_leave() {
        let plugins_first = UpdateStep {
            core: Some(Level::None),
            themes: Some(Selection::None),
            ..UpdateStep::default()
        };
        let core_and_themes = UpdateStep {
            plugins: Some(Selection::None),
            ..UpdateStep::default()
        };
        let policies = [
            Policy::of(Some(&plugins_first), &[], crate::cms::wordpress::KIND),
            Policy::of(Some(&core_and_themes), &[], crate::cms::wordpress::KIND),
        ];
        let plans = plan_steps(&facts(), &offers(), &policies);
        let slugs = |plan: &Plan| -> Vec<String> {
            plan.changes
                .iter()
                .map(|c| format!("{} {} → {}", c.slug, c.from, c.to))
                .collect()
        };
        assert_eq!(
            slugs(&plans[0]),
            ["akismet 5.0.2 → 5.5", "woocommerce 8.0.0 → 9.1.0"]
        );
        assert_eq!(
            slugs(&plans[1]),
            ["wordpress 6.1.9 → 6.8.7", "twentytwentythree 1.0 → 1.6"]
        );
        // What one step leaves and another takes is not held; the rest is, once.
        let held: Vec<String> = held_over(&plans).into_iter().map(|h| h.slug).collect();
        assert_eq!(held, ["odd"]);
        // The same step twice plans nothing the second time.
        let twice = [
            Policy::of(None, &[], crate::cms::wordpress::KIND),
            Policy::of(None, &[], crate::cms::wordpress::KIND),
        ];
        let plans = plan_steps(&facts(), &offers(), &twice);
        assert_eq!(plans[0].changes.len(), 4);
        assert!(plans[1].changes.is_empty(), "{:?}", plans[1].changes);
    }

    #[test]
    fn core_moves_say_the_cms_word_beside_the_level() {
        let plan = plan(
            &facts(),
            &offers(),
            &Policy::of(None, &[], crate::cms::wordpress::KIND),
        );
        let core = &plan.changes[0];
        assert_eq!(
            MoveWords::of(core).suffix(),
            " (minor; a major release in WordPress's terms)"
        );
        let patch = Change {
            to: "6.1.10".into(),
            ..core.clone()
        };
        assert_eq!(
            MoveWords::of(&patch).suffix(),
            " (patch; a minor release in WordPress's terms)"
        );
        // Plugins have no CMS word.
        assert_eq!(MoveWords::of(&plan.changes[1]).suffix(), "");
        assert_eq!(MoveWords::of(&plan.changes[1]).level, Some("minor"));
    }

    #[test]
    fn min_age_takes_the_newest_version_old_enough_and_says_what_waits_until_when() {
        let at = |text: &str| -> DateTime<Utc> { text.parse().unwrap() };
        let dated = |slug: &str, version: &str, released: Option<&str>| Offer {
            released: released.map(at),
            ..offer(ComponentType::Plugin, slug, version)
        };
        let offers = vec![
            // Akismet 5.4 is old enough; 5.5 came out a day ago.
            dated("akismet", "5.4", Some("2026-11-01T00:00:00Z")),
            dated("akismet", "5.5", Some("2026-11-29T00:00:00Z")),
            // WooCommerce's only newer version has no known release date.
            dated("woocommerce", "9.1.0", None),
            Offer {
                released: Some(at("2026-11-20T00:00:00Z")),
                ..offer(ComponentType::Theme, "twentytwentythree", "1.6")
            },
        ];
        let step = UpdateStep {
            min_age: Some(MinAge::parse("3d").unwrap()),
            ..UpdateStep::default()
        };
        let mut policy = Policy::of(Some(&step), &[], crate::cms::wordpress::KIND);
        policy.now = at("2026-11-30T08:00:00Z");
        let planned = plan(&facts(), &offers, &policy);
        let changes: Vec<(&str, &str)> = planned
            .changes
            .iter()
            .map(|c| (c.slug.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(changes, [("akismet", "5.4"), ("twentytwentythree", "1.6")]);
        let waits: Vec<String> = planned.waits.iter().map(Waiting::describe).collect();
        assert_eq!(
            waits,
            [
                "plugin akismet 5.5 released 2026-11-29, taken from 2026-12-02",
                "plugin woocommerce 9.1.0: its release date is unknown, so it is not taken while `min_age: 3d` is set",
            ]
        );
        // Three days on, 5.5 is taken.
        policy.now = at("2026-12-02T00:00:00Z");
        let planned = plan(&facts(), &offers, &policy);
        assert!(planned
            .changes
            .iter()
            .any(|c| c.slug == "akismet" && c.to == "5.5"));
        assert!(planned.waits.iter().all(|w| w.slug != "akismet"));
        // Without min_age nothing waits, dates or not.
        let planned = plan(
            &facts(),
            &offers,
            &Policy::of(None, &[], crate::cms::wordpress::KIND),
        );
        assert!(planned.waits.is_empty());
        assert_eq!(planned.changes.len(), 3);
        // A soak time ending within a day says the hour.
        let half_day = UpdateStep {
            min_age: Some(MinAge::parse("12h").unwrap()),
            ..UpdateStep::default()
        };
        let mut policy = Policy::of(Some(&half_day), &[], crate::cms::wordpress::KIND);
        policy.now = at("2026-11-29T08:00:00Z");
        let planned = plan(&facts(), &offers, &policy);
        assert_eq!(
            planned.waits[0].describe(),
            "plugin akismet 5.5 released 2026-11-29, taken from 2026-11-29 12:00Z"
        );
    }

    #[test]
    fn components_no_source_tracks_are_named() {
        let tracked = vec![
            (ComponentType::Core, "wordpress".to_owned()),
            (ComponentType::Plugin, "akismet".to_owned()),
            // A theme slug tracked as a plugin does not track the theme.
            (ComponentType::Plugin, "twentytwentythree".to_owned()),
        ];
        let found: Vec<String> = untracked(&facts(), &tracked)
            .iter()
            .map(Untracked::describe)
            .collect();
        assert_eq!(
            found,
            [
                "plugin woocommerce 8.0.0: not tracked by any update source",
                "plugin odd latest: not tracked by any update source",
                "theme twentytwentythree 1.0: not tracked by any update source",
            ]
        );
    }
}
