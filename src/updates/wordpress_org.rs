//! The WordPress.org update source: the public API that WordPress itself asks for core,
//! plugin and theme updates (`wp_version_check`, `wp_update_plugins`, `wp_update_themes` in
//! `wp-includes/update.php`) and for the checksums of core files (`get_core_checksums` in
//! `wp-admin/includes/update.php`).
//!
//! tend asks the same questions, in the same format, from outside the site: the answer does
//! not depend on the site's own cron or transients, and nothing runs on the host to get it.
//! The base URL is configurable (default [`DEFAULT_BASE`]) so tests can point it at a local
//! server and agencies at a mirror.
//!
//! The answers are PHP's `json_encode` output, with PHP's habits: an empty map is `[]`,
//! absent values are often `false` rather than missing, slashes are escaped. The parsers
//! ([`parse_core_offers`], [`parse_plugin_updates`], [`parse_theme_updates`],
//! [`parse_core_checksums`]) are pure and tested on answers in that format.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{ComponentType, Offer};
use crate::cms::{wordpress, Facts};

/// What [`Offer::source`] says for offers from here.
/// How offers from here name their source.
pub const SOURCE: &str = "wordpress.org";

/// The only locale tend asks for: packages are the English builds, which every site can
/// take (translations are language packs on top).
const LOCALE: &str = "en_US";

/// How long one request may take: WordPress allows 30 s when it checks from cron.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client for the WordPress.org API.
#[derive(Debug, Clone)]
pub struct WordpressOrg {
    /// Always ends in `/`.
    base: String,
    client: reqwest::Client,
}

/// What a check found: the offers, and what was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    pub offers: Vec<Offer>,
    /// One line each, e.g. an offer skipped because the site's PHP is too old for it.
    pub notes: Vec<String>,
    /// Every component WordPress.org knows (with an update or without: the answers'
    /// `no_update`), by the site's slug, core included: what this source tracks.
    pub tracked: Vec<(ComponentType, String)>,
}

/// One entry of `offers` in a core version-check answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreOffer {
    /// `upgrade`, `latest`, `autoupdate`, `development`, …
    pub response: String,
    pub version: String,
    pub locale: Option<String>,
    /// `packages.full`, else `download`.
    pub package: Option<String>,
    /// The lowest PHP this version runs on.
    pub php_version: Option<String>,
    /// When it was released, when asked for (see [`WordpressOrg::check_dated`]).
    pub released: Option<DateTime<Utc>>,
}

/// One plugin or theme update in an update-check answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The slug the site knows the component by.
    pub slug: String,
    pub version: String,
    /// `None` when WordPress.org offers no download (WordPress then says "automatic update
    /// is unavailable").
    pub package: Option<String>,
    pub requires_php: Option<String>,
    /// The slug WordPress.org knows it by (the answer's `slug` or `theme`), which its
    /// information API takes; not always the site's (`hello` is `hello-dolly`).
    pub api_slug: String,
    /// When it was released, when asked for (see [`WordpressOrg::check_dated`]).
    pub released: Option<DateTime<Utc>>,
}

impl WordpressOrg {
    pub fn new(base: &str, client: reqwest::Client) -> WordpressOrg {
        WordpressOrg {
            base: format!("{}/", base.trim_end_matches('/')),
            client,
        }
    }

    /// Every version the API offers for this site's core, plugins and themes (only for
    /// WordPress facts; other CMS → `Ok(vec![])`). A site with no plugins/themes sends no
    /// request for them. What was left out is dropped; [`WordpressOrg::check`] says why.
    #[cfg(test)]
    pub async fn offers(&self, facts: &Facts) -> Result<Vec<Offer>, ApiError> {
        Ok(self.check(facts).await?.offers)
    }

    /// Like [`WordpressOrg::offers`], with a note for each offer left out: another locale,
    /// no package, or a PHP requirement above the site's PHP (when that is known).
    #[cfg(test)]
    pub async fn check(&self, facts: &Facts) -> Result<Check, ApiError> {
        self.check_dated(facts, false).await
    }

    /// [`WordpressOrg::check`], with release dates when `dated`. The update-check answers
    /// carry none, so each offered version's date is asked on its own:
    /// - a plugin's from the plugin information API (`plugins/info/1.2`, its
    ///   `last_updated`: `2025-07-15 3:01pm GMT`), a theme's from the theme information API
    ///   (`themes/info/1.2`, `last_updated_time`, else the day of `last_updated`) — both
    ///   only when the version they describe is the one offered, since they date the
    ///   newest release;
    /// - core's, which no WordPress.org API gives, from the `Last-Modified` of its release
    ///   package (WordPress.org builds it when the version is released).
    pub async fn check_dated(&self, facts: &Facts, dated: bool) -> Result<Check, ApiError> {
        if facts.cms != wordpress::KIND {
            return Ok(Check::default());
        }
        let (mut core, plugins, themes) = tokio::try_join!(
            self.core_offers(facts),
            self.plugin_updates(facts),
            self.theme_updates(facts),
        )?;
        let (mut plugins, unknown_files, plugins_known) = plugins;
        let (mut themes, themes_known) = themes;
        if dated {
            let (core_dates, plugin_dates, theme_dates) = tokio::join!(
                futures::future::join_all(core.iter().map(|c| self.package_date(c))),
                futures::future::join_all(plugins.iter().map(|u| self.info_date("plugins", u))),
                futures::future::join_all(themes.iter().map(|u| self.info_date("themes", u))),
            );
            for (offer, date) in core.iter_mut().zip(core_dates) {
                offer.released = date;
            }
            for (update, date) in plugins.iter_mut().zip(plugin_dates) {
                update.released = date;
            }
            for (update, date) in themes.iter_mut().zip(theme_dates) {
                update.released = date;
            }
        }
        let php = facts.php_version.as_deref();
        let mut check = Check::default();
        core_to_offers(&core, php, &mut check);
        check.notes.extend(unknown_files);
        check
            .tracked
            .push((ComponentType::Core, wordpress::KIND.name().to_owned()));
        check.tracked.extend(
            plugins_known
                .into_iter()
                .map(|s| (ComponentType::Plugin, s)),
        );
        check
            .tracked
            .extend(themes_known.into_iter().map(|s| (ComponentType::Theme, s)));
        updates_to_offers(ComponentType::Plugin, &plugins, php, &mut check);
        updates_to_offers(ComponentType::Theme, &themes, php, &mut check);
        Ok(check)
    }

    /// The md5 of every file of WordPress `version` (en_US), by path relative to the root.
    pub async fn core_checksums(
        &self,
        version: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let request = self
            .client
            .get(format!("{}core/checksums/1.0/", self.base))
            .query(&[("version", version), ("locale", LOCALE)]);
        let (url, text) = self.send(request).await?;
        match parse_core_checksums(&text).map_err(|e| ApiError::unexpected(&url, e))? {
            Some(checksums) => Ok(checksums),
            None => Err(ApiError::NoChecksums {
                url,
                version: version.to_owned(),
            }),
        }
    }

    async fn core_offers(&self, facts: &Facts) -> Result<Vec<CoreOffer>, ApiError> {
        let mut query = vec![("version", facts.version.as_str())];
        if let Some(php) = &facts.php_version {
            query.push(("php", php));
        }
        query.push(("locale", LOCALE));
        let request = self
            .client
            .get(format!("{}core/version-check/1.7/", self.base))
            .query(&query)
            .header(reqwest::header::USER_AGENT, user_agent(facts));
        let (url, text) = self.send(request).await?;
        parse_core_offers(&text).map_err(|e| ApiError::unexpected(&url, e))
    }

