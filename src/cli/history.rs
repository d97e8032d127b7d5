//! `tend history`: past runs from the store's run history, filtered by site and date.

use chrono::{DateTime, NaiveDate, Utc};

use super::{print_data, CommandError};
use crate::diagnostic::{did_you_mean, InputError};
use crate::history::{History, RunRecord};
use crate::inventory::Inventory;
use crate::ui::{history_view, style::Style, OutputMode};

use super::EXIT_OK;

/// `limit`: the sites `-l` selects, when it is given.
pub fn history(
    inventory: &Inventory,
    limit: Option<&[&str]>,
    site: Option<&str>,
    since: Option<&str>,
    mode: OutputMode,
) -> Result<u8, CommandError> {
    let since = since.map(parse_since).transpose()?;
    let history = History::new(&inventory.settings.store);
    let runs = history.runs_since(since).map_err(|e| {
        CommandError::runtime(format!(
            "cannot read the run history in {}: {e}",
            history.dir().display()
        ))
    })?;
    if let Some(name) = site {
        check_site(inventory, &runs, name)?;
    }
    let mut runs = select(runs, site, since);
    if let Some(names) = limit {
        runs = only_sites(runs, names);
    }
    print_data(
        mode,
        || history_view::history_json(&runs),
        || history_view::history_text(&runs, Style::for_stdout()),
    );
    Ok(EXIT_OK)
}

/// The runs that concern any of `names`, with only those sites' records.
fn only_sites(runs: Vec<RunRecord>, names: &[&str]) -> Vec<RunRecord> {
    let wanted = |name: &String| names.contains(&name.as_str());
    runs.into_iter()
        .filter_map(|mut run| {
            let concerned =
                run.sites.iter().any(|s| wanted(&s.site)) || run.targets.iter().any(wanted);
            if !concerned {
                return None;
            }
            run.sites.retain(|s| wanted(&s.site));
            run.targets.retain(wanted);
            Some(run)
        })
        .collect()
}

/// Runs started at or after `since` that concern `site` (a site it did something to, or
/// one an unfinished run set out to do), with only that site's records.
fn select(
    runs: Vec<RunRecord>,
    site: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Vec<RunRecord> {
    runs.into_iter()
        .filter(|run| since.is_none_or(|since| run.started >= since))
        .filter_map(|mut run| {
            let Some(name) = site else {
                return Some(run);
            };
            let concerned =
                run.sites.iter().any(|s| s.site == name) || run.targets.iter().any(|t| t == name);
            if !concerned {
                return None;
            }
            run.sites.retain(|s| s.site == name);
            run.targets.retain(|t| t == name);
            Some(run)
        })
        .collect()
}

/// A `--site` must be a site of the inventory or one the history knows (a site since
/// removed from the inventory keeps its history).
fn check_site(inventory: &Inventory, runs: &[RunRecord], name: &str) -> Result<(), InputError> {
    let in_history = runs
        .iter()
        .any(|r| r.sites.iter().any(|s| s.site == name) || r.targets.iter().any(|t| t == name));
    if inventory.sites.contains_key(name) || in_history {
        return Ok(());
    }
    let hint = did_you_mean(name, inventory.sites.keys().map(String::as_str))
        .map(|n| format!("did you mean `{n}`?"));
    Err(InputError::in_argument(
        format!("`{name}` is not a site in the inventory or the run history"),
        "--site",
        name,
        1,
        name.chars().count(),
    )
    .with_optional_hint(hint))
}

/// `--since`: a day (`2026-11-01`, from its start in UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<DateTime<Utc>, InputError> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    Err(InputError::in_argument(
        format!("`{text}` is not a date"),
        "--since",
        text,
        1,
        text.chars().count().max(1),
    )
    .with_hint("give a day as YYYY-MM-DD (UTC), or a time as 2026-11-01T03:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SiteRecord;
    use chrono::TimeZone;

    fn run(id: &str, day: u32, sites: &[&str], finished: bool) -> RunRecord {
        RunRecord {
            id: id.into(),
            command: "backup".into(),
            playbook: None,
            runner: "u@h".into(),
            started: Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap(),
            finished: finished.then(Utc::now),
            exit_status: finished.then_some(0),
            targets: sites.iter().map(|s| (*s).to_owned()).collect(),
            sites: if finished {
                sites
                    .iter()
                    .map(|s| SiteRecord::new(s, crate::outcome::Outcome::Ok))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn since_takes_a_day_or_a_time_and_refuses_anything_else() {
        assert_eq!(
            parse_since("2026-11-02").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-11-02T05:00:00+02:00").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 2, 3, 0, 0).unwrap()
        );
        let error = parse_since("last week").unwrap_err().to_string();
        assert!(error.contains("`last week` is not a date"), "{error}");
    }

    #[test]
    fn runs_are_chosen_by_date_and_site_and_keep_only_that_site() {
        let runs = vec![
            run("a", 1, &["blog", "shop"], true),
            run("b", 2, &["shop"], true),
            run("c", 3, &["blog"], false),
        ];
        let since = Some(parse_since("2026-11-02").unwrap());
        let ids: Vec<_> = select(runs.clone(), None, since)
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["b", "c"]);
        let blog = select(runs, Some("blog"), None);
        let ids: Vec<_> = blog.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "c"],
            "an unfinished run counts for the sites it set out to do"
        );
        assert!(blog[0].sites.iter().all(|s| s.site == "blog"));
    }
}
