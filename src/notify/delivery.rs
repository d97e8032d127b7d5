//! Delivering a notification: a few attempts with a pause between them, each bounded in
//! time, every failure logged as a warning. A permanent failure (an HTTP 4xx, an SMTP 5xx:
//! see [`AttemptError`]) ends the delivery at once: it is logged once and not retried.
//!
//! A notification reports on a run; it is never a reason for the run to fail. Whatever
//! happens here, the command's exit status stays what the sites made it, and the time spent
//! is bounded (attempts × limit + pauses) so that a dead chat server cannot hold a cron job.

use std::future::Future;
use std::time::Duration;

use super::error::{AttemptError, Failure};
use crate::events::{Event, Level, Reporter};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Pauses before the 2nd, 3rd, … attempt: as many attempts as pauses plus one.
    pub pauses: Vec<Duration>,
    /// The most one attempt may take.
    pub attempt_limit: Duration,
}

impl Default for Policy {
    /// 3 attempts, 1 s then 2 s apart, 30 s at most each.
    fn default() -> Self {
        Policy {
            pauses: vec![Duration::from_secs(1), Duration::from_secs(2)],
            attempt_limit: Duration::from_secs(30),
        }
    }
}

impl Policy {
    pub fn attempts(&self) -> usize {
        self.pauses.len() + 1
    }
}

fn warn(reporter: &dyn Reporter, message: &str) {
    reporter.event(&Event::Log {
        level: Level::Warning,
        site: None,
        message: &crate::secrets::mask(message),
    });
}

/// Runs `attempt` until it succeeds or the attempts are used up; `what` names the
/// notifier in the log (`webhook https://hooks.example`). Returns whether it was delivered.
pub async fn with_retries<F, Fut>(
    what: &str,
    policy: &Policy,
    reporter: &dyn Reporter,
    mut attempt: F,
) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AttemptError>>,
{
    let attempts = policy.attempts();
    for n in 1..=attempts {
        let error = match tokio::time::timeout(policy.attempt_limit, attempt()).await {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e,
            Err(_) => AttemptError::Transient(Failure::NoAnswer {
                within: policy.attempt_limit,
            }),
        };
        if error.is_permanent() {
            warn(
                reporter,
                &format!(
                    "notification: could not notify {what}: {error} (a permanent failure, not retried; the exit status is unchanged)"
                ),
            );
            return false;
        }
        match policy.pauses.get(n - 1) {
            Some(pause) => {
                warn(
                    reporter,
                    &format!(
                        "notification: {what} failed (attempt {n} of {attempts}): {error}; trying again in {} s",
                        pause.as_secs_f64()
                    ),
                );
                tokio::time::sleep(*pause).await;
            }
            None => warn(
                reporter,
                &format!(
                    "notification: could not notify {what} after {attempts} attempts: {error} (the exit status is unchanged)"
                ),
            ),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl Reporter for Collect {
        fn event(&self, event: &Event<'_>) {
            if let Event::Log { level, message, .. } = event {
                assert_eq!(*level, Level::Warning);
                self.0.lock().unwrap().push(message.to_string());
            }
        }
    }

    fn quick() -> Policy {
        Policy {
            pauses: vec![Duration::from_millis(1), Duration::from_millis(1)],
            attempt_limit: Duration::from_millis(200),
        }
    }

    #[tokio::test]
    async fn retries_then_gives_up_and_says_so() {
        let log = Collect::default();
        let mut calls = 0;
        let ok = with_retries("webhook http://h", &quick(), &log, || {
            calls += 1;
            async { Err::<(), _>(AttemptError::http_status(500)) }
        })
        .await;
        assert!(!ok);
        assert_eq!(calls, 3);
        let log = log.0.into_inner().unwrap();
        assert_eq!(log.len(), 3);
        assert!(
            log[0].contains(
                "failed (attempt 1 of 3): answered HTTP 500 Internal Server Error; trying again"
            ),
            "{log:?}"
        );
        assert!(
            log[2].contains("could not notify webhook http://h after 3 attempts"),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn a_permanent_failure_is_logged_once_and_not_retried() {
        let log = Collect::default();
        let mut calls = 0;
        let ok = with_retries("e-mail to a@b", &quick(), &log, || {
            calls += 1;
            async {
                Err::<(), _>(AttemptError::Permanent(Failure::Smtp {
                    code: Some(550),
                    cause: "permanent error (550): no such user".into(),
                }))
            }
        })
        .await;
        assert!(!ok);
        assert_eq!(calls, 1);
        let log = log.0.into_inner().unwrap();
        assert_eq!(
            log,
            ["notification: could not notify e-mail to a@b: permanent error (550): no such user (a permanent failure, not retried; the exit status is unchanged)"]
        );
    }

    #[tokio::test]
    async fn stops_at_the_first_success_and_bounds_each_attempt() {
        let log = Collect::default();
        let mut calls = 0;
        let ok = with_retries("e-mail", &quick(), &log, || {
            calls += 1;
            let n = calls;
            async move {
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                Ok(())
            }
        })
        .await;
        assert!(ok);
        assert_eq!(calls, 2);
        let log = log.0.into_inner().unwrap();
        assert_eq!(log.len(), 1);
        assert!(log[0].contains("no answer within 0.2 s"), "{log:?}");
    }
}