    /// The updates for the site's plugins, and a note for each plugin whose main file is
    /// unknown (the API knows plugins by that file, so they cannot be asked about).
    /// Also: the slugs of the plugins WordPress.org knows (updated or not).
    async fn plugin_updates(
        &self,
        facts: &Facts,
    ) -> Result<(Vec<Update>, Vec<String>, Vec<String>), ApiError> {
        let mut installed = Map::new();
        let mut active = Vec::new();
        let mut notes = Vec::new();
        for plugin in &facts.plugins {
            let Some(file) = facts.plugin_files.get(&plugin.slug) else {
                notes.push(format!(
                    "plugin {}: its main file is unknown, so WordPress.org was not asked about it",
                    plugin.slug
                ));
                continue;
            };
            installed.insert(
                file.clone(),
                serde_json::json!({
                    "Name": plugin.slug,
                    "Version": plugin.version.clone().unwrap_or_default(),
                }),
            );
            if plugin.active {
                active.push(Value::String(file.clone()));
            }
        }
        if installed.is_empty() {
            return Ok((Vec::new(), notes, Vec::new()));
        }
        let sent = serde_json::json!({ "plugins": installed, "active": active });
        // As `wp_update_plugins` sends it: each field is itself JSON.
        let request = self
            .client
            .post(format!("{}plugins/update-check/1.1/", self.base))
            .header(reqwest::header::USER_AGENT, user_agent(facts))
            .form(&[
                ("plugins", sent.to_string().as_str()),
                ("translations", "[]"),
                ("locale", "[]"),
                ("all", "true"),
            ]);
        let (url, text) = self.send(request).await?;
        let updates = parse_plugin_updates(&text, &facts.plugin_files)
            .map_err(|e| ApiError::unexpected(&url, e))?;
        let known = known_slugs(&text, "plugins", Some(&facts.plugin_files));
        Ok((updates, notes, known))
    }

    /// The theme updates, and the slugs of the themes WordPress.org knows.
    async fn theme_updates(&self, facts: &Facts) -> Result<(Vec<Update>, Vec<String>), ApiError> {
        if facts.themes.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let installed: Map<String, Value> = facts
            .themes
            .iter()
            .map(|t| {
                (
                    t.slug.clone(),
                    serde_json::json!({
                        "Name": t.slug,
                        "Version": t.version.clone().unwrap_or_default(),
                    }),
                )
            })
            .collect();
        // WordPress sends the `stylesheet` option: the active (child) theme.
        let active = facts
            .themes
            .iter()
            .find(|t| t.active)
            .map(|t| t.slug.as_str())
            .unwrap_or_default();
        let sent = serde_json::json!({ "active": active, "themes": installed });
        // `wp_update_themes` sends no `all` field (unlike `wp_update_plugins`); the answer
        // has `no_update` all the same.
        let request = self
            .client
            .post(format!("{}themes/update-check/1.1/", self.base))
            .header(reqwest::header::USER_AGENT, user_agent(facts))
            .form(&[
                ("themes", sent.to_string().as_str()),
                ("translations", "[]"),
                ("locale", "[]"),
            ]);
        let (url, text) = self.send(request).await?;
        let updates = parse_theme_updates(&text).map_err(|e| ApiError::unexpected(&url, e))?;
        Ok((updates, known_slugs(&text, "themes", None)))
    }

    /// The `Last-Modified` of a core offer's package; `None` when it has no package or the
    /// answer has no readable date.
    async fn package_date(&self, offer: &CoreOffer) -> Option<DateTime<Utc>> {
        let package = offer.package.as_deref()?;
        let response = self
            .client
            .head(package)
            .timeout(TIMEOUT)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let header = response
            .headers()
            .get(reqwest::header::LAST_MODIFIED)?
            .to_str()
            .ok()?;
        DateTime::parse_from_rfc2822(header)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// A plugin's or theme's release date from WordPress.org's information API (`kind`:
    /// `plugins` or `themes`); `None` when it cannot be read or dates another version.
    async fn info_date(&self, kind: &str, update: &Update) -> Option<DateTime<Utc>> {
        let action = if kind == "plugins" {
            "plugin_information"
        } else {
            "theme_information"
        };
        let request = self
            .client
            .get(format!("{}{kind}/info/1.2/", self.base))
            .query(&[
                ("action", action),
                ("request[slug]", update.api_slug.as_str()),
                ("request[fields][last_updated]", "1"),
            ]);
        let (_, text) = self.send(request).await.ok()?;
        parse_info_date(&text, &update.version)
    }

    /// Sends `request`; returns its full URL (for messages) and the body of a 2xx answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(String, String), ApiError> {
        let request = request
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ApiError::Request {
                base: self.base.clone(),
                detail: crate::error_chain::describe(&e),
            })?;
        let url = request.url().to_string();
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| ApiError::Unreachable {
                url: url.clone(),
                detail: crate::error_chain::describe(&e),
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Status {
                url,
                status: status.as_u16(),
            });
        }
        let text = response.text().await.map_err(|e| ApiError::Unexpected {
            url: url.clone(),
            detail: format!("reading the answer: {}", crate::error_chain::describe(&e)),
        })?;
        Ok((url, text))
    }
}

impl WordpressOrg {
    /// WordPress.org publishes the md5 of every core file: a core package from there must
    /// match them (a private repository's packages are held to their sha256 instead).
    /// `top` is the package's top folder.
    pub async fn check_core_package(
        &self,
        version: &str,
        zip: &std::path::Path,
        top: &str,
    ) -> Result<(), CoreCheckError> {
        let expected = self.core_checksums(version).await?;
        let actual = {
            let (zip, top) = (zip.to_owned(), top.to_owned());
            tokio::task::spawn_blocking(move || crate::updates::package::file_md5s(&zip, &top))
                .await
                .map_err(|e| CoreCheckError::Unreadable(format!("internal: {e}")))?
                .map_err(CoreCheckError::Unreadable)?
        };
        for (path, md5) in expected {
            match actual.get(&path) {
                Some(found) if found.eq_ignore_ascii_case(&md5) => {}
                Some(found) => {
                    return Err(CoreCheckError::Mismatch {
                        path,
                        found: found.clone(),
                        expected: md5,
                    })
                }
                None => return Err(CoreCheckError::Missing { path }),
            }
        }
        Ok(())
    }
}

/// Why a core package was not accepted as the one WordPress.org publishes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreCheckError {
    /// The checksums could not be had.
    #[error("core checksums: {0}")]
    Api(#[from] ApiError),
    /// The package could not be read.
    #[error("{0}")]
    Unreadable(String),
    #[error("{path} has md5 {found}, WordPress.org says {expected}")]
    Mismatch {
        path: String,
        found: String,
        expected: String,
    },
    #[error("{path} is missing from the package")]
    Missing { path: String },
}

/// Why the WordPress.org API could not be asked, or what it answered that tend cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("cannot build a request to {base}: {detail}")]
    Request { base: String, detail: String },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// An answer that is not what the API documents.
    #[error("{url}: {detail}")]
    Unexpected { url: String, detail: String },
    #[error("{url}: WordPress.org has no checksums for WordPress {version} (en_US)")]
    NoChecksums { url: String, version: String },
}

