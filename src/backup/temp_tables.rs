//! Importing a dump beside the live tables, not over them: the dump's table names are
//! given a temporary prefix as it streams from the store to the host, so a failed import
//! leaves the site's tables as they were, and the live tables are replaced only afterwards,
//! by one atomic `RENAME TABLE`.
//!
//! The rewriting knows the statements `mariadb-dump`/`mysqldump` write for tables, one per
//! line start (`DROP TABLE`, `CREATE TABLE`, `LOCK TABLES`, `ALTER TABLE … KEYS`,
//! `INSERT INTO`), and, inside `CREATE TABLE`, `REFERENCES` and named `CONSTRAINT`s (InnoDB
//! wants foreign-key names unique in a database: a constraint name alternates between its
//! name and [`NEW_PREFIX`] + its name from one restore to the next, so it never clashes
//! with the live table's). Views, triggers, routines and events cannot be moved atomically
//! this way: a dump holding them is refused before anything is touched.

use std::io::{self, BufRead, Read};

/// The prefix of the tables a restore imports into.
pub const NEW_PREFIX: &str = "tndnew_";
/// The prefix the live tables are renamed to, just before they are dropped.
pub const OLD_PREFIX: &str = "tndold_";
/// The longest identifier MariaDB and MySQL take.
const MAX_NAME: usize = 64;

/// Why a dump cannot be imported beside the live tables.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the dump holds {what} (line {line}), which tend cannot swap in atomically; restore the database by hand (`zstd -dc database.sql.zst | mariadb DBNAME`)")]
    Unsupported { what: &'static str, line: u64 },
    #[error("the table name `{0}` is too long for a temporary prefix")]
    NameTooLong(String),
}

/// The dump read through with its table names prefixed: a `Read` for streaming.
pub struct Rewriter<R> {
    input: io::BufReader<R>,
    line: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    number: u64,
    in_create: bool,
    /// The dump's tables, by their own names, in the order created.
    pub tables: Vec<String>,
}

impl<R: Read> Rewriter<R> {
    pub fn new(input: R) -> Rewriter<R> {
        Rewriter {
            input: io::BufReader::with_capacity(256 * 1024, input),
            line: Vec::new(),
            out: Vec::new(),
            pos: 0,
            number: 0,
            in_create: false,
            tables: Vec::new(),
        }
    }

    /// Reads the next line and rewrites it into `out`; false at the end.
    fn next_line(&mut self) -> Result<bool, RewriteError> {
        self.line.clear();
        self.out.clear();
        self.pos = 0;
        if self.input.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(false);
        }
        self.number += 1;
        let line = std::mem::take(&mut self.line);
        self.rewrite(&line)?;
        self.line = line;
        Ok(true)
    }

    fn rewrite(&mut self, line: &[u8]) -> Result<(), RewriteError> {
        let number = self.number;
        let unsupported = |what| RewriteError::Unsupported { what, line: number };
        if self.in_create {
            if line.starts_with(b")") {
                self.in_create = false;
                self.out.extend_from_slice(line);
                return Ok(());
            }
            let mut rest = line;
            // `CONSTRAINT `name` FOREIGN KEY (...) REFERENCES `table` (...)`
            if let Some(at) = find(rest, b"CONSTRAINT `") {
                let (name, after) = split_name(&rest[at + 11..])
                    .ok_or_else(|| unsupported("a constraint it cannot read"))?;
                self.out.extend_from_slice(&rest[..at + 11]);
                let renamed = match name.strip_prefix(NEW_PREFIX) {
                    Some(original) => original.to_owned(),
                    None => prefixed(&name)?,
                };
                push_name(&mut self.out, &renamed);
                rest = after;
            }
            if let Some(at) = find(rest, b"REFERENCES `") {
                let (name, after) = split_name(&rest[at + 11..])
                    .ok_or_else(|| unsupported("a reference it cannot read"))?;
                self.out.extend_from_slice(&rest[..at + 11]);
                push_name(&mut self.out, &prefixed(&name)?);
                rest = after;
            }
            self.out.extend_from_slice(rest);
            return Ok(());
        }
        const TABLE_STATEMENTS: [&[u8]; 6] = [
            b"DROP TABLE IF EXISTS `",
            b"CREATE TABLE `",
            b"LOCK TABLES `",
            b"/*!40000 ALTER TABLE `",
            b"INSERT INTO `",
            b"REPLACE INTO `",
        ];
        for start in TABLE_STATEMENTS {
            if line.starts_with(start) {
                let at = start.len() - 1;
                let (name, after) = split_name(&line[at..])
                    .ok_or_else(|| unsupported("a table name it cannot read"))?;
                self.out.extend_from_slice(&line[..at]);
                push_name(&mut self.out, &prefixed(&name)?);
                self.out.extend_from_slice(after);
                if start == b"CREATE TABLE `" {
                    self.in_create = true;
                    self.tables.push(name);
                }
                return Ok(());
            }
        }
        let upper: Vec<u8> = line.iter().take(40).map(u8::to_ascii_uppercase).collect();
        for (marker, what) in [
            (&b"/*!50001 CREATE"[..], "a view"),
            (b"/*!50001 DROP VIEW", "a view"),
            (b"/*!50001 VIEW", "a view"),
            (b"/*!50003 CREATE", "a trigger or routine"),
            (b"/*!50106 CREATE", "an event"),
            (b"DELIMITER", "a trigger or routine"),
            (b"CREATE ", "a statement other than a table's"),
            (b"USE ", "a `USE` statement"),
        ] {
            if upper.starts_with(marker) {
                return Err(unsupported(what));
            }
        }
        self.out.extend_from_slice(line);
        Ok(())
    }
}

