//! From facts and offers to a plan: which updates a site gets under a playbook's policy.
//!
//! Pure: no network, no host. Every component is either planned (a change from → to), or
//! held back with the reason (held, excluded, not selected, beyond the allowed level, a
//! version that does not parse). A version that fails to parse is never guessed at: the
//! component is skipped and the reason says which version.

use serde::Serialize;

pub use crate::offer::Change;

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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub held: Vec<Held>,
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
    let chosen = sources.iter().find_map(|source| {
        newer
            .iter()
            .find(|(v, o)| o.source == *source && allowed(&current, v, level))
    });
    match chosen {
        Some((version, offer)) => out.changes.push(Change {
            kind,
            slug: slug.to_owned(),
            from: installed.to_owned(),
            to: version.as_str().to_owned(),
            offer: (*offer).clone(),
        }),
        None => out.held.push(hold(
            format!("beyond the allowed level (`{}`)", level_name(level)),
            newest,
        )),
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
}
