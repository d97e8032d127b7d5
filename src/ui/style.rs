//! Colour, when it is wanted: a terminal, `NO_COLOR` unset, `TERM` not `dumb`.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    fn wanted(is_terminal: bool) -> bool {
        is_terminal
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var("TERM").map_or(true, |t| t != "dumb")
    }

    /// No colour, whatever the streams are (tests, files).
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { color: false }
    }

    pub fn for_stderr() -> Style {
        Style {
            color: Style::wanted(std::io::stderr().is_terminal()),
        }
    }

    pub fn for_stdout() -> Style {
        Style {
            color: Style::wanted(std::io::stdout().is_terminal()),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}
