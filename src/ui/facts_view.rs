//! `tend facts` results: a table per site for people, the contract's JSON for tools.

use serde_json::{json, Value};

use super::style::Style;
use crate::cms::Component;
use crate::engine::facts::SiteFacts;

pub fn to_json(results: &[SiteFacts]) -> Value {
    let sites: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(f) => json!({
                "site": r.site,
                "ok": true,
                "cms": f.cms,
                "version": f.version,
                "db_version": f.db_version,
                "php_version": f.php_version,
                "plugins": f.plugins,
                "themes": f.themes,
                "warnings": f.warnings,
                "error": null,
            }),
            Err(e) => json!({
                "site": r.site,
                "ok": false,
                "cms": null,
                "version": null,
                "plugins": [],
                "themes": [],
                "error": e.masked(),
            }),
        })
        .collect();
    json!({ "sites": sites })
}

pub fn to_text(results: &[SiteFacts], style: Style) -> String {
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
                for w in &f.warnings {
                    out.push_str(&format!("  {} {w}\n", style.warn("note:")));
                }
            }
            Err(e) => {
                out.push_str(&format!(
                    "{}  {} {}\n",
                    style.bold(&r.site),
                    style.bad("FAILED"),
                    e.masked()
                ));
            }
        }
    }
    out
}
