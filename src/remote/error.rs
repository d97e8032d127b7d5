//! What can go wrong talking to a host, as data, with the details an operator needs.

use std::fmt;

/// Why a connection could not be made. Host key problems are told apart because they
/// need a human decision, never a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The host presented a key different from the one in known_hosts.
    HostKeyChanged,
    /// The host is not in known_hosts (and strict checking refuses to add it).
    HostKeyUnknown,
    /// No route, refused, timed out, name not resolved.
    Unreachable,
    /// The host refused our key.
    AuthenticationFailed,
    Other,
}

impl ConnectFailure {
    /// Whether trying again later can succeed without anyone doing anything: not for a
    /// host key problem, which needs a human decision.
    pub fn may_pass(self) -> bool {
        !matches!(
            self,
            ConnectFailure::HostKeyChanged | ConnectFailure::HostKeyUnknown
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    Connect {
        destination: String,
        failure: ConnectFailure,
        known_hosts: Option<String>,
        /// What ssh said, last lines.
        detail: String,
    },
    /// A command ran and exited non-zero (or was killed by a signal: `status` None).
    CommandFailed {
        destination: String,
        command: String,
        status: Option<i32>,
        stderr_tail: String,
    },
    /// The channel broke or local I/O failed while a command ran.
    Transport {
        destination: String,
        command: String,
        detail: String,
    },
    /// A command went past its deadline and was abandoned (its channel closed); what it
    /// did on the host meanwhile is unknown.
    TimedOut {
        destination: String,
        command: String,
        deadline: super::connection::Deadline,
    },
    /// A command's output was larger than the caller allowed.
    OutputTooLarge {
        destination: String,
        command: String,
        limit: usize,
    },
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |s: &str| crate::secrets::mask(s);
        match self {
            RemoteError::Connect {
                destination,
                failure,
                known_hosts,
                detail,
            } => {
                let known = known_hosts.as_deref().unwrap_or("~/.ssh/known_hosts");
                match failure {
                    ConnectFailure::HostKeyChanged => write!(
                        f,
                        "host key verification failed for {destination}: the host's key does not match the one in {known}. \
                         This can mean the server was reinstalled, or that someone is intercepting the connection. \
                         Check the new key with the host's administrator, then replace the entry (ssh-keygen -R)"
                    )?,
                    ConnectFailure::HostKeyUnknown => write!(
                        f,
                        "host key verification failed for {destination}: the host is not in {known}, and tend checks host keys strictly. \
                         Add its key after checking it (ssh-keyscan, compared with the fingerprint from the host's administrator)"
                    )?,
                    ConnectFailure::Unreachable => write!(f, "cannot reach {destination}")?,
                    ConnectFailure::AuthenticationFailed => {
                        write!(f, "{destination} refused the SSH key (permission denied)")?
                    }
                    ConnectFailure::Other => write!(f, "cannot connect to {destination}")?,
                }
                if !detail.is_empty() {
                    write!(f, ": {}", masked(detail))?;
                }
                Ok(())
            }
            RemoteError::CommandFailed {
                destination,
                command,
                status,
                stderr_tail,
            } => {
                let status = match status {
                    Some(code) => format!("exit status {code}"),
                    None => "killed by a signal".to_owned(),
                };
                write!(
                    f,
                    "command on {destination} failed ({status}): {}",
                    masked(command)
                )?;
                let tail = stderr_tail.trim_end();
                if !tail.is_empty() {
                    write!(
                        f,
                        "\n  stderr: {}",
                        masked(tail).replace('\n', "\n          ")
                    )?;
                }
                Ok(())
            }
            RemoteError::Transport {
                destination,
                command,
                detail,
            } => write!(
                f,
                "connection to {destination} broke while running {}: {}",
                masked(command),
                masked(detail)
            ),
            RemoteError::TimedOut {
                destination,
                command,
                deadline,
            } => match deadline {
                super::connection::Deadline::Total(limit) => write!(
                    f,
                    "command on {destination} did not finish within its deadline of {} s and was abandoned: {}",
                    limit.as_secs(),
                    masked(command)
                ),
                super::connection::Deadline::Idle(limit) => write!(
                    f,
                    "transfer on {destination} stalled (no data moved for {} s) and was abandoned: {}",
                    limit.as_secs(),
                    masked(command)
                ),
            },
            RemoteError::OutputTooLarge {
                destination,
                command,
                limit,
            } => write!(
                f,
                "output of {} on {destination} exceeded {limit} bytes",
                masked(command)
            ),
        }
    }
}

impl std::error::Error for RemoteError {}

/// Classifies what ssh wrote when the connection failed.
pub fn classify_connect_failure(ssh_output: &str) -> ConnectFailure {
    let text = ssh_output.to_ascii_lowercase();
    if text.contains("remote host identification has changed")
        || text.contains("host key for") && text.contains("has changed")
    {
        ConnectFailure::HostKeyChanged
    } else if text.contains("no ") && text.contains("host key is known")
        || text.contains("host key verification failed")
    {
        ConnectFailure::HostKeyUnknown
    } else if text.contains("permission denied") {
        ConnectFailure::AuthenticationFailed
    } else if text.contains("connection refused")
        || text.contains("timed out")
        || text.contains("no route to host")
        || text.contains("could not resolve hostname")
        || text.contains("network is unreachable")
        || text.contains("name or service not known")
        || text.contains("connection closed")
        || text.contains("connection reset")
    {
        ConnectFailure::Unreachable
    } else {
        ConnectFailure::Other
    }
}

/// The last `lines` lines of `text` (for stderr tails).
pub fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_what_openssh_prints() {
        let changed = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n\
            Host key verification failed.";
        assert_eq!(
            classify_connect_failure(changed),
            ConnectFailure::HostKeyChanged
        );
        let unknown = "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.";
        assert_eq!(
            classify_connect_failure(unknown),
            ConnectFailure::HostKeyUnknown
        );
        assert_eq!(
            classify_connect_failure("ssh: connect to host 127.0.0.1 port 9: Connection refused"),
            ConnectFailure::Unreachable
        );
        assert_eq!(
            classify_connect_failure("deploy@127.0.0.1: Permission denied (publickey)."),
            ConnectFailure::AuthenticationFailed
        );
    }
}
