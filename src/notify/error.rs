//! Why one delivery attempt failed, and whether trying again can help.
//!
//! A webhook that answers 404 (the hook was deleted) or an SMTP server that answers 550
//! (no such mailbox) will say the same thing on every attempt: retrying only delays the
//! end of a cron job and fills its log. A timeout, a refused connection, a 5xx or an SMTP
//! 4xx reply may go away. [`AttemptError`] carries that decision as data, made once here
//! from the status codes, so [`super::delivery`] never reads an error's text.

use std::fmt;
use std::time::Duration;

/// The outcome of a failed attempt: retry it or not, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// The receiver may answer differently next time: a timeout, a connection error, an
    /// HTTP 5xx, 408 or 429, an SMTP 4xx reply.
    Transient(Failure),
    /// The same attempt would fail the same way: an HTTP 4xx, an SMTP 5xx reply, a message
    /// that cannot be built.
    Permanent(Failure),
}

/// What went wrong, with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The webhook answered with this non-2xx HTTP status.
    HttpStatus(u16),
    /// No HTTP answer: refused, reset, name not resolved, TLS failed.
    Http { cause: String },
    /// The attempt took longer than the delivery policy allows.
    NoAnswer { within: Duration },
    /// The SMTP server replied with this code (`550`), or the exchange failed (`code` None).
    Smtp { code: Option<u16>, cause: String },
    /// The message could not be made: an invalid address, TLS settings that cannot work.
    Message { cause: String },
}

impl AttemptError {
    /// A webhook's non-2xx answer: 4xx is permanent except 408 (request timeout) and 429
    /// (too many requests), which ask to come back later; anything else is transient.
    pub fn http_status(status: u16) -> AttemptError {
        let failure = Failure::HttpStatus(status);
        match status {
            408 | 429 => AttemptError::Transient(failure),
            400..=499 => AttemptError::Permanent(failure),
            _ => AttemptError::Transient(failure),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, AttemptError::Permanent(_))
    }

    pub fn failure(&self) -> &Failure {
        match self {
            AttemptError::Transient(f) | AttemptError::Permanent(f) => f,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::HttpStatus(code) => match reqwest::StatusCode::from_u16(*code)
                .ok()
                .and_then(|s| s.canonical_reason())
            {
                Some(reason) => write!(f, "answered HTTP {code} {reason}"),
                None => write!(f, "answered HTTP {code}"),
            },
            Failure::Http { cause } => f.write_str(cause),
            Failure::NoAnswer { within } => {
                write!(f, "no answer within {} s", within.as_secs_f64())
            }
            Failure::Smtp { cause, .. } => f.write_str(cause),
            Failure::Message { cause } => f.write_str(cause),
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.failure().fmt(f)
    }
}

impl std::error::Error for AttemptError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified_by_code() {
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(AttemptError::http_status(code).is_permanent(), "{code}");
        }
        for code in [408, 429, 500, 502, 503, 504, 302] {
            assert!(!AttemptError::http_status(code).is_permanent(), "{code}");
        }
        assert_eq!(
            AttemptError::http_status(404).to_string(),
            "answered HTTP 404 Not Found"
        );
        assert_eq!(
            AttemptError::http_status(599).to_string(),
            "answered HTTP 599"
        );
    }
}
