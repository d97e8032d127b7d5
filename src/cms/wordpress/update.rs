//! How WordPress is updated by hand, the way its own updater does it: where each kind of
//! component lives, which files are core, the maintenance file and the database upgrade.
//!
//! The engine decides *when*; this module says *what*, for WordPress: paths and file
//! contents as data (pure, tested here), plus the one PHP step (`wp_upgrade()`) that only
//! WordPress itself can do.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::cms::swap_update::{SchemaUpgrade, SwapRefused, SwapUpdate};
use crate::cms::{php_script, Facts};
use crate::inventory::Site;
use crate::offer::ComponentType;
use crate::remote::{quote, Connection};
use crate::site_error::SiteError;

/// WordPress's maintenance file at the site root. While it exists (and `$upgrading` is
/// less than ten minutes old) every request gets the "Briefly unavailable for scheduled
/// maintenance" page.
pub const MAINTENANCE_FILE: &str = ".maintenance";

/// What tend writes into it: `$upgrading` is evaluated on every request, so the site stays
/// in maintenance until tend (or `tend recover`) removes the file, however long the update
/// takes — WordPress's own timestamp would let a half-updated site go live after ten minutes.
pub const MAINTENANCE_CONTENT: &str =
    "<?php $upgrading = time(); /* tend: update in progress; `tend recover` ends it */ ?>\n";

/// The header that carries the run's pass through maintenance mode.
pub const PASS_HEADER: &str = "X-Tend-Maintenance-Pass";

/// The maintenance file that lets a request carrying the secret whose SHA-256 is
/// `secret_sha256` through: WordPress `require`s the file from `wp_is_maintenance_mode()`
/// (global `$upgrading`) on every request, and is in maintenance while `time() - $upgrading`
/// is under ten minutes, so `$upgrading = time()` keeps visitors out for as long as the file
/// is there, and `$upgrading = 0` lets the request through. The comparison is of SHA-256
/// digests with `hash_equals` (constant time); the secret itself is never on the host.
pub fn maintenance_content_passing(secret_sha256: &str) -> String {
    let header = format!(
        "HTTP_{}",
        PASS_HEADER.to_ascii_uppercase().replace('-', "_")
    );
    format!(
        "<?php /* tend: update in progress; `tend recover` ends it */
         $upgrading = (isset($_SERVER['{header}']) && is_string($_SERVER['{header}'])
             && hash_equals('{secret_sha256}', hash('sha256', $_SERVER['{header}']))) ? 0 : time();
"
    )
}

/// The shell that writes the maintenance file from its stdin (aside, then renamed, so a
/// request never sees half a file): its content stays out of the command line.
pub fn maintenance_from_stdin_script(root: &str) -> String {
    format!(
        "cd {root} && cat > {file}.tend-tmp && mv -f {file}.tend-tmp {file}",
        root = quote(root),
        file = MAINTENANCE_FILE
    )
}

/// The shell that puts the site at `root` in maintenance mode (written aside, then renamed,
/// so a request never sees half a file) or takes it out.
pub fn maintenance_script(root: &str, on: bool) -> String {
    let root = quote(root);
    if on {
        format!(
            "cd {root} && printf '%s' {content} > {file}.tend-tmp && mv -f {file}.tend-tmp {file}",
            content = quote(MAINTENANCE_CONTENT),
            file = MAINTENANCE_FILE
        )
    } else {
        format!("cd {root} && rm -f {MAINTENANCE_FILE} {MAINTENANCE_FILE}.tend-tmp")
    }
}

/// The folder a package's zip holds everything in (`wordpress/`, `akismet/`).
pub fn package_top(kind: ComponentType, slug: &str) -> String {
    match kind {
        ComponentType::Core => "wordpress".to_owned(),
        _ => slug.to_owned(),
    }
}

