//! A private package repository: a folder or http(s) URL holding `index.json`, for the
//! premium plugins agencies buy and the builds they make themselves.
//!
//! Each package names its CMS, type, slug, version, a `url` (relative to the index, or
//! absolute) and the sha256 the zip must have; a package whose sha256 does not match is
//! refused when it is fetched. [`index_folder`] writes `index.json` for a folder of zips by
//! asking each CMS what a zip holds (WordPress reads its plugin and theme headers).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ComponentType, Offer};
use crate::cms::{CmsKind, REGISTRY};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub packages: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub cms: CmsKind,
    #[serde(rename = "type")]
    pub kind: ComponentType,
    pub slug: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
    /// When the package was released (RFC 3339: `2026-11-29` or `2026-11-29T10:00:00Z`),
    /// for `min_age`; optional.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "released_date"
    )]
    pub released: Option<DateTime<Utc>>,
}

/// `released` as RFC 3339 allows it: a full date (midnight UTC) or a date-time with its
/// offset; written back as a date-time in UTC.
mod released_date {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(time.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 10)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| {
                format!("`released: {text}` is not an RFC 3339 date (2026-11-29) or date-time (2026-11-29T10:00:00Z)")
            })
    }

    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(time) => {
                serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Parses a `released` value as the index holds it (for `tend repo index --released`).
pub fn parse_released(text: &str) -> Result<DateTime<Utc>, String> {
    released_date::parse(text)
}

/// Where a repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Folder(PathBuf),
    Url(String),
}

impl Location {
    pub fn parse(text: &str) -> Location {
        if text.starts_with("http://") || text.starts_with("https://") {
            Location::Url(format!("{}/", text.trim_end_matches('/')))
        } else {
            Location::Folder(PathBuf::from(text))
        }
    }

    fn label(&self) -> String {
        match self {
            Location::Folder(p) => p.display().to_string(),
            Location::Url(u) => u.clone(),
        }
    }

    /// Where a package's `url` points: absolute URLs stay, relative ones are joined to the index.
    pub fn resolve(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/') {
            return url.to_owned();
        }
        match self {
            Location::Folder(p) => p.join(url).display().to_string(),
            Location::Url(base) => format!("{base}{url}"),
        }
    }
}

/// Reads the repository's index.
pub async fn read_index(
    location: &Location,
    client: &reqwest::Client,
) -> Result<Index, IndexError> {
    let text = match location {
        Location::Folder(dir) => {
            let path = dir.join("index.json");
            std::fs::read_to_string(&path).map_err(|e| IndexError::Unreadable {
                place: path.display().to_string(),
                detail: e.to_string(),
            })?
        }
        Location::Url(base) => {
            let url = format!("{base}index.json");
            let response = client
                .get(&url)
                .send()
                .await
                .map_err(|e| IndexError::Unreachable {
                    url: url.clone(),
                    detail: e.to_string(),
                })?;
            if !response.status().is_success() {
                return Err(IndexError::Status {
                    status: response.status().as_u16(),
                    url,
                });
            }
            response.text().await.map_err(|e| IndexError::Unreachable {
                url: url.clone(),
                detail: format!("reading the answer: {e}"),
            })?
        }
    };
    serde_json::from_str(&text).map_err(|e| IndexError::Invalid {
        place: format!("{}/index.json", location.label().trim_end_matches('/')),
        detail: e.to_string(),
    })
}

/// Why a repository's index could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("cannot read {place}: {detail}")]
    Unreadable { place: String, detail: String },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    /// Read, but not a package index (an unknown `cms`, a missing field, not JSON).
    #[error("{place} is not a package index: {detail}")]
    Invalid { place: String, detail: String },
}

/// The index's packages as offers.
pub fn offers(location: &Location, index: &Index) -> Vec<Offer> {
    index
        .packages
        .iter()
        .map(|p| Offer {
            cms: p.cms,
            kind: p.kind,
            slug: p.slug.clone(),
            version: p.version.clone(),
            package: location.resolve(&p.url),
            sha256: Some(p.sha256.to_ascii_lowercase()),
            source: location.label(),
            released: p.released,
        })
        .collect()
}

/// Writes `index.json` for the zips in `dir` (and its subfolders); returns the index.
///
/// Each package's `released` is, in this order: what the folder's previous `index.json`
/// said for the same file with the same sha256 (a date, once written, stays); `released`
/// when given (`tend repo index --released`); else the zip's modification time — when the
/// file was put in the folder, unless it was copied keeping its times.
pub fn index_folder(dir: &Path, released: Option<DateTime<Utc>>) -> Result<Index, String> {
    let mut zips = Vec::new();
    collect_zips(dir, dir, &mut zips)?;
    zips.sort();
    let previous: Vec<Package> = std::fs::read_to_string(dir.join("index.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Index>(&text).ok())
        .map(|index| index.packages)
        .unwrap_or_default();
    let mut packages = Vec::new();
    for relative in zips {
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (cms, described) = REGISTRY
            .describe_package(&bytes)
            .map_err(|e| format!("{}: {e}", relative.display()))?;
        let url = relative.to_string_lossy().into_owned();
        let sha256 = crate::backup::archive::hex(&Sha256::digest(&bytes));
        let kept = previous
            .iter()
            .find(|p| p.url == url && p.sha256 == sha256)
            .and_then(|p| p.released);
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        packages.push(Package {
            cms,
            kind: described.kind,
            slug: described.slug,
            version: described.version,
            url,
            sha256,
            released: Some(
                kept.or(released)
                    .unwrap_or(modified)
                    .with_nanosecond(0)
                    .unwrap_or(modified),
            ),
        });
    }
    let index = Index { packages };
    let json = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    let tmp = dir.join(".index.json.tmp");
    std::fs::write(&tmp, format!("{json}\n")).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join("index.json"))
        .map_err(|e| format!("writing index.json: {e}"))?;
    Ok(index)
}

fn collect_zips(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        if path.is_dir() {
            collect_zips(root, &path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::zip_with;

    #[test]
    fn indexes_a_folder_and_refuses_a_wrong_checksum() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        let plugin = zip_with(&[(
            "premium-seo/premium-seo.php",
            "<?php\n/* Plugin Name: Premium SEO\nVersion: 3.2.1 */",
        )]);
        std::fs::write(dir.path().join("plugins/premium-seo.3.2.1.zip"), &plugin).unwrap();
        let index = index_folder(dir.path(), None).unwrap();
        assert_eq!(index.packages.len(), 1);
        assert_eq!(index.packages[0].url, "plugins/premium-seo.3.2.1.zip");
        let written: Index =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).unwrap())
                .unwrap();
        assert_eq!(written, index);
        let location = Location::Folder(dir.path().to_path_buf());
        let offers = offers(&location, &index);
        assert_eq!(
            offers[0].package,
            dir.path()
                .join("plugins/premium-seo.3.2.1.zip")
                .display()
                .to_string()
        );
        // The digest is the file's: the cache checks downloads against it (package.rs).
        assert_eq!(
            offers[0].sha256.as_deref().unwrap(),
            crate::backup::archive::hex(&Sha256::digest(&plugin))
        );
    }

    #[test]
    fn resolves_package_urls_against_the_index() {
        let web = Location::parse("https://repo.example/tend");
        assert_eq!(
            web.resolve("plugins/a.zip"),
            "https://repo.example/tend/plugins/a.zip"
        );
        assert_eq!(
            web.resolve("https://cdn.example/a.zip"),
            "https://cdn.example/a.zip"
        );
    }
}
