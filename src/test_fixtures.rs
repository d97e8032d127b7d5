//! Small values the unit tests of several modules build alike: a zip in memory and a
//! snapshot manifest. Compiled for tests only.

use std::io::Write;

use crate::backup::manifest::{Manifest, Part, FORMAT};

/// A zip holding `files` (path inside the zip, content).
pub fn zip_with(files: &[(&str, &str)]) -> Vec<u8> {
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

/// The manifest of a WordPress 6.1.9 snapshot `id` of `site` with these parts.
pub fn manifest(site: &str, id: &str, files: Option<Part>, database: Option<Part>) -> Manifest {
    Manifest {
        format: FORMAT,
        id: id.to_owned(),
        site: site.to_owned(),
        created: chrono::Utc::now(),
        label: None,
        host: "web1".into(),
        path: "/srv/www".into(),
        cms: crate::cms::wordpress::KIND,
        version: "6.1.9".into(),
        db_version: None,
        plugins: Vec::new(),
        themes: Vec::new(),
        files,
        database,
        table_prefix: None,
        excludes: Vec::new(),
        tend_version: "test".into(),
        duration_ms: 0,
        warnings: Vec::new(),
    }
}