/// Where an installed plugin or theme lives, relative to the root.
pub fn component_path(
    facts: &Facts,
    kind: ComponentType,
    slug: &str,
) -> Result<String, SwapRefused> {
    match kind {
        ComponentType::Plugin => {
            let main = facts
                .plugin_files
                .get(slug)
                .ok_or_else(|| SwapRefused::Unknown {
                    kind: kind.name(),
                    slug: slug.to_owned(),
                })?;
            match main.split_once('/') {
                Some((dir, _)) => Ok(format!("wp-content/plugins/{dir}")),
                None => Err(SwapRefused::SingleFile {
                    kind: kind.name(),
                    slug: slug.to_owned(),
                    file: main.clone(),
                }),
            }
        }
        ComponentType::Theme => Ok(format!("wp-content/themes/{slug}")),
        ComponentType::Core => Ok(String::new()),
        ComponentType::Extension => Err(SwapRefused::NoSuchType(kind.name())),
    }
}

/// A file of a file to compare modes against: new files get the modes the old ones had.
pub fn mode_reference(kind: ComponentType, live: &str, facts: &Facts, slug: &str) -> String {
    match kind {
        ComponentType::Core => "wp-includes/version.php".to_owned(),
        ComponentType::Plugin => facts
            .plugin_files
            .get(slug)
            .map(|main| format!("wp-content/plugins/{main}"))
            .unwrap_or_else(|| format!("{live}/index.php")),
        _ => format!("{live}/style.css"),
    }
}

/// Package paths a core update leaves alone: the site's content and its configuration.
pub fn core_skips(path: &str) -> bool {
    path == "wp-content" || path.starts_with("wp-content/") || path == "wp-config.php"
}

/// Whether a top-level entry of the site root is one WordPress core ships, so that an
/// update may replace it and remove it when the new version no longer has it. Everything
/// else at the root (the site's own files, `.htaccess`, `wp-config.php`, other apps) is
/// never touched.
pub fn is_core_entry(name: &str) -> bool {
    matches!(
        name,
        "wp-admin" | "wp-includes" | "index.php" | "license.txt" | "readme.html" | "xmlrpc.php"
    ) || (name.starts_with("wp-") && name.ends_with(".php") && name != "wp-config.php")
}

#[derive(Serialize)]
struct UpgradeParams<'a> {
    url: &'a str,
}

/// What `wp_upgrade()` left.
#[derive(Debug, Deserialize)]
pub struct DbUpgrade {
    pub before: String,
    pub after: String,
    /// The `$wp_db_version` of the new code.
    pub code: String,
    /// Whatever the upgrade printed.
    pub output: String,
}

const DB_UPGRADE_SCRIPT: &str = include_str!("db_upgrade.php");

/// Runs WordPress's database upgrade with the site's PHP and checks that the database
/// schema version now matches the code's.
pub async fn upgrade_database(host: &Connection, site: &Site) -> Result<DbUpgrade, SiteError> {
    let result: DbUpgrade = php_script::run_json(
        host,
        site,
        DB_UPGRADE_SCRIPT,
        &UpgradeParams { url: &site.url },
    )
    .await
    .map_err(|e| match e {
        // A cut connection stays one (the upgrade's fate is unknown then).
        SiteError::Remote(remote) => {
            SiteError::remote_step("database upgrade (wp_upgrade)", remote)
        }
        other => SiteError::failed("database upgrade (wp_upgrade)", other),
    })?;
    if result.after != result.code {
        return Err(SiteError::failed(
            "database upgrade (wp_upgrade)",
            format!(
                "left db_version {} but the new code expects {}{}",
                result.after,
                result.code,
                if result.output.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", result.output.trim())
                }
            ),
        ));
    }
    Ok(result)
}

/// WordPress's answers to the swap procedure's questions (see [`SwapUpdate`]).
pub struct WordPressSwaps;

#[async_trait]
impl SwapUpdate for WordPressSwaps {
    fn package_top(&self, kind: ComponentType, slug: &str) -> String {
        package_top(kind, slug)
    }

    fn component_path(
        &self,
        facts: &Facts,
        kind: ComponentType,
        slug: &str,
    ) -> Result<String, SwapRefused> {
        component_path(facts, kind, slug)
    }

