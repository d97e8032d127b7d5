//! Why a command could not do its work at all, as data with the exit status it means.
//!
//! A site that fails is not a command error: it is that site's outcome, and the others carry
//! on. A command error stops the command before or outside any site: the input is invalid
//! (exit 2, rendered with its file, line and column) or something on the runner failed at run
//! time (exit 1: the store cannot be read, the runtime cannot start).

use std::fmt;

use crate::diagnostic::InputError;

/// Exit status: every selected site succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one site failed, was rolled back or could not be reached, or the
/// command failed at run time.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: invalid input (command line, inventory, playbook).
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug)]
pub enum CommandError {
    /// The command line, inventory or playbook is invalid, or the user declined.
    Input(InputError),
    /// Something on the runner failed at run time: what tend was doing and why.
    Runtime {
        message: String,
        hint: Option<String>,
    },
}

impl CommandError {
    pub fn runtime(message: impl Into<String>) -> CommandError {
        CommandError::Runtime {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(self, hint: impl Into<String>) -> CommandError {
        match self {
            CommandError::Input(e) => CommandError::Input(e.with_hint(hint)),
            CommandError::Runtime { message, .. } => CommandError::Runtime {
                message,
                hint: Some(hint.into()),
            },
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            CommandError::Input(_) => EXIT_INVALID,
            CommandError::Runtime { .. } => EXIT_FAILED,
        }
    }
}

impl CommandError {
    /// The error as the JSON document `--json` writes on stdout, so that scripts always get
    /// JSON: `{"error": {"message", "file", "line", "column", "hint"}}` (`null` where
    /// unknown; `flag` too for a bad command-line argument; `more`, a list of the same
    /// shape, when the input held several errors).
    pub fn to_json(&self) -> serde_json::Value {
        let error = match self {
            CommandError::Input(e) => input_json(e),
            CommandError::Runtime { message, hint } => serde_json::json!({
                "message": crate::secrets::mask(message),
                "file": null, "line": null, "column": null,
                "hint": hint,
            }),
        };
        serde_json::json!({ "error": error })
    }
}

fn input_json(e: &InputError) -> serde_json::Value {
    use crate::diagnostic::Origin;
    let (file, line, column, flag) = match &e.origin {
        Origin::File { path, position, .. } => (
            Some(path.display().to_string()),
            position.map(|p| p.line),
            position.map(|p| p.column),
            None,
        ),
        Origin::Argument { flag, column, .. } => (None, None, Some(*column), Some(flag.clone())),
        Origin::None => (None, None, None, None),
    };
    let mut error = serde_json::json!({
        "message": crate::secrets::mask(&e.message),
        "file": file,
        "line": line,
        "column": column,
        "hint": e.hint,
    });
    if let Some(flag) = flag {
        error["flag"] = serde_json::Value::String(flag);
    }
    if !e.more.is_empty() {
        error["more"] = e.more.iter().map(input_json).collect();
    }
    error
}

impl From<InputError> for CommandError {
    fn from(error: InputError) -> Self {
        CommandError::Input(error)
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Input(error) => write!(f, "{error}"),
            CommandError::Runtime { message, hint } => {
                writeln!(f, "error: {}", crate::secrets::mask(message))?;
                if let Some(hint) = hint {
                    writeln!(f, "  = hint: {hint}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_exits_2_and_run_time_failures_exit_1() {
        let input = CommandError::from(InputError::new("bad pattern"));
        assert_eq!(input.exit_status(), EXIT_INVALID);
        let runtime =
            CommandError::runtime("cannot read the store /x: permission denied").with_hint("h");
        assert_eq!(runtime.exit_status(), EXIT_FAILED);
        assert_eq!(
            runtime.to_string(),
            "error: cannot read the store /x: permission denied\n  = hint: h\n"
        );
    }
}
