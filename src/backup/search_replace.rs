//! Replacing one text by another throughout a database dump as it streams, the way
//! `wp search-replace` does: in every string value of every `INSERT` (posts, postmeta,
//! options, …), keeping PHP-serialized values valid by recomputing the byte length of every
//! serialized string that the replacement changed (serialized values nest, and a string
//! may itself hold a serialized value).
//!
//! The dump's string literals are read as `mariadb-dump`/`mysqldump` write them
//! (backslash escapes `\0 \n \r \Z \\ \' \"`, and `''`), unescaped, replaced, and written
//! back escaped the same way; a value the replacement does not touch is copied byte for
//! byte. What the replacement is (which addresses, in which forms) is the CMS's to say;
//! [`address_pairs`] gives the usual forms of a site's address.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What to replace by what, in order: each pair's first text by its second.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The forms a site's address takes in a database, each mapped to the new address's same
/// form: as written (`http://a.example/blog`) and JSON-escaped (`http:\/\/a.example\/blog`,
/// as WordPress's blocks and some plugins store it). A trailing `/` is left out of both.
pub fn address_pairs(from: &str, to: &str) -> Pairs {
    let (from, to) = (from.trim_end_matches('/'), to.trim_end_matches('/'));
    if from.is_empty() || from == to {
        return Vec::new();
    }
    let json = |s: &str| s.replace('/', "\\/");
    let mut pairs = vec![(from.as_bytes().to_vec(), to.as_bytes().to_vec())];
    if from.contains('/') {
        pairs.push((json(from).into_bytes(), json(to).into_bytes()));
    }
    pairs
}

/// `value` with `pairs` replaced, serialized lengths fixed; `None` when nothing changed.
pub fn replace_value(value: &[u8], pairs: &[(Vec<u8>, Vec<u8>)]) -> Option<Vec<u8>> {
    if !pairs.iter().any(|(from, _)| find(value, from).is_some()) {
        return None;
    }
    if looks_serialized(value) {
        let mut out = Vec::with_capacity(value.len());
        if let Some(end) = serialized(value, 0, pairs, &mut out, 0) {
            if end == value.len() {
                return Some(out);
            }
        }
    }
    Some(replace_plain(value, pairs))
}

fn looks_serialized(value: &[u8]) -> bool {
    value == b"N;"
        || (value.len() >= 4
            && value[1] == b':'
            && matches!(
                value[0],
                b'a' | b's' | b'O' | b'i' | b'b' | b'd' | b'C' | b'E'
            )
            && matches!(value[value.len() - 1], b';' | b'}'))
}

