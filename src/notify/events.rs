//! Which outcomes a finished run is: what notifiers' `on:` lists are matched against.
//!
//! A run can be more than one outcome — one site rolled back and another unreachable is both
//! a `rollback` and a `failure` — and a notifier is sent one message if any of its events
//! is among them.

use crate::history::RunRecord;
use crate::inventory::notify::NotifyEvent;
use crate::outcome::Outcome;

/// The outcomes of `record`, in [`NotifyEvent`] order:
///
/// - `rollback`: a site was rolled back;
/// - `failure`: a site failed (including unreachable and locked sites) or was skipped, or
///   the command ended with a non-zero exit status that no rollback explains;
/// - `success`: none of these — every site ok (or recovered) and exit status 0.
pub fn outcomes(record: &RunRecord) -> Vec<NotifyEvent> {
    let rolled_back = record.sites.iter().any(|s| s.status.is_rollback());
    let site_failed = record
        .sites
        .iter()
        .any(|s| matches!(s.status, Outcome::Failed | Outcome::Skipped));
    let exit_failed = record.exit_status.is_some_and(|code| code != 0);
    let failure = site_failed || (exit_failed && !rolled_back);
    let mut events = Vec::new();
    if failure {
        events.push(NotifyEvent::Failure);
    }
    if rolled_back {
        events.push(NotifyEvent::Rollback);
    }
    if events.is_empty() {
        events.push(NotifyEvent::Success);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SiteRecord;

    fn run(statuses: &[&str], exit: u8) -> RunRecord {
        RunRecord {
            id: "r".into(),
            command: "run".into(),
            playbook: None,
            runner: "u@m".into(),
            started: chrono::Utc::now(),
            finished: Some(chrono::Utc::now()),
            exit_status: Some(exit),
            targets: Vec::new(),
            sites: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    SiteRecord::new(
                        &format!("s{i}"),
                        serde_json::from_value(serde_json::json!(s)).expect("an outcome word"),
                    )
                })
                .collect(),
        }
    }

    use NotifyEvent::*;

    #[test]
    fn outcomes_of_runs() {
        assert_eq!(outcomes(&run(&["ok", "ok"], 0)), [Success]);
        assert_eq!(outcomes(&run(&["recovered"], 0)), [Success]);
        assert_eq!(outcomes(&run(&[], 0)), [Success]);
        assert_eq!(outcomes(&run(&["ok", "failed"], 1)), [Failure]);
        assert_eq!(outcomes(&run(&["ok", "skipped"], 1)), [Failure]);
        assert_eq!(outcomes(&run(&["ok", "rolled_back"], 1)), [Rollback]);
        assert_eq!(
            outcomes(&run(&["failed", "rolled_back", "ok"], 1)),
            [Failure, Rollback]
        );
        // A non-zero exit status with every site ok is still a failure.
        assert_eq!(outcomes(&run(&["ok"], 1)), [Failure]);
    }
}
