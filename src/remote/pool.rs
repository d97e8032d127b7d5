//! The set of SSH connections a run uses: one per endpoint, opened on first use, opened
//! again when it dropped.
//!
//! Fifty sites on one host must cost one SSH handshake, not fifty: every site asks the pool
//! for its endpoint's connection, the first ask opens it and the others wait for (and then
//! share) the same one. A failed attempt is shared the same way: the sites that asked
//! during it, and those that ask before its [`Backoff`] has passed, fail at once with the
//! same clear reason instead of each waiting for their own timeout.
//!
//! A long-running command outlives connections: a master that died (killed, or closed by
//! ssh when the host stopped answering) is noticed on the next ask (`Session::check`) and
//! opened again, and an endpoint that failed is tried again once its back-off has passed —
//! never for a host key problem, which needs a human.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssh::{ControlPersist, KnownHosts, SessionBuilder};

use super::backoff::Backoff;
use super::connection::{Connection, Deadlines};
use super::error::{classify_connect_failure, ConnectFailure, RemoteError};
use super::leftovers;
use crate::events::{Event, Level, SharedReporter};
use crate::inventory::Site;

/// Everything that makes two sites' connections the same connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
}

impl Endpoint {
    pub fn of(site: &Site) -> Endpoint {
        Endpoint {
            host: site.host.clone(),
            user: site.ssh.user.clone(),
            port: site.ssh.port,
            identity_file: site.ssh.identity_file.clone(),
            known_hosts_file: site.ssh.known_hosts_file.clone(),
        }
    }

    /// `user@host:port` with what is known (the rest comes from ~/.ssh/config).
    pub fn label(&self) -> String {
        let mut out = String::new();
        if let Some(user) = &self.user {
            out.push_str(user);
            out.push('@');
        }
        out.push_str(&self.host);
        if let Some(port) = self.port {
            out.push(':');
            out.push_str(&port.to_string());
        }
        out
    }
}

/// One endpoint's connection, behind a lock held while it is checked or opened: whoever
/// asks meanwhile waits for that attempt and shares its result.
type Slot = Arc<tokio::sync::Mutex<SlotState>>;

#[derive(Default)]
struct SlotState {
    /// The connection last opened; checked before it is handed out again.
    connection: Option<Arc<Connection>>,
    /// The last attempt's failure, while it stands.
    failed: Option<Failed>,
    /// Attempts that failed in a row (what the back-off counts).
    failures: u32,
}

struct Failed {
    error: RemoteError,
    /// When the endpoint may be tried again; never (None) for a host key problem.
    retry_at: Option<Instant>,
}

pub struct Pool {
    control_dir: tempfile::TempDir,
    connect_timeout: Duration,
    max_channels: usize,
    deadlines: Deadlines,
    reporter: SharedReporter,
    backoff: Backoff,
    opened: AtomicUsize,
    slots: Mutex<HashMap<Endpoint, Slot>>,
}

/// How long a master connection left behind by a killed tend lingers before exiting.
const MASTER_IDLE_EXIT_SECS: usize = 600;

impl Pool {
    pub fn new(
        connect_timeout: Duration,
        max_channels: usize,
        reporter: SharedReporter,
    ) -> std::io::Result<Pool> {
        // Control sockets need a short path (sun_path is ~108 bytes) private to us.
        let control_dir = tempfile::Builder::new()
            .prefix(leftovers::PREFIX)
            .tempdir()?;
        leftovers::mark(control_dir.path())?;
        let reaped = leftovers::reap(&std::env::temp_dir(), Some(control_dir.path()));
        if reaped != leftovers::Reaped::default() {
            reporter.event(&Event::Log {
                level: Level::Detail,
                site: None,
                message: &format!(
                    "closed {} SSH master connection(s) and removed {} socket folder(s) left by tend runs that are gone",
                    reaped.masters, reaped.folders
                ),
            });
        }
        Ok(Pool {
            control_dir,
            connect_timeout,
            max_channels,
            deadlines: Deadlines::default(),
            reporter,
            backoff: Backoff::default(),
            opened: AtomicUsize::new(0),
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The same pool with other deadlines for its connections' commands.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Pool {
        self.deadlines = deadlines;
        self
    }

    /// The same pool with another schedule for trying failed endpoints again.
    pub fn with_backoff(mut self, backoff: Backoff) -> Pool {
        self.backoff = backoff;
        self
    }

    /// The connection for `endpoint`: the open one if its master is alive, else a new one —
    /// unless the last attempt failed less than its back-off ago (or on a host key), in
    /// which case that failure again, at once.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Arc<Connection>, RemoteError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(endpoint.clone()).or_default().clone()
        };
        let mut state = slot.lock().await;
        if let Some(connection) = &state.connection {
            if connection.is_alive().await {
                return Ok(connection.clone());
            }
            self.reporter.event(&Event::Log {
                level: Level::Warning,
                site: None,
                message: &format!(
                    "the SSH connection to {} dropped; opening it again",
                    endpoint.label()
                ),
            });
            state.connection = None;
        }
        if let Some(failed) = &state.failed {
            let waiting = match failed.retry_at {
                None => true,
                Some(at) => Instant::now() < at,
            };
            if waiting {
                return Err(failed.error.clone());
            }
        }
        match self.open(endpoint).await {
            Ok(connection) => {
                self.opened.fetch_add(1, Ordering::Relaxed);
                state.connection = Some(connection.clone());
                state.failed = None;
                state.failures = 0;
                Ok(connection)
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                let may_pass = match &error {
                    RemoteError::Connect { failure, .. } => failure.may_pass(),
                    _ => true,
                };
                let retry_at =
                    may_pass.then(|| Instant::now() + self.backoff.delay(state.failures));
                state.failed = Some(Failed {
                    error: error.clone(),
                    retry_at,
                });
                Err(error)
            }
        }
    }

