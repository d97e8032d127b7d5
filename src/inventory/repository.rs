//! `settings.repository` and `settings.offsite`: where a restic-format snapshot repository
//! is and the password that opens it.
//!
//! The password is the only key to every backup in the repository, so it is never taken
//! in clear from the inventory (which lives in version control and is mailed around): it
//! comes from a file only its owner can read, or from the environment through `${VAR}`.
//! Once read it is a [`Password`], which never prints and is masked everywhere.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::cms::database::Password;
use crate::diagnostic::{InputError, Position};
use crate::paths::expand_tilde;
use crate::yaml_source::{locate, Segment, Target, YamlSource};

use super::raw::{RawRepository, RawS3};

/// One repository as the inventory names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySettings {
    pub location: RepositoryLocation,
    pub password: Password,
    /// Where the password came from, for messages (`password_file /etc/tend/repo.pass`).
    pub password_origin: String,
}

/// Where a repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryLocation {
    /// A folder on the runner.
    Local(PathBuf),
    /// A bucket (and prefix) on an S3-compatible object store.
    S3(S3Location),
}

/// `s3:https://endpoint/bucket/prefix` with its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// `https://endpoint` (or `http://` for a local test server).
    pub endpoint: String,
    pub bucket: String,
    /// The folder in the bucket; empty for the bucket's root.
    pub prefix: String,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Password>,
}

impl std::fmt::Display for RepositoryLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepositoryLocation::Local(path) => write!(f, "{}", path.display()),
            RepositoryLocation::S3(s3) => {
                write!(f, "s3:{}/{}", s3.endpoint.trim_end_matches('/'), s3.bucket)?;
                if !s3.prefix.is_empty() {
                    write!(f, "/{}", s3.prefix)?;
                }
                Ok(())
            }
        }
    }
}

/// Validates `settings.<name>` (`repository` or `offsite`).
pub fn validate(
    source: &YamlSource,
    name: &str,
    raw: Option<RawRepository>,
) -> Result<Option<RepositorySettings>, InputError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at = |keys: &[&str]| -> Vec<Segment> {
        let mut path = vec![Segment::key("settings"), Segment::key(name)];
        path.extend(keys.iter().map(|k| Segment::key(k)));
        path
    };
    let Some(location) = raw.location.filter(|l| !l.trim().is_empty()) else {
        return Err(source
            .error_at(
                format!("`settings.{name}` needs a `location`"),
                &at(&[]),
                Target::Key { occurrence: 1 },
            )
            .with_hint("a local folder (`location: /var/lib/tend/repo`) or `location: s3:https://endpoint/bucket/prefix`"));
    };
    let location = match location.strip_prefix("s3:") {
        Some(url) => RepositoryLocation::S3(parse_s3(url, raw.s3.unwrap_or_default()).map_err(
            |message| {
                source
                    .error_at(message, &at(&["location"]), Target::Value)
                    .with_hint("s3:https://endpoint/bucket/prefix")
            },
        )?),
        None => {
            if raw.s3.is_some() {
                return Err(source.error_at(
                    "`s3` applies only to an `s3:` location",
                    &at(&["s3"]),
                    Target::Key { occurrence: 1 },
                ));
            }
            RepositoryLocation::Local(expand_tilde(&location))
        }
    };
    let (password, password_origin) = match (raw.password_file, raw.password) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(source
                .error_at(
                    format!("`settings.{name}` needs exactly one of `password_file` and `password`"),
                    &at(&[]),
                    Target::Key { occurrence: 1 },
                )
                .with_hint("`password_file: /etc/tend/repo.pass` (mode 0600), or `password: ${TEND_REPO_PASSWORD}` from the environment"))
        }
        (Some(file), None) => {
            let path = expand_tilde(&file);
            let password = read_password_file(&path).map_err(|message| {
                source
                    .error_at(message, &at(&["password_file"]), Target::Value)
                    .with_hint(format!(
                        "create it readable by its owner only: `install -m 600 /dev/null {0}` then write the password into it",
                        path.display()
                    ))
            })?;
            (password, format!("password_file {}", path.display()))
        }
        (None, Some(value)) => {
            let written = locate(&source.text, &at(&["password"]), Target::Value)
                .map(|p| value_text(&source.text, p))
                .unwrap_or_default();
            if !written.starts_with("${") {
                return Err(source
                    .error_at(
                        "the repository password cannot be written in the inventory",
                        &at(&["password"]),
                        Target::Value,
                    )
                    .with_hint("take it from the environment (`password: ${TEND_REPO_PASSWORD}`) or from a file (`password_file:`)"));
            }
            if value.is_empty() {
                return Err(source.error_at(
                    "the repository password is empty",
                    &at(&["password"]),
                    Target::Value,
                ));
            }
            (
                Password::new(value),
                format!(
                    "password {}",
                    written.split_whitespace().next().unwrap_or_default()
                ),
            )
        }
    };
    Ok(Some(RepositorySettings {
        location,
        password,
        password_origin,
    }))
}

/// The scalar as written at `position`, quotes taken off.
fn value_text(text: &str, position: Position) -> String {
    let line = text
        .lines()
        .nth(position.line.saturating_sub(1))
        .unwrap_or("");
    let rest: String = line
        .chars()
        .skip(position.column.saturating_sub(1))
        .collect();
    rest.trim_start_matches(['"', '\'']).to_owned()
}

/// The password in `path`, which must be a file only its owner can read or write (mode
/// 0600 or 0400): its first line, without the line end.
fn read_password_file(path: &Path) -> Result<Password, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the password file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the password file {shown} is not a file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the password file {shown} can be read by others (mode {mode:04o}): it must be 0600"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the password file {shown}: {e}"))?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(format!("the password file {shown} is empty"));
    }
    Ok(Password::new(password))
}

/// `https://endpoint/bucket/prefix`.
fn parse_s3(url: &str, raw: RawS3) -> Result<S3Location, String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| *scheme == "https" || *scheme == "http")
        .ok_or_else(|| format!("`s3:{url}` does not start with s3:https://"))?;
    let mut parts = rest.splitn(3, '/');
    let host = parts.next().unwrap_or_default();
    let bucket = parts.next().unwrap_or_default();
    let prefix = parts.next().unwrap_or_default().trim_matches('/');
    if host.is_empty() || bucket.is_empty() {
        return Err(format!("`s3:{url}` names no endpoint and bucket"));
    }
    Ok(S3Location {
        endpoint: format!("{scheme}://{host}"),
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        region: raw.region,
        access_key_id: raw.access_key_id,
        secret_access_key: raw.secret_access_key.map(Password::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_split_into_endpoint_bucket_and_prefix() {
        let s3 = parse_s3("https://s3.example.net/agency/tend/a", RawS3::default()).unwrap();
        assert_eq!(
            (s3.endpoint.as_str(), s3.bucket.as_str(), s3.prefix.as_str()),
            ("https://s3.example.net", "agency", "tend/a")
        );
        let shown = RepositoryLocation::S3(s3).to_string();
        assert_eq!(shown, "s3:https://s3.example.net/agency/tend/a");
        assert!(parse_s3("https://s3.example.net", RawS3::default()).is_err());
        assert!(parse_s3("ftp://x/y", RawS3::default()).is_err());
    }
}
