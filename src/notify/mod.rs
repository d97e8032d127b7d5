//! Notifications: after an acting command (`run`, `backup`, `restore`, `recover`, `prune`)
//! finishes, the notifiers of `settings.notify` whose `on:` matches the run's outcomes are
//! sent a summary of it — so that a nightly cron job that failed is noticed the next
//! morning without anyone reading its log.
//!
//! [`events`] decides the outcomes, [`message`] writes the summary, [`webhook`] and [`email`]
//! send it, [`delivery`] retries what [`error`] says may succeed next time, and logs.
//! Nothing here can change a run's exit status.

pub mod delivery;
pub mod email;
pub mod error;
pub mod events;
pub mod message;
pub mod webhook;

use crate::events::{Event, Level, Reporter};
use crate::history::RunRecord;
use crate::inventory::notify::{Channel, Notifier};

/// The notifiers that `record` concerns: any of their `on:` events is among its outcomes.
pub fn to_send<'a>(notifiers: &'a [Notifier], record: &RunRecord) -> Vec<&'a Notifier> {
    let outcomes = events::outcomes(record);
    notifiers
        .iter()
        .filter(|n| n.on.iter().any(|e| outcomes.contains(e)))
        .collect()
}

/// Sends `record`'s summary to every notifier it concerns, all at once, with the default
/// retry [`delivery::Policy`]. Failures are logged through `reporter` as warnings.
pub async fn notify(notifiers: &[Notifier], record: &RunRecord, reporter: &dyn Reporter) {
    notify_with(notifiers, record, reporter, &delivery::Policy::default()).await
}

pub async fn notify_with(
    notifiers: &[Notifier],
    record: &RunRecord,
    reporter: &dyn Reporter,
    policy: &delivery::Policy,
) {
    let chosen = to_send(notifiers, record);
    if chosen.is_empty() {
        return;
    }
    let outcomes = events::outcomes(record);
    let message = message::build(record, &outcomes);
    let http = webhook::client();
    let sends = chosen.into_iter().map(|notifier| {
        let message = &message;
        let http = &http;
        async move {
            let what = notifier.describe();
            let delivered = delivery::with_retries(&what, policy, reporter, || async {
                match &notifier.channel {
                    Channel::Webhook { url } => webhook::post(http, url, &message.json).await,
                    Channel::Email(email) => {
                        email::send(email, &message.subject, &message.text).await
                    }
                }
            })
            .await;
            if delivered {
                reporter.event(&Event::Log {
                    level: Level::Info,
                    site: None,
                    message: &format!("notified {what}"),
                });
            }
        }
    });
    futures::future::join_all(sends).await;
}