impl<R: Read> Read for Rewriter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            match self.next_line() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(RewriteError::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads a whole dump through the rewriter: the tables it creates, or why it cannot be
/// imported beside the live tables. Run before anything on the host is touched.
pub fn check(dump: impl Read) -> Result<Vec<String>, RewriteError> {
    let mut rewriter = Rewriter::new(dump);
    loop {
        if !rewriter.next_line()? {
            return Ok(rewriter.tables);
        }
    }
}

/// `name` with [`NEW_PREFIX`], if that still fits.
pub fn prefixed(name: &str) -> Result<String, RewriteError> {
    with_prefix(NEW_PREFIX, name)
}

pub fn with_prefix(prefix: &str, name: &str) -> Result<String, RewriteError> {
    let out = format!("{prefix}{name}");
    if out.chars().count() > MAX_NAME {
        return Err(RewriteError::NameTooLong(name.to_owned()));
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A backquoted identifier at the start of `text` (`` ` `` doubled inside), and what
/// follows it.
fn split_name(text: &[u8]) -> Option<(String, &[u8])> {
    if text.first() != Some(&b'`') {
        return None;
    }
    let mut name = Vec::new();
    let mut i = 1;
    while i < text.len() {
        if text[i] == b'`' {
            if text.get(i + 1) == Some(&b'`') {
                name.push(b'`');
                i += 2;
                continue;
            }
            return Some((String::from_utf8(name).ok()?, &text[i + 1..]));
        }
        name.push(text[i]);
        i += 1;
    }
    None
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    out.push(b'`');
    out.extend_from_slice(name.replace('`', "``").as_bytes());
    out.push(b'`');
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE IF EXISTS `wp_options`;\nCREATE TABLE `wp_options` (\n  `option_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n  CONSTRAINT `FK_X` FOREIGN KEY (`a`) REFERENCES `wp_posts` (`ID`) ON DELETE CASCADE\n) ENGINE=InnoDB;\nLOCK TABLES `wp_options` WRITE;\n/*!40000 ALTER TABLE `wp_options` DISABLE KEYS */;\nINSERT INTO `wp_options` VALUES (1,'CREATE TABLE `x`');\n/*!40000 ALTER TABLE `wp_options` ENABLE KEYS */;\nUNLOCK TABLES;\n-- Dump completed on 2026-11-30\n";

    #[test]
    fn table_names_get_the_temporary_prefix_and_data_is_untouched() {
        let mut out = String::new();
        Rewriter::new(DUMP.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(
            out,
            DUMP.replace("`wp_options`", "`tndnew_wp_options`")
                .replace("`wp_posts`", "`tndnew_wp_posts`")
                .replace("`FK_X`", "`tndnew_FK_X`")
        );
        assert_eq!(check(DUMP.as_bytes()).unwrap(), ["wp_options"]);
        // The next restore's dump, taken after this one, gives the constraint its name back.
        let again = DUMP.replace("`FK_X`", "`tndnew_FK_X`");
        let mut out = String::new();
        Rewriter::new(again.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert!(out.contains("CONSTRAINT `FK_X`"), "{out}");
    }

    #[test]
    fn views_triggers_and_routines_are_refused() {
        for extra in [
            "/*!50001 CREATE VIEW `v` AS select 1 */;\n",
            "DELIMITER ;;\n",
            "/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`h`*/ /*!50003 TRIGGER `t` BEFORE INSERT ON `wp_options` FOR EACH ROW SET @x = 1 */;;\n",
        ] {
            let dump = format!("{DUMP}{extra}");
            assert!(
                matches!(check(dump.as_bytes()), Err(RewriteError::Unsupported { .. })),
                "{extra}"
            );
        }
    }

    #[test]
    fn names_that_would_grow_too_long_are_refused() {
        let long = "x".repeat(60);
        assert!(matches!(prefixed(&long), Err(RewriteError::NameTooLong(_))));
    }
}
