//! Querying a site's database with the MySQL/MariaDB client on its host.
//!
//! The client gets its credentials from an option file read on its stdin
//! (`--defaults-extra-file=/dev/stdin`): the password is never an argument (other users of a
//! shared host can read `ps`) and never touches the host's disk. The query itself holds no
//! secret and is an ordinary argument. Output is the client's `--batch` format, whose
//! escapes [`parse_batch`] undoes.

use super::database::{DbCredentials, DbEndpoint};
use crate::remote::{Connection, RemoteCommand, RemoteError};
use crate::site_error::SiteError;

/// Runs `sql` against `db` with the host's `client` and returns its rows.
pub async fn query(
    host: &Connection,
    client: &str,
    db: &DbCredentials,
    sql: &str,
    limit: usize,
) -> Result<Vec<Vec<String>>, SiteError> {
    let command = query_command(client, db, sql);
    let defaults = option_file(db);
    let output = host
        .run(&command, Some(defaults.as_bytes()), limit)
        .await
        .map_err(|e| match e {
            RemoteError::CommandFailed { stderr_tail, .. } => SiteError::database(format!(
                "the site's database refused the query: {}",
                stderr_tail.trim()
            )),
            other => other.into(),
        })?;
    Ok(parse_batch(&output.stdout_text()))
}

/// A `[client]` option file for `db`. Values are double-quoted with `\` and `"` escaped,
/// so `#`, `;` and spaces in a password are taken literally.
pub fn option_file(db: &DbCredentials) -> String {
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("[client]\n");
    out.push_str(&format!("user={}\n", quoted(&db.user)));
    out.push_str(&format!("password={}\n", quoted(db.password.expose())));
    match &db.endpoint {
        DbEndpoint::Tcp { host, port } => {
            out.push_str(&format!("host={}\n", quoted(host)));
            if let Some(port) = port {
                out.push_str(&format!("port={port}\n"));
            }
        }
        DbEndpoint::Socket { host, path } => {
            out.push_str(&format!("host={}\n", quoted(host)));
            out.push_str(&format!("socket={}\n", quoted(path)));
        }
    }
    out
}

/// `client` (`mariadb` or `mysql`) running `sql` against `db`, credentials from stdin.
pub fn query_command(client: &str, db: &DbCredentials, sql: &str) -> RemoteCommand {
    RemoteCommand::new(client)
        .arg("--defaults-extra-file=/dev/stdin")
        .arg("--batch")
        .arg("--skip-column-names")
        .arg("--default-character-set=utf8mb4")
        .arg("-e")
        .arg(sql)
        .arg("--")
        .arg(&db.name)
}

/// Rows of tab-separated fields, with the client's `\t \n \\ \0` escapes undone.
pub fn parse_batch(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Quotes an SQL identifier (a table name from a configured prefix).
pub fn identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::database::Password;

    fn creds(endpoint: DbEndpoint) -> DbCredentials {
        DbCredentials {
            name: "wp".into(),
            user: "wp\"user".into(),
            password: Password::new("p#ss \"w\\rd;".into()),
            endpoint,
            table_prefix: "wp_".into(),
        }
    }

    #[test]
    fn option_files_quote_everything() {
        let tcp = option_file(&creds(DbEndpoint::Tcp {
            host: "127.0.0.1".into(),
            port: Some(3307),
        }));
        assert_eq!(
            tcp,
            "[client]\nuser=\"wp\\\"user\"\npassword=\"p#ss \\\"w\\\\rd;\"\nhost=\"127.0.0.1\"\nport=3307\n"
        );
        let socket = option_file(&creds(DbEndpoint::Socket {
            host: "localhost".into(),
            path: "/run/my sql.sock".into(),
        }));
        assert!(
            socket.ends_with("host=\"localhost\"\nsocket=\"/run/my sql.sock\"\n"),
            "{socket}"
        );
    }

    #[test]
    fn the_password_is_not_in_the_command() {
        let db = creds(DbEndpoint::Tcp {
            host: "h".into(),
            port: None,
        });
        let cmd = query_command("mariadb", &db, "SELECT 1");
        assert!(!cmd.as_str().contains("p#ss"));
        assert_eq!(
            cmd.as_str(),
            "mariadb --defaults-extra-file=/dev/stdin --batch --skip-column-names --default-character-set=utf8mb4 -e 'SELECT 1' -- wp"
        );
    }

    #[test]
    fn undoes_batch_escapes() {
        let rows = parse_batch("active_plugins\ta:1:{i:0;s:19:\"akismet/akismet.php\";}\nblogdescription\tline\\none\\ttab \\\\ end\n");
        assert_eq!(rows[0][1], "a:1:{i:0;s:19:\"akismet/akismet.php\";}");
        assert_eq!(rows[1][1], "line\none\ttab \\ end");
    }
}
