//! One tend at a time per site: a lock on the site's host.
//!
//! The nightly backup and a monthly update may start from different machines, so the lock
//! lives where the site lives: a directory `~/.cache/tend/locks/<site root>.lock` on the
//! host, created with `mkdir` (atomic), holding an `owner` file that names the runner,
//! process and command. The owner refreshes the file's time while it works. A lock whose
//! owner is gone — a process that no longer runs on this runner, or a lease not refreshed
//! for [`LEASE_SECS`] — is stale: it is taken over, with a warning, instead of blocking
//! the site forever after a crash.

use std::time::Duration;

use chrono::Utc;

use crate::remote::{
    quote, Connection, Deadline, Endpoint, Pool, RemoteCommand, RemoteError, BOOKKEEPING_LIMIT,
};
use crate::site_error::SiteError;

/// tend's bookkeeping on the host is small and quick: it gets the short deadline.
const BOOKKEEPING: Deadline = Deadline::Total(BOOKKEEPING_LIMIT);

/// A lock not refreshed for this long belongs to a dead run.
pub const LEASE_SECS: u64 = 300;
/// How often a held lock is refreshed.
pub const REFRESH: Duration = Duration::from_secs(60);

/// A held lock; [`SiteLock::release`] removes it.
pub struct SiteLock {
    dir: String,
    owner: String,
    /// Set when a stale lock was taken over: who had it.
    pub took_over: Option<String>,
}

