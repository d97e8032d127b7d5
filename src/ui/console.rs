//! The reporter behind every mode: log lines on stderr, with a progress bar above them
//! when stderr is a terminal.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::style::Style;
use crate::events::{Event, Level, Reporter};
use crate::outcome::Outcome;
use crate::secrets::mask;

pub struct ConsoleReporter {
    bars: bool,
    /// Whether a site's failure is told here with its reason: not when stdout and stderr
    /// go to the same file (cron's `>>log 2>&1`) and the command's text output on stdout
    /// says it there, so that the log holds each failure once.
    reasons: bool,
    min_level: Level,
    style: Style,
    bar: Mutex<Option<ProgressBar>>,
}

impl ConsoleReporter {
    pub fn new(bars: bool, reasons: bool, min_level: Level, style: Style) -> ConsoleReporter {
        ConsoleReporter {
            bars,
            reasons,
            min_level,
            style,
            bar: Mutex::new(None),
        }
    }

    fn line(&self, level: Level, text: &str) {
        if level < self.min_level {
            return;
        }
        let text = mask(text);
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match bar.as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
        }
    }
}

impl Reporter for ConsoleReporter {
    fn event(&self, event: &Event<'_>) {
        match *event {
            Event::Begin { what, total } => {
                if self.bars && total > 0 {
                    let bar = ProgressBar::with_draw_target(
                        Some(total as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix} [{bar:30}] {pos}/{len} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(what.to_owned());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
                } else {
                    self.line(Level::Detail, &format!("{what}: {total} site(s)"));
                }
            }
            Event::SiteStarted { site } => {
                if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    bar.set_message(site.to_owned());
                }
            }
            Event::Step { site, step } => self.line(Level::Detail, &format!("{site}: {step}")),
            Event::SiteFinished {
                site,
                outcome,
                error,
                changed,
                elapsed,
            } => {
                if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    bar.inc(1);
                }
                let (level, word) = match outcome {
                    Outcome::Ok => (Level::Info, self.style.good("ok")),
                    Outcome::Recovered => (Level::Info, self.style.good("recovered")),
                    Outcome::Partial => (Level::Warning, self.style.warn("partial")),
                    Outcome::Skipped => (Level::Warning, self.style.warn("skipped")),
                    Outcome::RolledBack => (Level::Error, self.style.bad("rolled back")),
                    Outcome::Failed => (Level::Error, self.style.bad("failed")),
                };
                // One line per site: the outcome, what changed, how long it took.
                let mut line = format!("{site}: {word}");
                match error {
                    Some(why) if !outcome.is_success() && self.reasons => {
                        line.push_str(": ");
                        line.push_str(why);
                    }
                    _ => {}
                }
                if let Some(changed) = changed {
                    line.push_str(&format!(" — {changed}"));
                }
                if let Some(elapsed) = elapsed {
                    line.push_str(&format!(" ({:.1} s)", elapsed.as_secs_f64()));
                }
                self.line(level, &line);
            }
            Event::Connected { destination } => self.line(
                Level::Detail,
                &format!("ssh: connected to {destination} (shared by its sites)"),
            ),
            Event::Command {
                destination,
                command,
            } => self.line(
                Level::Detail,
                &format!("ssh {destination}: {}", self.style.dim(command)),
            ),
            Event::Log {
                level,
                site,
                message,
            } => {
                let tag = match level {
                    Level::Warning => self.style.warn("warning:"),
                    Level::Error => self.style.bad("error:"),
                    _ => String::new(),
                };
                let text = match (site, tag.is_empty()) {
                    (Some(site), true) => format!("{site}: {message}"),
                    (Some(site), false) => format!("{site}: {tag} {message}"),
                    (None, true) => message.to_string(),
                    (None, false) => format!("{tag} {message}"),
                };
                self.line(level, &text);
            }
            Event::End => {
                if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
