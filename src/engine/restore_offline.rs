//! Keeping visitors out of a restore where the CMS's maintenance mode is a setting in its
//! configuration file rather than a file of its own (Joomla's `$offline` in
//! `configuration.php`): without it such a site stays open while its files and tables are
//! swapped.
//!
//! The switch is an edit of the file, made on the runner ([`OfflineSetting::switch_on`])
//! and written back with a rename, so the site's PHP never runs and a request never sees
//! half a file. What is put back afterwards is the exact file, byte for byte and with its
//! mode, that the tree now live should have: the site's own file when the restore was
//! undone (or left the files alone), the snapshot's when its files went live (the target's
//! own, for a copy onto another site, which keeps its configuration).

use crate::cms::OfflineSetting;
use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;

/// Largest configuration file read (Joomla's is a few KB).
const CONFIG_LIMIT: usize = 1024 * 1024;

/// A restore's offline switch: what it changed, and what to put back.
pub struct Offline {
    setting: OfflineSetting,
    root: String,
    /// The live configuration file as it was, when it was switched offline.
    before: Option<Vec<u8>>,
    /// The configuration file the restored tree is to have, when it was switched offline.
    restored: Option<Vec<u8>>,
}

impl Offline {
    /// Switches the live site offline (when it has a root and the file holds the setting;
    /// otherwise there is nothing to switch and `warn` is told why).
    pub async fn switch_live(
        host: &Connection,
        root: &str,
        root_exists: bool,
        setting: OfflineSetting,
        warn: impl Fn(&str),
    ) -> Result<Offline, SiteError> {
        let mut offline = Offline {
            setting,
            root: root.trim_end_matches('/').to_owned(),
            before: None,
            restored: None,
        };
        if !root_exists {
            return Ok(offline);
        }
        let path = offline.path(&offline.root);
        let Some(before) = read(host, &path).await? else {
            warn(&format!(
                "{path} does not exist: the site cannot be switched offline while it is restored"
            ));
            return Ok(offline);
        };
        match switched(setting, &before) {
            Some(text) => {
                write(host, &path, text.as_bytes()).await?;
                offline.before = Some(before);
            }
            None => warn(&format!(
                "{path} has no maintenance setting tend can switch: the site stays open while it is restored"
            )),
        }
        Ok(offline)
    }

    /// Switches the staged tree offline, so that it goes live offline; notes the file it
    /// is to have once the restore is done (for a copy onto another site, the target's own,
    /// which `staging` holds switched already when the live one was).
    pub async fn switch_staged(
        &mut self,
        host: &Connection,
        staging: &str,
        onto_other: bool,
    ) -> Result<(), SiteError> {
        let path = self.path(staging);
        let staged = read(host, &path).await?;
        let restored = match (&self.before, onto_other) {
            (Some(before), true) => Some(before.clone()),
            _ => staged,
        };
        let Some(restored) = restored else {
            return Ok(());
        };
        if let Some(text) = switched(self.setting, &restored) {
            write(host, &path, text.as_bytes()).await?;
            self.restored = Some(restored);
        }
        Ok(())
    }

    /// Puts back the exact configuration file the live tree should have: the restored
    /// tree's (`restored_live`) or the site's own as it was.
    pub async fn switch_back(
        &self,
        host: &Connection,
        restored_live: bool,
    ) -> Result<(), SiteError> {
        let file = if restored_live {
            &self.restored
        } else {
            &self.before
        };
        match file {
            Some(bytes) => write(host, &self.path(&self.root), bytes).await,
            None => Ok(()),
        }
    }

    /// The live configuration file, for messages.
    pub fn live_file(&self) -> String {
        self.path(&self.root)
    }

    fn path(&self, root: &str) -> String {
        format!("{root}/{}", self.setting.file)
    }
}

fn switched(setting: OfflineSetting, bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().and_then(setting.switch_on)
}

/// The file at `path`, if it is there.
async fn read(host: &Connection, path: &str) -> Result<Option<Vec<u8>>, SiteError> {
    let script = format!(
        "if [ -f {p} ]; then printf y; cat -- {p}; else printf n; fi",
        p = quote(path)
    );
    let output = host
        .run(&RemoteCommand::script(&script), None, CONFIG_LIMIT)
        .await
        .map_err(|e| SiteError::remote_step(format!("reading {path}"), e))?;
    match output.stdout.split_first() {
        Some((b'y', bytes)) => Ok(Some(bytes.to_vec())),
        _ => Ok(None),
    }
}

/// Replaces the file at `path` with `bytes` (sent on stdin, never on a command line),
/// keeping its mode: written aside readable by its owner only, then renamed over it.
async fn write(host: &Connection, path: &str, bytes: &[u8]) -> Result<(), SiteError> {
    let script = format!(
        "umask 077; t={tmp}; cat > \"$t\" || {{ rm -f -- \"$t\"; exit 1; }}; \
         if [ -e {p} ]; then chmod --reference={p} \"$t\" || {{ rm -f -- \"$t\"; exit 1; }}; fi; \
         mv -f -- \"$t\" {p} || {{ rm -f -- \"$t\"; exit 1; }}",
        tmp = quote(&format!("{path}.tend-tmp")),
        p = quote(path)
    );
    host.run(&RemoteCommand::script(&script), Some(bytes), 1024)
        .await
        .map_err(|e| SiteError::remote_step(format!("writing {path}"), e))?;
    Ok(())
}
