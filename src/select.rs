//! Choosing sites: `hosts:` in a playbook and `-l/--limit` on the command line.
//!
//! A pattern is a comma-separated list of site names, group names and globs (`acme-*`);
//! `!x` excludes. The sites selected are those matched by any inclusion (every site when
//! there is none, or for `all`) minus those matched by any exclusion. A name or glob that
//! matches nothing is an error rather than an empty run: a typo in `--limit` must not
//! silently do nothing (or, with only exclusions, everything). For the same reason a
//! pattern that selects no site at all (`!*`, `all,!all`) is an error, and so is a playbook's
//! `hosts:` and a `--limit` that have no site in common.

use globset::{Glob, GlobMatcher};

use crate::diagnostic::{did_you_mean, InputError};
use crate::inventory::{Inventory, Site};

#[derive(Debug, Clone)]
pub struct SitePattern {
    include: Vec<Term>,
    exclude: Vec<Term>,
    /// The pattern as written, for messages.
    text: String,
}

#[derive(Debug, Clone)]
enum Term {
    All,
    Site(String),
    Group(String),
    Glob(GlobMatcher),
}

/// Why a pattern is invalid, and where in its text (1-based column, width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub message: String,
    pub hint: Option<String>,
    pub column: usize,
    pub width: usize,
}

impl PatternError {
    pub fn into_argument_error(self, flag: &str, value: &str) -> InputError {
        InputError::in_argument(self.message, flag, value, self.column, self.width)
            .with_optional_hint(self.hint)
    }
}

impl SitePattern {
    /// Every site.
    pub fn all() -> SitePattern {
        SitePattern {
            include: vec![Term::All],
            exclude: Vec::new(),
            text: "all".to_owned(),
        }
    }

    pub fn parse(text: &str, inventory: &Inventory) -> Result<SitePattern, PatternError> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        let mut offset = 0;
        for raw_part in text.split(',') {
            let leading = raw_part.len() - raw_part.trim_start().len();
            let part = raw_part.trim();
            let column = offset + leading + 1;
            offset += raw_part.len() + 1;
            if part.is_empty() {
                return Err(PatternError {
                    message: "empty element in site pattern".to_owned(),
                    hint: Some("separate names with single commas: `a,b,!c`".to_owned()),
                    column,
                    width: 1,
                });
            }
            let (negated, name) = match part.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, part),
            };
            let error = |message: String, hint: Option<String>| PatternError {
                message,
                hint,
                column,
                width: part.chars().count(),
            };
            let term = if name == "all" || name == "*" {
                Term::All
            } else if name.contains(['*', '?', '[']) {
                let glob = Glob::new(name)
                    .map_err(|e| error(format!("invalid glob `{name}`: {}", e.kind()), None))?
                    .compile_matcher();
                let matches_any = inventory.sites.keys().any(|s| glob.is_match(s))
                    || inventory.groups.keys().any(|g| glob.is_match(g));
                if !matches_any {
                    return Err(error(
                        format!("`{name}` matches no site or group in the inventory"),
                        None,
                    ));
                }
                Term::Glob(glob)
            } else if inventory.sites.contains_key(name) {
                Term::Site(name.to_owned())
            } else if inventory.groups.contains_key(name) {
                Term::Group(name.to_owned())
            } else {
                let names = inventory
                    .sites
                    .keys()
                    .chain(inventory.groups.keys())
                    .map(String::as_str);
                let hint = did_you_mean(name, names).map(|n| format!("did you mean `{n}`?"));
                return Err(error(
                    format!("`{name}` is not a site or group in the inventory"),
                    hint,
                ));
            };
            if negated {
                exclude.push(term);
            } else {
                include.push(term);
            }
        }
        if include.is_empty() {
            include.push(Term::All);
        }
        let pattern = SitePattern {
            include,
            exclude,
            text: text.to_owned(),
        };
        if !inventory.sites.is_empty() && select(inventory, &[&pattern]).is_empty() {
            return Err(PatternError {
                message: format!(
                    "`{}` selects no site: what it names, it also excludes",
                    text.trim()
                ),
                hint: Some("name the sites to work on; `!name` only takes sites away".to_owned()),
                column: 1,
                width: text.chars().count(),
            });
        }
        Ok(pattern)
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, site: &Site) -> bool {
        self.include.iter().any(|t| t.matches(site))
            && !self.exclude.iter().any(|t| t.matches(site))
    }
}

