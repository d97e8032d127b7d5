//! What a host offers the sites on it: the PHP version, a MySQL/MariaDB client, and a
//! compressor for what it sends (the database dump).
//!
//! These belong to the host (and the PHP binary a site names), not to each site, so they
//! are probed once per connection and PHP binary and shared by every site there: fifty
//! sites on one host cost one probe, not fifty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::backup::listing::Codec;
use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostTools {
    /// `mariadb` or `mysql`, whichever the host has (preferring `mariadb`).
    pub db_client: Option<String>,
    /// `mariadb-dump` or `mysqldump`, whichever the host has (preferring `mariadb-dump`).
    pub dump_client: Option<String>,
    /// The version the site's PHP CLI reports, if it runs.
    pub php_version: Option<String>,
    /// How the host compresses a stream it sends: `zstd` if it has it, else `gzip`, else
    /// plain.
    pub compressor: Codec,
}

/// The probe: which client exists, and what the PHP binary says its version is.
pub fn probe_command(php: &str) -> RemoteCommand {
    RemoteCommand::script(&format!(
        "for c in mariadb mysql; do if command -v \"$c\" >/dev/null 2>&1; then echo \"client $c\"; break; fi; done; \
         for c in mariadb-dump mysqldump; do if command -v \"$c\" >/dev/null 2>&1; then echo \"dump $c\"; break; fi; done; \
         for c in zstd gzip; do if command -v \"$c\" >/dev/null 2>&1; then echo \"compress $c\"; break; fi; done; \
         {} -r 'echo \"php \", PHP_VERSION, \"\\n\";' 2>/dev/null; true",
        quote(php)
    ))
}

pub fn parse_probe(output: &str) -> HostTools {
    let mut tools = HostTools::default();
    for line in output.lines() {
        if let Some(client) = line.strip_prefix("client ") {
            tools.db_client = Some(client.trim().to_owned());
        } else if let Some(dump) = line.strip_prefix("dump ") {
            tools.dump_client = Some(dump.trim().to_owned());
        } else if let Some(codec) = line.strip_prefix("compress ") {
            tools.compressor = Codec::from_word(codec.trim()).unwrap_or_default();
        } else if let Some(version) = line.strip_prefix("php ") {
            tools.php_version = Some(version.trim().to_owned());
        }
    }
    tools
}

type Slot = Arc<OnceCell<Result<HostTools, SiteError>>>;

/// Probe results per (connection, PHP binary), for the length of one command.
#[derive(Default)]
pub struct HostToolsCache {
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl HostToolsCache {
    pub async fn get(&self, host: &Connection, php: &str) -> Result<HostTools, SiteError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .entry((host.destination().to_owned(), php.to_owned()))
                .or_default()
                .clone()
        };
        slot.get_or_init(|| async {
            let output = host.run(&probe_command(php), None, 64 * 1024).await?;
            Ok(parse_probe(&output.stdout_text()))
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_probe() {
        let tools = parse_probe("client mariadb\ndump mariadb-dump\ncompress zstd\nphp 8.2.36\n");
        assert_eq!(tools.dump_client.as_deref(), Some("mariadb-dump"));
        assert_eq!(tools.compressor, Codec::Zstd);
        assert_eq!(parse_probe("compress gzip\n").compressor, Codec::Gzip);
        assert_eq!(tools.db_client.as_deref(), Some("mariadb"));
        assert_eq!(tools.php_version.as_deref(), Some("8.2.36"));
        assert_eq!(parse_probe(""), HostTools::default());
    }

    #[test]
    fn quotes_the_php_binary() {
        assert!(probe_command("/opt/php 8/bin/php")
            .as_str()
            .contains("'/opt/php 8/bin/php' -r"));
    }
}
