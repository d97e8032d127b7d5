//! The inventory: which sites exist, where they live, how to reach them, who they belong to.
//!
//! Loading goes raw YAML → [`raw::RawInventory`] (positions for syntax, type and unknown-key
//! errors) → this validated model, in which `defaults` are merged under every site, `~` is
//! expanded and every cross-reference (groups) is checked. Errors found after parsing are
//! pointed back at their place in the file through [`crate::yaml_source`]. `${VAR}` in string
//! values is taken from the environment while parsing ([`crate::env_vars`]).

pub mod notify;
pub mod raw;
pub mod repository;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use crate::cms_kind::CmsKind;
use crate::diagnostic::{did_you_mean, InputError};
use crate::paths::{default_store, expand_tilde};
use crate::yaml_source::{Segment, Target, YamlSource};
use raw::{RawCheck, RawInventory, RawSite, RawSource};

/// Sites worked on at once when neither `--forks` nor `settings.forks` says otherwise.
pub const DEFAULT_FORKS: usize = 10;
/// sshd's default `MaxSessions`.
pub const DEFAULT_MAX_SESSIONS: usize = 10;
/// The public WordPress.org API, unless a source names a mirror.
pub const DEFAULT_WORDPRESS_ORG_API: &str = "https://api.wordpress.org/";
pub const DEFAULT_VERIFY_DELAY: Duration = Duration::from_secs(3);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Inventory {
    pub file: PathBuf,
    pub settings: Settings,
    pub groups: IndexMap<String, Group>,
    pub sites: IndexMap<String, Site>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub store: PathBuf,
    pub forks: usize,
    pub sources: Vec<Source>,
    pub retention: RetentionPolicy,
    pub connect_timeout: Duration,
    /// The deadlines of remote commands and transfers.
    pub deadlines: crate::remote::Deadlines,
    pub max_sessions: usize,
    /// How long HTTP checks wait after tend changed a site's PHP files: PHP's opcache
    /// re-reads a changed file only every `opcache.revalidate_freq` seconds (2 by default),
    /// so a check made at once could see the old code.
    pub verify_delay: Duration,
    /// Who is told how acting commands went (`settings.notify`).
    pub notify: Vec<notify::Notifier>,
    /// What the monthly reports show of the agency (`settings.report`).
    pub report: ReportSettings,
    /// The restic-format repository snapshots go to (`settings.repository`); without it,
    /// the folder store.
    pub repository: Option<repository::RepositorySettings>,
    /// A second repository every new snapshot is copied to (`settings.offsite`).
    pub offsite: Option<repository::RepositorySettings>,
}

/// `settings.report`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSettings {
    pub agency: Option<String>,
    pub logo: Option<Logo>,
}

/// The agency's logo, read when the inventory is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// `image/png`, …
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// The largest logo embedded in a report.
pub const MAX_LOGO_BYTES: u64 = 1024 * 1024;

