//! One tend at a time per site: a lock on the site's host.
//!
//! The nightly backup and a monthly update may start from different machines, so the lock
//! lives where the site lives: a directory `~/.cache/tend/locks/<site root>.lock` on the
//! host holding an `owner` file that names the runner, process, start time and command. The
//! owner refreshes the file's time while it works. A lock whose owner is gone — a process
//! that no longer runs on this runner, or a lease not refreshed for [`LEASE_SECS`] — is
//! stale: it is taken over, with a warning, instead of blocking the site forever after a
//! crash.
//!
//! # Why exactly one run wins, always
//!
//! Every change of who holds the lock is one `rename(2)` on the host, and a rename of a
//! directory onto a path that exists and is not empty fails — so of several runs doing the
//! same rename, exactly one succeeds:
//!
//! - **Taking a free lock**: the owner file is written into a private directory
//!   (`<lock>.new.XXXXXX`, from `mktemp -d`) which is then renamed onto the lock's path
//!   (`mv -T`). The lock therefore never exists without its owner file: nobody can read a
//!   half-made lock (the old `mkdir` then write left a moment with no owner file, whose
//!   age read as "very old", so several runs took it over at once).
//! - **Letting a lock go** — released by its owner or taken over as stale — moves the lock
//!   directory to a name that belongs to that one *generation* of the lock:
//!   `<lock>.gone.<first 16 hex digits of the sha256 of its owner line>` (the owner line has
//!   runner, pid and start time, so no two generations share it). Once generation X is gone,
//!   its name is taken, so a second run that also judged X stale and renames "whatever is at
//!   the lock's path now" onto X's name fails instead of moving the *next* holder's lock
//!   aside. Only the run whose rename succeeded puts its own lock in place (again a rename
//!   from a private directory, which fails if a fresh run took the free lock in between:
//!   then that run holds it and the taker reports it lost the race).
//! - After its rename the taker checks that what it moved is the owner line it judged; if
//!   not (possible only if X's `.gone.` directory had already been cleaned up), it moves it
//!   back. `.gone.` directories are the lock's history: they are kept a day (their time is
//!   set when they are made) and removed by the next acquire after that — far longer than
//!   the seconds between a run reading a lock and taking it over. That clean-up (and of
//!   private directories a killed run left) matches only those exact name shapes and never
//!   a name ending in `.lock`, so it cannot remove a lock, whatever the site roots are called.
//!   A private directory lives for the milliseconds between `mktemp` and its rename; one
//!   older than the lease ([`LEASE_SECS`]) was left by a run killed between the two renames
//!   of a takeover, and is removed.
//! - A run killed between those two renames (the stale generation moved to its `.gone.`
//!   name, its own lock not yet in place) leaves the lock's path free: the next run takes
//!   it as a free lock, with no takeover needed.
//!
//! Releasing checks the owner line first and goes through the same rename, so a run whose
//! lease ran out and whose lock was taken over never removes its successor's lock. The host
//! needs GNU coreutils (`mv -T`, `mktemp -d`, `date -r`), which every Linux host has.

use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::remote::{
    quote, Connection, Deadline, Endpoint, Pool, RemoteCommand, BOOKKEEPING_LIMIT,
};
use crate::site_error::SiteError;

/// tend's bookkeeping on the host is small and quick: it gets the short deadline.
const BOOKKEEPING: Deadline = Deadline::Total(BOOKKEEPING_LIMIT);

/// A lock not refreshed for this long belongs to a dead run.
pub const LEASE_SECS: u64 = 300;
/// How often a held lock is refreshed.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How long the history of a lock (its `.gone.` directories) is kept, in minutes.
const HISTORY_MINUTES: u32 = 24 * 60;

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