    fn mode_reference(
        &self,
        facts: &Facts,
        kind: ComponentType,
        slug: &str,
        live: &str,
    ) -> (String, String) {
        match kind {
            ComponentType::Core => (
                "wp-includes".to_owned(),
                mode_reference(kind, live, facts, slug),
            ),
            _ => (live.to_owned(), mode_reference(kind, live, facts, slug)),
        }
    }

    fn core_skips(&self, path: &str) -> bool {
        core_skips(path)
    }

    fn is_core_entry(&self, name: &str) -> bool {
        is_core_entry(name)
    }

    /// WordPress's database upgrade (`wp_upgrade()`).
    async fn after_core_update(
        &self,
        site: &Site,
        host: &Connection,
    ) -> Result<Option<SchemaUpgrade>, SiteError> {
        let upgrade = upgrade_database(host, site).await?;
        Ok(Some(SchemaUpgrade {
            before: upgrade.before,
            after: upgrade.after,
        }))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_passing_maintenance_file_holds_only_the_digest_and_ends_cleanly() {
        let secret = crate::cms::maintenance_pass::PassSecret::new().unwrap();
        let content = maintenance_content_passing(&secret.sha256_hex());
        assert!(content.starts_with("<?php "));
        assert!(content.contains(&secret.sha256_hex()));
        assert!(!content.contains(secret.expose()));
        assert!(content.contains("hash_equals("));
        assert!(content.contains("$_SERVER['HTTP_X_TEND_MAINTENANCE_PASS']"));
        assert!(content.contains("? 0 : time();"));
        let write = maintenance_from_stdin_script("/srv/www/a b");
        assert_eq!(
            write,
            "cd '/srv/www/a b' && cat > .maintenance.tend-tmp && mv -f .maintenance.tend-tmp .maintenance"
        );
        assert!(
            maintenance_script("/srv", false).ends_with("rm -f .maintenance .maintenance.tend-tmp")
        );
    }

    use super::*;

    #[test]
    fn core_entries_are_what_wordpress_ships_at_the_root() {
        for name in [
            "wp-admin",
            "wp-includes",
            "index.php",
            "wp-login.php",
            "wp-settings.php",
            "wp-config-sample.php",
            "xmlrpc.php",
            "readme.html",
            "license.txt",
        ] {
            assert!(is_core_entry(name), "{name}");
        }
        for name in [
            "wp-config.php",
            "wp-content",
            ".htaccess",
            "google123.html",
            ".tend",
            ".maintenance",
        ] {
            assert!(!is_core_entry(name), "{name}");
        }
    }

    #[test]
    fn core_updates_leave_content_and_config_alone() {
        assert!(core_skips("wp-content"));
        assert!(core_skips("wp-content/plugins/akismet/akismet.php"));
        assert!(core_skips("wp-config.php"));
        assert!(!core_skips("wp-includes/version.php"));
        assert!(!core_skips("wp-config-sample.php"));
    }

    #[test]
    fn components_live_where_wordpress_keeps_them() {
        let mut facts = Facts {
            cms: crate::cms::wordpress::KIND,
            version: "6.1.9".into(),
            db_version: None,
            php_version: None,
            plugins: vec![],
            themes: vec![],
            database: None,
            plugin_files: Default::default(),
            packages: Vec::new(),
            warnings: vec![],
        };
        facts
            .plugin_files
            .insert("akismet".into(), "akismet/akismet.php".into());
        facts
            .plugin_files
            .insert("hello".into(), "hello.php".into());
        assert_eq!(
            component_path(&facts, ComponentType::Plugin, "akismet").unwrap(),
            "wp-content/plugins/akismet"
        );
        assert!(matches!(
            component_path(&facts, ComponentType::Plugin, "hello"),
            Err(SwapRefused::SingleFile { .. })
        ));
        assert_eq!(
            component_path(&facts, ComponentType::Theme, "twentytwentythree").unwrap(),
            "wp-content/themes/twentytwentythree"
        );
        assert_eq!(
            mode_reference(
                ComponentType::Plugin,
                "wp-content/plugins/akismet",
                &facts,
                "akismet"
            ),
            "wp-content/plugins/akismet/akismet.php"
        );
    }
}
