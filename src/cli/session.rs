//! One command's session: the value that owns what every command needs around its work.
//!
//! Every command that works on sites is "select sites → engine → outcomes → view"; what
//! surrounds that — the async runtime, the SSH pool, the reporter, the run's record in the
//! history, its notifications and the exit status — is the same for all of them and lives
//! here, once. A command opens a session, records its start if it acts, hands the engine
//! the session's pool and reporter, prints its view and finishes the session, which closes
//! the connections, writes the record, notifies and says the exit status.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use super::command_error::{CommandError, EXIT_FAILED, EXIT_OK};
use super::record::{self, Recorder, Started};
use crate::backup::SnapshotStore;
use crate::events::{Reporter, SharedReporter};
use crate::history::SiteRecord;
use crate::inventory::{Inventory, Site};
use crate::outcome::Outcome;
use crate::remote::Pool;
use crate::ui::{self, OutputMode};

pub struct Session<'a> {
    pub inventory: &'a Inventory,
    pub mode: OutputMode,
    pub store: Box<dyn SnapshotStore>,
    runtime: tokio::runtime::Runtime,
    recorder: Arc<Recorder>,
    reporter: SharedReporter,
    /// `None` once the session is finished.
    pool: Option<Pool>,
    /// The command's record in the history, once it has begun to act.
    started: Mutex<Option<Started>>,
    /// The id the command goes by: its record in the history, its playbook run, and the
    /// `run=` tag of the repository snapshots it takes.
    pub run_id: String,
}

impl<'a> Session<'a> {
    pub fn open(inventory: &'a Inventory, mode: OutputMode) -> Result<Session<'a>, CommandError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| CommandError::runtime(format!("cannot start the async runtime: {e}")))?;
        let recorder = Recorder::new(ui::reporter(mode));
        let reporter = recorder.reporter();
        let pool = Pool::new(
            inventory.settings.connect_timeout,
            inventory.settings.max_sessions,
            reporter.clone(),
        )
        .map_err(|e| {
            CommandError::runtime(format!(
                "cannot create a private directory for SSH control sockets: {e}"
            ))
        })?
        .with_deadlines(inventory.settings.deadlines);
        runtime.spawn(crate::interrupt::watch(reporter.clone()));
        let run_id = crate::engine::run::new_run_id();
        Ok(Session {
            inventory,
            mode,
            store: crate::backup::open_store(&inventory.settings, Some(&run_id)),
            run_id,
            runtime,
            recorder,
            reporter,
            pool: Some(pool),
            started: Mutex::new(None),
        })
    }

    pub fn reporter(&self) -> &dyn Reporter {
        self.reporter.as_ref()
    }

    pub fn pool(&self) -> &Pool {
        self.pool.as_ref().expect("the session is open")
    }

    /// Runs `work` on the session's runtime.
    pub fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// From now on the command is in the history: `command` (`backup`, `restore`, …) on
    /// `targets`, each site recorded as it finishes.
    pub fn record(&self, command: &str, targets: &[&Site]) {
        *self.started() = Some(record::begin(
            self.inventory,
            &self.recorder,
            &self.run_id,
            command,
            targets,
        ));
    }

    /// [`Session::record`] for a playbook run.
    pub fn record_playbook(&self, playbook: &str, targets: &[&Site]) {
        *self.started() = Some(record::begin_playbook(
            self.inventory,
            &self.recorder,
            &self.run_id,
            playbook,
            targets,
        ));
    }

    fn started(&self) -> std::sync::MutexGuard<'_, Option<Started>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prints the command's data on stdout: the JSON document with `--json`, else the text.
    pub fn print(&self, json: impl FnOnce() -> serde_json::Value, text: impl FnOnce() -> String) {
        print_data(self.mode, json, text);
    }

    /// Ends the command: closes the connections, writes the record of what it did to each
    /// site (when it was recorded) and sends the notifications the run calls for. Returns
    /// `exit` unchanged: history and notifications never change it.
    pub fn finish(mut self, sites: Vec<SiteRecord>, exit: u8) -> u8 {
        let exit = match crate::interrupt::requested() {
            Some(signal) => {
                self.say_interrupted(signal, &sites);
                crate::interrupt::exit_status(signal)
            }
            None => exit,
        };
        let pool = self.pool.take();
        let started = self.started().take();
        let inventory = self.inventory;
        let recorder = self.recorder.clone();
        self.runtime.block_on(async move {
            if let Some(pool) = pool {
                pool.shutdown().await;
            }
            if let Some(started) = started {
                let record = record::end(started, sites, exit);
                crate::notify::notify(&inventory.settings.notify, &record, recorder.as_ref()).await;
            }
        });
        exit
    }
}

impl Session<'_> {
    /// After an interruption: what was done to the sites in flight, what was not started,
    /// and which sites need `tend recover`.
    fn say_interrupted(&self, signal: i32, sites: &[SiteRecord]) {
        let names = |status: Outcome| -> Vec<&str> {
            sites
                .iter()
                .filter(|s| s.status == status)
                .map(|s| s.site.as_str())
                .collect()
        };
        let mut lines = vec![format!(
            "interrupted by {}: no new site or step was started",
            crate::interrupt::signal_name(signal)
        )];
        for (status, what) in [
            (Outcome::RolledBack, "rolled back"),
            (Outcome::Ok, "finished"),
            (Outcome::Failed, "failed"),
            (Outcome::Skipped, "not started"),
        ] {
            let list = names(status);
            if !list.is_empty() {
                lines.push(format!("{what}: {}", list.join(", ")));
            }
        }
        let unfinished = crate::interrupt::journaled();
        if unfinished.is_empty() {
            lines.push("no site was left with unfinished work".to_owned());
        }
        for site in unfinished {
            lines.push(format!(
                "{site} was left with unfinished work: run `tend recover {site}`"
            ));
        }
        for line in lines {
            self.reporter.event(&crate::events::Event::Log {
                level: crate::events::Level::Warning,
                site: None,
                message: &line,
            });
        }
    }
}

impl Drop for Session<'_> {
    /// A command that stopped early (an error, a declined prompt) still closes its
    /// connections.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            self.runtime.block_on(pool.shutdown());
        }
    }
}

/// The exit status of sites that ended so: 0 when every one succeeded.
pub fn exit_for(outcomes: impl IntoIterator<Item = Outcome>) -> u8 {
    if outcomes.into_iter().all(Outcome::is_success) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Data on stdout: the JSON document with `--json`, else the text for people.
pub fn print_data(
    mode: OutputMode,
    json: impl FnOnce() -> serde_json::Value,
    text: impl FnOnce() -> String,
) {
    let mut out = std::io::stdout().lock();
    if mode.json {
        let _ = writeln!(out, "{}", json());
    } else {
        let _ = write!(out, "{}", text());
    }
}