/// Who holds a lock: this runner, this process, this command.
pub fn owner_line(command: &str) -> String {
    format!(
        "runner={} pid={} started={} command={command}",
        runner_name(),
        std::process::id(),
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
}

fn runner_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The lock directory for a site root, under the SSH user's home.
fn lock_dir(root: &str) -> String {
    let name: String = root
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(".cache/tend/locks/{name}.lock")
}

/// Takes the lock of the site at `root` for `command`, taking over a stale one.
pub async fn acquire(host: &Connection, root: &str, command: &str) -> Result<SiteLock, SiteError> {
    let dir = lock_dir(root);
    let owner = owner_line(command);
    let script = format!(
        "cd && mkdir -p .cache/tend/locks && l={dir}; \
         if mkdir \"$l\" 2>/dev/null; then printf '%s\\n' {owner} > \"$l/owner\"; echo acquired; \
         else now=$(date +%s); then_=$(date -r \"$l/owner\" +%s 2>/dev/null || echo 0); \
         echo \"held $((now - then_))\"; cat \"$l/owner\" 2>/dev/null; fi",
        dir = quote(&dir),
        owner = quote(&owner)
    );
    let output = host
        .run_within(
            &RemoteCommand::script(&script),
            None,
            64 * 1024,
            BOOKKEEPING,
        )
        .await?;
    let text = output.stdout_text();
    let mut lines = text.lines();
    match lines.next() {
        Some("acquired") => Ok(SiteLock {
            dir,
            owner,
            took_over: None,
        }),
        Some(held) if held.starts_with("held ") => {
            let age: u64 = held[5..].trim().parse().unwrap_or(0);
            let holder = lines.next().unwrap_or("an unknown owner").to_owned();
            if !is_stale(&holder, age) {
                return Err(SiteError::Locked { holder });
            }
            take_over(host, &dir, &owner).await?;
            Ok(SiteLock {
                dir,
                owner,
                took_over: Some(holder),
            })
        }
        _ => Err(SiteError::LockFailed {
            reason: format!("unexpected answer from the host: {text}"),
        }),
    }
}

/// Stale: not refreshed within the lease, or owned by a process of this runner that is gone.
pub fn is_stale(holder: &str, age_secs: u64) -> bool {
    if age_secs > LEASE_SECS {
        return true;
    }
    let field = |name: &str| {
        holder
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    match (
        field("runner"),
        field("pid").and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(runner), Some(pid)) if runner == runner_name() => {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// Moves the stale lock aside (atomic: of two takers, one wins) and creates ours.
async fn take_over(host: &Connection, dir: &str, owner: &str) -> Result<(), SiteError> {
    let script = format!(
        "cd && l={dir}; a=\"$l.stale.$$\"; mv \"$l\" \"$a\" 2>/dev/null && rm -rf \"$a\"; \
         mkdir \"$l\" && printf '%s\\n' {owner} > \"$l/owner\"",
        dir = quote(dir),
        owner = quote(owner)
    );
    host.run_within(
        &RemoteCommand::script(&script),
        None,
        64 * 1024,
        BOOKKEEPING,
    )
    .await
    .map_err(|e| match e {
        // `mkdir` refused: another run made the lock between our move and ours.
        RemoteError::CommandFailed { .. } => SiteError::LockFailed {
            reason: "its stale lock was taken over by another run first".to_owned(),
        },
        other => SiteError::Remote(other),
    })?;
    Ok(())
}

impl SiteLock {
    /// Refreshes the lease (the owner file's time).
    pub async fn refresh(&self, host: &Connection) -> Result<(), SiteError> {
        let script = format!("cd && touch {}/owner", quote(&self.dir));
        host.run_within(&RemoteCommand::script(&script), None, 1024, BOOKKEEPING)
            .await?;
        Ok(())
    }

    /// Removes the lock if it is still ours.
    pub async fn release(self, host: &Connection) -> Result<(), SiteError> {
        let script = format!(
            "cd && l={dir}; if [ \"$(cat \"$l/owner\" 2>/dev/null)\" = {owner} ]; then rm -rf \"$l\"; fi",
            dir = quote(&self.dir),
            owner = quote(&self.owner)
        );
        host.run_within(&RemoteCommand::script(&script), None, 1024, BOOKKEEPING)
            .await?;
        Ok(())
    }
}

/// What a piece of work done under a site's lock left: its own result, and, beside it,
/// whether the lock could be released — a failure to clean up never hides what the work
/// did.
pub struct Held<T> {
    pub result: Result<T, SiteError>,
    pub released: Result<(), SiteError>,
}

impl<T> Held<T> {
    /// The work's result, or, when it succeeded, the release's failure.
    pub fn into_result(self) -> Result<T, SiteError> {
        match (self.result, self.released) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
        }
    }
}

/// Runs `work` while holding the site's lock, refreshing it, releasing it at the end
/// (whether `work` succeeded or not); a release that fails fails the site.
pub async fn with_lock<T, F>(
    pool: &Pool,
    endpoint: &Endpoint,
    root: &str,
    command: &str,
    on_takeover: impl FnOnce(&str),
    work: F,
) -> Result<T, SiteError>
where
    F: std::future::Future<Output = Result<T, SiteError>>,
{
    hold(pool, endpoint, root, command, on_takeover, work)
        .await?
        .into_result()
}

/// Runs `work` while holding the site's lock (an error: the lock was not taken, `work`
/// did not run). The connection is asked of the pool for each refresh and for the
/// release, so a connection that dropped meanwhile is opened again: the lease does not
/// lapse under a run that goes on, and the lock of a run whose connection was cut is still
/// released.
pub async fn hold<T, F>(
    pool: &Pool,
    endpoint: &Endpoint,
    root: &str,
    command: &str,
    on_takeover: impl FnOnce(&str),
    work: F,
) -> Result<Held<T>, SiteError>
where
    F: std::future::Future<Output = Result<T, SiteError>>,
{
    let host = pool.connect(endpoint).await?;
    let lock = acquire(&host, root, command).await?;
    drop(host);
    if let Some(previous) = &lock.took_over {
        on_takeover(previous);
    }
    let result = {
        tokio::pin!(work);
        let mut ticker = tokio::time::interval(REFRESH);
        ticker.tick().await;
        loop {
            tokio::select! {
                result = &mut work => break result,
                _ = ticker.tick() => {
                    if let Ok(host) = pool.connect(endpoint).await {
                        let _ = lock.refresh(&host).await;
                    }
                }
            }
        }
    };
    let released = match pool.connect(endpoint).await {
        Ok(host) => lock.release(&host).await,
        Err(e) => Err(e.into()),
    };
    Ok(Held { result, released })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_come_from_the_site_root() {
        assert_eq!(
            lock_dir("/var/www/acme/public_html"),
            ".cache/tend/locks/var_www_acme_public_html.lock"
        );
        assert_eq!(
            lock_dir("/srv/it's here"),
            ".cache/tend/locks/srv_it_s_here.lock"
        );
    }

    #[test]
    fn stale_means_an_old_lease_or_a_dead_local_owner() {
        let me = runner_name();
        assert!(is_stale(
            "runner=elsewhere pid=1 started=x command=backup",
            LEASE_SECS + 1
        ));
        assert!(!is_stale(
            "runner=elsewhere pid=1 started=x command=backup",
            10
        ));
        assert!(is_stale(
            &format!("runner={me} pid=999999999 started=x command=backup"),
            10
        ));
        assert!(!is_stale(
            &format!(
                "runner={me} pid={} started=x command=backup",
                std::process::id()
            ),
            10
        ));
        assert!(
            !is_stale(&format!("runner={me} pid=1 started=x command=backup"), 10),
            "pid 1 is alive"
        );
    }
}
