//! Running a CMS's own command-line tool on the host (`php cli/joomla.php …`,
//! `php bin/magento …`, `composer …`) and keeping everything it said.
//!
//! These tools print their errors on stdout as often as on stderr (Symfony Console's
//! `[ERROR]` blocks), so both are merged and the exit status is read separately: a failure
//! is reported with the command, its exit status and the end of what it printed.

use crate::remote::{quote, Connection, RemoteCommand};
use crate::site_error::SiteError;

/// What a CLI run printed (stdout and stderr merged) and how it exited.
#[derive(Debug, Clone)]
pub struct CliOutput {
    pub text: String,
    pub status: i32,
}

const OUTPUT_LIMIT: usize = 8 * 1024 * 1024;
const EXIT_MARK: &str = "\ntend-exit-status:";

/// Runs `program args…` in `dir` on the host; never fails on a non-zero exit (the caller
/// decides what an exit status means), only when the command could not be run at all.
pub async fn run(
    host: &Connection,
    dir: &str,
    program: &str,
    args: &[&str],
) -> Result<CliOutput, SiteError> {
    let words: Vec<String> = std::iter::once(program)
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let script = format!(
        "cd {dir} || exit 97; {command} 2>&1; printf '{EXIT_MARK}%s\\n' \"$?\"",
        dir = quote(dir),
        command = words.join(" "),
        EXIT_MARK = EXIT_MARK.replace('\n', "\\n"),
    );
    let output = host
        .run(&RemoteCommand::script(&script), None, OUTPUT_LIMIT)
        .await?;
    Ok(split_status(&output.stdout_text()))
}

/// Runs it and requires exit status 0.
pub async fn run_ok(
    host: &Connection,
    dir: &str,
    program: &str,
    args: &[&str],
) -> Result<CliOutput, SiteError> {
    let output = run(host, dir, program, args).await?;
    if output.status != 0 {
        return Err(SiteError::failed(
            format!("`{} {}`", program, args.join(" ")),
            format!(
                "failed with exit status {}: {}",
                output.status,
                tail(&output.text)
            ),
        ));
    }
    Ok(output)
}

/// The last lines of `text` that say something, on one line.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '-' || c == '='))
        .collect();
    let start = lines.len().saturating_sub(6);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "(it printed nothing)".to_owned()
    } else {
        joined
    }
}

fn split_status(text: &str) -> CliOutput {
    match text.rfind(EXIT_MARK) {
        Some(i) => CliOutput {
            text: text[..i].to_owned(),
            status: text[i + EXIT_MARK.len()..].trim().parse().unwrap_or(-1),
        },
        None => CliOutput {
            text: text.to_owned(),
            status: -1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_is_read_after_the_output() {
        let out = split_status(" [OK] Website is now offline\n\ntend-exit-status:0\n");
        assert_eq!(out.status, 0);
        assert_eq!(out.text.trim(), "[OK] Website is now offline");
        assert_eq!(split_status("no mark").status, -1);
    }

    #[test]
    fn the_tail_keeps_the_last_lines_that_say_something() {
        let text = "\n ----------\n [ERROR] Could not update\n\n line2\n";
        assert_eq!(tail(text), "[ERROR] Could not update | line2");
        assert_eq!(tail("\n\n"), "(it printed nothing)");
    }
}