impl Term {
    fn matches(&self, site: &Site) -> bool {
        match self {
            Term::All => true,
            Term::Site(name) => &site.name == name,
            Term::Group(group) => site.groups.iter().any(|g| g == group),
            Term::Glob(glob) => {
                glob.is_match(&site.name) || site.groups.iter().any(|g| glob.is_match(g))
            }
        }
    }
}

/// The sites matched by every pattern given, in inventory order.
pub fn select<'a>(inventory: &'a Inventory, patterns: &[&SitePattern]) -> Vec<&'a Site> {
    inventory
        .sites
        .values()
        .filter(|site| patterns.iter().all(|p| p.matches(site)))
        .collect()
}

/// The sites of a playbook's `hosts:` that `--limit` (when given) also selects; none is an
/// error at `--limit`, since each pattern alone selects something.
pub fn select_for_playbook<'a>(
    inventory: &'a Inventory,
    hosts: &SitePattern,
    limit: Option<&SitePattern>,
) -> Result<Vec<&'a Site>, InputError> {
    let mut patterns = vec![hosts];
    patterns.extend(limit);
    let sites = select(inventory, &patterns);
    match limit {
        Some(limit) if sites.is_empty() && !inventory.sites.is_empty() => {
            Err(InputError::in_argument(
                format!(
                    "no site is both in the playbook's `hosts: {}` and in `--limit {}`",
                    hosts.text(),
                    limit.text()
                ),
                "--limit",
                limit.text(),
                1,
                limit.text().chars().count(),
            ))
        }
        _ => Ok(sites),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_source::YamlSource;
    use std::path::Path;

    fn inventory() -> Inventory {
        let text = "\
groups:
  acme: {}
  globex: {}
sites:
  acme-blog: { host: h, path: /a, url: http://a, groups: [acme] }
  acme-shop: { host: h, path: /b, url: http://b, groups: [acme] }
  globex-www: { host: h, path: /c, url: http://c, groups: [globex] }
  solo: { host: h, path: /d, url: http://d }
";
        Inventory::from_source(&YamlSource::from_text(Path::new("i.yml"), text)).unwrap()
    }

    fn names(inv: &Inventory, pattern: &str) -> Vec<String> {
        let p = SitePattern::parse(pattern, inv).unwrap();
        select(inv, &[&p])
            .into_iter()
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn names_groups_globs_and_exclusions() {
        let inv = inventory();
        assert_eq!(names(&inv, "solo"), ["solo"]);
        assert_eq!(names(&inv, "acme"), ["acme-blog", "acme-shop"]);
        assert_eq!(names(&inv, "acme-*,!acme-shop"), ["acme-blog"]);
        assert_eq!(names(&inv, "!acme"), ["globex-www", "solo"]);
        assert_eq!(
            names(&inv, "all"),
            ["acme-blog", "acme-shop", "globex-www", "solo"]
        );
        assert_eq!(names(&inv, "glob*"), ["globex-www"]);
    }

    #[test]
    fn unknown_names_are_errors_with_their_column() {
        let inv = inventory();
        let err = SitePattern::parse("solo, acme-blgo", &inv).unwrap_err();
        assert_eq!(err.column, 7);
        assert_eq!(err.width, 9);
        assert_eq!(err.hint.as_deref(), Some("did you mean `acme-blog`?"));
        assert!(SitePattern::parse("nomatch-*", &inv).is_err());
        assert!(SitePattern::parse("a,,b", &inv).is_err());
    }

    #[test]
    fn a_pattern_that_selects_nothing_is_an_error() {
        let inv = inventory();
        for text in ["!*", "all,!all", "!acme,!globex,!solo", "acme-blog,!acme"] {
            let err = SitePattern::parse(text, &inv).unwrap_err();
            assert!(err.message.contains("selects no site"), "{text}: {err:?}");
            assert_eq!((err.column, err.width), (1, text.len()));
        }
        let hosts = SitePattern::parse("acme", &inv).unwrap();
        let limit = SitePattern::parse("solo", &inv).unwrap();
        let err = select_for_playbook(&inv, &hosts, Some(&limit)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no site is both") && text.contains("--limit solo"),
            "{text}"
        );
        assert_eq!(select_for_playbook(&inv, &hosts, None).unwrap().len(), 2);
    }

    #[test]
    fn playbook_hosts_and_limit_intersect() {
        let inv = inventory();
        let hosts = SitePattern::parse("acme", &inv).unwrap();
        let limit = SitePattern::parse("*-shop,solo", &inv).unwrap();
        let chosen: Vec<_> = select(&inv, &[&hosts, &limit])
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(chosen, ["acme-shop"]);
    }
}
