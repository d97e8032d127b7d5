//! `tend completions SHELL` and `tend man`: the shell completion script and the manual page,
//! generated from the clap definitions the binary parses with ([`super::scope::command`]),
//! so they offer exactly the subcommands and flags tend takes.
//!
//! Neither needs an inventory: they run before one is read.

use std::io::Write;
use std::path::Path;

use clap_complete::Shell;

use super::{scope, CommandError, EXIT_OK};

/// The name the scripts complete, and the man page's title.
const BIN: &str = "tend";

/// Prints the completion script for `shell` on stdout.
pub(super) fn completions(shell: Shell) -> Result<u8, CommandError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut scope::command(), BIN, &mut script);
    write_out(&script)
}

/// Prints the man page tend(1) (roff) on stdout; with `out`, writes it and the page of every
/// subcommand (tend-backup(1), tend-backups-list(1), …, which tend(1) refers to) into that
/// folder instead, and prints their paths.
pub(super) fn man(out: Option<&Path>) -> Result<u8, CommandError> {
    let mut command = scope::command().name(BIN).disable_help_subcommand(true);
    command.build();
    let Some(dir) = out else {
        return write_out(render(&command)?.as_bytes());
    };
    let cannot = |path: &Path, e: std::io::Error| {
        CommandError::runtime(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    let mut written = String::new();
    let mut pending = vec![command];
    while let Some(command) = pending.pop() {
        pending.extend(
            command
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .cloned(),
        );
        let path = dir.join(clap_mangen::Man::new(command.clone()).get_filename());
        std::fs::write(&path, render(&command)?).map_err(|e| cannot(&path, e))?;
        written.push_str(&format!("{}\n", path.display()));
    }
    write_out(written.as_bytes())
}

/// The man page of `command` (built, so that a subcommand's name is `tend-backup`).
fn render(command: &clap::Command) -> Result<String, CommandError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|e| CommandError::runtime(format!("cannot render the man page: {e}")))?;
    Ok(title_first(&String::from_utf8_lossy(&page)))
}

/// The page with its `.TH` line first. The roff crate starts its output with the definition
/// of an apostrophe string (`.ds Aq`), which works as well after `.TH` (the title holds no
/// apostrophe); a man page that begins with its title is what `man`, `mandb` and anyone
/// looking at the file expect.
fn title_first(page: &str) -> String {
    let mut lines: Vec<&str> = page.lines().collect();
    if let Some(at) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(at);
        lines.insert(0, title);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Writes `bytes` to stdout; a reader that stopped early (`tend man | head`) is no error.
fn write_out(bytes: &[u8]) -> Result<u8, CommandError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(EXIT_OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        Err(e) => Err(CommandError::runtime(format!(
            "cannot write to stdout: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_comes_first() {
        let page = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH tend 1\n.SH NAME\n";
        assert_eq!(
            title_first(page),
            ".TH tend 1\n.ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.SH NAME\n"
        );
    }
}
