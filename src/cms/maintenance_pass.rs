//! Visitors see maintenance, tend sees the site: while a site is in maintenance mode for an
//! update cycle, tend's own checks must reach the real site, or a broken update could not
//! be told from the maintenance page.
//!
//! Each time a run turns maintenance on it makes a new random [`PassSecret`]; the CMS puts
//! the site in maintenance so that a request carrying it gets through ([`Passage`], from
//! [`super::Cms::set_maintenance_passing`]) and the checks send it. The secret is masked
//! wherever text is shown (registered with [`crate::secrets`], its `Debug` hides it), is
//! never part of a remote command line, and never rests on the host: what the host keeps
//! is only its SHA-256, compared in constant time (`hash_equals`), in the maintenance file
//! that ending maintenance removes.

use std::fmt;
use std::io::Read;

use sha2::{Digest, Sha256};

/// A per-run secret that lets a request through maintenance mode.
#[derive(Clone)]
pub struct PassSecret(String);

impl PassSecret {
    /// 32 random bytes from the system's generator, as hex; registered to be masked.
    pub fn new() -> std::io::Result<PassSecret> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let secret = crate::backup::archive::hex(&bytes);
        crate::secrets::register(&secret);
        Ok(PassSecret(secret))
    }

    /// The secret itself: only for the request header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the host keeps: the secret's SHA-256, as hex.
    pub fn sha256_hex(&self) -> String {
        crate::backup::archive::hex(&Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for PassSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassSecret(********)")
    }
}

/// How tend's checks get through a site's maintenance mode.
#[derive(Debug, Clone)]
pub enum Passage {
    /// Each request carries this header with the secret.
    Header {
        name: &'static str,
        secret: PassSecret,
    },
    /// The site lets the runner's address through (Magento's `--ip`): requests need
    /// nothing more.
    FromAddress { address: String },
}

impl Passage {
    /// The header a check request carries, if any.
    pub fn header(&self) -> Option<(&'static str, &str)> {
        match self {
            Passage::Header { name, secret } => Some((name, secret.expose())),
            Passage::FromAddress { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_masked_and_hashed() {
        let a = PassSecret::new().unwrap();
        let b = PassSecret::new().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 64);
        assert_eq!(format!("{a:?}"), "PassSecret(********)");
        assert_eq!(
            crate::secrets::mask(&format!("sent {}", a.expose())),
            "sent ********"
        );
        let hash = a.sha256_hex();
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, a.expose());
        assert_eq!(
            hash,
            crate::backup::archive::hex(&Sha256::digest(a.expose().as_bytes()))
        );
    }
}
