//! What `tend recover` shows: the interrupted runs it found (before asking), and what it
//! put back.

use serde_json::{json, Value};

use super::style::Style;
use crate::engine::journal::Journal;
use crate::engine::recover::{self, Recovered};
use crate::engine::SiteResult;
use crate::inventory::Site;
use crate::outcome::Outcome;
use crate::site_error::SiteError;

/// Each site with unfinished work, and what recovering it would undo.
pub fn pending_text(sites: &[(&Site, &Journal)]) -> String {
    let mut out = String::new();
    for (site, journal) in sites {
        out.push_str(&format!(
            "{}: interrupted run {} (started {}, {})\n",
            site.name, journal.run, journal.started, journal.owner
        ));
        for line in recover::describe(journal) {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn failed_json(site: &str, e: &SiteError) -> Value {
    json!({"site": site, "status": Outcome::Failed, "run": null, "undone": [], "checks": [], "error": e.masked(), "error_kind": e.kind()})
}

pub fn recover_json(results: &[SiteResult<Recovered>], unreadable: &[(&str, &SiteError)]) -> Value {
    let mut sites: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(done) => json!({"site": r.site, "status": Outcome::Recovered, "run": done.run, "undone": done.undone, "checks": done.checks, "error": null}),
            Err(e) => failed_json(&r.site, e),
        })
        .collect();
    sites.extend(unreadable.iter().map(|(site, e)| failed_json(site, e)));
    json!({ "sites": sites })
}

pub fn recover_text(
    results: &[SiteResult<Recovered>],
    unreadable: &[(&str, &SiteError)],
    style: Style,
) -> String {
    let mut out = String::new();
    if results.is_empty() && unreadable.is_empty() {
        out.push_str("nothing to recover: no site has unfinished work\n");
    }
    for r in results {
        match &r.result {
            Ok(done) => {
                let failing = done.checks.iter().filter(|c| !c.ok).count();
                out.push_str(&format!(
                    "{}  {}  run {}{}\n",
                    style.bold(&r.site),
                    style.good("recovered"),
                    done.run.as_deref().unwrap_or("-"),
                    if failing == 0 {
                        "; checks pass".to_owned()
                    } else {
                        format!("; {failing} check(s) failing")
                    }
                ));
                for line in &done.undone {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            Err(e) => out.push_str(&super::site_failed(&style, &r.site, &e.masked())),
        }
    }
    for (site, e) in unreadable {
        out.push_str(&super::site_failed(&style, site, &e.masked()));
    }
    out
}
