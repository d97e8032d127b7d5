//! Secrets the run has learned (database passwords), masked wherever text is shown.
//!
//! tend never puts a secret into a remote command line, but error messages carry text from
//! elsewhere (stderr of a remote command, a config line a parser quotes). Every secret is
//! registered here the moment it is read, and every renderer passes text through [`mask`].

use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `secret` so that it is masked from now on. Very short values are not
/// registered: masking every `a` in a log would hide more than it protects.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by `********`.
pub fn mask(text: &str) -> String {
    let secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_owned();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "********");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secrets() {
        register("s3cr3t-pass");
        assert_eq!(mask("using s3cr3t-pass here"), "using ******** here");
        assert_eq!(mask("nothing"), "nothing");
    }
}
