//! Webhooks: an HTTP POST of the JSON summary. Slack and Mattermost incoming webhooks show
//! its `text` field and ignore the rest; other receivers get the run's data.

use std::time::Duration;

use serde_json::Value;

use super::error::{AttemptError, Failure};

/// How long one attempt may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!(
            "tend/",
            env!("CARGO_PKG_VERSION"),
            " (notifications)"
        ))
        .build()
        .expect("an HTTP client with these settings always builds")
}

/// Posts `body` to `url`; anything but a 2xx answer is a failure, permanent for a 4xx
/// (see [`AttemptError::http_status`]). No answer at all (refused, reset, timed out) is
/// transient. Errors never quote the URL (its path is often the token).
pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(), AttemptError> {
    let response = client.post(url).json(body).send().await.map_err(|e| {
        let e = e.without_url();
        let failure = Failure::Http {
            cause: crate::error_chain::describe(&e),
        };
        // A URL reqwest refuses to send to is the same URL next time.
        if e.is_builder() {
            AttemptError::Permanent(failure)
        } else {
            AttemptError::Transient(failure)
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(AttemptError::http_status(status.as_u16()))
    }
}
