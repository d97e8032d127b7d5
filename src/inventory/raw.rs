//! The inventory exactly as written in YAML: every key optional, unknown keys refused.
//!
//! These types exist only to be read (with positions for every error) and then validated
//! into [`super::Inventory`]. A site and `defaults` share [`RawSite`], so that `defaults` can
//! hold any site key and is merged key by key under each site.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::cms_kind::CmsKind;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    #[serde(default)]
    pub settings: Option<RawSettings>,
    #[serde(default)]
    pub defaults: Option<RawSite>,
    #[serde(default)]
    pub groups: Option<OrderedMap<RawGroup>>,
    #[serde(default)]
    pub sites: Option<OrderedMap<RawSite>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub store: Option<String>,
    pub forks: Option<usize>,
    pub sources: Option<Vec<RawSource>>,
    pub retention: Option<OrderedMap<RawRetentionEntry>>,
    /// Seconds to wait for an SSH connection before the site is reported unreachable.
    pub connect_timeout: Option<u64>,
    /// Seconds a remote command may run before it is abandoned (its step fails).
    pub command_timeout: Option<u64>,
    /// Seconds a transfer (snapshot, update files) may go without moving a byte.
    pub transfer_stall_timeout: Option<u64>,
    /// Channels opened at once on one SSH connection (sshd's MaxSessions is 10 by default).
    pub max_sessions: Option<usize>,
    /// Seconds HTTP checks wait after tend changed a site's PHP files (opcache revalidation).
    pub verify_delay: Option<f64>,
    /// Where to say how runs went (webhooks, e-mail).
    pub notify: Option<Vec<RawNotifier>>,
    /// What the monthly reports show of the agency.
    pub report: Option<RawReportSettings>,
    /// The snapshot repository (restic's format) new snapshots go to.
    pub repository: Option<RawRepository>,
    /// A second repository every new snapshot is copied to.
    pub offsite: Option<RawRepository>,
}

/// `settings.repository` / `settings.offsite`: where a restic-format repository is and how
/// to open it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepository {
    /// A local path, or `s3:https://endpoint/bucket/prefix`.
    pub location: Option<String>,
    /// A file (mode 0600) holding the repository's password.
    pub password_file: Option<String>,
    /// The password itself, only as `${VAR}`.
    pub password: Option<String>,
    /// Credentials and region of an S3 location.
    pub s3: Option<RawS3>,
}

/// `s3:` of a repository: its credentials (through `${VAR}`) and region.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub region: Option<String>,
}

/// `settings.report`: the agency's name and logo on the reports.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReportSettings {
    pub agency: Option<String>,
    /// An image file (PNG, JPEG, GIF, SVG or WebP), relative to the inventory's folder.
    pub logo: Option<String>,
}

/// One entry of `settings.notify`: exactly one of `webhook` and `email`, and `on`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifier {
    pub webhook: Option<String>,
    pub email: Option<RawEmail>,
    pub on: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    pub to: Option<Vec<String>>,
    pub from: Option<String>,
    pub smtp: Option<RawSmtp>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    pub tls: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Where new versions come from: `wordpress.org`, `{ wordpress.org: API_BASE_URL }` (a
/// mirror or a test server speaking the same API) or `{ repository: PATH_OR_URL }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSource {
    WordpressOrg(Option<String>),
    Repository(String),
}

impl<'de> Deserialize<'de> for RawSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = RawSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`wordpress.org`, `{ wordpress.org: API_URL }` or `{ repository: PATH_OR_URL }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSource, E> {
                match v {
                    "wordpress.org" => Ok(RawSource::WordpressOrg(None)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSource, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if found.is_some() {
                        return Err(de::Error::custom(
                            "a source is one of `wordpress.org` or `repository`, one per list entry",
                        ));
                    }
                    found = Some(match key.as_str() {
                        "repository" => RawSource::Repository(map.next_value::<String>()?),
                        "wordpress.org" => {
                            RawSource::WordpressOrg(Some(map.next_value::<String>()?))
                        }
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["repository", "wordpress.org"],
                            ))
                        }
                    });
                }
                found.ok_or_else(|| de::Error::missing_field("repository"))
            }
        }
        deserializer.deserialize_any(SourceVisitor)
    }
}

/// One entry of `settings.retention`: a count (`keep_last: 3`, the one-rule-set form) or a
/// label's rule set (`nightly: { keep_daily: 7 }`, the per-label form).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawRetentionEntry {
    Count(u32),
    Rules(RawRetention),
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub client: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub host: Option<String>,
    pub path: Option<String>,
    pub url: Option<String>,
    pub cms: Option<CmsKind>,
    pub groups: Option<Vec<String>>,
    pub ssh: Option<RawSsh>,
    pub php: Option<String>,
    /// The composer binary on the host (Magento updates).
    pub composer: Option<String>,
    pub hold: Option<Vec<String>>,
    pub checks: Option<Vec<RawCheck>>,
    pub backup: Option<RawBackup>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<String>,
    pub known_hosts_file: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Globs, relative to the CMS root, left out of file snapshots.
    pub exclude: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub path: String,
    pub status: Option<u16>,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub not_contains: Vec<String>,
}

impl RawSite {
    /// `self` over `defaults`, key by key: the site's own keys win; nested maps merge.
    pub fn merged_over(self, defaults: &RawSite) -> RawSite {
        RawSite {
            host: self.host.or_else(|| defaults.host.clone()),
            path: self.path.or_else(|| defaults.path.clone()),
            url: self.url.or_else(|| defaults.url.clone()),
            cms: self.cms.or(defaults.cms),
            groups: self.groups.or_else(|| defaults.groups.clone()),
            ssh: merge_nested(self.ssh, &defaults.ssh, |own, d| RawSsh {
                user: own.user.or_else(|| d.user.clone()),
                port: own.port.or(d.port),
                identity_file: own.identity_file.or_else(|| d.identity_file.clone()),
                known_hosts_file: own.known_hosts_file.or_else(|| d.known_hosts_file.clone()),
            }),
            php: self.php.or_else(|| defaults.php.clone()),
            composer: self.composer.or_else(|| defaults.composer.clone()),
            hold: self.hold.or_else(|| defaults.hold.clone()),
            checks: self.checks.or_else(|| defaults.checks.clone()),
            backup: merge_nested(self.backup, &defaults.backup, |own, d| RawBackup {
                exclude: own.exclude.or_else(|| d.exclude.clone()),
            }),
        }
    }
}

fn merge_nested<T: Clone>(
    own: Option<T>,
    default: &Option<T>,
    merge: impl Fn(T, &T) -> T,
) -> Option<T> {
    match (own, default) {
        (Some(own), Some(default)) => Some(merge(own, default)),
        (Some(own), None) => Some(own),
        (None, default) => default.clone(),
    }
}

/// A mapping that keeps its order and remembers keys written twice (YAML allows the parse;
/// we refuse it later, pointing at the second one).
#[derive(Debug)]
pub struct OrderedMap<V> {
    pub entries: IndexMap<String, V>,
    pub duplicates: Vec<String>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap {
            entries: IndexMap::new(),
            duplicates: Vec::new(),
        }
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = OrderedMap::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<V>()?;
                    if out.entries.contains_key(&key) {
                        out.duplicates.push(key);
                    } else {
                        out.entries.insert(key, value);
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(MapVisitor(std::marker::PhantomData))
    }
}