fn replace_plain(value: &[u8], pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut current = value.to_vec();
    for (from, to) in pairs {
        if from.is_empty() || find(&current, from).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(current.len());
        let mut rest = &current[..];
        while let Some(at) = find(rest, from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(to);
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        current = out;
    }
    current
}

/// Deep enough for any real option; deeper is treated as not serialized.
const MAX_DEPTH: usize = 64;

/// Rewrites the serialized value starting at `at` into `out`; where it ends, or `None`
/// when it is not a serialized value.
fn serialized(
    v: &[u8],
    at: usize,
    pairs: &[(Vec<u8>, Vec<u8>)],
    out: &mut Vec<u8>,
    depth: usize,
) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = *v.get(at)?;
    if kind == b'N' {
        (v.get(at + 1) == Some(&b';')).then_some(())?;
        out.extend_from_slice(b"N;");
        return Some(at + 2);
    }
    (v.get(at + 1) == Some(&b':')).then_some(())?;
    match kind {
        b'i' | b'b' | b'd' | b'r' | b'R' => {
            let end = at + 2 + v[at + 2..].iter().position(|&b| b == b';')?;
            out.extend_from_slice(&v[at..=end]);
            Some(end + 1)
        }
        b's' | b'E' => {
            let (len, after) = number(v, at + 2)?;
            let start = after + 2;
            (v.get(after..start)? == b":\"").then_some(())?;
            let body = v.get(start..start + len)?;
            (v.get(start + len..start + len + 2)? == b"\";").then_some(())?;
            let new = if kind == b's' {
                replace_value(body, pairs).unwrap_or_else(|| body.to_vec())
            } else {
                body.to_vec()
            };
            out.push(kind);
            out.extend_from_slice(format!(":{}:\"", new.len()).as_bytes());
            out.extend_from_slice(&new);
            out.extend_from_slice(b"\";");
            Some(start + len + 2)
        }
        b'a' => {
            let (count, after) = number(v, at + 2)?;
            (v.get(after..after + 2)? == b":{").then_some(())?;
            out.extend_from_slice(&v[at..after + 2]);
            members(v, after + 2, count, pairs, out, depth)
        }
        b'O' => {
            // O:5:"Class":2:{…}
            let (len, after) = number(v, at + 2)?;
            let name_end = after + 2 + len;
            (v.get(after..after + 2)? == b":\"").then_some(())?;
            (v.get(name_end..name_end + 2)? == b"\":").then_some(())?;
            let (count, after) = number(v, name_end + 2)?;
            (v.get(after..after + 2)? == b":{").then_some(())?;
            out.extend_from_slice(&v[at..after + 2]);
            members(v, after + 2, count, pairs, out, depth)
        }
        b'C' => {
            // C:5:"Class":12:{raw bytes}: the class's own format, copied as it is.
            let (len, after) = number(v, at + 2)?;
            let name_end = after + 2 + len;
            (v.get(name_end..name_end + 2)? == b"\":").then_some(())?;
            let (raw, after) = number(v, name_end + 2)?;
            let end = after + 2 + raw;
            (v.get(end)? == &b'}').then_some(())?;
            out.extend_from_slice(&v[at..=end]);
            Some(end + 1)
        }
        _ => None,
    }
}

/// `count` key/value pairs and the closing `}`.
fn members(
    v: &[u8],
    mut at: usize,
    count: usize,
    pairs: &[(Vec<u8>, Vec<u8>)],
    out: &mut Vec<u8>,
    depth: usize,
) -> Option<usize> {
    for _ in 0..count.checked_mul(2)? {
        at = serialized(v, at, pairs, out, depth + 1)?;
    }
    (v.get(at) == Some(&b'}')).then_some(())?;
    out.push(b'}');
    Some(at + 1)
}

