//! Local paths on the runner (`~` expansion, tend's default data directory), and the one
//! folder tend keeps in a site's root on its host.

use std::path::PathBuf;

/// tend's folder in a site's root on its host: the journal of a run and its work folders.
/// Backups leave it out; a run creates it and removes it when the site is done.
pub const SITE_TEND_DIR: &str = ".tend";

/// The runner's home directory (`$HOME`).
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Expands a leading `~` or `~/` to the runner's home; other paths are returned as they are.
pub fn expand_tilde(path: &str) -> PathBuf {
    if path == "~" {
        if let Some(home) = home_dir() {
            return home;
        }
    } else if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = home_dir() {
            return home.join(rest);
        }
    }
    PathBuf::from(path)
}

/// `$XDG_DATA_HOME/tend`, else `~/.local/share/tend`.
pub fn default_store() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(data).join("tend");
    }
    home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".local/share/tend")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_only_a_leading_tilde() {
        let home = home_dir().expect("HOME is set in tests");
        assert_eq!(expand_tilde("~/.ssh/id"), home.join(".ssh/id"));
        assert_eq!(expand_tilde("~"), home);
        assert_eq!(expand_tilde("/a/~/b"), PathBuf::from("/a/~/b"));
        assert_eq!(expand_tilde("~other/x"), PathBuf::from("~other/x"));
    }
}