impl ApiError {
    fn unexpected(url: &str, detail: String) -> ApiError {
        ApiError::Unexpected {
            url: url.to_owned(),
            detail,
        }
    }
}

/// What WordPress sends, `WordPress/<version>; <site>`: the API reads the site's core
/// version from it.
fn user_agent(facts: &Facts) -> String {
    format!("WordPress/{}; tend", facts.version)
}

/// Parses a core version-check (1.7) answer: `{"offers": [...], "translations": [...]}`.
pub fn parse_core_offers(text: &str) -> Result<Vec<CoreOffer>, String> {
    let root = json_object(text)?;
    let offers = match root.get("offers") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err("`offers` is not a list".to_owned()),
        None => return Err("`offers` is missing".to_owned()),
    };
    offers
        .iter()
        .enumerate()
        .map(|(i, offer)| {
            let Value::Object(offer) = offer else {
                return Err(format!("`offers[{i}]` is not an object"));
            };
            let version = text_field(offer, "version")
                .or_else(|| text_field(offer, "current"))
                .ok_or_else(|| format!("`offers[{i}].version` is missing"))?;
            let full = match offer.get("packages") {
                Some(Value::Object(packages)) => text_field(packages, "full"),
                _ => None,
            };
            Ok(CoreOffer {
                response: text_field(offer, "response").unwrap_or_default(),
                version,
                locale: text_field(offer, "locale"),
                package: full.or_else(|| text_field(offer, "download")),
                php_version: text_field(offer, "php_version"),
                released: None,
            })
        })
        .collect()
}

/// Parses a plugin update-check (1.1) answer. Its `plugins` map is keyed by main file
/// (`akismet/akismet.php`); each update is given the slug the site knows the plugin by,
/// through `plugin_files` (slug → main file), which is not always WordPress.org's slug
/// (`hello.php` is `hello` on the site, `hello-dolly` on WordPress.org).
pub fn parse_plugin_updates(
    text: &str,
    plugin_files: &BTreeMap<String, String>,
) -> Result<Vec<Update>, String> {
    let mut root = json_object(text)?;
    let by_file: BTreeMap<&str, &str> = plugin_files
        .iter()
        .map(|(slug, file)| (file.as_str(), slug.as_str()))
        .collect();
    php_map(&mut root, "plugins")?
        .iter()
        .map(|(file, entry)| {
            let Value::Object(entry) = entry else {
                return Err(format!("`plugins.{file}` is not an object"));
            };
            let slug = match by_file.get(file.as_str()) {
                Some(slug) => (*slug).to_owned(),
                None => text_field(entry, "slug")
                    .ok_or_else(|| format!("`plugins.{file}.slug` is missing"))?,
            };
            update(entry, slug, &format!("plugins.{file}"))
        })
        .collect()
}

/// Parses a theme update-check (1.1) answer: its `themes` map is keyed by theme slug (the
/// theme's directory).
pub fn parse_theme_updates(text: &str) -> Result<Vec<Update>, String> {
    let mut root = json_object(text)?;
    php_map(&mut root, "themes")?
        .iter()
        .map(|(slug, entry)| {
            let Value::Object(entry) = entry else {
                return Err(format!("`themes.{slug}` is not an object"));
            };
            update(entry, slug.clone(), &format!("themes.{slug}"))
        })
        .collect()
}