/// `settings.report`, with the logo file read (relative to the inventory's folder).
fn report_settings(
    source: &YamlSource,
    raw: Option<raw::RawReportSettings>,
) -> Result<ReportSettings, InputError> {
    let Some(raw) = raw else {
        return Ok(ReportSettings::default());
    };
    let at = [
        Segment::key("settings"),
        Segment::key("report"),
        Segment::key("logo"),
    ];
    let logo = match raw.logo {
        None => None,
        Some(name) => {
            let path = expand_tilde(&name);
            let path = if path.is_relative() {
                source
                    .path
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join(path)
            } else {
                path
            };
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            let mime = match ext.as_deref() {
                Some("png") => "image/png",
                Some("jpg" | "jpeg") => "image/jpeg",
                Some("gif") => "image/gif",
                Some("svg") => "image/svg+xml",
                Some("webp") => "image/webp",
                _ => {
                    return Err(source
                        .error_at(
                            format!("the logo `{name}` is not an image tend can embed"),
                            &at,
                            Target::Value,
                        )
                        .with_hint("a .png, .jpg, .gif, .svg or .webp file"))
                }
            };
            let bytes = match std::fs::metadata(&path) {
                Ok(m) if !m.is_file() => Err(format!("`{}` is not a file", path.display())),
                Ok(m) if m.len() > MAX_LOGO_BYTES => Err(format!(
                    "the logo `{}` is larger than 1 MiB",
                    path.display()
                )),
                Ok(_) => std::fs::read(&path)
                    .map_err(|e| format!("cannot read the logo `{}`: {e}", path.display())),
                Err(e) => Err(format!("cannot read the logo `{}`: {e}", path.display())),
            }
            .map_err(|message| {
                source
                    .error_at(message, &at, Target::Value)
                    .with_hint("a path relative to the inventory's folder, or an absolute one")
            })?;
            Some(Logo { mime, bytes })
        }
    };
    Ok(ReportSettings {
        agency: raw.agency.filter(|a| !a.trim().is_empty()),
        logo,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The public WordPress.org API (or a mirror of it) at this base URL.
    WordpressOrg { api: String },
    /// A private package repository: a local folder or an http(s) URL holding `index.json`.
    Repository(String),
}

/// `settings.retention`: one rule set (`{ keep_last: 3, ... }`) or rule sets by label
/// (`{ nightly: { keep_daily: 7 }, default: { keep_last: 3 } }`); both forms are not mixed.
fn retention_policy(
    source: &YamlSource,
    raw: Option<raw::OrderedMap<raw::RawRetentionEntry>>,
) -> Result<RetentionPolicy, InputError> {
    use raw::RawRetentionEntry as Entry;
    let Some(raw) = raw else {
        return Ok(RetentionPolicy::default());
    };
    let at = |name: &str| {
        [
            Segment::key("settings"),
            Segment::key("retention"),
            Segment::key(name),
        ]
    };
    if let Some(name) = raw.duplicates.first() {
        return Err(source.error_at(
            format!("`{name}` is given twice in `settings.retention`"),
            &at(name),
            Target::Key { occurrence: 2 },
        ));
    }
    let rules = |r: &raw::RawRetention, base: &Retention| Retention {
        keep_last: r.keep_last.unwrap_or(base.keep_last),
        keep_daily: r.keep_daily.unwrap_or(base.keep_daily),
        keep_weekly: r.keep_weekly.unwrap_or(base.keep_weekly),
        keep_monthly: r.keep_monthly.unwrap_or(base.keep_monthly),
    };
    let by_label = raw.entries.values().any(|e| matches!(e, Entry::Rules(_)));
    if !by_label {
        // One rule set: every key must be a rule.
        let mut set = raw::RawRetention::default();
        for (name, entry) in &raw.entries {
            let Entry::Count(n) = entry else {
                unreachable!()
            };
            match name.as_str() {
                "keep_last" => set.keep_last = Some(*n),
                "keep_daily" => set.keep_daily = Some(*n),
                "keep_weekly" => set.keep_weekly = Some(*n),
                "keep_monthly" => set.keep_monthly = Some(*n),
                _ => {
                    return Err(source
                        .error_at(
                            format!("`{name}` is not a retention rule"),
                            &at(name),
                            Target::Key { occurrence: 1 },
                        )
                        .with_hint(format!(
                            "the rules are {}; or give rule sets by label, e.g. `{name}: {{ keep_last: 3 }}`",
                            RETENTION_RULES.join(", ")
                        )))
                }
            }
        }
        return Ok(RetentionPolicy {
            default: rules(&set, &Retention::default()),
            labels: Vec::new(),
        });
    }
    let mut policy = RetentionPolicy::default();
    for (name, entry) in &raw.entries {
        let Entry::Rules(set) = entry else {
            return Err(source
                .error_at(
                    format!("`settings.retention` gives rule sets by label, so `{name}` must be a label with its rules, not a count"),
                    &at(name),
                    Target::Value,
                )
                .with_hint(format!("put the rules for snapshots without a listed label under `default`, e.g. `default: {{ {name}: ... }}`")));
        };
        if name == "default" {
            policy.default = rules(set, &Retention::default());
            continue;
        }
        if let Err(why) = crate::backup::check_label(name) {
            return Err(source.error_at(why, &at(name), Target::Key { occurrence: 1 }));
        }
        // A label's rules count only what is written: `{ keep_last: 3 }` keeps three.
        policy
            .labels
            .push((name.clone(), rules(set, &Retention::none())));
    }
    Ok(policy)
}

/// How many snapshots to keep, per rule; a snapshot kept by any rule is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

/// The retention rules by label: snapshots are grouped by site and label, and each group
/// is pruned by its label's rules (`default` for labels not named, and for no label).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    pub default: Retention,
    pub labels: Vec<(String, Retention)>,
}

impl RetentionPolicy {
    /// The rules for snapshots labelled `label`, and the name of the rule set.
    pub fn for_label(&self, label: Option<&str>) -> (&str, &Retention) {
        label
            .and_then(|l| self.labels.iter().find(|(name, _)| name == l))
            .map_or(("default", &self.default), |(name, rules)| {
                (name.as_str(), rules)
            })
    }
}

/// The names of the rules in a retention rule set.
pub const RETENTION_RULES: [&str; 4] = ["keep_last", "keep_daily", "keep_weekly", "keep_monthly"];

impl Retention {
    /// Keeps nothing by any rule (a label's rule set starts from this).
    pub fn none() -> Retention {
        Retention {
            keep_last: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_last: 3,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub client: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub host: String,
    /// The CMS root on the host (absolute).
    pub path: String,
    pub url: String,
    /// `None`: detected from the files on the host.
    pub cms: Option<CmsKind>,
    pub groups: Vec<String>,
    pub ssh: SshSettings,
    /// The PHP binary on the host.
    pub php: String,
    /// The composer binary on the host (Magento's updates run through it).
    pub composer: String,
    /// Slugs never updated automatically.
    pub hold: Vec<String>,
    pub checks: Vec<Check>,
    /// Globs relative to the CMS root left out of file snapshots (on top of the CMS's own).
    pub backup_exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SshSettings {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
}

/// An HTTP check against a site: `path` answers `status` and contains / lacks some texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub path: String,
    pub status: Option<u16>,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
}

impl From<RawCheck> for Check {
    fn from(raw: RawCheck) -> Check {
        Check {
            path: raw.path,
            status: raw.status,
            contains: raw.contains,
            not_contains: raw.not_contains,
        }
    }
}

impl Inventory {
    /// Reads and validates the inventory at `path`.
    pub fn load(path: &Path) -> Result<Inventory, InputError> {
        let source = YamlSource::read(path, "inventory")?;
        Inventory::from_source(&source)
    }

    pub fn from_source(source: &YamlSource) -> Result<Inventory, InputError> {
        Inventory::from_source_with_env(source, &crate::env_vars::process_env)
    }

    /// Like [`Inventory::from_source`], with `${VAR}` looked up in `lookup`.
    pub fn from_source_with_env(
        source: &YamlSource,
        lookup: crate::env_vars::ReadVar<'_>,
    ) -> Result<Inventory, InputError> {
        let raw: RawInventory = if source.text.trim().is_empty() {
            RawInventory::default()
        } else {
            source.parse_expanding(lookup)?
        };
        validate(source, raw)
    }

    /// Names of the sites in `group`, in inventory order.
    pub fn sites_in_group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Site> + 'a {
        self.sites
            .values()
            .filter(move |s| s.groups.iter().any(|g| g == group))
    }
}

fn validate(source: &YamlSource, raw: RawInventory) -> Result<Inventory, InputError> {
    let key = Segment::key;
    let settings = raw.settings.unwrap_or_default();
    if settings.forks == Some(0) {
        return Err(source
            .error_at(
                "`forks` must be at least 1",
                &[key("settings"), key("forks")],
                Target::Value,
            )
            .with_hint("forks is how many sites are worked on at once"));
    }
    if settings.max_sessions == Some(0) {
        return Err(source.error_at(
            "`max_sessions` must be at least 1",
            &[key("settings"), key("max_sessions")],
            Target::Value,
        ));
    }
    let retention = retention_policy(source, settings.retention)?;
    let sources = match settings.sources {
        None => vec![Source::WordpressOrg {
            api: DEFAULT_WORDPRESS_ORG_API.to_owned(),
        }],
        Some(list) => list
            .into_iter()
            .map(|s| match s {
                RawSource::WordpressOrg(api) => Source::WordpressOrg {
                    api: api.unwrap_or_else(|| DEFAULT_WORDPRESS_ORG_API.to_owned()),
                },
                RawSource::Repository(r)
                    if r.starts_with("http://") || r.starts_with("https://") =>
                {
                    Source::Repository(r)
                }
                RawSource::Repository(r) => {
                    Source::Repository(expand_tilde(&r).to_string_lossy().into_owned())
                }
            })
            .collect(),
    };
    let notify = notify::validate(source, settings.notify)?;
    let report = report_settings(source, settings.report)?;
    let repository = repository::validate(source, "repository", settings.repository)?;
    let offsite = repository::validate(source, "offsite", settings.offsite)?;
    if offsite.is_some() && repository.is_none() {
        return Err(source
            .error_at(
                "`settings.offsite` copies the snapshots of `settings.repository`, which is not set",
                &[Segment::key("settings"), Segment::key("offsite")],
                Target::Key { occurrence: 1 },
            )
            .with_hint("add `settings.repository` (a local folder, say) and keep `offsite` as its copy"));
    }
    let settings = Settings {
        store: settings
            .store
            .as_deref()
            .map(expand_tilde)
            .unwrap_or_else(default_store),
        forks: settings.forks.unwrap_or(DEFAULT_FORKS),
        sources,
        retention,
        connect_timeout: settings
            .connect_timeout
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        max_sessions: settings.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS),
        deadlines: {
            let mut deadlines = crate::remote::Deadlines::default();
            for (value, name, slot) in [
                (
                    settings.command_timeout,
                    "command_timeout",
                    &mut deadlines.command,
                ),
                (
                    settings.transfer_stall_timeout,
                    "transfer_stall_timeout",
                    &mut deadlines.transfer_idle,
                ),
            ] {
                match value {
                    Some(0) => {
                        return Err(source.error_at(
                            format!("`{name}` must be at least 1 second"),
                            &[Segment::key("settings"), Segment::key(name)],
                            Target::Value,
                        ))
                    }
                    Some(secs) => *slot = Duration::from_secs(secs),
                    None => {}
                }
            }
            deadlines
        },
        verify_delay: match settings.verify_delay {
            Some(secs) if !(0.0..=600.0).contains(&secs) => {
                return Err(source.error_at(
                    "`verify_delay` must be between 0 and 600 seconds",
                    &[Segment::key("settings"), Segment::key("verify_delay")],
                    Target::Value,
                ))
            }
            Some(secs) => Duration::from_secs_f64(secs),
            None => DEFAULT_VERIFY_DELAY,
        },
        notify,
        report,
        repository,
        offsite,
    };

    let groups_raw = raw.groups.unwrap_or_default();
    if let Some(dup) = groups_raw.duplicates.first() {
        return Err(source.error_at(
            format!("group `{dup}` is defined twice"),
            &[key("groups"), key(dup)],
            Target::Key { occurrence: 2 },
        ));
    }
    let groups: IndexMap<String, Group> = groups_raw
        .entries
        .into_iter()
        .map(|(name, g)| {
            (
                name,
                Group {
                    client: g.client,
                    contact: g.contact,
                },
            )
        })
        .collect();
    for name in groups.keys() {
        check_name(source, name, "group", &[key("groups"), key(name)])?;
    }

    let sites_raw = raw.sites.unwrap_or_default();
    if let Some(dup) = sites_raw.duplicates.first() {
        return Err(source
            .error_at(
                format!("site `{dup}` is defined twice"),
                &[key("sites"), key(dup)],
                Target::Key { occurrence: 2 },
            )
            .with_hint("site names must be unique; rename one of them"));
    }
    let defaults = raw.defaults.unwrap_or_default();
    let mut sites = IndexMap::new();
    // Every site is checked, and all their errors are reported together.
    let mut errors = Vec::new();
    for (name, own) in sites_raw.entries {
        let here = [key("sites"), key(&name)];
        if let Err(e) = check_name(source, &name, "site", &here) {
            errors.push(e);
            continue;
        }
        if groups.contains_key(&name) {
            errors.push(
                source
                    .error_at(
                        format!("`{name}` is both a site and a group"),
                        &here,
                        Target::Key { occurrence: 1 },
                    )
                    .with_hint("`--limit` and `hosts:` could not tell them apart; rename one"),
            );
            continue;
        }
        match build_site(source, &name, own, &defaults, &groups) {
            Ok(site) => {
                sites.insert(name, site);
            }
            Err(e) => errors.push(e),
        }
    }
    InputError::check(errors)?;

    Ok(Inventory {
        file: source.path.clone(),
        settings,
        groups,
        sites,
    })
}

/// Names become directory names in the store and appear in patterns: keep them plain.
fn check_name(
    source: &YamlSource,
    name: &str,
    what: &str,
    path: &[Segment],
) -> Result<(), InputError> {
    let plain = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        Ok(())
    } else {
        Err(source
            .error_at(
                format!("{what} name `{name}` may only hold letters, digits, `-`, `_` and `.`"),
                path,
                Target::Key { occurrence: 1 },
            )
            .with_hint(format!(
                "{what} names are used as directory names and in patterns"
            )))
    }
}

