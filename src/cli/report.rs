//! `tend report`: writes the monthly maintenance report of each client, from the run
//! history in the inventory's store. Reads only; connects nowhere.

use std::path::Path;

use clap::ValueEnum;

use super::{print_data, selected, CommandError, EXIT_OK};
use crate::diagnostic::InputError;
use crate::history::History;
use crate::inventory::Inventory;
use crate::report::write::{self, Format};
use crate::report::{self, Month};
use crate::select::SitePattern;
use crate::ui::{report_view, OutputMode};

/// A format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ReportFormat {
    /// Markdown (GitHub-flavoured), for tickets and mails
    Md,
    /// One self-contained HTML page, for browsers and printing
    Html,
    /// The report's data, for other tools
    Json,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Md => Format::Md,
            ReportFormat::Html => Format::Html,
            ReportFormat::Json => Format::Json,
        }
    }
}

/// The month reported when `--month` is not given: the previous calendar month (UTC).
///
/// A monthly report is sent for a month that is over: run from cron on the 1st (at any
/// hour, in any time zone east or west of UTC), the default is the complete month just
/// ended, with nothing still to come. A "so far" report of the current month is one flag
/// away (`--month 2026-11`), and asking for it explicitly keeps a partial month from being
/// mailed to a client by accident.
fn default_month() -> Month {
    Month::of(chrono::Utc::now()).previous()
}

fn parse_month(text: &str) -> Result<Month, InputError> {
    text.parse().map_err(|e: report::MonthError| {
        InputError::in_argument(e.message, "--month", text, e.column, e.width)
            .with_hint("--month takes a calendar month as YYYY-MM, e.g. 2026-11")
    })
}

pub(super) fn report(
    inventory: &Inventory,
    limit: Option<&SitePattern>,
    month: Option<&str>,
    formats: &[ReportFormat],
    out: &Path,
    mode: OutputMode,
) -> Result<u8, CommandError> {
    let month = match month {
        Some(text) => parse_month(text)?,
        None => default_month(),
    };
    let mut chosen: Vec<Format> = Vec::new();
    for &f in formats {
        if !chosen.contains(&f.into()) {
            chosen.push(f.into());
        }
    }
    let history = History::new(&inventory.settings.store);
    let runs = history.runs_of_month(month.start()).map_err(|e| {
        CommandError::runtime(format!(
            "cannot read the run history {}: {e}",
            history.file_of(month.start()).display()
        ))
    })?;
    let sites = selected(inventory, limit);
    let reports = report::build(&runs, inventory, &sites, month);
    let written = write::write_all(&reports, &chosen, month, out)
        .map_err(|e| CommandError::runtime(e.to_string()))?;
    print_data(
        mode,
        || report_view::written_json(month, &written),
        || report_view::written_text(&written),
    );
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Origin;

    #[test]
    fn a_bad_month_names_the_flag_and_points_at_the_bad_part() {
        let e = parse_month("2026-13").unwrap_err();
        assert!(matches!(
            e.origin,
            Origin::Argument { ref flag, column: 6, width: 2, .. } if flag == "--month"
        ));
        let shown = e.to_string();
        assert!(shown.contains("--> --month 2026-13"), "{shown}");
        assert!(parse_month("2026-11").is_ok());
    }

    #[test]
    fn the_default_month_is_the_one_before_this_one() {
        let now = Month::of(chrono::Utc::now());
        assert_eq!(default_month().next(), now);
    }
}
