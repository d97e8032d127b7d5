//! `settings.notify`: who hears how a run went — webhooks and e-mail — and on which outcomes.
//!
//! Validated here like every other setting, so a typo in a notifier is an input error with its
//! place in the file at `tend check` time, not a silent nightly failure to tell anyone. The
//! sending itself is [`crate::notify`]'s.

use crate::diagnostic::{did_you_mean, InputError};
use crate::yaml_source::{Segment, Target, YamlSource};

use super::raw::{RawEmail, RawNotifier, RawSmtp};

/// An outcome of a run that a notifier can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyEvent {
    /// A site failed, was skipped or could not be reached, or the command failed.
    Failure,
    /// A site was rolled back.
    Rollback,
    /// Every site succeeded.
    Success,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 3] = [
        NotifyEvent::Failure,
        NotifyEvent::Rollback,
        NotifyEvent::Success,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::Failure => "failure",
            NotifyEvent::Rollback => "rollback",
            NotifyEvent::Success => "success",
        }
    }

    fn parse(name: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// `on` when a notifier does not say: what someone has to act on.
pub const DEFAULT_ON: [NotifyEvent; 2] = [NotifyEvent::Failure, NotifyEvent::Rollback];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    pub channel: Channel,
    /// The outcomes that make it send (sorted, without repeats).
    pub on: Vec<NotifyEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// An HTTP POST of a JSON summary (with a `text` field for Slack and Mattermost).
    Webhook {
        url: String,
    },
    Email(Email),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Addresses (`ops@agency.example` or `Ops <ops@agency.example>`), checked.
    pub to: Vec<String>,
    pub from: String,
    pub smtp: Smtp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (port 25): only for a relay on the same machine or network.
    None,
}

impl SmtpTls {
    const NAMES: [&'static str; 3] = ["starttls", "tls", "none"];

    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

impl Notifier {
    /// How the notifier is named in logs: a webhook by scheme, host and port only (its path
    /// and query often hold the token), an e-mail by its recipients and server.
    pub fn describe(&self) -> String {
        match &self.channel {
            Channel::Webhook { url } => format!("webhook {}", webhook_origin(url)),
            Channel::Email(email) => format!(
                "e-mail to {} via {}:{}",
                email.to.join(", "),
                email.smtp.host,
                email.smtp.port
            ),
        }
    }
}

/// `scheme://host[:port]` of a URL, nothing of its path, query or credentials.
pub fn webhook_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("?");
            match u.port() {
                Some(port) => format!("{}://{host}:{port}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// Validates `settings.notify`.
pub(super) fn validate(
    source: &YamlSource,
    raw: Option<Vec<RawNotifier>>,
) -> Result<Vec<Notifier>, InputError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.into_iter()
        .enumerate()
        .map(|(i, entry)| notifier(source, i, entry))
        .collect()
}

fn at(i: usize, rest: &[&str]) -> Vec<Segment> {
    let mut path = vec![
        Segment::key("settings"),
        Segment::key("notify"),
        Segment::Index(i),
    ];
    path.extend(rest.iter().map(|k| Segment::key(k)));
    path
}

fn notifier(source: &YamlSource, i: usize, raw: RawNotifier) -> Result<Notifier, InputError> {
    let channel = match (raw.webhook, raw.email) {
        (Some(url), None) => Channel::Webhook {
            url: webhook(source, i, url)?,
        },
        (None, Some(email)) => Channel::Email(self::email(source, i, email)?),
        (found_webhook, _) => {
            let message = if found_webhook.is_some() {
                "a notifier is a `webhook` or an `email`, not both"
            } else {
                "a notifier needs a `webhook` or an `email`"
            };
            return Err(source
                .error_at(message, &at(i, &[]), Target::Value)
                .with_hint("write one list entry per notifier, e.g. `- webhook: https://…` and `- email: { to: […], from: …, smtp: { host: … } }`"));
        }
    };
    let on = match raw.on {
        None => DEFAULT_ON.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(source
                .error_at(
                    "`on` must name at least one of `failure`, `rollback`, `success`",
                    &at(i, &["on"]),
                    Target::Value,
                )
                .with_hint("leave `on` out for the default `[failure, rollback]`"))
        }
        Some(names) => {
            let mut on = Vec::new();
            for (j, name) in names.iter().enumerate() {
                let Some(event) = NotifyEvent::parse(name) else {
                    let mut path = at(i, &["on"]);
                    path.push(Segment::Index(j));
                    let hint = match did_you_mean(name, NotifyEvent::ALL.map(NotifyEvent::name)) {
                        Some(g) => format!("did you mean `{g}`?"),
                        None => "the events are `failure`, `rollback` and `success`".to_owned(),
                    };
                    return Err(source
                        .error_at(
                            format!("unknown notification event `{name}`"),
                            &path,
                            Target::Value,
                        )
                        .with_hint(hint));
                };
                on.push(event);
            }
            on.sort();
            on.dedup();
            on
        }
    };
    Ok(Notifier { channel, on })
}

fn webhook(source: &YamlSource, i: usize, url: String) -> Result<String, InputError> {
    // The URL is not quoted in the message: its path often is the token.
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            crate::secrets::register(&url);
            Ok(url)
        }
        _ => Err(source
            .error_at(
                "`webhook` must be an http(s) URL",
                &at(i, &["webhook"]),
                Target::Value,
            )
            .with_hint(
                "the incoming-webhook URL your chat gives you, e.g. https://hooks.slack.com/services/${SLACK_HOOK}",
            )),
    }
}

