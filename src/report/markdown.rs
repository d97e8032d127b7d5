//! The report as plain GitHub-flavoured Markdown, for pasting into tickets and mails.
//!
//! Only headings, paragraphs, lists and pipe tables: they render in every tracker and stay
//! readable as raw text. Every string from the history goes through [`cell`] or [`text`] so
//! that a `|` or a line break in an error message cannot break a table.

use super::model::SiteReport;
use super::wording::{self, day};
use super::ClientReport;

pub fn render(report: &ClientReport) -> String {
    let mut out = String::new();
    out.push_str(&format!("# {}\n\n", text(&wording::title(report))));
    if let Some(agency) = &report.agency {
        out.push_str(&format!("**Maintained by:** {}  \n", text(agency)));
    }
    out.push_str(&format!("**Period:** {}  \n", wording::period(report)));
    if let Some(contact) = &report.contact {
        out.push_str(&format!("**Contact:** {}  \n", text(contact)));
    }
    out.push_str(&format!(
        "**Sites:** {}\n\n",
        text(&wording::site_names(report))
    ));

    out.push_str("## Summary\n\n| | |\n| --- | ---: |\n");
    for (label, value) in wording::summary_rows(&report.summary) {
        out.push_str(&format!("| {label} | {} |\n", cell(&value)));
    }
    out.push('\n');

    if !report.unfinished_runs.is_empty() {
        out.push_str("## Runs that never finished\n\n");
        out.push_str(wording::unfinished_intro());
        out.push_str("\n\n");
        for run in &report.unfinished_runs {
            out.push_str(&format!("- {}\n", text(&wording::unfinished_line(run))));
        }
        out.push('\n');
    }

    for site in &report.sites {
        site_section(&mut out, report, site);
    }
    out
}

fn site_section(out: &mut String, report: &ClientReport, site: &SiteReport) {
    out.push_str(&format!("## {}\n\n", text(&site.site)));
    out.push_str(&format!(
        "{}\n\n",
        text(&wording::site_line(
            site.cms.as_deref(),
            &site.url,
            site.runs
        ))
    ));
    if !site.activity {
        out.push_str(&format!("_{}_\n\n", wording::no_activity(report)));
        return;
    }

    out.push_str("### Updates applied\n\n");
    // The note column only when some update needs one.
    let noted = site.updates.iter().any(|u| u.site_failed);
    let headers = ["Date", "Type", "Name", "From", "To", "Note"];
    table(
        out,
        &headers[..if noted { 6 } else { 5 }],
        site.updates.iter().map(|u| {
            let mut row = vec![
                day(u.date),
                u.kind.clone(),
                u.slug.clone(),
                u.from.clone(),
                u.to.clone(),
            ];
            if noted {
                row.push(if u.site_failed {
                    wording::KEPT_ON_FAILURE.to_owned()
                } else {
                    String::new()
                });
            }
            row
        }),
    );

    out.push_str("### Updates held back\n\n");
    table(
        out,
        &[
            "Type",
            "Name",
            "Installed",
            "Available",
            "Reason",
            "Last seen",
        ],
        site.held.iter().map(|h| {
            vec![
                h.kind.clone(),
                h.slug.clone(),
                h.from.clone(),
                h.available.clone().unwrap_or_else(|| "unknown".to_owned()),
                wording::held_reason(&h.reason),
                day(h.date),
            ]
        }),
    );

    // Said only where there is something: most sites have every component tracked.
    if !site.untracked.is_empty() {
        out.push_str(&format!("### {}\n\n", wording::UNTRACKED_HEADING));
        table(
            out,
            &["Type", "Name", "Installed", "Last seen"],
            site.untracked.iter().map(|u| {
                vec![
                    u.kind.clone(),
                    u.slug.clone(),
                    u.version.clone().unwrap_or_else(|| "unknown".to_owned()),
                    day(u.date),
                ]
            }),
        );
    }

    out.push_str("### Backups\n\n");
    out.push_str(&format!(
        "{}.\n\n",
        text(&wording::backups_line(&site.backups))
    ));

    out.push_str("### Incidents\n\n");
    table(
        out,
        &["Date", "Outcome", "Command", "Reason"],
        site.incidents.iter().map(|i| {
            vec![
                day(i.date),
                wording::incident_kind(i.kind),
                wording::command(&i.command, i.playbook.as_deref()),
                wording::incident_detail(i),
            ]
        }),
    );
    if !site.restores.is_empty() {
        out.push_str("### Restores on request\n\n");
        for r in &site.restores {
            out.push_str(&format!(
                "- {}: {}\n",
                day(r.date),
                text(&wording::restore(r))
            ));
        }
        out.push('\n');
    }
    if !site.recoveries.is_empty() {
        out.push_str("### Recoveries\n\n");
        for r in &site.recoveries {
            out.push_str(&format!("- {}: {}\n", day(r.date), wording::recovery()));
        }
        out.push('\n');
    }

    out.push_str("### Verification\n\n");
    table(
        out,
        &["Check", "Path", "Passed", "Last result", "Mean response"],
        site.checks.iter().map(|c| {
            vec![
                c.name.clone(),
                c.path.clone(),
                wording::check_passed(c),
                wording::check_last(c),
                wording::millis(c.mean_ms),
            ]
        }),
    );
}

/// A pipe table, or `None.` when there are no rows.
fn table(out: &mut String, headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push_str(&format!("| {} |\n", headers.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(headers.len())));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
}

/// A table cell: `|` escaped, line breaks folded into spaces, never empty.
pub fn cell(value: &str) -> String {
    let escaped = text(value).replace('|', "\\|");
    if escaped.trim().is_empty() {
        " ".to_owned()
    } else {
        escaped
    }
}

/// Running text on one line: line breaks folded into spaces.
pub fn text(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(
            cell("line one\nline two\r\nthree"),
            "line one line two three"
        );
        assert_eq!(cell(""), " ");
    }
}
