//! A private package repository: a folder or http(s) URL holding `index.json`, for the
//! premium plugins agencies buy and the builds they make themselves.
//!
//! Each package names its CMS, type, slug, version, a `url` (relative to the index, or
//! absolute) and the sha256 the zip must have; a package whose sha256 does not match is
//! refused when it is fetched. [`index_folder`] writes `index.json` for a folder of zips by
//! reading the plugin and theme headers inside them, the way WordPress reads them.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ComponentType, Offer};
use crate::cms::wordpress::parse::file_headers;
use crate::cms::{wordpress, CmsKind};

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
pub async fn read_index(location: &Location, client: &reqwest::Client) -> Result<Index, String> {
    let text = match location {
        Location::Folder(dir) => {
            let path = dir.join("index.json");
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        Location::Url(base) => {
            let url = format!("{base}index.json");
            let response = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("cannot reach {url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status().as_u16()));
            }
            response
                .text()
                .await
                .map_err(|e| format!("reading {url}: {e}"))?
        }
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}/index.json is not a package index: {e}",
            location.label().trim_end_matches('/')
        )
    })
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
        })
        .collect()
}

/// Checks `data` against the sha256 a source promised.
pub fn check_sha256(data: &[u8], expected: &str) -> Result<(), String> {
    let actual = crate::backup::archive::hex(&Sha256::digest(data));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!(
            "sha256 mismatch: the package is {actual}, the repository says {expected}"
        ))
    }
}

/// What a zip holds, read from its headers: a WordPress core, plugin or theme.
pub fn describe_zip(bytes: &[u8]) -> Result<(ComponentType, String, String), String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("not a zip: {e}"))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    let top = names
        .iter()
        .filter_map(|n| n.split('/').next())
        .find(|t| !t.is_empty())
        .ok_or("the zip is empty")?
        .to_owned();
    let read = |archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
                name: &str|
     -> Result<String, String> {
        let mut file = archive.by_name(name).map_err(|e| format!("{name}: {e}"))?;
        let mut head = Vec::new();
        file.by_ref()
            .take(8192)
            .read_to_end(&mut head)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(String::from_utf8_lossy(&head).into_owned())
    };
    if top == "wordpress"
        && names
            .iter()
            .any(|n| n == "wordpress/wp-includes/version.php")
    {
        let mut file = archive
            .by_name("wordpress/wp-includes/version.php")
            .map_err(|e| e.to_string())?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| e.to_string())?;
        let core = crate::cms::wordpress::parse::parse_version_php(&text)?;
        return Ok((ComponentType::Core, "wordpress".to_owned(), core.version));
    }
    let style = format!("{top}/style.css");
    if names.contains(&style) {
        let headers = file_headers(&read(&mut archive, &style)?, &["Theme Name", "Version"]);
        if headers.contains_key("Theme Name") {
            let version = headers
                .get("Version")
                .cloned()
                .ok_or_else(|| format!("{style} has no Version header"))?;
            return Ok((ComponentType::Theme, top, version));
        }
    }
    let candidates: Vec<String> = names
        .iter()
        .filter(|n| {
            n.starts_with(&format!("{top}/")) && n.ends_with(".php") && n.matches('/').count() == 1
        })
        .cloned()
        .collect();
    for name in candidates {
        let headers = file_headers(&read(&mut archive, &name)?, &["Plugin Name", "Version"]);
        if headers.contains_key("Plugin Name") {
            let version = headers
                .get("Version")
                .cloned()
                .ok_or_else(|| format!("{name} has no Version header"))?;
            return Ok((ComponentType::Plugin, top, version));
        }
    }
    Err(format!(
        "no WordPress core, plugin or theme header found under {top}/"
    ))
}

/// Writes `index.json` for the zips in `dir` (and its subfolders); returns the index.
pub fn index_folder(dir: &Path) -> Result<Index, String> {
    let mut zips = Vec::new();
    collect_zips(dir, dir, &mut zips)?;
    zips.sort();
    let mut packages = Vec::new();
    for relative in zips {
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (kind, slug, version) =
            describe_zip(&bytes).map_err(|e| format!("{}: {e}", relative.display()))?;
        packages.push(Package {
            cms: wordpress::KIND,
            kind,
            slug,
            version,
            url: relative.to_string_lossy().into_owned(),
            sha256: crate::backup::archive::hex(&Sha256::digest(&bytes)),
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
    use std::io::Write;

    fn zip_with(files: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            let options = zip::write::SimpleFileOptions::default();
            for (name, content) in files {
                zip.start_file(*name, options).unwrap();
                zip.write_all(content.as_bytes()).unwrap();
            }
            zip.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn reads_what_a_zip_holds_from_its_headers() {
        let plugin = zip_with(&[
            ("premium-seo/", ""),
            ("premium-seo/includes/x.php", "<?php"),
            (
                "premium-seo/premium-seo.php",
                "<?php\n/*\n * Plugin Name: Premium SEO\n * Version: 3.2.1\n */",
            ),
        ]);
        assert_eq!(
            describe_zip(&plugin).unwrap(),
            (ComponentType::Plugin, "premium-seo".into(), "3.2.1".into())
        );
        let theme = zip_with(&[(
            "agency/style.css",
            "/*\nTheme Name: Agency\nVersion: 2.0\n*/",
        )]);
        assert_eq!(
            describe_zip(&theme).unwrap(),
            (ComponentType::Theme, "agency".into(), "2.0".into())
        );
        let core = zip_with(&[(
            "wordpress/wp-includes/version.php",
            "<?php\n$wp_version = '6.8.7';\n$wp_db_version = 60421;\n",
        )]);
        assert_eq!(
            describe_zip(&core).unwrap(),
            (ComponentType::Core, "wordpress".into(), "6.8.7".into())
        );
        assert!(describe_zip(&zip_with(&[("junk/readme.txt", "hi")])).is_err());
        assert!(describe_zip(b"not a zip").is_err());
    }

    #[test]
    fn indexes_a_folder_and_refuses_a_wrong_checksum() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        let plugin = zip_with(&[(
            "premium-seo/premium-seo.php",
            "<?php\n/* Plugin Name: Premium SEO\nVersion: 3.2.1 */",
        )]);
        std::fs::write(dir.path().join("plugins/premium-seo.3.2.1.zip"), &plugin).unwrap();
        let index = index_folder(dir.path()).unwrap();
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
        assert!(check_sha256(&plugin, offers[0].sha256.as_deref().unwrap()).is_ok());
        let mut tampered = plugin.clone();
        tampered[10] ^= 1;
        assert!(
            check_sha256(&tampered, offers[0].sha256.as_deref().unwrap())
                .unwrap_err()
                .contains("sha256 mismatch")
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
