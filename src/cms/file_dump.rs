//! Reading many small files from a host in one round trip.
//!
//! Facts come from files (version files, configs, plugin headers). Fetching each with its
//! own command would cost a channel per file; instead one shell loop prints every file
//! behind a header line that gives its length: `tend-file <bytes> <path>\n<bytes of data>`.
//! Lengths, not separators, delimit the files, so nothing a file contains can confuse the
//! parser.

use crate::remote::{quote, RemoteCommand};

/// A file as read from the host (possibly only its first bytes, see `limit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedFile {
    pub path: String,
    pub content: Vec<u8>,
}

impl DumpedFile {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

/// What to read from one root, in parts that each have their own size limit.
pub struct DumpRequest<'a> {
    pub root: &'a str,
    pub parts: &'a [DumpPart<'a>],
}

/// Exact paths (quoted) and shell globs written by tend itself, read up to `limit` bytes
/// each. A `limit` of 0 only tells which of the files exist (cheaply: no process per file).
#[derive(Debug, Clone, Copy)]
pub struct DumpPart<'a> {
    pub files: &'a [&'a str],
    /// Glob patterns relative to the root; tend's own literals, never outside data.
    pub globs: &'a [&'static str],
    pub limit: usize,
}

/// Reads the first `limit` bytes of every file named after the program, in one process,
/// printing each behind its header. awk counts bytes under `LC_ALL=C`; file operands are
/// given as `./path` so that a name holding `=` is not taken for an assignment.
const AWK_READER: &str = r#"function flush() { printf "tend-file %d %s\n%s", length(buf), substr(name, 3), buf }
FNR == 1 { if (name != "") flush(); name = FILENAME; buf = "" }
{ buf = buf $0 "\n"; if (length(buf) >= limit) { buf = substr(buf, 1, limit); flush(); name = ""; nextfile } }
END { if (name != "") flush() }"#;

/// The command that prints the requested files in the dump format. Files that do not
/// exist (and globs that match nothing) are skipped; a missing root is an error. A file
/// is read line by line, so one that lacks a final newline gains one: harmless for the
/// text files facts are read from.
pub fn dump_command(request: &DumpRequest<'_>) -> RemoteCommand {
    let mut script = String::from("{ ");
    for part in request.parts {
        let mut words: Vec<String> = part.files.iter().map(|f| quote(f)).collect();
        words.extend(part.globs.iter().map(|g| (*g).to_owned()));
        let words = words.join(" ");
        if part.limit == 0 {
            script.push_str(&format!(
                "for f in {words}; do if [ -e \"$f\" ]; then printf 'tend-file 0 %s\\n' \"$f\"; fi; done; "
            ));
        } else {
            script.push_str(&format!(
                "set --; for f in {words}; do if [ -f \"$f\" ] && [ -s \"$f\" ]; then set -- \"$@\" \"./$f\"; fi; done; \
                 if [ $# -gt 0 ]; then LC_ALL=C awk -v limit={limit} {program} \"$@\" || exit 1; fi; ",
                limit = part.limit,
                program = quote(AWK_READER),
            ));
        }
    }
    script.push('}');
    RemoteCommand::script(&script).in_dir(request.root)
}

/// Splits dump output back into files.
pub fn parse_dump(output: &[u8]) -> Result<Vec<DumpedFile>, String> {
    let mut files = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let newline = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("file dump: header line without end")?;
        let header =
            std::str::from_utf8(&rest[..newline]).map_err(|_| "file dump: header is not UTF-8")?;
        let body = header.strip_prefix("tend-file ").ok_or_else(|| {
            format!(
                "file dump: unexpected line `{}`",
                header.chars().take(80).collect::<String>()
            )
        })?;
        let (length, path) = body
            .split_once(' ')
            .ok_or("file dump: header without path")?;
        let length: usize = length
            .trim()
            .parse()
            .map_err(|_| format!("file dump: bad length `{length}`"))?;
        let start = newline + 1;
        if rest.len() < start + length {
            return Err(format!("file dump: `{path}` is cut short"));
        }
        files.push(DumpedFile {
            path: path.to_owned(),
            content: rest[start..start + length].to_vec(),
        });
        rest = &rest[start + length..];
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_files_by_length_whatever_they_contain() {
        let out = b"tend-file 5 a.php\nab\ncdtend-file 0 empty.txt\ntend-file 19 dir/with space.css\ntend-file 1 fake\nxx";
        let files = parse_dump(out).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].content, b"ab\ncd");
        assert_eq!(files[1].path, "empty.txt");
        assert_eq!(files[2].path, "dir/with space.css");
        assert_eq!(files[2].content, b"tend-file 1 fake\nxx");
    }

    #[test]
    fn refuses_truncated_output() {
        assert!(parse_dump(b"tend-file 10 a\nshort").is_err());
        assert!(parse_dump(b"garbage\n").is_err());
    }

    #[test]
    fn quotes_exact_paths_and_keeps_globs() {
        let cmd = dump_command(&DumpRequest {
            root: "/srv/my site",
            parts: &[
                DumpPart {
                    files: &["wp-config.php", "it's.php"],
                    globs: &["wp-content/plugins/*.php"],
                    limit: 8192,
                },
                DumpPart {
                    files: &["bin/magento"],
                    globs: &[],
                    limit: 0,
                },
            ],
        });
        let text = cmd.as_str();
        assert!(
            text.starts_with("{ cd '/srv/my site' || exit 201; } && { set --; for f in wp-config.php 'it'\\''s.php' wp-content/plugins/*.php; do"),
            "{text}"
        );
        assert!(text.contains("LC_ALL=C awk -v limit=8192 "), "{text}");
        assert!(text.ends_with("for f in bin/magento; do if [ -e \"$f\" ]; then printf 'tend-file 0 %s\\n' \"$f\"; fi; done; }"), "{text}");
    }
}
