//! E-mail through an SMTP server (lettre, rustls): the summary as a plain-text message.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::error::{AttemptError, Failure};
use crate::inventory::notify::{Email, SmtpTls};

/// How long the server may take over any one exchange.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A message that cannot be made now cannot be made on the next attempt either.
fn unbuildable(cause: String) -> AttemptError {
    AttemptError::Permanent(Failure::Message { cause })
}

fn mailbox(address: &str) -> Result<Mailbox, AttemptError> {
    address
        .parse()
        .map_err(|e| unbuildable(format!("invalid address `{address}`: {e}")))
}

/// What the SMTP exchange's failure is: a 5xx reply is permanent (lettre reads the reply's
/// severity), anything else — a 4xx reply, a timeout, a broken connection — transient.
fn smtp_failure(error: &lettre::transport::smtp::Error) -> AttemptError {
    let failure = Failure::Smtp {
        code: error.status().and_then(|c| c.to_string().parse().ok()),
        cause: crate::error_chain::describe(error),
    };
    if error.is_permanent() {
        AttemptError::Permanent(failure)
    } else {
        AttemptError::Transient(failure)
    }
}

/// Sends `subject` and `body` to the notifier's recipients.
pub async fn send(email: &Email, subject: &str, body: &str) -> Result<(), AttemptError> {
    let mut message = Message::builder()
        .from(mailbox(&email.from)?)
        .subject(subject);
    for to in &email.to {
        message = message.to(mailbox(to)?);
    }
    // 8bit keeps the text readable as sent (every current server speaks 8BITMIME); lines
    // too long for it fall back to lettre's own choice.
    let body = Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|_| Body::new(body.to_owned()));
    let message = message
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| unbuildable(format!("cannot build the message: {e}")))?;

    let smtp = &email.smtp;
    let builder = match smtp.tls {
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
    }
    .map_err(|e| unbuildable(format!("cannot set up TLS for {}: {e}", smtp.host)))?;
    let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| smtp_failure(&e))
}