    /// How many connections were opened successfully so far (each reconnection counts).
    pub fn open_connections(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    async fn open(&self, endpoint: &Endpoint) -> Result<Arc<Connection>, RemoteError> {
        let label = endpoint.label();
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(KnownHosts::Strict)
            .connect_timeout(self.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(self.control_dir.path())
            .control_persist(ControlPersist::IdleFor(
                std::num::NonZeroUsize::new(MASTER_IDLE_EXIT_SECS).expect("non-zero"),
            ));
        if let Some(user) = &endpoint.user {
            builder.user(user.clone());
        }
        if let Some(port) = endpoint.port {
            builder.port(port);
        }
        if let Some(key) = &endpoint.identity_file {
            builder.keyfile(key);
        }
        if let Some(known) = &endpoint.known_hosts_file {
            builder.user_known_hosts_file(ssh_option_value(known));
        }
        let connect_failed = |failure: ConnectFailure, detail: String| RemoteError::Connect {
            destination: label.clone(),
            failure,
            known_hosts: endpoint
                .known_hosts_file
                .as_ref()
                .map(|p| p.display().to_string()),
            detail,
        };
        // ConnectTimeout covers the TCP connect; the handshake and authentication get a
        // bound of their own so that a host that accepts and then stalls can't hang a run.
        let overall = self.connect_timeout + Duration::from_secs(20);
        let session = match tokio::time::timeout(overall, builder.connect_mux(&endpoint.host)).await
        {
            Err(_) => {
                return Err(connect_failed(
                    ConnectFailure::Unreachable,
                    format!("no answer within {} s", overall.as_secs()),
                ))
            }
            Ok(Err(openssh::Error::Connect(e))) => {
                let text = e.to_string();
                return Err(connect_failed(
                    classify_connect_failure(&text),
                    ssh_detail(&text),
                ));
            }
            Ok(Err(e)) => {
                let mut text = e.to_string();
                if let Some(source) = std::error::Error::source(&e) {
                    text = format!("{text}: {source}");
                }
                return Err(connect_failed(
                    classify_connect_failure(&text),
                    ssh_detail(&text),
                ));
            }
            Ok(Ok(session)) => session,
        };
        self.reporter.event(&Event::Connected {
            destination: &label,
        });
        Ok(Arc::new(Connection::new(
            session,
            self.max_channels,
            self.deadlines,
            label,
            self.reporter.clone(),
        )))
    }

    /// Closes every master connection (they would otherwise linger until their idle
    /// timeout).
    pub async fn shutdown(self) {
        let slots = std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, slot) in slots {
            let Ok(state) = Arc::try_unwrap(slot) else {
                continue;
            };
            if let Some(conn) = state.into_inner().connection {
                if let Ok(conn) = Arc::try_unwrap(conn) {
                    conn.close().await;
                }
            }
        }
    }
}

/// A path as the value of an `ssh -o Option=value`: ssh splits option values at spaces
/// and reads quotes, so a path with such characters goes in double quotes, escaped.
fn ssh_option_value(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if !text.contains([' ', '\t', '"', '\'', '\\']) {
        return path.to_path_buf();
    }
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    PathBuf::from(format!("\"{escaped}\""))
}

/// ssh's own words, without the banner of `@` lines it prints around host key warnings.
fn ssh_detail(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '@'))
        .filter(|l| !l.starts_with("@ ") && !l.starts_with("@    "))
        .filter(|l| !l.starts_with("IT IS POSSIBLE") && !l.starts_with("Someone could be"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_with_spaces_are_quoted_for_ssh() {
        assert_eq!(ssh_option_value(Path::new("/a/b")), PathBuf::from("/a/b"));
        assert_eq!(
            ssh_option_value(Path::new("/a b/k")),
            PathBuf::from("\"/a b/k\"")
        );
        assert_eq!(
            ssh_option_value(Path::new("/a \"b\"")),
            PathBuf::from("\"/a \\\"b\\\"\"")
        );
    }
}
