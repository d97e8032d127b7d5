//! How one site's part of a command ended: the one outcome type that the engine decides and
//! every view, the run history, notifications and reports read.
//!
//! It is serialised as the snake_case words the history has always held (`ok`,
//! `rolled_back`, …), so records written before this type existed still read.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the command set out to do to the site was done.
    Ok,
    /// Some of it was kept, some put back (an update of several components, one rolled back).
    Partial,
    /// The site's work failed; what the site is left as is in the error.
    Failed,
    /// A change broke the site and was undone.
    RolledBack,
    /// Not started (`max_failures` reached).
    Skipped,
    /// An interrupted run's work was undone by `tend recover`.
    Recovered,
}

impl Outcome {
    /// The word used in JSON, history and the per-site lines.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled_back",
            Outcome::Skipped => "skipped",
            Outcome::Recovered => "recovered",
        }
    }

    /// The site is as the command meant it to be.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Recovered)
    }

    /// Something that undid a change happened (notifications' `rollback` event).
    pub fn is_rollback(self) -> bool {
        matches!(self, Outcome::RolledBack | Outcome::Partial)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn serialised_as_the_words_history_has_always_held() {
        for outcome in [
            Outcome::Ok,
            Outcome::Partial,
            Outcome::Failed,
            Outcome::RolledBack,
            Outcome::Skipped,
            Outcome::Recovered,
        ] {
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json, outcome.name());
            let back: Outcome = serde_json::from_value(json).unwrap();
            assert_eq!(back, outcome);
        }
    }
}
