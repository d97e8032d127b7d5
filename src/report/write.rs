//! Putting reports on disk: one file per client and format, each written atomically.
//!
//! A report is written to a temporary file in the output folder, flushed to disk, then
//! renamed over its final name: a reader (a mail job, a web server) never sees half a
//! report, and a crash leaves the previous month's file intact. File names come from
//! [`super::file_name`], unique per invocation so that two clients never share one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::file_name::{file_name, unique_slugs};
use super::{html, markdown, ClientReport, Month};

/// A format `tend report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Md,
    Html,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Json => "json",
        }
    }

    pub fn render(self, report: &ClientReport) -> String {
        match self {
            Format::Md => markdown::render(report),
            Format::Html => html::render(report),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(report)
                    .expect("a report serializes: plain data with string keys");
                text.push('\n');
                text
            }
        }
    }
}

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub client: String,
    pub format: Format,
    pub file: PathBuf,
    pub sites: usize,
}

/// A file that could not be written.
#[derive(Debug)]
pub struct WriteError {
    pub file: PathBuf,
    pub error: io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.file.display(), self.error)
    }
}

/// Writes every report in every format into `dir` (created if missing), in report order.
pub fn write_all(
    reports: &[ClientReport],
    formats: &[Format],
    month: Month,
    dir: &Path,
) -> Result<Vec<Written>, WriteError> {
    fs::create_dir_all(dir).map_err(|error| WriteError {
        file: dir.to_path_buf(),
        error,
    })?;
    let slugs = unique_slugs(reports.iter().map(|r| r.client.as_str()));
    let mut written = Vec::new();
    for (report, slug) in reports.iter().zip(&slugs) {
        for &format in formats {
            let file = dir.join(file_name(slug, month, format.extension()));
            write_atomically(&file, format.render(report).as_bytes()).map_err(|error| {
                WriteError {
                    file: file.clone(),
                    error,
                }
            })?;
            written.push(Written {
                client: report.client.clone(),
                format,
                file,
                sites: report.sites.len(),
            });
        }
    }
    Ok(written)
}

/// Writes `contents` to `file` through a temporary file in the same folder and a rename.
fn write_atomically(file: &Path, contents: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(".tend-report-")
        .tempfile_in(dir)?;
    temporary.write_all(contents)?;
    // Reports hold no secrets (errors are masked when recorded): readable like any file.
    temporary
        .as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))?;
    temporary.as_file().sync_all()?;
    temporary.persist(file).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_file_whole_and_replaces_an_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("acme-ltd-2026-11.md");
        fs::write(&file, "old and longer than the new one").unwrap();
        write_atomically(&file, b"new").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
