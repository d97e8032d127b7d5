//! Errors in what the user gave us (inventory, playbooks, command-line patterns), as data.
//!
//! Like `just`, an input error carries where it happened (file, line, column), what was
//! expected and, where one helps, a hint. It is rendered once, at the top level, with the
//! offending source line and a caret under the column. Everything else in tend that can go
//! wrong with user input builds one of these rather than formatting its own message.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where an input error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file we read, with the line of source the position points into.
    File {
        path: PathBuf,
        position: Option<Position>,
        /// The line, cut around the column when it is long, and where the caret goes.
        source_line: Option<Box<SourceLine>>,
    },
    /// A command-line argument such as `--limit`, with the column of the bad part.
    Argument {
        flag: String,
        value: String,
        column: usize,
        width: usize,
    },
    /// Nothing more specific than the command itself.
    None,
}

/// A line of source as shown under an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The line, cut around the column when it is long.
    pub text: String,
    /// Where the caret goes under `text`, in characters.
    pub caret: usize,
}

/// An error in user input: rendered with its origin, and always exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub message: String,
    pub origin: Origin,
    pub hint: Option<String>,
    /// Further errors found in the same check of the input, rendered after this one, so
    /// that one run of `tend check` shows every mistake it could find.
    /// (Boxed: an error stays small on the `Err` path.)
    #[allow(clippy::box_collection)] // one pointer: keeps `Result<_, InputError>` small
    pub more: Box<Vec<InputError>>,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        InputError {
            message: message.into(),
            origin: Origin::None,
            hint: None,
            more: Box::default(),
        }
    }

    /// An error at `position` of `path`, whose text is `source` (used to show the line).
    pub fn in_file(
        message: impl Into<String>,
        path: &Path,
        source: &str,
        position: Option<Position>,
    ) -> Self {
        let source_line = position.and_then(|p| {
            let line = source.lines().nth(p.line.saturating_sub(1))?;
            Some(excerpt(line, p.column))
        });
        InputError {
            message: message.into(),
            origin: Origin::File {
                path: path.to_path_buf(),
                position,
                source_line: source_line.map(|(text, caret)| Box::new(SourceLine { text, caret })),
            },
            hint: None,
            more: Box::default(),
        }
    }

    pub fn in_argument(
        message: impl Into<String>,
        flag: &str,
        value: &str,
        column: usize,
        width: usize,
    ) -> Self {
        InputError {
            message: message.into(),
            origin: Origin::Argument {
                flag: flag.to_owned(),
                value: value.to_owned(),
                column,
                width,
            },
            hint: None,
            more: Box::default(),
        }
    }

    /// All of `errors` as one: the first, with the others after it (`None`: no error).
    pub fn collect(errors: Vec<InputError>) -> Option<InputError> {
        let mut all = Vec::new();
        for mut e in errors {
            let more = *std::mem::take(&mut e.more);
            all.push(e);
            all.extend(more);
        }
        let mut all = all.into_iter();
        let mut first = all.next()?;
        first.more = Box::new(all.collect());
        Some(first)
    }

    /// `Ok(())` when `errors` is empty, else all of them as one error.
    pub fn check(errors: Vec<InputError>) -> Result<(), InputError> {
        match InputError::collect(errors) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:column` (or just the file) when the error comes from a file.
    pub fn location(&self) -> Option<String> {
        match &self.origin {
            Origin::File { path, position, .. } => Some(match position {
                Some(p) => format!("{}:{}:{}", path.display(), p.line, p.column),
                None => path.display().to_string(),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        match &self.origin {
            Origin::File {
                position,
                source_line,
                ..
            } => {
                let location = self.location().unwrap_or_default();
                match (position, source_line) {
                    (Some(p), Some(shown)) => {
                        let line = &shown.text;
                        let number = p.line.to_string();
                        let gutter = " ".repeat(number.len());
                        writeln!(f, "{gutter}--> {location}")?;
                        writeln!(f, "{gutter} |")?;
                        writeln!(f, "{number} | {line}")?;
                        let caret_at = shown.caret;
                        writeln!(f, "{gutter} | {}^", " ".repeat(caret_at))?;
                    }
                    _ => writeln!(f, " --> {location}")?,
                }
            }
            Origin::Argument {
                flag,
                value,
                column,
                width,
            } => {
                writeln!(f, "  --> {flag} {value}")?;
                let pad = flag.len() + 1 + column.saturating_sub(1);
                writeln!(
                    f,
                    "      {}{}",
                    " ".repeat(pad),
                    "^".repeat((*width).max(1))
                )?;
            }
            Origin::None => {}
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        for more in self.more.iter() {
            writeln!(f)?;
            write!(f, "{more}")?;
        }
        if !self.more.is_empty() {
            writeln!(f, "\n{} errors", self.more.len() + 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// Source lines longer than this are shown cut around the column (a 400 KB line is not
/// echoed whole).
pub const MAX_SHOWN_LINE: usize = 120;

/// The part of `line` to show and the caret's offset in it, in characters (columns count
/// characters, so the caret stays under the right one in non-ASCII lines). A line longer
/// than [`MAX_SHOWN_LINE`] is cut to a window around `column`, with `…` where it was cut.
fn excerpt(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    if chars.len() <= MAX_SHOWN_LINE {
        return (line.to_owned(), at);
    }
    let half = MAX_SHOWN_LINE / 2;
    let start = at.saturating_sub(half).min(chars.len() - MAX_SHOWN_LINE);
    let end = start + MAX_SHOWN_LINE;
    let mut shown = String::new();
    let mut caret = at - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, caret)
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbours (the commonest typo) each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_and_caret() {
        let source = "sites:\n  blog:\n    hots: x\n";
        let err = InputError::in_file(
            "unknown key `hots`",
            Path::new("inv.yml"),
            source,
            Some(Position { line: 3, column: 5 }),
        )
        .with_hint("did you mean `host`?");
        assert_eq!(
            err.to_string(),
            "error: unknown key `hots`\n --> inv.yml:3:5\n  |\n3 |     hots: x\n  |     ^\n  = hint: did you mean `host`?\n"
        );
    }

    #[test]
    fn a_long_line_is_cut_around_the_column() {
        let line = format!("key: {}x{}", "a".repeat(200_000), "b".repeat(200_000));
        let column = 5 + 200_000 + 1;
        let err = InputError::in_file(
            "bad",
            Path::new("inv.yml"),
            &line,
            Some(Position { line: 1, column }),
        );
        let text = err.to_string();
        assert!(text.len() < 600, "{text}");
        assert!(text.contains(&format!("inv.yml:1:{column}")), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines[3].strip_prefix("1 | ").unwrap();
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let caret = lines[4].strip_prefix("  | ").unwrap();
        let under = shown.chars().nth(caret.len() - 1).unwrap();
        assert_eq!(
            under, 'x',
            "the caret is under the column:\n{shown}\n{caret}"
        );
        // Short lines and a column at either end are shown as they are / cut on one side.
        assert_eq!(excerpt("short", 3), ("short".to_owned(), 2));
        let (start, caret) = excerpt(&line, 1);
        assert!(!start.starts_with('…') && start.ends_with('…') && caret == 0);
        let (end, _) = excerpt(&line, line.len() + 1);
        assert!(end.starts_with('…') && !end.ends_with('…'));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("hots", ["host", "path", "url"]), Some("host"));
        assert_eq!(did_you_mean("zzzzzz", ["host", "path", "url"]), None);
    }
}