/// A decimal number at `at` and where it ends.
fn number(v: &[u8], at: usize) -> Option<(usize, usize)> {
    let digits = v
        .get(at..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 12 {
        return None;
    }
    let n = std::str::from_utf8(&v[at..at + digits])
        .ok()?
        .parse()
        .ok()?;
    Some((n, at + digits))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a dump line starts an `INSERT` or `REPLACE` (whose rows may follow on lines
/// of their own, as tend's dumps write them).
fn starts_insert(line: &[u8]) -> bool {
    line.starts_with(b"INSERT INTO ") || line.starts_with(b"REPLACE INTO ")
}

/// Whether a line of an `INSERT` is its last (string literals never span lines in a dump:
/// their newlines are written `\n`).
fn ends_statement(line: &[u8]) -> bool {
    line.trim_ascii_end().ends_with(b";")
}

/// A line of an `INSERT`'s values with `pairs` replaced in its string literals; the
/// number of values changed.
fn replace_in_values(line: &[u8], pairs: &[(Vec<u8>, Vec<u8>)]) -> (Option<Vec<u8>>, u64) {
    if !pairs.iter().any(|(from, _)| {
        // The escaped form of `from` is what the line holds; a `/`-only escape-free
        // address is the common case and is found as is.
        find(line, from).is_some() || find(line, &escape(from)).is_some()
    }) {
        return (None, 0);
    }
    let mut out = Vec::with_capacity(line.len() + 64);
    let mut changed = 0;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'`' => {
                // An identifier: copied to its closing backquote (`` doubled inside).
                let mut j = i + 1;
                while j < line.len() {
                    if line[j] == b'`' {
                        if line.get(j + 1) == Some(&b'`') {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                let end = (j + 1).min(line.len());
                out.extend_from_slice(&line[i..end]);
                i = end;
            }
            b'\'' => {
                let (value, end) = unescape(line, i + 1);
                match replace_value(&value, pairs) {
                    Some(new) => {
                        changed += 1;
                        out.push(b'\'');
                        out.extend_from_slice(&escape(&new));
                        out.push(b'\'');
                    }
                    None => out.extend_from_slice(&line[i..end]),
                }
                i = end;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if changed == 0 {
        (None, 0)
    } else {
        (Some(out), changed)
    }
}

/// The bytes of the string literal whose content starts at `at`, and where the literal
/// ends (after its closing quote).
fn unescape(line: &[u8], mut at: usize) -> (Vec<u8>, usize) {
    let mut value = Vec::new();
    while at < line.len() {
        match line[at] {
            b'\\' if at + 1 < line.len() => {
                value.push(match line[at + 1] {
                    b'0' => 0,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'Z' => 0x1a,
                    other => other,
                });
                at += 2;
            }
            b'\'' if line.get(at + 1) == Some(&b'\'') => {
                value.push(b'\'');
                at += 2;
            }
            b'\'' => return (value, at + 1),
            b => {
                value.push(b);
                at += 1;
            }
        }
    }
    (value, at)
}

/// `value` escaped as `mysqldump` escapes a string literal's content.
fn escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            b => out.push(b),
        }
    }
    out
}

/// A dump read through with `pairs` replaced in its values: a `Read` for streaming. How
/// many values changed is counted into [`Replacer::counter`] as the dump streams by.
pub struct Replacer<R> {
    input: io::BufReader<R>,
    pairs: Pairs,
    line: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    /// Inside an `INSERT` whose rows continue on the following lines.
    in_insert: bool,
    changed: Arc<AtomicU64>,
}

impl<R: Read> Replacer<R> {
    pub fn new(input: R, pairs: Pairs) -> Replacer<R> {
        Replacer {
            input: io::BufReader::with_capacity(256 * 1024, input),
            pairs,
            line: Vec::new(),
            out: Vec::new(),
            pos: 0,
            in_insert: false,
            changed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The number of values changed so far, readable after the reader is gone.
    pub fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.changed)
    }
}

impl<R: Read> Read for Replacer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            self.line.clear();
            self.pos = 0;
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                self.out.clear();
                return Ok(0);
            }
            if starts_insert(&self.line) {
                self.in_insert = true;
            }
            let values = self.in_insert;
            if self.in_insert && ends_statement(&self.line) {
                self.in_insert = false;
            }
            if !values {
                std::mem::swap(&mut self.out, &mut self.line);
                continue;
            }
            match replace_in_values(&self.line, &self.pairs) {
                (Some(new), n) => {
                    self.out = new;
                    self.changed.fetch_add(n, Ordering::Relaxed);
                }
                (None, _) => std::mem::swap(&mut self.out, &mut self.line),
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::php_serialize::unserialize;

    fn pairs() -> Pairs {
        address_pairs("http://old.example/", "https://new-site.example.org")
    }

    fn replaced(value: &str) -> String {
        String::from_utf8(replace_value(value.as_bytes(), &pairs()).unwrap()).unwrap()
    }

    #[test]
    fn a_plain_value_is_replaced_everywhere() {
        assert_eq!(
            replaced("<a href=\"http://old.example/about\">x</a> http://old.example"),
            "<a href=\"https://new-site.example.org/about\">x</a> https://new-site.example.org"
        );
        assert_eq!(replace_value(b"nothing here", &pairs()), None);
    }

    #[test]
    fn the_json_escaped_form_is_replaced() {
        assert_eq!(
            replaced(r#"{"url":"http:\/\/old.example\/a"}"#),
            r#"{"url":"https:\/\/new-site.example.org\/a"}"#
        );
    }

    #[test]
    fn nested_serialized_arrays_keep_their_lengths_right() {
        let value = r#"a:2:{s:3:"url";s:23:"http://old.example/page";s:5:"inner";a:1:{i:0;s:18:"http://old.example";}}"#;
        let out = replaced(value);
        assert_eq!(
            out,
            r#"a:2:{s:3:"url";s:33:"https://new-site.example.org/page";s:5:"inner";a:1:{i:0;s:28:"https://new-site.example.org";}}"#
        );
        assert!(unserialize(&out).is_ok(), "{out}");
    }

    #[test]
    fn lengths_count_bytes_of_multibyte_text() {
        let text = "Ünïcödé http://old.example";
        let value = format!("a:1:{{s:4:\"text\";s:{}:\"{text}\";}}", text.len());
        assert!(unserialize(&value).is_ok());
        let out = replaced(&value);
        assert!(unserialize(&out).is_ok(), "{out}");
        assert!(
            out.contains("s:40:\"Ünïcödé https://new-site.example.org\""),
            "{out}"
        );
    }

    #[test]
    fn a_serialized_string_holding_a_serialized_value_is_fixed_inside_and_out() {
        let inner = r#"a:1:{i:0;s:18:"http://old.example";}"#;
        let value = format!("s:{}:\"{inner}\";", inner.len());
        let out = replaced(&value);
        let fixed_inner = r#"a:1:{i:0;s:28:"https://new-site.example.org";}"#;
        assert_eq!(out, format!("s:{}:\"{fixed_inner}\";", fixed_inner.len()));
    }

    #[test]
    fn objects_are_walked_and_broken_serialized_text_is_replaced_plainly() {
        let value = r#"O:8:"stdClass":1:{s:1:"u";s:18:"http://old.example";}"#;
        assert_eq!(
            replaced(value),
            r#"O:8:"stdClass":1:{s:1:"u";s:28:"https://new-site.example.org";}"#
        );
        // Lengths already wrong: not serialized as far as anyone can tell.
        assert_eq!(
            replaced(r#"s:99:"http://old.example";"#),
            r#"s:99:"https://new-site.example.org";"#
        );
    }

    #[test]
    fn dump_lines_are_unescaped_replaced_and_escaped_again() {
        let line = br#"INSERT INTO `wp_posts` VALUES (1,'It\'s http://old.example/x\r\n','a:1:{s:1:\"u\";s:18:\"http://old.example\";}','untouched \\ ''q''',0x6869),(2,'http://old.example/?p=2','');"#;
        let (out, n) = replace_in_values(line, &pairs());
        let out = String::from_utf8(out.unwrap()).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            out,
            r#"INSERT INTO `wp_posts` VALUES (1,'It\'s https://new-site.example.org/x\r\n','a:1:{s:1:\"u\";s:28:\"https://new-site.example.org\";}','untouched \\ ''q''',0x6869),(2,'https://new-site.example.org/?p=2','');"#
        );
        assert_eq!(
            replace_in_values(b"INSERT INTO `t` VALUES (1,'x');\n", &pairs()),
            (None, 0)
        );
    }

    #[test]
    fn the_stream_is_rewritten_and_counted() {
        let dump = "CREATE TABLE `t` (\n  `a` text\n);\nINSERT INTO `t` VALUES ('http://old.example/a'),('b');\nINSERT INTO `t` VALUES ('http://old.example');\nINSERT INTO `t` VALUES\n('http://old.example/c'),\n('http://old.example/d;');\n-- 'http://old.example'\n";
        let mut replacer = Replacer::new(dump.as_bytes(), pairs());
        let counter = replacer.counter();
        let mut out = String::new();
        replacer.read_to_string(&mut out).unwrap();
        assert_eq!(
            out,
            dump.replace("http://old.example", "https://new-site.example.org")
                .replace(
                    "-- 'https://new-site.example.org'",
                    "-- 'http://old.example'"
                )
        );
        assert_eq!(counter.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn the_same_address_or_none_replaces_nothing() {
        assert!(address_pairs("http://a.example/", "http://a.example").is_empty());
        assert!(address_pairs("", "http://a.example").is_empty());
    }
}
