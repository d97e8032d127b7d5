//! Versions that broke a site, remembered so that the next runs do not apply them again.
//!
//! When `mode: each` rolls a component back alone, the version it brought is written to
//! `<store>/held-versions/<site>.json` (written aside, then renamed: a reader never sees
//! half a file). Planning takes those versions out of what the sources offer for that site:
//! a newer version a source offers is taken as usual, and when none is, the plan says
//! `held: plugin client-widgets: 1.1.0 broke this site on 2026-11-30 (…)`. `tend run
//! --retry-held` plans as if nothing were remembered; a retried version that breaks the
//! site again is remembered again, one that verifies is installed and so no longer held.
//! The file is plain JSON, per site, so a version can also be forgiven by editing it.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::{Change, Held};
use super::{ComponentType, Offer};
use crate::version::Version;

/// One version of one component that broke the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenVersion {
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub version: String,
    /// The day it broke the site (UTC, `YYYY-MM-DD`).
    pub broke_on: String,
    /// What it broke, as the run said it.
    pub problem: String,
}

impl BrokenVersion {
    /// The held entry's reason: `1.1.0 broke this site on 2026-11-30 (…)`.
    pub fn reason(&self) -> String {
        format!(
            "{} broke this site on {} ({}); `tend run --retry-held` tries it again",
            self.version, self.broke_on, self.problem
        )
    }
}

/// The remembered versions of every site, in the store.
#[derive(Debug, Clone)]
pub struct HeldVersions {
    dir: PathBuf,
}

impl HeldVersions {
    /// Under the store folder (`settings.store`).
    pub fn new(store: &Path) -> HeldVersions {
        HeldVersions {
            dir: store.join("held-versions"),
        }
    }

    fn file_of(&self, site: &str) -> PathBuf {
        self.dir.join(format!("{site}.json"))
    }

    /// The versions that broke `site` (none when nothing was ever remembered).
    pub fn read(&self, site: &str) -> io::Result<Vec<BrokenVersion>> {
        let path = self.file_of(site);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// Remembers that `broken` broke `site` (replacing what was remembered of the same
    /// version).
    pub fn remember(&self, site: &str, broken: BrokenVersion) -> io::Result<()> {
        let mut all = self.read(site)?;
        all.retain(|b| {
            !(b.kind == broken.kind && b.slug == broken.slug && b.version == broken.version)
        });
        all.push(broken);
        std::fs::create_dir_all(&self.dir)?;
        let path = self.file_of(site);
        let tmp = self
            .dir
            .join(format!(".{site}.json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(&all).expect("held versions always serialize");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// Takes the `broken` versions out of `offers`; returns them, to be said held when the
/// plan then takes nothing newer for their component.
pub fn withhold<'b>(
    offers: &mut Vec<Offer>,
    broken: &'b [BrokenVersion],
) -> Vec<&'b BrokenVersion> {
    let mut withheld = Vec::new();
    offers.retain(|offer| {
        let found = broken.iter().find(|b| {
            b.kind == offer.kind && b.slug == offer.slug && same_version(&b.version, &offer.version)
        });
        if let Some(b) = found {
            if !withheld.contains(&b) {
                withheld.push(b);
            }
        }
        found.is_none()
    });
    withheld
}

/// The held entries of the `withheld` versions: those newer than what is installed, whose
/// component the plan (`changes`) leaves as it is.
pub fn held_entries(
    withheld: &[&BrokenVersion],
    changes: &[Change],
    installed: impl Fn(ComponentType, &str) -> Option<String>,
) -> Vec<Held> {
    let mut out = Vec::new();
    for broken in withheld {
        if changes
            .iter()
            .any(|c| c.kind == broken.kind && c.slug == broken.slug)
        {
            continue;
        }
        let Some(from) = installed(broken.kind, &broken.slug) else {
            continue;
        };
        let newer = match (Version::parse(&broken.version), Version::parse(&from)) {
            (Ok(held), Ok(now)) => held > now,
            _ => broken.version != from,
        };
        if newer {
            out.push(Held {
                kind: broken.kind,
                slug: broken.slug.clone(),
                from,
                available: Some(broken.version.clone()),
                reason: broken.reason(),
            });
        }
    }
    out
}

fn same_version(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(slug: &str, version: &str) -> Offer {
        Offer {
            cms: crate::cms::wordpress::KIND,
            kind: ComponentType::Plugin,
            slug: slug.into(),
            version: version.into(),
            package: format!("{slug}.{version}.zip"),
            sha256: None,
            source: "repo".into(),
            released: None,
        }
    }

    fn broken(slug: &str, version: &str) -> BrokenVersion {
        BrokenVersion {
            kind: ComponentType::Plugin,
            slug: slug.into(),
            version: version.into(),
            broke_on: "2026-11-30".into(),
            problem: "home page (/): answered 500, expected 200".into(),
        }
    }

    #[test]
    fn remembered_versions_round_trip_and_replace_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let held = HeldVersions::new(dir.path());
        assert!(held.read("blog").unwrap().is_empty());
        held.remember("blog", broken("widgets", "1.1.0")).unwrap();
        let mut again = broken("widgets", "1.1.0");
        again.broke_on = "2026-12-01".into();
        held.remember("blog", again.clone()).unwrap();
        held.remember("blog", broken("other", "2.0")).unwrap();
        let read = held.read("blog").unwrap();
        assert_eq!(read.len(), 2);
        assert!(read.contains(&again));
        assert!(held.read("shop").unwrap().is_empty());
    }

    #[test]
    fn a_broken_version_is_withheld_and_a_newer_one_stays_offered() {
        let remembered = [broken("widgets", "1.1.0")];
        let mut offers = vec![
            offer("widgets", "1.1"),
            offer("widgets", "1.2.0"),
            offer("akismet", "5.5"),
        ];
        let withheld = withhold(&mut offers, &remembered);
        assert_eq!(withheld, [&remembered[0]]);
        let left: Vec<&str> = offers.iter().map(|o| o.version.as_str()).collect();
        assert_eq!(left, ["1.2.0", "5.5"]);
    }

    #[test]
    fn held_only_when_nothing_newer_is_planned_and_it_is_newer_than_installed() {
        let remembered = [broken("widgets", "1.1.0")];
        let withheld: Vec<&BrokenVersion> = remembered.iter().collect();
        let installed = |v: &'static str| move |_: ComponentType, _: &str| Some(v.to_owned());
        let held = held_entries(&withheld, &[], installed("1.0.0"));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].available.as_deref(), Some("1.1.0"));
        assert!(
            held[0]
                .reason
                .starts_with("1.1.0 broke this site on 2026-11-30"),
            "{}",
            held[0].reason
        );
        assert!(held_entries(&withheld, &[], installed("1.1.0")).is_empty());
        let planned = Change {
            kind: ComponentType::Plugin,
            slug: "widgets".into(),
            from: "1.0.0".into(),
            to: "1.2.0".into(),
            offer: offer("widgets", "1.2.0"),
        };
        assert!(held_entries(&withheld, &[planned], installed("1.0.0")).is_empty());
    }
}