/// The site's slugs of every component an update-check answer knows: the keys of its
/// `key` map (`plugins`, `themes`: those with an update) and of `no_update` (those
/// without). Plugin keys are main files, named back through `plugin_files`; a key the site
/// does not know by that file is left out. An answer not read as JSON knows nothing.
pub fn known_slugs(
    text: &str,
    key: &str,
    plugin_files: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let Ok(mut root) = json_object(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for map in [key, "no_update"] {
        for name in php_map(&mut root, map).unwrap_or_default().keys() {
            let slug = match plugin_files {
                Some(files) => files
                    .iter()
                    .find(|(_, file)| *file == name)
                    .map(|(slug, _)| slug.clone()),
                None => Some(name.clone()),
            };
            out.extend(slug);
        }
    }
    out
}

/// The release date in a plugin or theme information (1.2) answer, when the version it
/// describes is `version`: a plugin's `last_updated` (`2025-07-15 3:01pm GMT`), a theme's
/// `last_updated_time` (`2025-07-15 15:01:22`, UTC) or else `last_updated` (`2025-07-15`).
pub fn parse_info_date(text: &str, version: &str) -> Option<DateTime<Utc>> {
    let root = json_object(text).ok()?;
    if text_field(&root, "version")? != version {
        return None;
    }
    if let Some(time) = text_field(&root, "last_updated_time") {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S") {
            return Some(t.and_utc());
        }
    }
    let updated = text_field(&root, "last_updated")?;
    let upper = updated.to_ascii_uppercase();
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&upper, "%Y-%m-%d %I:%M%p GMT") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(&updated, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Parses a core checksums (1.0) answer: path → md5, or `None` for `"checksums": false`,
/// the answer for a version (or locale) WordPress.org does not know.
pub fn parse_core_checksums(text: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let root = json_object(text)?;
    let checksums = match root.get("checksums") {
        Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(Value::Array(list)) if list.is_empty() => return Ok(None),
        Some(_) => return Err("`checksums` is not a map of path to md5".to_owned()),
        None => return Err("`checksums` is missing".to_owned()),
    };
    checksums
        .iter()
        .map(|(path, md5)| match md5 {
            Value::String(md5) if is_md5(md5) => Ok((path.clone(), md5.to_ascii_lowercase())),
            _ => Err(format!("`checksums.{path}` is not an md5")),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map(Some)
}

fn is_md5(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the answer is JSON but not an object".to_owned()),
        Err(e) => Err(format!("the answer is not JSON: {e}")),
    }
}

/// The map under `key`; PHP's `json_encode` writes an empty map as `[]`.
fn php_map(root: &mut Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    match root.remove(key) {
        Some(Value::Object(map)) => Ok(map),
        Some(Value::Array(list)) if list.is_empty() => Ok(Map::new()),
        Some(_) => Err(format!("`{key}` is not a map")),
        None => Err(format!("`{key}` is missing")),
    }
}

fn update(entry: &Map<String, Value>, slug: String, at: &str) -> Result<Update, String> {
    let api_slug = text_field(entry, "slug")
        .or_else(|| text_field(entry, "theme"))
        .unwrap_or_else(|| slug.clone());
    Ok(Update {
        api_slug,
        released: None,
        slug,
        version: text_field(entry, "new_version")
            .ok_or_else(|| format!("`{at}.new_version` is missing"))?,
        package: text_field(entry, "package"),
        requires_php: text_field(entry, "requires_php"),
    })
}

/// A text field; PHP writes "none" as `false`, `null` or `""`, all `None` here. A number
/// (`"new_version": 2.1` from a sloppy header) is taken as its text.
fn text_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Turns core offers into [`Offer`]s: en_US only, one per version, with a package, and
/// runnable on the site's PHP when that is known.
fn core_to_offers(core: &[CoreOffer], php: Option<&str>, check: &mut Check) {
    let mut seen = BTreeSet::new();
    for offer in core {
        if offer.locale.as_deref().is_some_and(|l| l != LOCALE) || seen.contains(&offer.version) {
            continue;
        }
        let Some(package) = &offer.package else {
            check.notes.push(format!(
                "WordPress {}: WordPress.org offers no package",
                offer.version
            ));
            continue;
        };
        seen.insert(offer.version.clone());
        if let Some(note) = php_too_old(
            &format!("WordPress {}", offer.version),
            offer.php_version.as_deref(),
            php,
        ) {
            check.notes.push(note);
            continue;
        }
        check.offers.push(Offer {
            cms: wordpress::KIND,
            kind: ComponentType::Core,
            slug: "wordpress".to_owned(),
            version: offer.version.clone(),
            package: package.clone(),
            sha256: None,
            source: SOURCE.to_owned(),
            released: offer.released,
        });
    }
}

/// Turns plugin or theme updates into [`Offer`]s, leaving out those without a package or
/// needing a newer PHP than the site's (WordPress refuses those updates too).
fn updates_to_offers(
    kind: ComponentType,
    updates: &[Update],
    php: Option<&str>,
    check: &mut Check,
) {
    for update in updates {
        let what = format!("{} {} {}", kind.name(), update.slug, update.version);
        let Some(package) = &update.package else {
            check
                .notes
                .push(format!("{what}: WordPress.org offers no package"));
            continue;
        };
        if let Some(note) = php_too_old(&what, update.requires_php.as_deref(), php) {
            check.notes.push(note);
            continue;
        }
        check.offers.push(Offer {
            cms: wordpress::KIND,
            kind,
            slug: update.slug.clone(),
            version: update.version.clone(),
            package: package.clone(),
            sha256: None,
            source: SOURCE.to_owned(),
            released: update.released,
        });
    }
}

/// A note when `what` needs a newer PHP than the site has; `None` when it fits or either
/// version is unknown.
fn php_too_old(what: &str, required: Option<&str>, site: Option<&str>) -> Option<String> {
    let (required, site) = (required?, site?);
    if php_at_least(site, required)? {
        None
    } else {
        Some(format!(
            "{what} needs PHP {required} or newer and the site has PHP {site}: not offered"
        ))
    }
}

/// Whether PHP `have` is at least `need`, comparing the leading numbers (`8.1.2-1ubuntu2`
/// is 8.1.2; missing parts are 0). `None` when either has no leading number.
fn php_at_least(have: &str, need: &str) -> Option<bool> {
    fn numbers(text: &str) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        for part in text.trim().split('.') {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse() {
                Ok(n) => out.push(n),
                Err(_) => break,
            }
            if digits.len() != part.len() {
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }
    let (mut have, mut need) = (numbers(have)?, numbers(need)?);
    let len = have.len().max(need.len());
    have.resize(len, 0);
    need.resize(len, 0);
    Some(have >= need)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::cms::Component;

    /// A version-check 1.7 answer as WordPress.org gives it for a 6.7.1 site on PHP 8.x
    /// (PHP's escaped slashes, `false` for absent packages, an autoupdate twin of the
    /// upgrade offer, the latest of the installed branch).
    const CORE_ANSWER: &str = r#"{"offers":[{"response":"upgrade","download":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3.zip","locale":"en_US","packages":{"full":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3.zip","no_content":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3-no-content.zip","new_bundled":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3-new-bundled.zip","partial":false,"rollback":false},"current":"6.8.3","version":"6.8.3","php_version":"7.2.24","mysql_version":"5.5.5","new_bundled":"6.7","partial_version":false},{"response":"autoupdate","download":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3.zip","locale":"en_US","packages":{"full":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3.zip","no_content":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3-no-content.zip","new_bundled":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3-new-bundled.zip","partial":false,"rollback":false},"current":"6.8.3","version":"6.8.3","php_version":"7.2.24","mysql_version":"5.5.5","new_bundled":"6.7","partial_version":false,"new_files":true},{"response":"autoupdate","download":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4.zip","locale":"en_US","packages":{"full":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4.zip","no_content":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4-no-content.zip","new_bundled":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4-new-bundled.zip","partial":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4-partial-1.zip","rollback":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.7.4-rollback-1.zip"},"current":"6.7.4","version":"6.7.4","php_version":"7.2.24","mysql_version":"5.5.5","new_bundled":"6.7","partial_version":"6.7.1","new_files":""}],"translations":[]}"#;

    /// A plugin update-check 1.1 answer: akismet has an update, Hello Dolly (a single-file
    /// plugin, `hello-dolly` on WordPress.org) too, classic-editor is current.
    const PLUGINS_ANSWER: &str = r#"{"plugins":{"akismet\/akismet.php":{"id":"w.org\/plugins\/akismet","slug":"akismet","plugin":"akismet\/akismet.php","new_version":"5.5","url":"https:\/\/wordpress.org\/plugins\/akismet\/","package":"https:\/\/downloads.wordpress.org\/plugin\/akismet.5.5.zip","icons":{"2x":"https:\/\/ps.w.org\/akismet\/assets\/icon-256x256.png?rev=2818463","1x":"https:\/\/ps.w.org\/akismet\/assets\/icon-128x128.png?rev=2818463"},"banners":{"2x":"https:\/\/ps.w.org\/akismet\/assets\/banner-1544x500.png?rev=2900731","1x":"https:\/\/ps.w.org\/akismet\/assets\/banner-772x250.png?rev=2900731"},"banners_rtl":[],"requires":"5.8","tested":"6.8.3","requires_php":"7.2","requires_plugins":[],"compatibility":[]},"hello.php":{"id":"w.org\/plugins\/hello-dolly","slug":"hello-dolly","plugin":"hello.php","new_version":"1.7.2","url":"https:\/\/wordpress.org\/plugins\/hello-dolly\/","package":"https:\/\/downloads.wordpress.org\/plugin\/hello-dolly.1.7.2.zip","icons":{"2x":"https:\/\/ps.w.org\/hello-dolly\/assets\/icon-256x256.jpg?rev=2052855","1x":"https:\/\/ps.w.org\/hello-dolly\/assets\/icon-128x128.jpg?rev=2052855"},"banners":{"2x":"https:\/\/ps.w.org\/hello-dolly\/assets\/banner-1544x500.jpg?rev=2645582","1x":"https:\/\/ps.w.org\/hello-dolly\/assets\/banner-772x250.jpg?rev=2052855"},"banners_rtl":[],"requires":"4.6","tested":"6.8.3","requires_php":false,"requires_plugins":[],"compatibility":[]}},"no_update":{"classic-editor\/classic-editor.php":{"id":"w.org\/plugins\/classic-editor","slug":"classic-editor","plugin":"classic-editor\/classic-editor.php","new_version":"1.6.7","url":"https:\/\/wordpress.org\/plugins\/classic-editor\/","package":"https:\/\/downloads.wordpress.org\/plugin\/classic-editor.1.6.7.zip","icons":{"2x":"https:\/\/ps.w.org\/classic-editor\/assets\/icon-256x256.png?rev=1998671","1x":"https:\/\/ps.w.org\/classic-editor\/assets\/icon-128x128.png?rev=1998671"},"banners":[],"banners_rtl":[],"requires":"4.9","tested":"6.8.3","requires_php":"5.2.4","requires_plugins":[],"compatibility":[]}},"translations":[]}"#;

    const THEMES_ANSWER: &str = r#"{"themes":{"twentytwentythree":{"theme":"twentytwentythree","new_version":"1.6","url":"https:\/\/wordpress.org\/themes\/twentytwentythree\/","package":"https:\/\/downloads.wordpress.org\/theme\/twentytwentythree.1.6.zip","requires":"6.1","requires_php":"5.6"}},"no_update":{"twentytwentyfour":{"theme":"twentytwentyfour","new_version":"1.3","url":"https:\/\/wordpress.org\/themes\/twentytwentyfour\/","package":"https:\/\/downloads.wordpress.org\/theme\/twentytwentyfour.1.3.zip","requires":"6.4","requires_php":"7.0"}},"translations":[]}"#;

    const NOTHING_FOR_PLUGINS: &str = r#"{"plugins":[],"no_update":[],"translations":[]}"#;
    const NOTHING_FOR_THEMES: &str = r#"{"themes":[],"no_update":[],"translations":[]}"#;

    fn component(slug: &str, version: &str, active: bool) -> Component {
        Component {
            slug: slug.into(),
            version: Some(version.into()),
            active,
        }
    }

    fn site_facts() -> Facts {
        Facts {
            cms: wordpress::KIND,
            version: "6.7.1".into(),
            db_version: Some("58975".into()),
            php_version: Some("8.2.36".into()),
            plugins: vec![
                component("akismet", "5.0.2", true),
                component("classic-editor", "1.6.7", false),
                component("hello", "1.7.1", false),
            ],
            themes: vec![
                component("twentytwentyfour", "1.3", false),
                component("twentytwentythree", "1.0", true),
            ],
            database: None,
            plugin_files: [
                ("akismet", "akismet/akismet.php"),
                ("classic-editor", "classic-editor/classic-editor.php"),
                ("hello", "hello.php"),
            ]
            .into_iter()
            .map(|(s, f)| (s.to_owned(), f.to_owned()))
            .collect(),
            packages: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn offer(kind: ComponentType, slug: &str, version: &str, package: &str) -> Offer {
        Offer {
            cms: wordpress::KIND,
            kind,
            slug: slug.into(),
            version: version.into(),
            package: package.into(),
            sha256: None,
            source: "wordpress.org".into(),
            released: None,
        }
    }

    #[test]
    fn parses_core_offers_from_a_captured_answer() {
        let offers = parse_core_offers(CORE_ANSWER).unwrap();
        assert_eq!(offers.len(), 3);
        assert_eq!(
            offers[0],
            CoreOffer {
                response: "upgrade".into(),
                version: "6.8.3".into(),
                locale: Some("en_US".into()),
                package: Some("https://downloads.wordpress.org/release/wordpress-6.8.3.zip".into()),
                php_version: Some("7.2.24".into()),
                released: None,
            }
        );
        assert_eq!(offers[2].response, "autoupdate");
        assert_eq!(offers[2].version, "6.7.4");
        // `download` stands in when there is no `packages.full`.
        let only_download = r#"{"offers":[{"response":"latest","download":"https:\/\/downloads.wordpress.org\/release\/wordpress-6.8.3.zip","locale":"en_US","packages":{"full":false},"current":"6.8.3"}]}"#;
        let offers = parse_core_offers(only_download).unwrap();
        assert_eq!(offers[0].version, "6.8.3");
        assert_eq!(
            offers[0].package.as_deref(),
            Some("https://downloads.wordpress.org/release/wordpress-6.8.3.zip")
        );
        assert_eq!(offers[0].php_version, None);
    }

    #[test]
    fn core_offers_are_en_us_distinct_packaged_and_fit_the_sites_php() {
        let mut core = parse_core_offers(CORE_ANSWER).unwrap();
        core.push(CoreOffer {
            response: "upgrade".into(),
            version: "6.8.3".into(),
            locale: Some("de_DE".into()),
            package: Some(
                "https://downloads.wordpress.org/release/de_DE/wordpress-6.8.3.zip".into(),
            ),
            php_version: Some("7.2.24".into()),
            released: None,
        });
        core.push(CoreOffer {
            response: "upgrade".into(),
            version: "7.0".into(),
            locale: Some("en_US".into()),
            package: Some("https://downloads.wordpress.org/release/wordpress-7.0.zip".into()),
            php_version: Some("7.4".into()),
            released: None,
        });
        core.push(CoreOffer {
            response: "upgrade".into(),
            version: "6.9".into(),
            locale: Some("en_US".into()),
            package: None,
            php_version: None,
            released: None,
        });

        let mut check = Check::default();
        core_to_offers(&core, Some("7.3.33"), &mut check);
        let versions: Vec<&str> = check.offers.iter().map(|o| o.version.as_str()).collect();
        assert_eq!(versions, ["6.8.3", "6.7.4"]);
        assert_eq!(
            check.offers[0],
            offer(
                ComponentType::Core,
                "wordpress",
                "6.8.3",
                "https://downloads.wordpress.org/release/wordpress-6.8.3.zip"
            )
        );
        assert_eq!(
            check.notes,
            [
                "WordPress 7.0 needs PHP 7.4 or newer and the site has PHP 7.3.33: not offered",
                "WordPress 6.9: WordPress.org offers no package",
            ]
        );

        // With the site's PHP unknown, nothing is left out for PHP.
        let mut check = Check::default();
        core_to_offers(&core, None, &mut check);
        let versions: Vec<&str> = check.offers.iter().map(|o| o.version.as_str()).collect();
        assert_eq!(versions, ["6.8.3", "6.7.4", "7.0"]);
    }

    #[test]
    fn parses_plugin_updates_under_the_sites_slugs() {
        let files = site_facts().plugin_files;
        let updates = parse_plugin_updates(PLUGINS_ANSWER, &files).unwrap();
        assert_eq!(
            updates,
            [
                Update {
                    slug: "akismet".into(),
                    version: "5.5".into(),
                    package: Some("https://downloads.wordpress.org/plugin/akismet.5.5.zip".into()),
                    requires_php: Some("7.2".into()),
                    api_slug: "akismet".into(),
                    released: None,
                },
                // The site calls it `hello` (hello.php); WordPress.org `hello-dolly`.
                Update {
                    slug: "hello".into(),
                    version: "1.7.2".into(),
                    package: Some(
                        "https://downloads.wordpress.org/plugin/hello-dolly.1.7.2.zip".into()
                    ),
                    requires_php: None,
                    api_slug: "hello-dolly".into(),
                    released: None,
                },
            ]
        );
        // A file the site did not name falls back to WordPress.org's slug.
        let updates = parse_plugin_updates(PLUGINS_ANSWER, &BTreeMap::new()).unwrap();
        assert_eq!(updates[1].slug, "hello-dolly");
    }

    #[test]
    fn php_empty_maps_parse_as_no_updates() {
        assert_eq!(
            parse_plugin_updates(NOTHING_FOR_PLUGINS, &BTreeMap::new()).unwrap(),
            []
        );
        assert_eq!(parse_theme_updates(NOTHING_FOR_THEMES).unwrap(), []);
        assert_eq!(
            parse_plugin_updates(
                r#"{"plugins":{},"no_update":{},"translations":[]}"#,
                &BTreeMap::new()
            )
            .unwrap(),
            []
        );
    }

    #[test]
    fn an_update_without_a_package_is_noted_not_offered() {
        let answer = r#"{"plugins":{"closed-plugin\/closed-plugin.php":{"id":"w.org\/plugins\/closed-plugin","slug":"closed-plugin","plugin":"closed-plugin\/closed-plugin.php","new_version":"2.0","url":"https:\/\/wordpress.org\/plugins\/closed-plugin\/","package":"","requires_php":"7.0"},"modern\/modern.php":{"slug":"modern","plugin":"modern\/modern.php","new_version":"3.0","package":"https:\/\/downloads.wordpress.org\/plugin\/modern.3.0.zip","requires_php":"8.3"}},"no_update":[],"translations":[]}"#;
        let updates = parse_plugin_updates(answer, &BTreeMap::new()).unwrap();
        assert_eq!(updates[0].package, None);
        let mut check = Check::default();
        updates_to_offers(ComponentType::Plugin, &updates, Some("8.2.36"), &mut check);
        assert_eq!(check.offers, []);
        assert_eq!(
            check.notes,
            [
                "plugin closed-plugin 2.0: WordPress.org offers no package",
                "plugin modern 3.0 needs PHP 8.3 or newer and the site has PHP 8.2.36: not offered",
            ]
        );
    }

    #[test]
    fn parses_theme_updates() {
        assert_eq!(
            parse_theme_updates(THEMES_ANSWER).unwrap(),
            [Update {
                slug: "twentytwentythree".into(),
                version: "1.6".into(),
                package: Some(
                    "https://downloads.wordpress.org/theme/twentytwentythree.1.6.zip".into()
                ),
                requires_php: Some("5.6".into()),
                api_slug: "twentytwentythree".into(),
                released: None,
            }]
        );
    }

    #[test]
    fn parses_checksums_and_knows_false() {
        let answer = r#"{"checksums":{"wp-admin\/about.php":"C2B8A1D7E6F5A4B3C2D1E0F9A8B7C6D5","index.php":"926dd0f95df723f9ed934eb058882cc8","wp-includes\/version.php":"0d5b8e3f4f1a2c6b7d8e9f0a1b2c3d4e"}}"#;
        let checksums = parse_core_checksums(answer).unwrap().unwrap();
        assert_eq!(checksums.len(), 3);
        assert_eq!(checksums["index.php"], "926dd0f95df723f9ed934eb058882cc8");
        assert_eq!(
            checksums["wp-admin/about.php"],
            "c2b8a1d7e6f5a4b3c2d1e0f9a8b7c6d5"
        );
        assert_eq!(
            parse_core_checksums(r#"{"checksums":false}"#).unwrap(),
            None
        );
        assert_eq!(
            parse_core_checksums(r#"{"checksums":{"index.php":false}}"#).unwrap_err(),
            "`checksums.index.php` is not an md5"
        );
    }

    #[test]
    fn malformed_answers_name_what_is_wrong() {
        assert!(parse_core_offers("<html>503</html>")
            .unwrap_err()
            .starts_with("the answer is not JSON"));
        assert_eq!(
            parse_core_offers(r#"{"translations":[]}"#).unwrap_err(),
            "`offers` is missing"
        );
        assert_eq!(
            parse_core_offers(r#"{"offers":[{"response":"latest"}]}"#).unwrap_err(),
            "`offers[0].version` is missing"
        );
        assert_eq!(
            parse_plugin_updates(r#"{"plugins":["akismet"]}"#, &BTreeMap::new()).unwrap_err(),
            "`plugins` is not a map"
        );
        assert_eq!(
            parse_plugin_updates(
                r#"{"plugins":{"akismet\/akismet.php":{"slug":"akismet"}}}"#,
                &BTreeMap::new()
            )
            .unwrap_err(),
            "`plugins.akismet/akismet.php.new_version` is missing"
        );
        assert_eq!(
            parse_theme_updates("[]").unwrap_err(),
            "the answer is JSON but not an object"
        );
        assert_eq!(
            parse_core_checksums("{}").unwrap_err(),
            "`checksums` is missing"
        );
    }

    #[test]
    fn compares_php_versions_by_their_numbers() {
        assert_eq!(php_at_least("8.2.36", "7.2.24"), Some(true));
        assert_eq!(php_at_least("7.2", "7.2.0"), Some(true));
        assert_eq!(php_at_least("7.2.23", "7.2.24"), Some(false));
        assert_eq!(php_at_least("8.1.2-1ubuntu2.14", "8.1.2"), Some(true));
        assert_eq!(php_at_least("7.10", "7.4"), Some(true));
        assert_eq!(php_at_least("unknown", "7.4"), None);
        assert_eq!(php_too_old("x", Some("7.4"), None), None);
    }

    /// One request as the test server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    type Log = Arc<Mutex<Vec<Seen>>>;

    /// A tiny HTTP/1.1 server on 127.0.0.1: answers each path in `routes` with its status
    /// and JSON body (404 otherwise), one request per connection, and records every
    /// request. Returns its base URL (ending in `/`) and the record.
    async fn serve(routes: Vec<(&'static str, u16, &'static str)>) -> (String, Log) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let log: Log = Arc::default();
        let record = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        let n = stream.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "connection closed before the headers ended");
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap().split(' ');
                    let method = request_line.next().unwrap().to_owned();
                    let target = request_line.next().unwrap().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .map(|(_, v)| v.parse().unwrap())
                        .unwrap_or(0);
                    let mut body = buf[head_end + 4..].to_vec();
                    while body.len() < length {
                        let n = stream.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "connection closed before the body ended");
                        body.extend_from_slice(&chunk[..n]);
                    }
                    let (path, query) = match target.split_once('?') {
                        Some((p, q)) => (p.to_owned(), q.to_owned()),
                        None => (target.clone(), String::new()),
                    };
                    let (status, answer) = routes
                        .iter()
                        .find(|(p, _, _)| *p == path)
                        .map(|(_, s, a)| (*s, *a))
                        .unwrap_or((404, "{}"));
                    record.lock().unwrap().push(Seen {
                        method: method.clone(),
                        path,
                        query,
                        headers,
                        body: String::from_utf8(body).unwrap(),
                    });
                    // Every answer is dated (as WordPress.org's release packages are), and
                    // a HEAD gets the headers only.
                    let body = if method == "HEAD" { "" } else { answer };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nLast-Modified: {LAST_MODIFIED}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        answer.len()
                    );
                    stream.write_all(response.as_bytes()).await.unwrap();
                    stream.shutdown().await.ok();
                });
            }
        });
        (base, log)
    }

    /// The `Last-Modified` every answer of the test server carries.
    const LAST_MODIFIED: &str = "Tue, 15 Jul 2025 18:31:12 GMT";

    /// A plugin information (1.2) answer as WordPress.org gives it (trimmed).
    const AKISMET_INFO: &str = r#"{"name":"Akismet Anti-spam: Spam Protection","slug":"akismet","version":"5.5","author":"<a href=\"https:\/\/automattic.com\/wordpress-plugins\/\">Automattic - Anti-spam Team<\/a>","requires":"5.8","tested":"6.8.3","requires_php":"7.2","last_updated":"2025-07-10 3:01pm GMT","added":"2005-10-24","homepage":"https:\/\/akismet.com\/","download_link":"https:\/\/downloads.wordpress.org\/plugin\/akismet.5.5.zip"}"#;

    /// A theme information (1.2) answer (trimmed).
    const THEME_INFO: &str = r#"{"name":"Twenty Twenty-Three","slug":"twentytwentythree","version":"1.6","preview_url":"https:\/\/wp-themes.com\/twentytwentythree\/","requires":"6.1","requires_php":"5.6","last_updated":"2024-11-13","last_updated_time":"2024-11-13 14:22:06","homepage":"https:\/\/wordpress.org\/themes\/twentytwentythree\/","download_link":"https:\/\/downloads.wordpress.org\/theme\/twentytwentythree.1.6.zip"}"#;

    #[test]
    fn knows_every_component_of_an_answer_updated_or_not() {
        let files = BTreeMap::from([
            ("akismet".to_owned(), "akismet/akismet.php".to_owned()),
            ("hello".to_owned(), "hello.php".to_owned()),
            (
                "classic-editor".to_owned(),
                "classic-editor/classic-editor.php".to_owned(),
            ),
        ]);
        let mut plugins = known_slugs(PLUGINS_ANSWER, "plugins", Some(&files));
        plugins.sort();
        assert_eq!(plugins, ["akismet", "classic-editor", "hello"]);
        let mut themes = known_slugs(THEMES_ANSWER, "themes", None);
        themes.sort();
        assert_eq!(themes, ["twentytwentyfour", "twentytwentythree"]);
        assert!(known_slugs(NOTHING_FOR_PLUGINS, "plugins", Some(&files)).is_empty());
        assert!(known_slugs("not json", "themes", None).is_empty());
    }

    #[test]
    fn reads_release_dates_from_information_answers_of_the_offered_version() {
        let date = |text: &str, version: &str| {
            parse_info_date(text, version).map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        };
        assert_eq!(
            date(AKISMET_INFO, "5.5").as_deref(),
            Some("2025-07-10 15:01:00")
        );
        assert_eq!(
            date(THEME_INFO, "1.6").as_deref(),
            Some("2024-11-13 14:22:06")
        );
        let day_only = r#"{"version":"1.6","last_updated":"2024-11-13"}"#;
        assert_eq!(
            date(day_only, "1.6").as_deref(),
            Some("2024-11-13 00:00:00")
        );
        let midnight = r#"{"version":"2.0","last_updated":"2025-01-02 12:05am GMT"}"#;
        assert_eq!(
            date(midnight, "2.0").as_deref(),
            Some("2025-01-02 00:05:00")
        );
        // The answer dates its newest version: for another version it says nothing.
        assert_eq!(date(AKISMET_INFO, "5.4"), None);
        assert_eq!(date(r#"{"error":"Plugin not found."}"#, "1.0"), None);
        assert_eq!(
            date(r#"{"version":"1.0","last_updated":"soon"}"#, "1.0"),
            None
        );
    }

    #[tokio::test]
    async fn dated_checks_ask_the_information_apis_and_the_core_package() {
        let (base, log) = serve(vec![
            (
                "/core/version-check/1.7/",
                200,
                r#"{"offers":[],"translations":[]}"#,
            ),
            ("/plugins/update-check/1.1/", 200, PLUGINS_ANSWER),
            ("/themes/update-check/1.1/", 200, THEMES_ANSWER),
            ("/plugins/info/1.2/", 200, AKISMET_INFO),
            ("/themes/info/1.2/", 200, THEME_INFO),
            ("/release/wordpress-6.8.3.zip", 200, "PK"),
        ])
        .await;
        // Core's package on the same server (its answer is leaked to be 'static, as routes are).
        let core_answer: &'static str = Box::leak(
            format!(
                r#"{{"offers":[{{"response":"upgrade","download":"{base}release/wordpress-6.8.3.zip","locale":"en_US","packages":{{"full":"{base}release/wordpress-6.8.3.zip"}},"current":"6.8.3","version":"6.8.3","php_version":"7.2.24"}}],"translations":[]}}"#
            )
            .into_boxed_str(),
        );
        let (core_base, core_log) =
            serve(vec![("/core/version-check/1.7/", 200, core_answer)]).await;
        // Two servers: the API at one, everything else at the other, as in real life.
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let api_core = WordpressOrg::new(&core_base, reqwest::Client::new());
        let mut facts = site_facts();
        // Undated checks ask nothing more.
        api.check(&facts).await.unwrap();
        assert!(seen(&log, "/plugins/info/1.2/").is_empty());

        let check = api.check_dated(&facts, true).await.unwrap();
        let released = |slug: &str| {
            check
                .offers
                .iter()
                .find(|o| o.slug == slug)
                .and_then(|o| o.released)
                .map(|d| d.to_rfc3339())
        };
        assert_eq!(
            released("akismet").as_deref(),
            Some("2025-07-10T15:01:00+00:00")
        );
        assert_eq!(
            released("twentytwentythree").as_deref(),
            Some("2024-11-13T14:22:06+00:00")
        );
        // hello-dolly is asked about by WordPress.org's slug; the answer is Akismet's
        // version, not 1.7.2, so its date stays unknown.
        assert_eq!(released("hello"), None);
        let asked: Vec<BTreeMap<String, String>> = seen(&log, "/plugins/info/1.2/")
            .iter()
            .map(|s| form(&s.query))
            .collect();
        assert!(asked
            .iter()
            .any(|q| q["request[slug]"] == "hello-dolly" && q["action"] == "plugin_information"));
        let themes = seen(&log, "/themes/info/1.2/");
        assert_eq!(form(&themes[0].query)["action"], "theme_information");

        // Core: the Last-Modified of its package, asked with HEAD.
        facts.plugins.clear();
        facts.themes.clear();
        let check = api_core.check_dated(&facts, true).await.unwrap();
        assert_eq!(
            check.offers[0].released.map(|d| d.to_rfc3339()).as_deref(),
            Some("2025-07-15T18:31:12+00:00")
        );
        let head = seen(&log, "/release/wordpress-6.8.3.zip");
        assert_eq!(head.len(), 1);
        assert_eq!(head[0].method, "HEAD");
        assert_eq!(seen(&core_log, "/core/version-check/1.7/").len(), 1);
    }

    /// Decodes `application/x-www-form-urlencoded` text (also a query string).
    fn form(text: &str) -> BTreeMap<String, String> {
        fn decode(text: &str) -> String {
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'+' => out.push(b' '),
                    b'%' => {
                        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                        out.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8(out).unwrap()
        }
        text.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    fn seen(log: &Log, path: &str) -> Vec<Seen> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    #[tokio::test]
    async fn asks_what_wordpress_asks_and_offers_what_it_answers() {
        let (base, log) = serve(vec![
            ("/core/version-check/1.7/", 200, CORE_ANSWER),
            ("/plugins/update-check/1.1/", 200, PLUGINS_ANSWER),
            ("/themes/update-check/1.1/", 200, THEMES_ANSWER),
        ])
        .await;
        // No trailing slash: the client adds it.
        let api = WordpressOrg::new(base.trim_end_matches('/'), reqwest::Client::new());
        let check = api.check(&site_facts()).await.unwrap();

        let core = seen(&log, "/core/version-check/1.7/");
        assert_eq!(core.len(), 1);
        assert_eq!(core[0].method, "GET");
        assert_eq!(
            form(&core[0].query),
            BTreeMap::from([
                ("version".to_owned(), "6.7.1".to_owned()),
                ("php".to_owned(), "8.2.36".to_owned()),
                ("locale".to_owned(), "en_US".to_owned()),
            ])
        );
        assert_eq!(core[0].header("user-agent"), Some("WordPress/6.7.1; tend"));

        let plugins = seen(&log, "/plugins/update-check/1.1/");
        assert_eq!(plugins.len(), 1);
        assert_eq!(plugins[0].method, "POST");
        assert_eq!(plugins[0].query, "");
        assert_eq!(
            plugins[0].header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let fields = form(&plugins[0].body);
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["all", "locale", "plugins", "translations"]
        );
        assert_eq!(fields["translations"], "[]");
        assert_eq!(fields["locale"], "[]");
        assert_eq!(fields["all"], "true");
        let sent: Value = serde_json::from_str(&fields["plugins"]).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({
                "plugins": {
                    "akismet/akismet.php": {"Name": "akismet", "Version": "5.0.2"},
                    "classic-editor/classic-editor.php": {"Name": "classic-editor", "Version": "1.6.7"},
                    "hello.php": {"Name": "hello", "Version": "1.7.1"},
                },
                "active": ["akismet/akismet.php"],
            })
        );

        let themes = seen(&log, "/themes/update-check/1.1/");
        assert_eq!(themes.len(), 1);
        assert_eq!(themes[0].method, "POST");
        let fields = form(&themes[0].body);
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["locale", "themes", "translations"]
        );
        let sent: Value = serde_json::from_str(&fields["themes"]).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({
                "active": "twentytwentythree",
                "themes": {
                    "twentytwentyfour": {"Name": "twentytwentyfour", "Version": "1.3"},
                    "twentytwentythree": {"Name": "twentytwentythree", "Version": "1.0"},
                },
            })
        );

        assert_eq!(
            check.offers,
            [
                offer(
                    ComponentType::Core,
                    "wordpress",
                    "6.8.3",
                    "https://downloads.wordpress.org/release/wordpress-6.8.3.zip"
                ),
                offer(
                    ComponentType::Core,
                    "wordpress",
                    "6.7.4",
                    "https://downloads.wordpress.org/release/wordpress-6.7.4.zip"
                ),
                offer(
                    ComponentType::Plugin,
                    "akismet",
                    "5.5",
                    "https://downloads.wordpress.org/plugin/akismet.5.5.zip"
                ),
                offer(
                    ComponentType::Plugin,
                    "hello",
                    "1.7.2",
                    "https://downloads.wordpress.org/plugin/hello-dolly.1.7.2.zip"
                ),
                offer(
                    ComponentType::Theme,
                    "twentytwentythree",
                    "1.6",
                    "https://downloads.wordpress.org/theme/twentytwentythree.1.6.zip"
                ),
            ]
        );
        assert_eq!(check.notes, Vec::<String>::new());
        assert_eq!(api.offers(&site_facts()).await.unwrap(), check.offers);
    }

    #[tokio::test]
    async fn a_bare_site_asks_only_about_core() {
        let (base, log) = serve(vec![("/core/version-check/1.7/", 200, CORE_ANSWER)]).await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let mut facts = site_facts();
        facts.plugins.clear();
        facts.themes.clear();
        facts.php_version = None;
        let offers = api.offers(&facts).await.unwrap();
        assert_eq!(offers.len(), 2);
        let all = log.lock().unwrap().clone();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].path, "/core/version-check/1.7/");
        // No PHP version known: none sent.
        assert_eq!(
            form(&all[0].query),
            BTreeMap::from([
                ("version".to_owned(), "6.7.1".to_owned()),
                ("locale".to_owned(), "en_US".to_owned()),
            ])
        );
    }

    #[tokio::test]
    async fn a_plugin_with_an_unknown_main_file_is_noted_not_sent() {
        let (base, log) = serve(vec![
            ("/core/version-check/1.7/", 200, CORE_ANSWER),
            ("/plugins/update-check/1.1/", 200, NOTHING_FOR_PLUGINS),
        ])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let mut facts = site_facts();
        facts.themes.clear();
        facts.plugin_files.remove("classic-editor");
        let check = api.check(&facts).await.unwrap();
        assert_eq!(
            check.notes,
            ["plugin classic-editor: its main file is unknown, so WordPress.org was not asked about it"]
        );
        let plugins = seen(&log, "/plugins/update-check/1.1/");
        let sent: Value = serde_json::from_str(&form(&plugins[0].body)["plugins"]).unwrap();
        assert_eq!(
            sent["plugins"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["akismet/akismet.php", "hello.php"]
        );
        assert!(check.offers.iter().all(|o| o.kind == ComponentType::Core));
    }

    #[tokio::test]
    async fn other_cms_ask_nothing() {
        let (base, log) = serve(vec![]).await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let mut facts = site_facts();
        facts.cms = crate::cms::joomla::KIND;
        assert_eq!(api.offers(&facts).await.unwrap(), []);
        assert!(log.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn core_checksums_asks_for_the_version_and_explains_false() {
        let (base, log) = serve(vec![(
            "/core/checksums/1.0/",
            200,
            r#"{"checksums":{"wp-admin\/about.php":"e4b7bd5e3b1f4ba8d6e5c4a3b2c1d0e9","index.php":"926dd0f95df723f9ed934eb058882cc8"}}"#,
        )])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let checksums = api.core_checksums("6.8.3").await.unwrap();
        assert_eq!(
            checksums,
            BTreeMap::from([
                (
                    "index.php".to_owned(),
                    "926dd0f95df723f9ed934eb058882cc8".to_owned()
                ),
                (
                    "wp-admin/about.php".to_owned(),
                    "e4b7bd5e3b1f4ba8d6e5c4a3b2c1d0e9".to_owned()
                ),
            ])
        );
        let requests = log.lock().unwrap().clone();
        assert_eq!(requests[0].method, "GET");
        assert_eq!(
            form(&requests[0].query),
            BTreeMap::from([
                ("version".to_owned(), "6.8.3".to_owned()),
                ("locale".to_owned(), "en_US".to_owned()),
            ])
        );

        let (base, _) = serve(vec![(
            "/core/checksums/1.0/",
            200,
            r#"{"checksums":false}"#,
        )])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        assert_eq!(
            api.core_checksums("9.9.9").await.unwrap_err().to_string(),
            format!(
                "{base}core/checksums/1.0/?version=9.9.9&locale=en_US: \
                 WordPress.org has no checksums for WordPress 9.9.9 (en_US)"
            )
        );
    }

    #[tokio::test]
    async fn errors_name_the_url_and_what_went_wrong() {
        // One failure at a time: the three requests run together.
        let (base, _) = serve(vec![
            ("/core/version-check/1.7/", 200, CORE_ANSWER),
            ("/plugins/update-check/1.1/", 503, "<h1>busy</h1>"),
            ("/themes/update-check/1.1/", 200, NOTHING_FOR_THEMES),
        ])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let error = api.offers(&site_facts()).await.unwrap_err();
        assert!(
            matches!(error, ApiError::Status { status: 503, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("{base}plugins/update-check/1.1/ answered HTTP 503")
        );

        let (base, _) = serve(vec![
            ("/core/version-check/1.7/", 200, CORE_ANSWER),
            ("/themes/update-check/1.1/", 200, r#"{"themes":"nope"}"#),
        ])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let mut facts = site_facts();
        facts.plugins.clear();
        let error = api.offers(&facts).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{base}themes/update-check/1.1/: `themes` is not a map")
        );

        let (base, _) = serve(vec![(
            "/core/version-check/1.7/",
            200,
            "<html>maintenance</html>",
        )])
        .await;
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let error = api
            .core_offers(&site_facts())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "{base}core/version-check/1.7/?version=6.7.1&php=8.2.36&locale=en_US: the answer is not JSON"
            )),
            "{error}"
        );

        // Nothing listens on a port just released.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let api = WordpressOrg::new(&base, reqwest::Client::new());
        let error = api.core_checksums("6.8.3").await.unwrap_err();
        assert!(matches!(error, ApiError::Unreachable { .. }), "{error:?}");
        let error = error.to_string();
        assert!(
            error.starts_with(&format!(
                "cannot reach {base}core/checksums/1.0/?version=6.8.3&locale=en_US: "
            )),
            "{error}"
        );
        assert!(!error.contains('\n'));
    }
}
