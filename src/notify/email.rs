//! E-mail through an SMTP server (lettre, rustls): the summary as a plain-text message.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::inventory::notify::{Email, SmtpTls};

/// How long the server may take over any one exchange.
pub const TIMEOUT: Duration = Duration::from_secs(10);

fn mailbox(address: &str) -> Result<Mailbox, String> {
    address
        .parse()
        .map_err(|e| format!("invalid address `{address}`: {e}"))
}

/// Sends `subject` and `body` to the notifier's recipients.
pub async fn send(email: &Email, subject: &str, body: &str) -> Result<(), String> {
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
        .map_err(|e| format!("cannot build the message: {e}"))?;

    let smtp = &email.smtp;
    let builder = match smtp.tls {
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
    }
    .map_err(|e| format!("cannot set up TLS for {}: {e}", smtp.host))?;
    let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| crate::error_chain::describe(&e))
}
