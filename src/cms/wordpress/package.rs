//! What a WordPress package zip holds (core, plugin or theme, its slug and version), read
//! from the files inside it the way WordPress reads them: for indexing a private
//! repository's folder of zips.

use std::io::Read;

use super::parse::{file_headers, parse_version_php};
use crate::cms::DescribedPackage;
use crate::offer::ComponentType;

fn described(kind: ComponentType, slug: String, version: String) -> DescribedPackage {
    DescribedPackage {
        kind,
        slug,
        version,
    }
}

/// What a zip holds, read from its headers: a WordPress core, plugin or theme; `None` when
/// it has none of their headers.
pub fn describe(bytes: &[u8]) -> Result<Option<DescribedPackage>, String> {
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
        let core = parse_version_php(&text)?;
        return Ok(Some(described(
            ComponentType::Core,
            "wordpress".to_owned(),
            core.version,
        )));
    }
    let style = format!("{top}/style.css");
    if names.contains(&style) {
        let headers = file_headers(&read(&mut archive, &style)?, &["Theme Name", "Version"]);
        if headers.contains_key("Theme Name") {
            let version = headers
                .get("Version")
                .cloned()
                .ok_or_else(|| format!("{style} has no Version header"))?;
            return Ok(Some(described(ComponentType::Theme, top, version)));
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
            return Ok(Some(described(ComponentType::Plugin, top, version)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::zip_with;

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
            describe(&plugin).unwrap().unwrap(),
            described(ComponentType::Plugin, "premium-seo".into(), "3.2.1".into())
        );
        let theme = zip_with(&[(
            "agency/style.css",
            "/*\nTheme Name: Agency\nVersion: 2.0\n*/",
        )]);
        assert_eq!(
            describe(&theme).unwrap().unwrap(),
            described(ComponentType::Theme, "agency".into(), "2.0".into())
        );
        let core = zip_with(&[(
            "wordpress/wp-includes/version.php",
            "<?php\n$wp_version = '6.8.7';\n$wp_db_version = 60421;\n",
        )]);
        assert_eq!(
            describe(&core).unwrap().unwrap(),
            described(ComponentType::Core, "wordpress".into(), "6.8.7".into())
        );
        assert_eq!(describe(&zip_with(&[("junk/readme.txt", "hi")])), Ok(None));
        assert!(describe(b"not a zip").is_err());
    }
}
