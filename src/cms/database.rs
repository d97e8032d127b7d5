//! Database credentials as read from a site's own config, and the host forms they take.

use std::fmt;

use serde::Serialize;

/// Where the database server listens, as MySQL clients understand it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DbEndpoint {
    Tcp { host: String, port: Option<u16> },
    Socket { host: String, path: String },
}

impl DbEndpoint {
    /// Parses a `DB_HOST`-style value the way WordPress's `wpdb::parse_db_host` does:
    /// `host`, `host:port`, `host:/path/to/socket`, `:/socket`, `[::1]:3306`.
    pub fn parse(value: &str) -> DbEndpoint {
        let value = value.trim();
        if let Some(i) = value.find(":/") {
            let host = &value[..i];
            return DbEndpoint::Socket {
                host: if host.is_empty() {
                    "localhost".to_owned()
                } else {
                    host.to_owned()
                },
                path: value[i + 1..].to_owned(),
            };
        }
        if let Some(rest) = value.strip_prefix('[') {
            if let Some((addr, after)) = rest.split_once(']') {
                let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
                return DbEndpoint::Tcp {
                    host: addr.to_owned(),
                    port,
                };
            }
        }
        if value.matches(':').count() == 1 {
            let (host, port) = value.split_once(':').unwrap_or((value, ""));
            if let Ok(port) = port.parse() {
                return DbEndpoint::Tcp {
                    host: if host.is_empty() {
                        "localhost".to_owned()
                    } else {
                        host.to_owned()
                    },
                    port: Some(port),
                };
            }
        }
        DbEndpoint::Tcp {
            host: if value.is_empty() {
                "localhost".to_owned()
            } else {
                value.to_owned()
            },
            port: None,
        }
    }
}

/// A password that never shows: `Debug` and `Display` print asterisks, and creating one
/// registers it for masking everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(value: String) -> Password {
        crate::secrets::register(&value);
        Password(value)
    }

    /// The real value, for handing to the database client through a private channel.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCredentials {
    pub name: String,
    pub user: String,
    pub password: Password,
    pub endpoint: DbEndpoint,
    pub table_prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: Option<u16>) -> DbEndpoint {
        DbEndpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_the_forms_wordpress_accepts() {
        assert_eq!(DbEndpoint::parse("localhost"), tcp("localhost", None));
        assert_eq!(
            DbEndpoint::parse("localhost:3307"),
            tcp("localhost", Some(3307))
        );
        assert_eq!(
            DbEndpoint::parse("db.internal:3306"),
            tcp("db.internal", Some(3306))
        );
        assert_eq!(DbEndpoint::parse("[::1]:3306"), tcp("::1", Some(3306)));
        assert_eq!(
            DbEndpoint::parse("localhost:/var/run/mysqld/mysqld.sock"),
            DbEndpoint::Socket {
                host: "localhost".into(),
                path: "/var/run/mysqld/mysqld.sock".into()
            }
        );
        assert_eq!(
            DbEndpoint::parse(":/tmp/my sql.sock"),
            DbEndpoint::Socket {
                host: "localhost".into(),
                path: "/tmp/my sql.sock".into()
            }
        );
    }

    #[test]
    fn passwords_do_not_show() {
        let p = Password::new("hunter2-very-secret".into());
        assert_eq!(format!("{p} {p:?}"), "******** Password(********)");
        assert_eq!(
            crate::secrets::mask("x hunter2-very-secret y"),
            "x ******** y"
        );
    }
}
