//! `tend facts` results: a table per site for people, the contract's JSON for tools.

use serde_json::{json, Value};

use super::style::Style;
use crate::cms::Component;
use crate::engine::facts::{OfferedUpdates, SiteFacts};

/// `updates`: per site, what `--updates` found (empty when it was not asked).
pub fn to_json(results: &[SiteFacts], updates: &[OfferedUpdates]) -> Value {
    let sites: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, r)| match &r.result {
            Ok(f) => {
                let mut site = json!({
                    "site": r.site,
                    "ok": true,
                    "cms": f.cms,
                    "version": f.version,
                    "db_version": f.db_version,
                    "php_version": f.php_version,
                    "plugins": f.plugins,
                    "themes": f.themes,
                    "packages": f.packages,
                    "warnings": f.warnings,
                    "error": null,
                });
                match updates.get(i) {
                    Some(Some(Ok(changes))) => {
                        site["updates"] = serde_json::to_value(changes).unwrap_or_default();
                    }
                    Some(Some(Err(e))) => {
                        site["updates"] = Value::Null;
                        site["updates_error"] = Value::String(crate::secrets::mask(&e.to_string()));
                    }
                    _ => {}
                }
                site
            }
            Err(e) => json!({
                "site": r.site,
                "ok": false,
                "cms": null,
                "version": null,
                "plugins": [],
                "themes": [],
                "error": e.masked(),
                "error_kind": e.kind(),
            }),
        })
        .collect();
    json!({ "sites": sites })
}

pub fn to_text(results: &[SiteFacts], updates: &[OfferedUpdates], style: Style) -> String {
    let mut out = String::new();
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match &r.result {
            Ok(f) => {
                let mut head = format!("{}  {} {}", style.bold(&r.site), f.cms, f.version);
                if let Some(db) = &f.db_version {
                    head.push_str(&format!("  db {db}"));
                }
                if let Some(php) = &f.php_version {
                    head.push_str(&format!("  php {php}"));
                }
                out.push_str(&head);
                out.push('\n');
                let rows: Vec<(&str, &Component)> = f
                    .plugins
                    .iter()
                    .map(|c| ("plugin", c))
                    .chain(f.themes.iter().map(|c| ("theme", c)))
                    .collect();
                if !rows.is_empty() {
                    let slug_w = rows
                        .iter()
                        .map(|(_, c)| c.slug.len())
                        .max()
                        .unwrap_or(4)
                        .max(4);
                    let ver_w = rows
                        .iter()
                        .map(|(_, c)| c.version.as_deref().unwrap_or("-").len())
                        .max()
                        .unwrap_or(7)
                        .max(7);
                    out.push_str(&format!(
                        "  {:<6}  {:<slug_w$}  {:<ver_w$}  ACTIVE\n",
                        "TYPE", "SLUG", "VERSION"
                    ));
                    for (kind, c) in rows {
                        out.push_str(&format!(
                            "  {:<6}  {:<slug_w$}  {:<ver_w$}  {}\n",
                            kind,
                            c.slug,
                            c.version.as_deref().unwrap_or("-"),
                            if c.active { "yes" } else { "no" }
                        ));
                    }
                }
                match updates.get(i) {
                    Some(Some(Ok(changes))) if changes.is_empty() => {
                        out.push_str("  updates: none offered\n");
                    }
                    Some(Some(Ok(changes))) => {
                        for c in changes {
                            out.push_str(&format!(
                                "  {} {} {} {} → {}\n",
                                style.good("update:"),
                                c.kind.name(),
                                c.slug,
                                c.from,
                                c.to
                            ));
                        }
                    }
                    Some(Some(Err(e))) => out.push_str(&format!(
                        "  {} {}\n",
                        style.bad("updates unknown:"),
                        crate::secrets::mask(&e.to_string())
                    )),
                    _ => {}
                }
                for w in &f.warnings {
                    out.push_str(&format!("  {} {w}\n", style.warn("note:")));
                }
            }
            Err(e) => {
                out.push_str(&super::site_failed(&style, &r.site, &e.masked()));
            }
        }
    }
    out
}