fn build_site(
    source: &YamlSource,
    name: &str,
    own: RawSite,
    defaults: &RawSite,
    groups: &IndexMap<String, Group>,
) -> Result<Site, InputError> {
    let key = Segment::key;
    let own_groups = own.groups.is_some();
    let merged = own.merged_over(defaults);
    let site_key = [key("sites"), key(name)];
    let missing = |what: &str, example: &str| {
        source
            .error_at(
                format!("site `{name}` has no `{what}`"),
                &site_key,
                Target::Key { occurrence: 1 },
            )
            .with_hint(format!(
                "add `{what}: {example}` to the site, or to `defaults:` for every site"
            ))
    };
    // Each mistake of the site is collected; the site fails with all of them.
    let mut errors = Vec::new();
    let mut required = |value: Option<String>, what: &str, example: &str| match value {
        Some(v) => Some(v),
        None => {
            errors.push(missing(what, example));
            None
        }
    };
    let host = required(merged.host, "host", "web1.example.com");
    let path = required(merged.path, "path", "/var/www/site/public_html");
    let url = required(merged.url, "url", "https://example.com");

    // Where a merged value came from decides where an error about it points.
    let origin = |field: &str, own_has: bool| -> Vec<Segment> {
        if own_has {
            vec![key("sites"), key(name), key(field)]
        } else {
            vec![key("defaults"), key(field)]
        }
    };

    if let Some(host) = &host {
        if host.trim().is_empty() || host.contains(char::is_whitespace) {
            errors.push(source.error_at(
                format!("site `{name}`: `host` must be a host name or address, got `{host}`"),
                &[key("sites"), key(name), key("host")],
                Target::Value,
            ));
        }
    }
    if let Some(path) = &path {
        if !path.starts_with('/') {
            errors.push(
                source
                    .error_at(
                        format!("site `{name}`: `path` must be absolute, got `{path}`"),
                        &[key("sites"), key(name), key("path")],
                        Target::Value,
                    )
                    .with_hint("the CMS root on the host, e.g. /var/www/acme/public_html"),
            );
        }
    }
    if let Some(url) = &url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => errors.push(
                source
                    .error_at(
                        format!("site `{name}`: `url` must be an http(s) URL, got `{url}`"),
                        &[key("sites"), key(name), key("url")],
                        Target::Value,
                    )
                    .with_hint("the site's public address, e.g. https://acme.example.com"),
            ),
        }
    }

    let site_groups = merged.groups.unwrap_or_default();
    for (i, group) in site_groups.iter().enumerate() {
        if !groups.contains_key(group) {
            let mut at = origin("groups", own_groups);
            at.push(Segment::Index(i));
            let hint = match did_you_mean(group, groups.keys().map(String::as_str)) {
                Some(g) => format!("did you mean `{g}`?"),
                None => format!(
                    "define it under `groups:`, e.g. `groups: {{ {group}: {{ client: … }} }}`"
                ),
            };
            errors.push(
                source
                    .error_at(
                        format!("site `{name}` is in group `{group}`, which is not defined"),
                        &at,
                        Target::Value,
                    )
                    .with_hint(hint),
            );
        }
    }

    let ssh = merged.ssh.unwrap_or_default();
    let checks = merged.checks.unwrap_or_default();
    for (i, check) in checks.iter().enumerate() {
        if !check.path.starts_with('/') {
            errors.push(source.error_at(
                format!(
                    "site `{name}`: a check's `path` must start with `/`, got `{}`",
                    check.path
                ),
                &[
                    key("sites"),
                    key(name),
                    key("checks"),
                    Segment::Index(i),
                    key("path"),
                ],
                Target::Value,
            ));
        }
    }

    InputError::check(errors)?;
    let (Some(host), Some(path), Some(url)) = (host, path, url) else {
        unreachable!("a missing host, path or url is an error above");
    };
    Ok(Site {
        name: name.to_owned(),
        host,
        path: path.trim_end_matches('/').to_owned().replace("//", "/"),
        url: url.trim_end_matches('/').to_owned(),
        cms: merged.cms,
        groups: site_groups,
        ssh: SshSettings {
            user: ssh.user,
            port: ssh.port,
            identity_file: ssh.identity_file.as_deref().map(expand_tilde),
            known_hosts_file: ssh.known_hosts_file.as_deref().map(expand_tilde),
        },
        php: merged.php.unwrap_or_else(|| "php".to_owned()),
        composer: merged.composer.unwrap_or_else(|| "composer".to_owned()),
        hold: merged.hold.unwrap_or_default(),
        checks: checks.into_iter().map(Check::from).collect(),
        backup_exclude: merged.backup.and_then(|b| b.exclude).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Inventory, InputError> {
        Inventory::from_source(&YamlSource::from_text(Path::new("inv.yml"), text))
    }

    const SITE: &str =
        "sites:\n  a:\n    host: h\n    path: /srv/a/\n    url: https://a.example/\n";

    #[test]
    fn retention_is_one_rule_set_or_rule_sets_by_label() {
        let inv = load(&format!(
            "settings:\n  retention: {{ keep_last: 5, keep_daily: 2 }}\n{SITE}"
        ))
        .unwrap();
        let r = &inv.settings.retention;
        assert!(r.labels.is_empty());
        assert_eq!(
            (
                r.default.keep_last,
                r.default.keep_daily,
                r.default.keep_weekly
            ),
            (5, 2, 4)
        );

        let inv = load(&format!(
            "settings:\n  retention:\n    nightly: {{ keep_daily: 7, keep_weekly: 4 }}\n    pre-update: {{ keep_last: 3 }}\n    default: {{ keep_last: 2 }}\n{SITE}"
        ))
        .unwrap();
        let r = &inv.settings.retention;
        let (name, nightly) = r.for_label(Some("nightly"));
        assert_eq!(name, "nightly");
        assert_eq!(
            (nightly.keep_last, nightly.keep_daily, nightly.keep_weekly),
            (0, 7, 4)
        );
        assert_eq!(r.for_label(Some("pre-update")).1.keep_last, 3);
        let (name, other) = r.for_label(Some("manual"));
        assert_eq!((name, other.keep_last), ("default", 2));
        assert_eq!(r.for_label(None).0, "default");
    }

    #[test]
    fn retention_errors_point_at_the_key() {
        let error = load(&format!(
            "settings:\n  retention: {{ keep_last: 5, keep_hourly: 2 }}\n{SITE}"
        ))
        .unwrap_err();
        assert!(error.to_string().contains("keep_hourly"), "{error}");
        assert!(
            error.location().unwrap().contains("inv.yml:2:"),
            "{:?}",
            error.location()
        );

        let error = load(&format!(
            "settings:\n  retention:\n    nightly: {{ keep_daily: 7 }}\n    keep_last: 3\n{SITE}"
        ))
        .unwrap_err();
        assert!(error.to_string().contains("keep_last"), "{error}");
        assert!(
            error.location().unwrap().contains("inv.yml:4:"),
            "{:?}",
            error.location()
        );

        let error = load(&format!(
            "settings:\n  retention:\n    nightly: {{ keep_dayly: 7 }}\n{SITE}"
        ))
        .unwrap_err();
        assert!(
            error.location().unwrap().contains("inv.yml:3:"),
            "{:?}",
            error.location()
        );
    }

    #[test]
    fn merges_defaults_key_by_key() {
        let inv = load(
            "defaults:\n  ssh: { user: deploy, port: 2222 }\n  php: php8.2\nsites:\n  a:\n    host: h\n    path: /srv/a/\n    url: https://a.example/\n    ssh: { user: acme }\n",
        )
        .unwrap();
        let a = &inv.sites["a"];
        assert_eq!(a.ssh.user.as_deref(), Some("acme"));
        assert_eq!(a.ssh.port, Some(2222));
        assert_eq!(a.php, "php8.2");
        assert_eq!(a.path, "/srv/a");
        assert_eq!(a.url, "https://a.example");
    }

    #[test]
    fn undefined_group_points_at_the_reference() {
        let err = load("groups:\n  acme: {}\nsites:\n  a:\n    host: h\n    path: /a\n    url: http://a\n    groups: [acme, acne2]\n").unwrap_err();
        assert_eq!(err.location().unwrap(), "inv.yml:8:20");
        assert!(err.message.contains("group `acne2`"), "{}", err.message);
    }

    #[test]
    fn deadlines_default_and_are_configurable_but_never_zero() {
        let site = "sites:\n  a:\n    host: h\n    path: /a\n    url: http://a\n";
        let inv = load(site).unwrap();
        assert_eq!(inv.settings.deadlines, crate::remote::Deadlines::default());
        let inv = load(&format!(
            "settings:\n  command_timeout: 7200\n  transfer_stall_timeout: 60\n{site}"
        ))
        .unwrap();
        assert_eq!(inv.settings.deadlines.command, Duration::from_secs(7200));
        assert_eq!(
            inv.settings.deadlines.transfer_idle,
            Duration::from_secs(60)
        );
        let err = load(&format!("settings:\n  command_timeout: 0\n{site}")).unwrap_err();
        assert_eq!(err.location().unwrap(), "inv.yml:2:20");
        assert!(err
            .message
            .contains("`command_timeout` must be at least 1 second"));
    }

    #[test]
    fn missing_host_points_at_the_site() {
        let err = load("sites:\n  a:\n    path: /a\n    url: http://a\n").unwrap_err();
        assert_eq!(err.location().unwrap(), "inv.yml:2:3");
        assert_eq!(err.message, "site `a` has no `host`");
    }
}