fn address(
    source: &YamlSource,
    text: &str,
    path: &[Segment],
    what: &str,
) -> Result<String, InputError> {
    match text.parse::<lettre::message::Mailbox>() {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(source
            .error_at(
                format!("{what} `{text}` is not an e-mail address"),
                path,
                Target::Value,
            )
            .with_hint("write `name@example.com` or `Name <name@example.com>`")),
    }
}

fn email(source: &YamlSource, i: usize, raw: RawEmail) -> Result<Email, InputError> {
    let missing = |what: &str, example: &str| {
        source
            .error_at(
                format!("an `email` notifier needs `{what}`"),
                &at(i, &["email"]),
                Target::Key { occurrence: 1 },
            )
            .with_hint(format!("add `{what}: {example}`"))
    };
    let to = raw
        .to
        .ok_or_else(|| missing("to", "[ops@agency.example]"))?;
    if to.is_empty() {
        return Err(source.error_at(
            "`to` must hold at least one address",
            &at(i, &["email", "to"]),
            Target::Value,
        ));
    }
    let to = to
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let mut path = at(i, &["email", "to"]);
            path.push(Segment::Index(j));
            address(source, a, &path, "recipient")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let from = raw
        .from
        .ok_or_else(|| missing("from", "tend@agency.example"))?;
    let from = address(source, &from, &at(i, &["email", "from"]), "sender")?;
    let smtp = raw
        .smtp
        .ok_or_else(|| missing("smtp", "{ host: smtp.agency.example }"))?;
    Ok(Email {
        to,
        from,
        smtp: self::smtp(source, i, smtp)?,
    })
}

