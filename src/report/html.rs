//! The report as one self-contained HTML page, to open in a browser, mail, or print to PDF.
//!
//! Self-contained means it still reads the same in ten years and behind any firewall: an
//! inline `<style>` only — no script, no external stylesheet, font or image (the agency's
//! logo, when `settings.report.logo` names one, is embedded as a `data:` URI), and site URLs
//! as plain text rather than links. Outcomes are spelled out in words (`FAILED`, `ROLLED
//! BACK`), never carried by a colour alone, so a black-and-white print says the same. Print
//! rules fit A4, repeat table headers and keep a site's section on one page where it fits.
//! Every string from the history or the inventory goes through [`escape`].

use super::model::SiteReport;
use super::wording::{self, day};
use super::ClientReport;

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1a1a1a; background: #fff; line-height: 1.45; margin: 0 auto; padding: 2rem 1.5rem;
  max-width: 60rem; font-size: 15px; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
img.logo { float: right; max-height: 3.5rem; max-width: 14rem; margin-left: 1rem; }
h2 { font-size: 1.25rem; margin: 0 0 .25rem; border-bottom: 2px solid #1a1a1a; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .35rem; }
p { margin: .3rem 0; }
.meta { color: #444; margin-bottom: 1.5rem; }
.meta dt { font-weight: 600; float: left; clear: left; width: 6rem; }
.meta dd { margin: 0 0 .15rem 6.5rem; }
section { margin: 1.75rem 0; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 .5rem; font-size: .92rem; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { font-weight: 600; border-bottom: 2px solid #1a1a1a; white-space: nowrap; }
td.text { overflow-wrap: anywhere; min-width: 12rem; }
table.summary { width: auto; min-width: 24rem; }
table.summary th { border-bottom: 1px solid #999; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.date { white-space: nowrap; }
.none, .quiet { color: #555; font-style: italic; }
.outcome { font-weight: 700; letter-spacing: .02em; white-space: nowrap; }
.bad { color: #a10000; }
.warn { color: #8a4b00; }
.good { color: #0b6b0b; }
.unfinished { border: 2px solid #a10000; padding: .5rem 1rem; margin: 1rem 0; }
footer { margin-top: 2rem; color: #555; font-size: .85rem; }
@media print {
  @page { size: A4; margin: 15mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; color: #000; }
  .bad, .warn, .good, .meta, .none, .quiet, footer { color: #000; }
  section.site { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  th, td { border-color: #000; }
}
"#;

pub fn render(report: &ClientReport) -> String {
    let mut out = String::new();
    let title = wording::title(report);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape(&title)));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str("<header>\n");
    if let Some(logo) = &report.logo {
        // Embedded, so that the page stays one self-contained file.
        out.push_str(&format!(
            "<img class=\"logo\" alt=\"{}\" src=\"data:{};base64,{}\">\n",
            escape(report.agency.as_deref().unwrap_or("logo")),
            logo.mime,
            base64(&logo.bytes)
        ));
    }
    out.push_str(&format!("<h1>{}</h1>\n", escape(&title)));
    out.push_str("<dl class=\"meta\">\n");
    if let Some(agency) = &report.agency {
        out.push_str(&format!(
            "<dt>Maintained by</dt><dd>{}</dd>\n",
            escape(agency)
        ));
    }
    out.push_str(&format!(
        "<dt>Client</dt><dd>{}</dd>\n",
        escape(&report.client)
    ));
    out.push_str(&format!(
        "<dt>Period</dt><dd>{}</dd>\n",
        escape(&wording::period(report))
    ));
    if let Some(contact) = &report.contact {
        out.push_str(&format!("<dt>Contact</dt><dd>{}</dd>\n", escape(contact)));
    }
    out.push_str(&format!(
        "<dt>Sites</dt><dd>{}</dd>\n</dl>\n</header>\n",
        escape(&wording::site_names(report))
    ));

    out.push_str("<main>\n<section class=\"summary\">\n<h2>Summary</h2>\n");
    out.push_str("<table class=\"summary\">\n<tbody>\n");
    for (label, value) in wording::summary_rows(&report.summary) {
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            escape(label),
            escape(&value)
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");

    if !report.unfinished_runs.is_empty() {
        out.push_str("<section class=\"unfinished\">\n<h2>Runs that never finished</h2>\n");
        out.push_str(&format!(
            "<p>{}</p>\n<ul>\n",
            escape(wording::unfinished_intro())
        ));
        for run in &report.unfinished_runs {
            out.push_str(&format!(
                "<li>{}</li>\n",
                escape(&wording::unfinished_line(run))
            ));
        }
        out.push_str("</ul>\n</section>\n");
    }

    for site in &report.sites {
        site_section(&mut out, report, site);
    }
    out.push_str("</main>\n");
    out.push_str(&format!(
        "<footer>From the run history of tend {}. Dates are in UTC.</footer>\n",
        escape(env!("CARGO_PKG_VERSION"))
    ));
    out.push_str("</body>\n</html>\n");
    out
}

fn site_section(out: &mut String, report: &ClientReport, site: &SiteReport) {
    out.push_str(&format!(
        "<section class=\"site\">\n<h2>{}</h2>\n<p class=\"quiet\">{}</p>\n",
        escape(&site.site),
        escape(&wording::site_line(
            site.cms.as_deref(),
            &site.url,
            site.runs
        ))
    ));
    if !site.activity {
        out.push_str(&format!(
            "<p class=\"none\">{}</p>\n</section>\n",
            escape(&wording::no_activity(report))
        ));
        return;
    }

    out.push_str("<h3>Updates applied</h3>\n");
    // The note column only when some update needs one.
    let noted = site.updates.iter().any(|u| u.site_failed);
    let headers = ["Date", "Type", "Name", "From", "To", "Note"];
    table(
        out,
        &headers[..if noted { 6 } else { 5 }],
        site.updates.iter().map(|u| {
            let mut row = vec![
                Cell::date(day(u.date)),
                Cell::plain(&u.kind),
                Cell::plain(&u.slug),
                Cell::plain(&u.from),
                Cell::plain(&u.to),
            ];
            if noted {
                row.push(if u.site_failed {
                    Cell::marked("text warn", wording::KEPT_ON_FAILURE)
                } else {
                    Cell::plain("")
                });
            }
            row
        }),
    );

    out.push_str("<h3>Updates held back</h3>\n");
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
                Cell::plain(&h.kind),
                Cell::plain(&h.slug),
                Cell::plain(&h.from),
                Cell::plain(h.available.as_deref().unwrap_or("unknown")),
                Cell::text(&wording::held_reason(&h.reason)),
                Cell::date(day(h.date)),
            ]
        }),
    );

    // Said only where there is something: most sites have every component tracked.
    if !site.untracked.is_empty() {
        out.push_str(&format!(
            "<h3>{}</h3>\n",
            escape(wording::UNTRACKED_HEADING)
        ));
        table(
            out,
            &["Type", "Name", "Installed", "Last seen"],
            site.untracked.iter().map(|u| {
                vec![
                    Cell::plain(&u.kind),
                    Cell::plain(&u.slug),
                    Cell::plain(u.version.as_deref().unwrap_or("unknown")),
                    Cell::date(day(u.date)),
                ]
            }),
        );
    }

    out.push_str("<h3>Backups</h3>\n");
    out.push_str(&format!(
        "<p>{}.</p>\n",
        escape(&wording::backups_line(&site.backups))
    ));

    out.push_str("<h3>Incidents</h3>\n");
    table(
        out,
        &["Date", "Outcome", "Command", "Reason"],
        site.incidents.iter().map(|i| {
            vec![
                Cell::date(day(i.date)),
                Cell::marked("outcome bad", &wording::incident_kind(i.kind)),
                Cell::plain(&wording::command(&i.command, i.playbook.as_deref())),
                Cell::text(&wording::incident_detail(i)),
            ]
        }),
    );
    if !site.restores.is_empty() {
        out.push_str("<h3>Restores on request</h3>\n<ul>\n");
        for r in &site.restores {
            out.push_str(&format!(
                "<li>{}: {}</li>\n",
                escape(&day(r.date)),
                escape(&wording::restore(r))
            ));
        }
        out.push_str("</ul>\n");
    }
    if !site.recoveries.is_empty() {
        out.push_str("<h3>Recoveries</h3>\n<ul>\n");
        for r in &site.recoveries {
            out.push_str(&format!(
                "<li>{}: {}</li>\n",
                escape(&day(r.date)),
                escape(wording::recovery())
            ));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h3>Verification</h3>\n");
    table(
        out,
        &["Check", "Path", "Passed", "Last result", "Mean response"],
        site.checks.iter().map(|c| {
            vec![
                Cell::plain(&c.name),
                Cell::plain(&c.path),
                Cell::num(wording::check_passed(c)),
                Cell::marked(
                    if c.last_ok { "good" } else { "text bad" },
                    &wording::check_last(c),
                ),
                Cell::num(wording::millis(c.mean_ms)),
            ]
        }),
    );
    out.push_str("</section>\n");
}

/// A table cell: escaped text and an optional class.
struct Cell {
    class: Option<&'static str>,
    text: String,
}

impl Cell {
    fn plain(text: &str) -> Cell {
        Cell {
            class: None,
            text: text.to_owned(),
        }
    }
    /// Free text (errors, reasons): may wrap anywhere, so a long token cannot overflow.
    fn text(text: &str) -> Cell {
        Cell {
            class: Some("text"),
            text: text.to_owned(),
        }
    }
    fn date(text: String) -> Cell {
        Cell {
            class: Some("date"),
            text,
        }
    }
    fn num(text: String) -> Cell {
        Cell {
            class: Some("num"),
            text,
        }
    }
    fn marked(class: &'static str, text: &str) -> Cell {
        Cell {
            class: Some(class),
            text: text.to_owned(),
        }
    }
}

fn table(out: &mut String, headers: &[&str], rows: impl Iterator<Item = Vec<Cell>>) {
    let rows: Vec<Vec<Cell>> = rows.collect();
    if rows.is_empty() {
        out.push_str("<p class=\"none\">None.</p>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for h in headers {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            match cell.class {
                Some(class) => out.push_str(&format!(
                    "<td class=\"{class}\">{}</td>",
                    escape(&cell.text)
                )),
                None => out.push_str(&format!("<td>{}</td>", escape(&cell.text))),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Text made safe for HTML content and attribute values.
/// Standard base64 (RFC 4648, with padding), for the logo's data: URI.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("6.1.9 → 6.8.7"), "6.1.9 → 6.8.7");
    }
}
