//! Remote commands as text for a POSIX shell, with every argument quoted.
//!
//! sshd hands the command line to the user's login shell, so a path such as
//! `/var/www/it's; $(rm -rf ~)` must arrive as one inert word. [`quote`] single-quotes
//! anything that is not plainly safe; [`RemoteCommand`] builds whole command lines from
//! quoted words and literal shell syntax kept apart.

use std::fmt;

/// `word` quoted for a POSIX shell: unchanged when it holds only safe characters,
/// otherwise in single quotes with each `'` written as `'\''`.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The exit status of a [`RemoteCommand::in_dir`] command whose directory cannot be
/// entered (missing, or not readable by the SSH user).
pub const EXIT_NO_DIR: i32 = 201;

/// A command line for the remote shell. Arguments are quoted as they are added; shell
/// syntax (`&&`, `|`, redirections) is added with [`RemoteCommand::raw`] and must never
/// contain data from outside tend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    line: String,
}

impl RemoteCommand {
    pub fn new(program: &str) -> RemoteCommand {
        RemoteCommand {
            line: quote(program),
        }
    }

    /// A fixed shell script written by tend (no outside data in it).
    pub fn script(text: &str) -> RemoteCommand {
        RemoteCommand {
            line: text.to_owned(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> RemoteCommand {
        self.line.push(' ');
        self.line.push_str(&quote(arg.as_ref()));
        self
    }

    pub fn args<I, S>(mut self, args: I) -> RemoteCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Literal shell syntax appended as it is (` && `, ` | `, `2>&1`).
    pub fn raw(mut self, syntax: &str) -> RemoteCommand {
        self.line.push_str(syntax);
        self
    }

    /// `cd DIR && <this>`: runs in `dir`, failing with [`EXIT_NO_DIR`] if it cannot be
    /// entered, so the caller tells a missing directory from a failing command by status.
    pub fn in_dir(self, dir: &str) -> RemoteCommand {
        RemoteCommand {
            line: format!(
                "{{ cd {} || exit {EXIT_NO_DIR}; }} && {}",
                quote(dir),
                self.line
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.line
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::secrets::mask(&self.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/var/www/site"), "/var/www/site");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(id); rm -rf ~"), "'$(id); rm -rf ~'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("*"), "'*'");
    }

    #[test]
    fn builds_command_lines() {
        let cmd = RemoteCommand::new("ls")
            .arg("-la")
            .arg("a dir")
            .in_dir("/srv/it's");
        assert_eq!(
            cmd.as_str(),
            "{ cd '/srv/it'\\''s' || exit 201; } && ls -la 'a dir'"
        );
    }
}