fn smtp(source: &YamlSource, i: usize, raw: RawSmtp) -> Result<Smtp, InputError> {
    let here = at(i, &["email", "smtp"]);
    let Some(host) = raw.host.filter(|h| !h.trim().is_empty()) else {
        return Err(source
            .error_at(
                "`smtp` needs a `host`",
                &here,
                Target::Key { occurrence: 1 },
            )
            .with_hint(
                "the mail server tend hands messages to, e.g. `host: smtp.agency.example`",
            ));
    };
    let tls = match raw.tls.as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            let hint = match did_you_mean(other, SmtpTls::NAMES) {
                Some(g) => format!("did you mean `{g}`?"),
                None => "`starttls` (port 587), `tls` (port 465) or `none` (port 25)".to_owned(),
            };
            return Err(source
                .error_at(
                    format!("unknown `tls` mode `{other}`"),
                    &at(i, &["email", "smtp", "tls"]),
                    Target::Value,
                )
                .with_hint(hint));
        }
    };
    if raw.port == Some(0) {
        return Err(source.error_at(
            "`port` must be a port number",
            &at(i, &["email", "smtp", "port"]),
            Target::Value,
        ));
    }
    if raw.user.is_some() != raw.password.is_some() {
        return Err(source
            .error_at(
                "`smtp` needs both `user` and `password`, or neither",
                &here,
                Target::Key { occurrence: 1 },
            )
            .with_hint("take the password from the environment: `password: ${SMTP_PASSWORD}`"));
    }
    if let Some(password) = &raw.password {
        crate::secrets::register(password);
    }
    Ok(Smtp {
        host,
        port: raw.port.unwrap_or(tls.default_port()),
        tls,
        user: raw.user,
        password: raw.password,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::inventory::Inventory;

    fn env(name: &str) -> Option<String> {
        match name {
            "SLACK_HOOK" => Some("T000/B000/hook-s3cret".to_owned()),
            "SMTP_PASSWORD" => Some("smtp-pa55word".to_owned()),
            _ => None,
        }
    }

    fn load(text: &str) -> Result<Inventory, InputError> {
        Inventory::from_source_with_env(&YamlSource::from_text(Path::new("inv.yml"), text), &env)
    }

    const FULL: &str = "\
settings:
  notify:
    - webhook: https://hooks.example/services/${SLACK_HOOK}
      on: [failure, rollback]
    - email:
        to: [ops@agency.example, Night Desk <night@agency.example>]
        from: tend@agency.example
        smtp: { host: smtp.agency.example, user: tend, password: \"${SMTP_PASSWORD}\" }
      on: [success, failure, rollback, failure]
    - webhook: http://127.0.0.1:9/x
";

    #[test]
    fn reads_webhooks_and_email_with_defaults() {
        let inv = load(FULL).unwrap();
        let n = &inv.settings.notify;
        assert_eq!(n.len(), 3);
        assert_eq!(
            n[0].channel,
            Channel::Webhook {
                url: "https://hooks.example/services/T000/B000/hook-s3cret".to_owned()
            }
        );
        assert_eq!(n[0].describe(), "webhook https://hooks.example");
        let Channel::Email(email) = &n[1].channel else {
            panic!("{:?}", n[1]);
        };
        assert_eq!(email.to.len(), 2);
        assert_eq!(email.smtp.port, 587);
        assert_eq!(email.smtp.tls, SmtpTls::StartTls);
        assert_eq!(email.smtp.password.as_deref(), Some("smtp-pa55word"));
        assert_eq!(n[1].on, NotifyEvent::ALL.to_vec());
        assert_eq!(n[2].on, DEFAULT_ON.to_vec());
        assert_eq!(n[2].describe(), "webhook http://127.0.0.1:9");
        // Both secrets are masked from now on, wherever shown.
        assert_eq!(
            crate::secrets::mask(
                "pass smtp-pa55word url https://hooks.example/services/T000/B000/hook-s3cret"
            ),
            "pass ******** url ********"
        );
    }

    #[test]
    fn tls_modes_choose_the_port() {
        let inv = load("settings:\n  notify:\n    - email: { to: [a@b.example], from: t@b.example, smtp: { host: h, tls: tls } }\n    - email: { to: [a@b.example], from: t@b.example, smtp: { host: h, tls: none } }\n    - email: { to: [a@b.example], from: t@b.example, smtp: { host: h, tls: none, port: 2525 } }\n").unwrap();
        let ports: Vec<u16> = inv
            .settings
            .notify
            .iter()
            .map(|n| match &n.channel {
                Channel::Email(e) => e.smtp.port,
                _ => 0,
            })
            .collect();
        assert_eq!(ports, [465, 25, 2525]);
    }

    fn error(text: &str) -> (String, String, Option<String>) {
        let err = load(text).unwrap_err();
        (err.message.clone(), err.location().unwrap(), err.hint)
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_it_at_its_place() {
        let (message, location, hint) = error("settings:\n  notify:\n    - email:\n        to: [a@b.example]\n        from: t@b.example\n        smtp: { host: h, user: u, password: \"${SMTP_PASSWRD}\" }\n");
        assert!(
            message.ends_with("environment variable SMTP_PASSWRD is not set"),
            "{message}"
        );
        assert_eq!(location, "inv.yml:6:45");
        assert!(hint.unwrap().contains("export it"));
        // Anywhere in the inventory, not only in notify.
        let (message, location, _) =
            error("sites:\n  a:\n    host: ${WEB_HOST}\n    path: /a\n    url: http://a\n");
        assert!(
            message.ends_with("environment variable WEB_HOST is not set"),
            "{message}"
        );
        assert_eq!(location, "inv.yml:3:11");
    }

    #[test]
    fn mistakes_point_at_their_place() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "settings:\n  notify:\n    - webhook: https://h.example/x\n      when: [failure]\n",
                "unknown key `when`",
                "inv.yml:4:7",
            ),
            (
                "settings:\n  notify:\n    - webhook: ftp://h.example/x\n",
                "`webhook` must be an http(s) URL",
                "inv.yml:3:16",
            ),
            (
                "settings:\n  notify:\n    - webhook: https://h.example/x\n      on: [failure, rolback]\n",
                "unknown notification event `rolback`",
                "inv.yml:4:21",
            ),
            (
                "settings:\n  notify:\n    - webhook: https://h.example/x\n      on: []\n",
                "`on` must name at least one",
                "inv.yml:4:11",
            ),
            (
                "settings:\n  notify:\n    - on: [failure]\n",
                "a notifier needs a `webhook` or an `email`",
                "inv.yml:3:7",
            ),
            (
                "settings:\n  notify:\n    - email: { to: [ops@], from: t@b.example, smtp: { host: h } }\n",
                "recipient `ops@` is not an e-mail address",
                "inv.yml:3:21",
            ),
            (
                "settings:\n  notify:\n    - email: { to: [a@b.example], from: t@b.example, smtp: { host: h, tls: ssl } }\n",
                "unknown `tls` mode `ssl`",
                "inv.yml:3:76",
            ),
            (
                "settings:\n  notify:\n    - email: { to: [a@b.example], smtp: { host: h } }\n",
                "an `email` notifier needs `from`",
                "inv.yml:3:7",
            ),
            (
                "settings:\n  notify:\n    - email: { to: [a@b.example], from: t@b.example, smtp: { host: h, user: u } }\n",
                "needs both `user` and `password`",
                "inv.yml:3:54",
            ),
            (
                "settings:\n  notify:\n    - email: { to: [a@b.example], from: t@b.example, smtp: { hots: h } }\n",
                "unknown key `hots`",
                "inv.yml:3:62",
            ),
        ];
        for (text, wanted, place) in cases {
            let (message, location, _) = error(text);
            assert!(message.contains(wanted), "{message} (wanted {wanted})");
            assert_eq!(&location, place, "{message}");
        }
    }

    #[test]
    fn a_double_dollar_is_a_literal() {
        let inv =
            load("settings:\n  notify:\n    - webhook: https://h.example/$${NOT_A_VAR}\n").unwrap();
        assert_eq!(
            inv.settings.notify[0].channel,
            Channel::Webhook {
                url: "https://h.example/${NOT_A_VAR}".to_owned()
            }
        );
    }
}