/// Where generation `owner` of the lock `dir` goes when it is released or taken over.
fn gone_dir(dir: &str, owner: &str) -> String {
    let digest = Sha256::digest(owner.trim_end().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{dir}.gone.{hex}")
}

/// Shell that puts a fresh lock for `owner` at `$l`, from a private directory: prints
/// `placed` if this run now holds it, `lost` if the path was taken meanwhile, `unwritable`
/// if the private directory could not be made. `before_rename` runs just before the
/// rename (a test's pause point).
fn place_script(owner: &str, before_rename: &str) -> String {
    format!(
        "if ! t=$(mktemp -d \"$l.new.XXXXXX\"); then echo unwritable; \
         elif ! printf '%s\\n' {owner} > \"$t/owner\"; then rm -rf \"$t\"; echo unwritable; \
         elif {before_rename}mv -T \"$t\" \"$l\" 2>/dev/null; then echo placed; \
         else rm -rf \"$t\"; echo lost; fi",
        owner = quote(owner)
    )
}

fn unwritable() -> SiteError {
    SiteError::LockFailed {
        reason: "cannot write under ~/.cache/tend/locks on the host (is its disk full?)".to_owned(),
    }
}

/// Takes the lock of the site at `root` for `command`, taking over a stale one.
pub async fn acquire(host: &Connection, root: &str, command: &str) -> Result<SiteLock, SiteError> {
    let dir = lock_dir(root);
    let owner = owner_line(command);
    let script = format!(
        "cd && mkdir -p .cache/tend/locks || exit 3; l={dir}; \
         find .cache/tend/locks -mindepth 1 -maxdepth 1 ! -name '*.lock' \\( \
         -name '*.lock.gone.????????????????' -mmin +{history} \
         -o -name '*.lock.new.??????' -mmin +{abandoned} \\) -exec rm -rf {{}} + 2>/dev/null; \
         for try in 1 2 3; do r=$({place}); \
         [ \"$r\" = placed ] && {{ echo acquired; exit 0; }}; \
         [ \"$r\" = unwritable ] && {{ echo unwritable; exit 0; }}; \
         h=$(head -n 1 \"$l/owner\" 2>/dev/null) || continue; \
         then_=$(date -r \"$l/owner\" +%s 2>/dev/null) || continue; \
         echo \"held $(($(date +%s) - then_))\"; printf '%s\\n' \"$h\"; exit 0; done; echo busy",
        dir = quote(&dir),
        history = HISTORY_MINUTES,
        abandoned = LEASE_SECS / 60,
        place = place_script(&owner, ""),
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
            let holder = lines.next().unwrap_or("").to_owned();
            if !is_stale(&holder, age) {
                return Err(SiteError::Locked { holder });
            }
            take_over(host, &dir, &holder, &owner).await?;
            Ok(SiteLock {
                dir,
                owner,
                took_over: Some(holder),
            })
        }
        Some("unwritable") => Err(unwritable()),
        Some("busy") => Err(SiteError::LockFailed {
            reason: "its lock changed hands three times while tend tried to take it".to_owned(),
        }),
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

/// Moves the stale generation `holder` to its `.gone.` name (a rename that succeeds for
/// exactly one run, see the module doc) and puts ours in its place.
async fn take_over(
    host: &Connection,
    dir: &str,
    holder: &str,
    owner: &str,
) -> Result<(), SiteError> {
    let script = format!(
        "cd || exit 3; l={dir}; g={gone}; \
         if ! mv -T \"$l\" \"$g\" 2>/dev/null; then echo lost; exit 0; fi; touch \"$g\"; \
         if [ \"$(head -n 1 \"$g/owner\" 2>/dev/null)\" != {holder} ]; then \
         mv -T \"$g\" \"$l\" 2>/dev/null; echo changed; exit 0; fi; {place}",
        dir = quote(dir),
        gone = quote(&gone_dir(dir, holder)),
        holder = quote(holder),
        place = place_script(owner, &crate::fault_point::pause_script("lock-takeover")),
    );
    let output = host
        .run_within(
            &RemoteCommand::script(&script),
            None,
            64 * 1024,
            BOOKKEEPING,
        )
        .await?;
    match output.stdout_text().trim() {
        "placed" => Ok(()),
        "unwritable" => Err(unwritable()),
        "lost" | "changed" => Err(SiteError::LockFailed {
            reason: "its stale lock was taken over by another run first".to_owned(),
        }),
        other => Err(SiteError::LockFailed {
            reason: format!("unexpected answer from the host: {other}"),
        }),
    }
}

impl SiteLock {
    /// Refreshes the lease (the owner file's time), if the lock is still ours.
    pub async fn refresh(&self, host: &Connection) -> Result<(), SiteError> {
        let script = format!(
            "cd && l={dir}; [ \"$(head -n 1 \"$l/owner\" 2>/dev/null)\" = {owner} ] && touch \"$l/owner\"; true",
            dir = quote(&self.dir),
            owner = quote(&self.owner)
        );
        host.run_within(&RemoteCommand::script(&script), None, 1024, BOOKKEEPING)
            .await?;
        Ok(())
    }

    /// Lets the lock go if it is still ours: it moves to its generation's `.gone.` name.
    pub async fn release(self, host: &Connection) -> Result<(), SiteError> {
        let script = format!(
            "cd && l={dir}; g={gone}; \
             if [ \"$(head -n 1 \"$l/owner\" 2>/dev/null)\" = {owner} ] && mv -T \"$l\" \"$g\" 2>/dev/null; then \
             touch \"$g\"; [ \"$(head -n 1 \"$g/owner\" 2>/dev/null)\" = {owner} ] || mv -T \"$g\" \"$l\" 2>/dev/null; fi; true",
            dir = quote(&self.dir),
            gone = quote(&gone_dir(&self.dir, &self.owner)),
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
    fn each_generation_of_a_lock_has_its_own_gone_name() {
        let dir = ".cache/tend/locks/srv_a.lock";
        let a = gone_dir(
            dir,
            "runner=r pid=1 started=2026-01-01T00:00:00Z command=backup",
        );
        let b = gone_dir(
            dir,
            "runner=r pid=2 started=2026-01-01T00:00:00Z command=backup",
        );
        assert!(a.starts_with(".cache/tend/locks/srv_a.lock.gone."), "{a}");
        assert_eq!(a.len(), dir.len() + ".gone.".len() + 16);
        assert_ne!(a, b);
        assert_eq!(
            a,
            gone_dir(
                dir,
                "runner=r pid=1 started=2026-01-01T00:00:00Z command=backup\n"
            )
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
